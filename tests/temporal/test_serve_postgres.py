"""The service on Temporal with PostgreSQL as its database, end to end: a run started
over HTTP, its events streamed (SSE, heard by LISTEN/NOTIFY), an approval and its
decision, and the lifecycle events the relay publishes from the outbox there."""

from __future__ import annotations

import uuid
from collections.abc import Iterator

import httpx
import pytest
from temporalio.testing import WorkflowEnvironment

from ascent.events import (
    APPROVAL_DECIDED,
    APPROVAL_REQUIRED,
    APPROVALS_TOPIC,
    RUN_COMPLETED,
    RUNS_TOPIC,
    EventService,
    LocalBroker,
)
from ascent.server import create_app
from ascent.storage import dispose_engines
from ascent.testing.postgres import PostgresServer

from ..events.conftest import Collector
from ..server.conftest import sse_events
from .served_app import create_agents
from .stack import temporal_stack


@pytest.fixture
def postgres_url(postgres_server: PostgresServer) -> Iterator[str]:
    yield postgres_server.create_database(f"temporal_{uuid.uuid4().hex[:12]}")
    dispose_engines()


async def test_a_served_run_on_postgres_streams_waits_for_approval_and_completes(
    temporal: WorkflowEnvironment, task_queue: str, postgres_url: str
) -> None:
    broker = LocalBroker(retry_delay=0.01)
    collector = await Collector().attach(broker, RUNS_TOPIC, APPROVALS_TOPIC)
    async with temporal_stack(temporal, task_queue, postgres_url, create_agents()) as stack:
        assert stack.engine.book.store.engine.dialect.name == "postgresql"
        events = EventService(stack.engine, broker=broker)
        app = create_app(engine=stack.engine, database_url=postgres_url, api_keys={}, events=events)
        async with (
            app.router.lifespan_context(app),
            httpx.AsyncClient(transport=httpx.ASGITransport(app), base_url="http://s") as api,
        ):
            # a run streamed from its start to its end
            streamed = await api.post(
                "/v1/agents/Shop/runs", json={"input": "Where is order B-7?", "stream": True}
            )
            body = sse_events(streamed.text)
            logged = [e["event"] for e in body[:-1]]
            assert logged[0] == "run_started" and logged[-1] == "run_completed"
            assert "text_delta" in logged
            assert [int(e["id"]) for e in body[:-1]] == list(range(1, len(logged) + 1))
            assert body[-1]["data"]["output"] == (
                "Here is what I found: order_status: order B-7 shipped Monday"
            )

            # a run that waits for approval, streamed, then decided
            run = (
                await api.post("/v1/agents/Shop/runs", json={"input": "Refund order A-1042"})
            ).json()
            assert run["status"] == "awaiting_approval", run
            paused = sse_events((await api.get(f"/v1/runs/{run['id']}/events")).text)
            assert paused[-2]["event"] == "approval_required"
            [pending] = run["pending_approvals"]
            decision = {"decisions": [{"call_id": pending["call_id"], "approved": True}]}
            done = (await api.post(f"/v1/runs/{run['id']}/approvals", json=decision)).json()
            assert done["status"] == "completed", done
            assert done["output"] == "Here is what I found: refund: refunded A-1042"
            rest = sse_events(
                (
                    await api.get(
                        f"/v1/runs/{run['id']}/events",
                        headers={"Last-Event-ID": paused[-2]["id"]},
                    )
                ).text
            )
            assert rest[0]["event"] == "run_resumed"
            assert rest[-2]["event"] == "run_completed"

            # its lifecycle, published from the outbox on PostgreSQL
            [review] = await collector.wait_for(APPROVAL_REQUIRED, run_id=run["id"])
            assert review.data["tool"] == "refund"
            await collector.wait_for(APPROVAL_DECIDED, run_id=run["id"])
            [completed] = await collector.wait_for(RUN_COMPLETED, run_id=run["id"])
            assert completed.data["output"] == done["output"]
    await broker.stop()
