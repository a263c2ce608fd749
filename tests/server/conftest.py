"""One durable engine for the service tests (DBOS allows one per process), apps over it."""

from __future__ import annotations

import asyncio
import os
import socket
import subprocess
import sys
from collections.abc import AsyncIterator, Callable, Iterator
from contextlib import AbstractAsyncContextManager, asynccontextmanager, contextmanager
from pathlib import Path
from typing import Any

import httpx
import pytest
import pytest_asyncio
import uvicorn
from fastapi import FastAPI

from ascent.durable import DurableEngine
from ascent.server import create_app
from ascent.testing import wait_until_serving

from .served_agents import GATES, create_agents

KEYS = {"key-acme": "acme", "key-globex": "globex"}
AGENTS_FILE = Path(__file__).with_name("served_agents.py")
REPO = Path(__file__).resolve().parents[2]

MakeClient = Callable[..., AbstractAsyncContextManager[httpx.AsyncClient]]


@pytest.fixture(scope="package")
def database_url(tmp_path_factory: pytest.TempPathFactory) -> str:
    path: Path = tmp_path_factory.mktemp("service") / "service.db"
    return f"sqlite:///{path}"


@pytest_asyncio.fixture(scope="package", loop_scope="package")
async def engine(database_url: str) -> AsyncIterator[DurableEngine]:
    engine = DurableEngine(agents=create_agents(), database_url=database_url, poll_interval=0.05)
    await engine.start()
    yield engine
    for gate in GATES.values():  # let any run still held at a gate finish
        gate.set()
    await engine.stop()


@pytest.fixture(scope="package")
def app(engine: DurableEngine, database_url: str) -> FastAPI:
    """The service with two tenants' keys."""
    return create_app(engine=engine, database_url=database_url, api_keys=KEYS, wait_timeout=10)


@asynccontextmanager
async def serving(app: FastAPI, key: str | None = "key-acme") -> AsyncIterator[httpx.AsyncClient]:
    """A client for ``app`` (lifespan run), sending ``key`` as its bearer token."""
    headers = {"Authorization": f"Bearer {key}"} if key else {}
    async with (
        app.router.lifespan_context(app),
        httpx.AsyncClient(
            transport=httpx.ASGITransport(app), base_url="http://service", headers=headers
        ) as client,
    ):
        yield client


@pytest_asyncio.fixture(loop_scope="package")
async def acme(app: FastAPI) -> AsyncIterator[httpx.AsyncClient]:
    async with serving(app, "key-acme") as client:
        yield client


@pytest_asyncio.fixture(loop_scope="package")
async def globex(app: FastAPI) -> AsyncIterator[httpx.AsyncClient]:
    async with serving(app, "key-globex") as client:
        yield client


@asynccontextmanager
async def live(app: FastAPI) -> AsyncIterator[str]:
    """``app`` behind a real uvicorn on loopback (lifespan on), in this event loop; its URL."""
    server = uvicorn.Server(
        uvicorn.Config(app, host="127.0.0.1", port=0, log_level="warning", lifespan="on")
    )
    task = asyncio.create_task(server.serve())
    try:
        while not server.started:
            assert not task.done(), "the service did not start"
            await asyncio.sleep(0.01)
        port = server.servers[0].sockets[0].getsockname()[1]
        yield f"http://127.0.0.1:{port}"
    finally:
        server.should_exit = True
        await task


@pytest_asyncio.fixture(loop_scope="package")
async def live_url(app: FastAPI) -> AsyncIterator[str]:
    """The app behind a real uvicorn on loopback, in this event loop."""
    async with live(app) as url:
        yield url


def sse_events(text: str) -> list[dict[str, Any]]:
    """Parse a server-sent events body into ``{"event", "id", "data"}`` dicts (pings skipped)."""
    import json

    events = []
    for block in text.split("\n\n"):
        fields: dict[str, Any] = {}
        for line in block.splitlines():
            if line.startswith(":"):
                continue
            name, _, value = line.partition(": ")
            fields[name] = value
        if "data" in fields:
            fields["data"] = json.loads(fields["data"])
            events.append(fields)
    return events


def refund_across(
    client: httpx.Client, a: str, b: str, body: dict[str, Any]
) -> tuple[dict[str, Any], dict[str, Any]]:
    """Start the Shop refund on replica ``a``; read, stream and approve it on ``b``,
    then follow the rest of its stream on ``a``. The run as started and as decided."""
    run: dict[str, Any] = client.post(f"{a}/v1/agents/Shop/runs", json=body).json()
    assert run["status"] == "awaiting_approval"
    assert client.get(f"{b}/v1/runs/{run['id']}").json() == run
    paused = sse_events(client.get(f"{b}/v1/runs/{run['id']}/events").text)
    assert paused[-2]["event"] == "approval_required"
    last = int(str(paused[-2]["id"]))

    call_id = run["pending_approvals"][0]["call_id"]
    decided: dict[str, Any] = client.post(
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
    return run, decided


@contextmanager
def replicas(url: str, *names: str, env: dict[str, str] | None = None) -> Iterator[list[str]]:
    """``ascent serve`` processes on ``url`` (PostgreSQL), one per executor name; their base URLs.

    They serve :mod:`served_agents` with the keys of :data:`KEYS` (and ``env`` added to
    their environment).
    """
    started = [_start_replica(url, name, env or {}) for name in names]
    try:
        for process, base in started:
            wait_until_serving(f"{base}/readyz", process=process, timeout=30)
        yield [base for _, base in started]
    finally:
        for process, _ in started:
            process.terminate()
        for process, _ in started:
            try:
                process.wait(timeout=15)
            except subprocess.TimeoutExpired:
                process.kill()
                process.wait()


def _start_replica(
    url: str, name: str, extra: dict[str, str]
) -> tuple[subprocess.Popen[bytes], str]:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
    env = {
        **os.environ,
        "ASCENT_DATABASE_URL": url,
        "ASCENT_API_KEYS": ",".join(f"{key}:{tenant}" for key, tenant in KEYS.items()),
        "ASCENT_EXECUTOR_ID": name,
        "ASCENT_TRACING": "off",
        **extra,
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
