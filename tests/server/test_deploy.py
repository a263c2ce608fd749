"""The container files agree with the code (building and running them is not tested here)."""

from __future__ import annotations

import re
from pathlib import Path

import yaml

from ascent.durable import APP_VERSION_ENV, EXECUTOR_ID_ENV
from ascent.server.config import API_KEYS_ENV
from ascent.storage import DATABASE_URL_ENV

ROOT = Path(__file__).resolve().parents[2]


def test_the_image_runs_ascent_serve_as_a_non_root_user() -> None:
    dockerfile = (ROOT / "Dockerfile").read_text()
    stages = dockerfile.split("\nFROM ")
    final = stages[-1]
    assert re.search(r"^USER ascent$", final, re.MULTILINE)
    assert "uv sync --frozen --no-dev" in dockerfile
    assert "--extra service" in dockerfile and "--extra postgres" in dockerfile
    assert 'ascent serve \\"$ASCENT_APP\\" --host 0.0.0.0' in final
    assert "/healthz" in final


def test_compose_runs_two_replicas_on_one_postgres() -> None:
    compose = yaml.safe_load((ROOT / "deploy" / "docker-compose.yml").read_text())
    services = compose["services"]
    replicas = [name for name in services if name.startswith("ascent-")]
    assert len(replicas) == 2
    environments = [services[name]["environment"] for name in replicas]
    for env in environments:
        assert env[DATABASE_URL_ENV].startswith("postgresql://")
        assert "@postgres:5432/" in env[DATABASE_URL_ENV]
        assert API_KEYS_ENV in env and APP_VERSION_ENV in env
    assert all(services[name]["build"]["dockerfile"] == "Dockerfile" for name in replicas)
    assert len({env[EXECUTOR_ID_ENV] for env in environments}) == 2
    assert services["postgres"]["image"].startswith("postgres:")
    assert services["redis"]["profiles"] == ["redis"]  # optional
