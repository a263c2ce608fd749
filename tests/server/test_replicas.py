"""Two replicas (separate uvicorn processes) on one PostgreSQL serve the same runs.

A run started through one replica is read, approved and streamed through the
other: nothing a request needs lives in a replica's memory.
"""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import uuid
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from ascent.testing import wait_until_serving
from ascent.testing.postgres import PostgresServer

from .conftest import sse_events

AGENTS_FILE = Path(__file__).with_name("served_agents.py")
REPO = Path(__file__).resolve().parents[2]
HEADERS = {"Authorization": "Bearer key-acme"}


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


def _start_replica(url: str, name: str) -> tuple[subprocess.Popen[bytes], str]:
    port = _free_port()
    env = {
        **os.environ,
        "ASCENT_DATABASE_URL": url,
        "ASCENT_API_KEYS": "key-acme:acme,key-globex:globex",
        "ASCENT_EXECUTOR_ID": name,
        "ASCENT_TRACING": "off",
    }
    command = [
        sys.executable,
        "-m",
        "ascent.cli",
        "serve",
        f"{AGENTS_FILE}:create_app",
        "--port",
        str(port),
    ]
    process = subprocess.Popen(
        command, env=env, cwd=REPO, stdout=subprocess.PIPE, stderr=subprocess.STDOUT
    )
    return process, f"http://127.0.0.1:{port}"


@pytest.fixture(scope="module")
def replicas(postgres_server: PostgresServer) -> Iterator[tuple[str, str]]:
    """Two replicas for the module's tests (starting a Python process is the slow part)."""
    url = postgres_server.create_database(f"service_{uuid.uuid4().hex[:12]}")
    started = [_start_replica(url, "replica-a"), _start_replica(url, "replica-b")]
    try:
        for process, base in started:
            wait_until_serving(f"{base}/readyz", process=process, timeout=30)
        yield started[0][1], started[1][1]
    finally:
        for process, _ in started:
            process.terminate()
        for process, _ in started:
            try:
                process.wait(timeout=15)
            except subprocess.TimeoutExpired:
                process.kill()
                process.wait()


def test_a_run_started_on_one_replica_is_served_by_the_other(
    replicas: tuple[str, str],
) -> None:
    a, b = replicas
    with httpx.Client(headers=HEADERS, timeout=30) as client:
        run = client.post(f"{a}/v1/agents/Shop/runs", json={"input": "Refund order A-1042"}).json()
        assert run["status"] == "awaiting_approval"
        read = client.get(f"{b}/v1/runs/{run['id']}").json()
        assert read == run

        paused = sse_events(client.get(f"{b}/v1/runs/{run['id']}/events").text)
        assert paused[-2]["event"] == "approval_required"
        last = int(str(paused[-2]["id"]))

        call_id = run["pending_approvals"][0]["call_id"]
        decided = client.post(
            f"{b}/v1/runs/{run['id']}/approvals",
            json={"decisions": [{"call_id": call_id, "approved": True}]},
        ).json()
        assert decided["status"] == "completed"
        assert decided["output"] == "Here is what I found: refund: refunded A-1042"

        rest = sse_events(
            client.get(f"{a}/v1/runs/{run['id']}/events", headers={"Last-Event-ID": str(last)}).text
        )
        assert [int(str(e["id"])) for e in rest[:-1]] == list(range(last + 1, len(rest) + last))
        assert rest[-2]["event"] == "run_completed"
        assert client.get(f"{a}/v1/runs/{run['id']}").json() == decided

        other = client.get(
            f"{b}/v1/runs/{run['id']}", headers={"Authorization": "Bearer key-globex"}
        )
        assert other.status_code == 404


def test_a_session_continues_across_replicas(replicas: tuple[str, str]) -> None:
    a, b = replicas
    with httpx.Client(headers=HEADERS, timeout=30) as client:
        first = client.post(
            f"{a}/v1/agents/Echo/runs", json={"input": "My name is Ada.", "session_id": "s-1"}
        ).json()
        second = client.post(
            f"{b}/v1/agents/Echo/runs",
            json={"input": "What is my name?", "session_id": "s-1", "stream": True},
        )
        assert first["status"] == "completed"
        assert sse_events(second.text)[-1]["data"]["status"] == "completed"
        items = client.get(f"{a}/v1/sessions/s-1/items").json()["items"]
        assert [item["content"] for item in items if item.get("role") == "user"] == [
            "My name is Ada.",
            "What is my name?",
        ]
