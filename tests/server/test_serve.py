"""``ascent serve``, and the SSE framing's keep-alive."""

from __future__ import annotations

import asyncio
import socket
import sys
from collections.abc import AsyncIterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import httpx
import pytest
from typer.testing import CliRunner

import ascent.server
from ascent.cli import app as cli
from ascent.durable import RunEvent, RunRecord
from ascent.server._sse import sse_response

from ..processes import ascent_command, ipv6_loopback_port
from .conftest import sse_events

AGENTS_FILE = Path(__file__).with_name("served_agents.py")


@pytest.fixture(autouse=True)
def _keep_sys_path(monkeypatch: pytest.MonkeyPatch) -> None:
    """Loading a file's agents puts its folder on sys.path: undo that after each test."""
    monkeypatch.setattr(sys, "path", list(sys.path))


def test_serve_refuses_an_open_port_without_keys(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("ASCENT_API_KEYS", raising=False)
    result = CliRunner().invoke(cli, ["serve", f"{AGENTS_FILE}:create_agents", "--host", "0.0.0.0"])
    assert result.exit_code == 1
    assert "refusing to bind 0.0.0.0: no API keys" in " ".join(result.output.split())


@pytest.mark.parametrize(
    ("target", "message"),
    [
        (f"{AGENTS_FILE}:nothing_here", "has no attribute 'nothing_here'"),
        (f"{AGENTS_FILE}:GATES", "expected an ASGI app, a factory, or agents"),
        ("no_such_module_anywhere:app", "no module named"),
    ],
)
def test_serve_explains_a_bad_target(target: str, message: str) -> None:
    result = CliRunner().invoke(cli, ["serve", target])
    assert result.exit_code == 1
    assert message in " ".join(result.output.split())


def test_serve_is_listed_in_the_help() -> None:
    result = CliRunner().invoke(cli, ["serve", "--help"])
    assert result.exit_code == 0
    assert "--insecure" in result.output and "MODULE:APP" in result.output
    assert "--a2a" in result.output and "--mcp" in result.output


def test_serve_protocol_flags_apply_to_agents_only(tmp_path: Path) -> None:
    ready = tmp_path / "ready_app.py"
    ready.write_text("from fastapi import FastAPI\n\napp = FastAPI()\n")
    result = CliRunner().invoke(cli, ["serve", f"{ready}:app", "--mcp"])
    assert result.exit_code == 1
    assert "--mcp applies to agents, not to a ready-made app" in " ".join(result.output.split())


def _served_with(monkeypatch: pytest.MonkeyPatch, *arguments: str) -> dict[str, Any]:
    """What ``ascent serve ARGUMENTS`` would hand to uvicorn, without serving."""
    seen: dict[str, Any] = {}

    def fake_serve(value: Any, **options: Any) -> None:
        seen.update(options, value=value)

    monkeypatch.setattr(ascent.server, "serve", fake_serve)
    result = CliRunner().invoke(cli, ["serve", *arguments])
    assert result.exit_code == 0, result.output
    return seen


def test_serve_reads_its_port_and_app_from_the_environment(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("PORT", "7860")
    monkeypatch.setenv("ASCENT_APP", f"{AGENTS_FILE}:create_agents")
    seen = _served_with(monkeypatch)
    assert seen["port"] == 7860
    assert seen["value"].__name__ == "create_agents"
    # The command line still wins over the environment.
    assert _served_with(monkeypatch, "--port", "9001")["port"] == 9001


def test_serve_defaults_to_port_8000_and_refuses_a_bad_port(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.delenv("PORT", raising=False)
    assert _served_with(monkeypatch, f"{AGENTS_FILE}:create_agents")["port"] == 8000
    monkeypatch.setenv("PORT", "not-a-port")
    result = CliRunner().invoke(cli, ["serve", f"{AGENTS_FILE}:create_agents"])
    assert result.exit_code == 2
    assert "PORT" in result.output or "--port" in result.output


def test_serve_listens_where_port_says(tmp_path: Path) -> None:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = int(probe.getsockname()[1])
    env = {
        "PORT": str(port),
        "ASCENT_APP": f"{AGENTS_FILE}:create_agents",
        "ASCENT_API_KEYS": "",
        "ASCENT_DATABASE_URL": f"sqlite:///{tmp_path / 'service.db'}",
        "ASCENT_TRACING": "off",
    }
    with ascent_command("serve", host="127.0.0.1", port=port, env=env):
        assert httpx.get(f"http://127.0.0.1:{port}/healthz", timeout=10).status_code == 200


async def test_an_idle_stream_sends_keep_alive_comments() -> None:
    release = asyncio.Event()

    async def events() -> AsyncIterator[RunEvent]:
        await release.wait()
        yield RunEvent(run_id="r", seq=1, type="run_completed", data={"output": "done"})

    async def final() -> RunRecord:
        now = datetime.now(UTC)
        return RunRecord(
            id="r", agent="A", status="completed", output="done", created_at=now, updated_at=now
        )

    response = sse_response(events(), final, ping_interval=0.01)
    body = response.body_iterator
    assert await anext(body) == b": ping\n\n"  # nothing happened yet: a comment keeps it open
    release.set()
    frames = [frame async for frame in body]
    [logged, last] = sse_events(b"".join(frames).decode())
    assert logged["event"] == "run_completed" and logged["id"] == "1"
    assert logged["data"]["data"] == {"output": "done"}
    assert last["event"] == "run" and "id" not in last
    assert last["data"]["status"] == "completed"


def test_serve_binds_ipv6_loopback_written_as_in_a_url(tmp_path: Path) -> None:
    port = ipv6_loopback_port()
    env = {
        "ASCENT_API_KEYS": "",  # none: allowed because [::1] is loopback
        "ASCENT_DATABASE_URL": f"sqlite:///{tmp_path / 'service.db'}",
        "ASCENT_TRACING": "off",
    }
    target = f"{AGENTS_FILE}:create_agents"
    with ascent_command(
        "serve", target, "--host", "[::1]", "--port", str(port), host="::1", port=port, env=env
    ):
        base = f"http://[::1]:{port}"
        assert httpx.get(f"{base}/healthz", timeout=10).status_code == 200
        agents = httpx.get(f"{base}/v1/agents", timeout=10).json()["agents"]
        assert [agent["name"] for agent in agents] == ["Shop", "Echo", "Warehouse"]
        foreign = httpx.get(f"{base}/v1/agents", headers={"Host": "attacker.example"}, timeout=10)
        assert foreign.status_code == 421  # an IPv6 loopback connection is a loopback one
