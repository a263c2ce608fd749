"""The service on Temporal: the same REST and SSE API, approvals, tenants and run records
as on DBOS, with runs executed by a worker on a real Temporal test server."""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import httpx
import pytest
from temporalio.testing import WorkflowEnvironment

from ascent.errors import UserError
from ascent.server import create_app
from ascent.server.engine import engine_from_url
from ascent.storage import dispose_engines
from ascent.temporal import DatabaseRunLog, TemporalApp, TemporalEngine, TemporalRuns, serving
from ascent.temporal.engine import parse_engine_url

from ..server.conftest import sse_events
from .served_app import create_agents as _agents

KEYS = {"key-acme": "acme", "key-globex": "globex"}


class Service:
    def __init__(self, acme: httpx.AsyncClient, globex: httpx.AsyncClient) -> None:
        self.acme = acme
        self.globex = globex


@pytest.fixture
async def service(
    temporal: WorkflowEnvironment, task_queue: str, tmp_path: Path
) -> AsyncIterator[Service]:
    """A service whose engine is Temporal, and a worker writing to its database."""
    url = f"sqlite:///{tmp_path / 'service.db'}"
    log = DatabaseRunLog(url)
    worker_app = TemporalApp(agents=_agents(), events=log, records=log)
    engine = TemporalEngine(
        agents=_agents(),
        client=temporal.client,
        task_queue=task_queue,
        database_url=url,
        poll_interval=0.02,
    )
    app = create_app(engine=engine, database_url=url, api_keys=KEYS, wait_timeout=30)
    transport = httpx.ASGITransport(app)
    try:
        async with (
            serving(temporal.client, worker_app, task_queue=task_queue),
            engine,
            httpx.AsyncClient(
                transport=transport,
                base_url="http://service",
                headers={"Authorization": "Bearer key-acme"},
            ) as acme,
            httpx.AsyncClient(
                transport=transport,
                base_url="http://service",
                headers={"Authorization": "Bearer key-globex"},
            ) as globex,
        ):
            yield Service(acme, globex)
    finally:
        await log.close()
        dispose_engines()


def _logged(events: list[dict[str, Any]], *, first: int) -> list[dict[str, Any]]:
    """The logged events (the last one is the run record), checked gapless from ``first``."""
    *logged, final = events
    assert final["event"] == "run"
    assert [int(e["id"]) for e in logged] == list(range(first, first + len(logged)))
    return logged


async def test_a_served_run_completes_and_streams_its_events(service: Service) -> None:
    response = await service.acme.post(
        "/v1/agents/Shop/runs", json={"input": "What is the status of order A-1042?"}
    )
    assert response.status_code == 200, response.text
    run = response.json()
    assert run["status"] == "completed", run
    assert run["output"] == "Here is what I found: order_status: order A-1042 shipped Monday"
    assert run["usage"]["requests"] == 2

    events = sse_events((await service.acme.get(f"/v1/runs/{run['id']}/events")).text)
    logged = _logged(events, first=1)
    types = [e["event"] for e in logged]
    assert types[0] == "run_started" and types[-1] == "run_completed"
    assert "item" in types and "text_delta" in types
    text = "".join(e["data"]["data"]["delta"] for e in logged if e["event"] == "text_delta")
    assert text == run["output"]
    assert events[-1]["data"]["status"] == "completed"

    listed = (await service.acme.get("/v1/runs")).json()["runs"]
    assert [r["id"] for r in listed] == [run["id"]]


async def test_a_stream_of_a_new_run_follows_it_to_its_end(service: Service) -> None:
    response = await service.acme.post(
        "/v1/agents/Shop/runs", json={"input": "Where is order B-7?", "stream": True}
    )
    assert response.headers["content-type"].startswith("text/event-stream")
    events = sse_events(response.text)
    logged = _logged(events, first=1)
    assert logged[-1]["event"] == "run_completed"
    assert (
        events[-1]["data"]["output"]
        == "Here is what I found: order_status: order B-7 shipped Monday"
    )


async def test_an_approval_pauses_the_run_and_a_decision_resumes_it(service: Service) -> None:
    response = await service.acme.post(
        "/v1/agents/Shop/runs", json={"input": "Refund order A-1042"}
    )
    run = response.json()
    assert run["status"] == "awaiting_approval", run
    [pending] = run["pending_approvals"]
    assert pending["tool_name"] == "refund"
    paused = sse_events((await service.acme.get(f"/v1/runs/{run['id']}/events")).text)
    assert _logged(paused, first=1)[-1]["event"] == "approval_required"
    last = int(paused[-2]["id"])

    unknown = await service.acme.post(
        f"/v1/runs/{run['id']}/approvals",
        json={"decisions": [{"call_id": "call_nope", "approved": True}]},
    )
    assert unknown.status_code == 409

    decided = await service.acme.post(
        f"/v1/runs/{run['id']}/approvals",
        json={"decisions": [{"call_id": pending["call_id"], "approved": True}]},
    )
    assert decided.status_code == 200, decided.text
    done = decided.json()
    assert done["status"] == "completed", done
    assert done["output"] == "Here is what I found: refund: refunded A-1042"
    assert done["pending_approvals"] == []

    again = await service.acme.post(
        f"/v1/runs/{run['id']}/approvals",
        json={"decisions": [{"call_id": pending["call_id"], "approved": True}]},
    )
    assert again.status_code == 409  # decided already, and over

    rest = sse_events(
        (
            await service.acme.get(
                f"/v1/runs/{run['id']}/events", headers={"Last-Event-ID": str(last)}
            )
        ).text
    )
    types = [e["event"] for e in _logged(rest, first=last + 1)]
    assert types[0] == "run_resumed" and types[-1] == "run_completed"


async def test_a_rejected_call_does_not_run(service: Service) -> None:
    run = (
        await service.acme.post("/v1/agents/Shop/runs", json={"input": "Refund order C-3"})
    ).json()
    call_id = run["pending_approvals"][0]["call_id"]
    decision = {"call_id": call_id, "approved": False, "reason": "refunds need a receipt"}
    done = (
        await service.acme.post(f"/v1/runs/{run['id']}/approvals", json={"decisions": [decision]})
    ).json()
    assert done["status"] == "completed"
    assert "refunded C-3" not in done["output"]
    assert "refunds need a receipt" in done["output"]


async def test_another_tenant_sees_no_run(service: Service) -> None:
    run = (
        await service.acme.post("/v1/agents/Shop/runs", json={"input": "Refund order D-4"})
    ).json()
    assert run["status"] == "awaiting_approval"
    call_id = run["pending_approvals"][0]["call_id"]
    path = f"/v1/runs/{run['id']}"
    assert (await service.globex.get(path)).status_code == 404
    assert (await service.globex.get(f"{path}/events")).status_code == 404
    decision = {"decisions": [{"call_id": call_id, "approved": True}]}
    assert (await service.globex.post(f"{path}/approvals", json=decision)).status_code == 404
    assert (await service.globex.post(f"{path}/cancel")).status_code == 404
    assert (await service.globex.get("/v1/runs")).json()["runs"] == []
    assert (await service.acme.get(path)).json()["status"] == "awaiting_approval"


async def test_a_waiting_run_is_cancelled(service: Service) -> None:
    run = (
        await service.acme.post("/v1/agents/Shop/runs", json={"input": "Refund order E-5"})
    ).json()
    path = f"/v1/runs/{run['id']}"
    cancelled = await service.acme.post(f"{path}/cancel")
    assert cancelled.status_code == 200
    assert cancelled.json()["status"] == "cancelled"
    assert (await service.acme.post(f"{path}/cancel")).json()["status"] == "cancelled"
    call_id = run["pending_approvals"][0]["call_id"]
    decision = {"decisions": [{"call_id": call_id, "approved": True}]}
    assert (await service.acme.post(f"{path}/approvals", json=decision)).status_code == 409


async def test_an_idempotency_key_starts_one_run(service: Service) -> None:
    headers = {"Idempotency-Key": "order-f6"}
    body = {"input": "Where is order F-6?"}
    first = (await service.acme.post("/v1/agents/Shop/runs", json=body, headers=headers)).json()
    second = (await service.acme.post("/v1/agents/Shop/runs", json=body, headers=headers)).json()
    assert first["id"] == second["id"]
    assert second["status"] == "completed"
    assert len((await service.acme.get("/v1/runs")).json()["runs"]) == 1


async def test_an_unknown_agent_is_404(service: Service) -> None:
    response = await service.acme.post("/v1/agents/Nobody/runs", json={"input": "hi"})
    assert response.status_code == 404


@pytest.mark.parametrize("durability", ["turns", "run"])
async def test_a_durability_temporal_does_not_have_is_a_400(
    service: Service, durability: str
) -> None:
    body = {"input": "Where is order A-1?", "durability": durability}
    response = await service.acme.post("/v1/agents/Shop/runs", json=body)
    assert response.status_code == 400, response.text
    message = response.json()["error"]["message"]
    assert "not available on the Temporal engine" in message and repr(durability) in message
    assert (await service.acme.get("/v1/runs")).json()["runs"] == []
    steps = await service.acme.post(
        "/v1/agents/Shop/runs", json={"input": "Where is order A-1?", "durability": "steps"}
    )
    assert steps.json()["status"] == "completed"  # what Temporal does: every command recorded


def test_engine_urls() -> None:
    assert parse_engine_url("temporal://localhost:7233/prod") == (
        "localhost:7233",
        "prod",
        "ascent",
    )
    assert parse_engine_url("temporal://t:7233?task_queue=q") == ("t:7233", "default", "q")
    engine = engine_from_url("temporal://t:7233/ns?task_queue=q", agents=_agents())
    assert isinstance(engine, TemporalEngine)
    assert (engine.address, engine.namespace, engine.task_queue) == ("t:7233", "ns", "q")
    with pytest.raises(UserError, match="temporal://"):
        parse_engine_url("http://t:7233")
    with pytest.raises(UserError, match="unknown engine"):
        engine_from_url("dapr://x", agents=_agents())


def test_create_app_takes_an_engine_url(tmp_path: Path) -> None:
    app = create_app(
        _agents(),
        engine="temporal://127.0.0.1:1/default",
        database_url=f"sqlite:///{tmp_path}/x.db",
    )
    engine = app.state.ascent.engine
    assert isinstance(engine, TemporalEngine) and app.state.ascent.owns_engine
    served = create_app(_agents(), engine="temporal://127.0.0.1:1/default", events=True)
    assert served.state.ascent.events is not None  # lifecycle events run on Temporal too
    with pytest.raises(UserError, match="not available on the engine temporal://"):
        create_app(_agents(), engine="temporal://127.0.0.1:1/default", durability="run")


async def test_a_worker_without_records_fails_a_served_run_clearly(
    temporal: WorkflowEnvironment, task_queue: str
) -> None:
    runs = TemporalRuns(temporal.client, task_queue=task_queue)
    async with serving(temporal.client, TemporalApp(agents=_agents()), task_queue=task_queue):
        await runs.start("Shop", "Where is order A-1?", run_id="unrecorded", record=True)
        with pytest.raises(UserError, match="keeps no records"):
            await runs.state("unrecorded")
