"""``ascent serve --engine temporal://...`` and ``ascent worker --database-url``: a service
on Temporal whose runs a worker process executes, writing their records to the
service's database."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import httpx
import pytest
from fastapi import FastAPI
from temporalio.testing import WorkflowEnvironment
from typer.testing import CliRunner

from ascent.cli.app import app as cli
from ascent.server import create_app
from ascent.storage import dispose_engines
from ascent.temporal import TemporalEngine

from .processes import worker_process


@contextmanager
def worker(target: str, task_queue: str, database_url: str) -> Iterator[int]:
    """A worker of the served app that writes its runs' records to ``database_url``."""
    options = ("--database-url", database_url)
    with worker_process(target, task_queue, "tests.temporal.served_app:agents", *options) as pid:
        yield pid


async def test_a_worker_process_runs_the_service_s_runs(
    temporal: WorkflowEnvironment, task_queue: str, tmp_path: Path
) -> None:
    from .served_app import create_agents

    target = temporal.client.service_client.config.target_host
    url = f"sqlite:///{tmp_path / 'service.db'}"
    app = create_app(
        create_agents(),
        engine=f"temporal://{target}/default?task_queue={task_queue}",
        database_url=url,
        api_keys={},
        wait_timeout=60,
    )
    try:
        with worker(target, task_queue, url):
            async with (
                app.router.lifespan_context(app),
                httpx.AsyncClient(
                    transport=httpx.ASGITransport(app), base_url="http://service"
                ) as client,
            ):
                response = await client.post(
                    "/v1/agents/Shop/runs", json={"input": "Refund order A-1042"}
                )
                run = response.json()
                assert run["status"] == "awaiting_approval", run
                call_id = run["pending_approvals"][0]["call_id"]
                decided = await client.post(
                    f"/v1/runs/{run['id']}/approvals",
                    json={"decisions": [{"call_id": call_id, "approved": True}]},
                )
                done = decided.json()
                assert done["status"] == "completed", done
                assert done["output"] == "Here is what I found: refund: refunded A-1042"
                events = (await client.get(f"/v1/runs/{run['id']}/events")).text
                assert "event: run_completed" in events

                # a run on a session: the worker keeps it in the service's database
                body = {"input": "Where is order B-7?", "session_id": "chat-1"}
                on_session = (await client.post("/v1/agents/Shop/runs", json=body)).json()
                assert on_session["status"] == "completed", on_session
                items = (await client.get("/v1/sessions/chat-1/items")).json()["items"]
                assert items[0]["content"] == "Where is order B-7?"
                assert items[-1]["content"][0]["text"] == on_session["output"]
    finally:
        dispose_engines()


def test_serve_takes_an_engine_url(monkeypatch: pytest.MonkeyPatch) -> None:
    import uvicorn

    served: list[FastAPI] = []
    monkeypatch.setattr(uvicorn, "run", lambda app, **_: served.append(app))
    monkeypatch.delenv("ASCENT_API_KEYS", raising=False)
    arguments = [
        "serve",
        "tests.temporal.served_app:agents",
        "--engine",
        "temporal://127.0.0.1:7233/prod?task_queue=shop",
    ]
    result = CliRunner().invoke(cli, arguments)
    assert result.exit_code == 0, result.output
    engine = served[0].state.ascent.engine
    assert isinstance(engine, TemporalEngine)
    assert (engine.address, engine.namespace, engine.task_queue) == (
        "127.0.0.1:7233",
        "prod",
        "shop",
    )
    refused = CliRunner().invoke(
        cli, ["serve", "tests.temporal.served_app:agents", "--engine", "dbos://x"]
    )
    assert refused.exit_code != 0
    assert "unknown engine" in refused.output
