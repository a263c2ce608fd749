"""The container files agree with the code and with the builders that must read them.

Building and running them is deploy/check-image.sh's job (CI runs it with podman); these
checks keep the files right where no container runtime is installed.
"""

from __future__ import annotations

import re
from pathlib import Path

import yaml

from ascent.durable import APP_VERSION_ENV, EXECUTOR_ID_ENV
from ascent.server.config import API_KEYS_ENV
from ascent.storage import DATABASE_URL_ENV

ROOT = Path(__file__).resolve().parents[2]
DOCKERFILES = [ROOT / "Dockerfile", *sorted((ROOT / "deploy" / "images").glob("*/Dockerfile"))]


def _final_stage(dockerfile: str) -> str:
    return re.split(r"^FROM ", dockerfile, flags=re.MULTILINE)[-1]


def test_the_image_serves_from_the_environment_as_a_numeric_non_root_user() -> None:
    dockerfile = (ROOT / "Dockerfile").read_text()
    final = _final_stage(dockerfile)
    [user] = re.findall(r"^USER (\S+)$", final, re.MULTILINE)
    uid = user.split(":")[0]
    assert uid.isdigit() and int(uid) != 0  # numeric: Kubernetes' runAsNonRoot can check it
    assert "uv sync --frozen --no-dev" in dockerfile
    assert "--extra service" in dockerfile and "--extra postgres" in dockerfile
    # No shell and no flag but the interface: ascent serve reads ASCENT_APP and PORT itself.
    assert re.search(r'^CMD \["ascent", "serve", "--host", "0.0.0.0"\]$', final, re.MULTILINE)
    assert re.search(r"^HEALTHCHECK .*\n?.*/healthz", final, re.MULTILINE)
    assert "os.environ.get('PORT', '8000')" in final  # the check follows PORT too
    assert re.search(r"^EXPOSE 8000$", final, re.MULTILINE)


def test_the_base_images_are_build_arguments_with_public_defaults() -> None:
    dockerfile = (ROOT / "Dockerfile").read_text()
    arguments = dict(re.findall(r"^ARG (\w+)=(\S+)$", dockerfile, re.MULTILINE))
    assert f"{arguments['PYTHON_IMAGE']}:{arguments['PYTHON_TAG']}" == "python:3.11-slim-bookworm"
    assert arguments["UV_IMAGE"] == "ghcr.io/astral-sh/uv"
    froms = re.findall(r"^FROM (\S+)", dockerfile, re.MULTILINE)
    python = "${PYTHON_IMAGE}:${PYTHON_TAG}"
    assert froms == ["${UV_IMAGE}:${UV_VERSION}", python, python]
    script = (ROOT / "deploy" / "check-image.sh").read_text()
    # The script's uv, taken from PyPI, is the one the image names.
    assert f"UV_VERSION={arguments['UV_VERSION']} " in script


def test_mount_targets_are_absolute_for_buildah() -> None:
    """Debian's buildah (1.28) refuses a relative ``RUN --mount ... target=``."""
    for path in DOCKERFILES:
        targets = re.findall(r"--mount=\S*?target=([^,\s]+)", path.read_text())
        assert all(target.startswith("/") for target in targets), (path, targets)
    assert re.findall(r"--mount=\S*target=", (ROOT / "Dockerfile").read_text())


def test_no_image_keeps_a_build_machines_certificates() -> None:
    """A proxy's CA reaches the build as a secret, which no layer stores."""
    for path in DOCKERFILES:
        text = path.read_text()
        assert "ca-certificates.crt" not in text, path
        assert not re.search(r"^(COPY|ADD) .*\.(crt|pem)\b", text, re.MULTILINE), path
    assert "--mount=type=secret,id=ca" in (ROOT / "Dockerfile").read_text()


def test_compose_runs_two_replicas_on_one_postgres_with_redis() -> None:
    compose = yaml.safe_load((ROOT / "deploy" / "docker-compose.yml").read_text())
    services = compose["services"]
    replicas = [name for name in services if name.startswith("ascent-")]
    assert len(replicas) == 2
    environments = [services[name]["environment"] for name in replicas]
    for name, env in zip(replicas, environments, strict=True):
        assert API_KEYS_ENV in env and APP_VERSION_ENV in env
        assert "@postgres:5432/" in env[DATABASE_URL_ENV]
        assert services[name]["build"]["dockerfile"] == "Dockerfile"
        assert services[name]["image"].startswith("${ASCENT_IMAGE:-")
        assert set(services[name]["depends_on"]) == {"postgres", "redis"}
    assert len({env[EXECUTOR_ID_ENV] for env in environments}) == 2
    assert services["postgres"]["image"] == "${POSTGRES_IMAGE:-postgres:15}"
    assert services["redis"]["image"] == "${REDIS_IMAGE:-redis:7}"
    assert "profiles" not in services["redis"]


def test_the_development_password_comes_from_the_env_file_not_the_compose_file() -> None:
    text = (ROOT / "deploy" / "docker-compose.yml").read_text()
    settings = dict(
        line.split("=", 1)
        for line in (ROOT / "deploy" / ".env.example").read_text().splitlines()
        if line and not line.startswith("#")
    )
    assert settings["POSTGRES_PASSWORD"] not in text and settings["ASCENT_API_KEYS"] not in text
    services = yaml.safe_load(text)["services"]
    password = services["postgres"]["environment"]["POSTGRES_PASSWORD"]
    assert password.startswith("${POSTGRES_PASSWORD:?")  # refused when no env file gives it
    url = services["ascent-1"]["environment"][DATABASE_URL_ENV]
    assert f":{password}@postgres:5432/" in url  # the replicas use the same one
