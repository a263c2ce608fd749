"""Lifecycle events and subscriptions on the Temporal engine, as on DBOS: the outbox
rows come from the same record and log writes (the service's and the worker's), the
relay publishes them, an event starts a Temporal run (its id the event's), and a
decision event resumes one. On the in-process broker and on Redis Streams."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
from temporalio.testing import WorkflowEnvironment

from ascent import Agent, function_tool
from ascent.durable import emit_event, run_id_for_key
from ascent.errors import ModelBehaviorError
from ascent.events import (
    AGENT_EVENTS_TOPIC,
    APPROVAL_DECIDED,
    APPROVAL_REQUIRED,
    APPROVALS_TOPIC,
    DECISIONS_TOPIC,
    RUN_CANCELLED,
    RUN_COMPLETED,
    RUN_FAILED,
    RUN_HANDOFF,
    RUN_QUEUED,
    RUN_STARTED,
    RUNS_TOPIC,
    Broker,
    CloudEvent,
    EventService,
    LocalBroker,
    Outbox,
    connect_broker,
    decisions,
    publish_event,
    subscribe,
)
from ascent.storage import dispose_engines
from ascent.testing import ScriptedModel
from ascent.testing.redis import RedisServer
from ascent.testing.scripted import ToolCall

from ..events.conftest import Collector, support
from .stack import temporal_stack

MakeBroker = Callable[[], Broker]


@pytest.fixture
def database_url(tmp_path: Path) -> Iterator[str]:
    yield f"sqlite:///{tmp_path / 'service.db'}"
    dispose_engines()


@pytest.fixture(params=["local", "redis"])
async def make_broker(request: pytest.FixtureRequest) -> AsyncIterator[MakeBroker]:
    """Brokers of one kind: the in-process one (shared, as in one process), or a fresh
    connection to a real Redis per call."""
    shared = LocalBroker(retry_delay=0.01)
    made: list[Broker] = []
    url: str | None = None
    if request.param == "redis":
        server: RedisServer = request.getfixturevalue("redis_server")
        import redis

        client = redis.Redis.from_url(server.url)
        client.flushall()
        client.close()
        url = server.url

    def make() -> Broker:
        if url is None:
            return shared
        broker = connect_broker(url)
        made.append(broker)
        return broker

    yield make
    for broker in made:
        await broker.stop()
    await shared.stop()


def order(order_id: str) -> CloudEvent:
    return CloudEvent(
        source="/shop", type="com.example.order.created.v1", data={"order_id": order_id}
    )


async def test_an_event_starts_a_temporal_run_and_its_completion_is_published(
    temporal: WorkflowEnvironment, task_queue: str, database_url: str, make_broker: MakeBroker
) -> None:
    model = ScriptedModel(["Order A-1 noted."])
    async with temporal_stack(
        temporal, task_queue, database_url, [support()], model=model
    ) as stack:
        collector = await Collector().attach(make_broker(), RUNS_TOPIC)
        subscription = subscribe("orders.created", agent="support", tenant="acme")
        service = EventService(stack.engine, broker=make_broker(), subscriptions=[subscription])
        await service.start()
        try:
            event = order("A-1")
            await publish_event(make_broker(), "orders.created", event)
            [done] = await collector.wait_for(RUN_COMPLETED)
            run_id = run_id_for_key("acme", event.id)  # the event's id is the run's key
            assert done.runid == run_id and done.tenant == "acme" and done.agent == "support"
            assert done.data["output"] == "Order A-1 noted."
            assert next(e.type for e in collector.events if e.runid == run_id) == RUN_STARTED
            record = await stack.engine.get_run(run_id, tenant="acme")
            assert record.status == "completed"
            assert "com.example.order.created.v1" in str(model.requests[0].input)

            # the same event again (a redelivery) starts no second run
            await publish_event(make_broker(), "orders.created", event)
            consumer = service.consumer
            assert consumer is not None
            async with asyncio.timeout(30):
                while consumer.handled < 2:
                    await asyncio.sleep(0.02)
            assert model.remaining == 0 and len(model.requests) == 1
            assert len(await stack.engine.list_runs(tenant="acme")) == 1
        finally:
            await service.stop()


async def test_approval_required_then_a_decision_event_completes_the_temporal_run(
    temporal: WorkflowEnvironment, task_queue: str, database_url: str, make_broker: MakeBroker
) -> None:
    model = ScriptedModel([ToolCall("refund", {"order_id": "A-9"}), "Refunded A-9."])
    async with temporal_stack(
        temporal, task_queue, database_url, [support()], model=model
    ) as stack:
        collector = await Collector().attach(make_broker(), RUNS_TOPIC, APPROVALS_TOPIC)
        service = EventService(
            stack.engine,
            broker=make_broker(),
            subscriptions=[
                subscribe("tickets.opened", agent="support", tenant="acme"),
                decisions("acme"),
            ],
        )
        await service.start()
        try:
            publisher = make_broker()
            await publish_event(publisher, "tickets.opened", order("A-9"))
            [review] = await collector.wait_for(APPROVAL_REQUIRED)
            assert review.data["tool"] == "refund"
            assert review.data["arguments"] == {"order_id": "A-9"}
            assert review.data["requested_by"] == "support" and review.tenant == "acme"
            run_id = review.data["run_id"]
            assert (await stack.engine.get_run(run_id, tenant="acme")).status == (
                "awaiting_approval"
            )

            decision = {
                "run_id": run_id,
                "decisions": [{"call_id": review.data["call_id"], "approved": True}],
            }
            await publish_event(
                publisher,
                DECISIONS_TOPIC,
                CloudEvent(source="/reviewer", type=APPROVAL_DECIDED, data=decision),
            )
            [done] = await collector.wait_for(RUN_COMPLETED, run_id=run_id)
            assert done.data["output"] == "Refunded A-9."
            [decided] = await collector.wait_for(APPROVAL_DECIDED, run_id=run_id)
            assert decided.data["decisions"] == [
                {"call_id": review.data["call_id"], "approved": True, "reason": None}
            ]
            record = await stack.engine.get_run(run_id, tenant="acme")
            assert record.status == "completed" and record.output == "Refunded A-9."
        finally:
            await service.stop()


# ----------------------------------------------------------- every type, from the outbox

_emitted: list[str] = []


@function_tool
async def issue_refund(order_id: str) -> str:
    """Refund an order (its refund is an event of the agent's own)."""
    for _ in range(2):  # within one step, the same event: published once
        _emitted.append(await emit_event("com.example.refund.issued.v1", {"order_id": order_id}))
    return f"refunded {order_id}"


def _shop() -> list[Agent[Any]]:
    billing = Agent(name="billing", instructions="Refund.", tools=[issue_refund])
    front = Agent(name="front", instructions="Route.", handoffs=[billing])
    return [front, billing, support()]


def _types(database_url: str, run_id: str) -> list[str]:
    return [entry.type for entry in Outbox(database_url).entries(subject=run_id)]


async def test_every_lifecycle_event_is_written_to_the_outbox_on_temporal(
    temporal: WorkflowEnvironment, task_queue: str, database_url: str
) -> None:
    _emitted.clear()
    model = ScriptedModel(
        [
            # a handoff, then a tool that emits an event of its own
            ToolCall("transfer_to_billing", {}),
            ToolCall("issue_refund", {"order_id": "A-3"}),
            "Refunded A-3.",
            # a run whose model fails it
            ModelBehaviorError("the model answered nonsense"),
            # a run that waits for approval on a session, and one queued behind it
            ToolCall("refund", {"order_id": "B-1"}),
        ]
    )
    async with temporal_stack(temporal, task_queue, database_url, _shop(), model=model) as stack:
        engine = stack.engine
        handed = await engine.wait_run((await engine.start_run("front", "Refund A-3")).id)
        assert handed.status == "completed", handed.error
        assert _types(database_url, handed.id) == [
            RUN_STARTED,
            RUN_HANDOFF,
            "com.example.refund.issued.v1",  # the tool's own, once
            RUN_COMPLETED,
        ]
        [handoff] = Outbox(database_url).entries(subject=handed.id)[1:2]
        assert (handoff.data["from_agent"], handoff.data["to_agent"]) == ("front", "billing")
        [own] = [e for e in Outbox(database_url).entries() if e.topic == AGENT_EVENTS_TOPIC]
        assert _emitted == [own.id, own.id]  # the event's id is the same in one step
        assert own.data == {
            "run_id": handed.id,
            "tenant": None,
            "agent": "front",
            "data": {"order_id": "A-3"},
        }

        failed = await engine.wait_run((await engine.start_run("support", "Hi")).id)
        assert failed.status == "failed"
        assert _types(database_url, failed.id) == [RUN_STARTED, RUN_FAILED]

        first = await engine.start_run("support", "Refund B-1", session_id="chat")
        assert (await engine.wait_run(first.id)).status == "awaiting_approval"
        second = await engine.start_run("support", "And B-2?", session_id="chat")
        async with asyncio.timeout(30):
            while (await engine.get_run(second.id)).status != "queued":
                await asyncio.sleep(0.02)
        assert _types(database_url, second.id) == [RUN_STARTED, RUN_QUEUED]
        await engine.cancel_run(first.id)
        assert _types(database_url, first.id) == [RUN_STARTED, APPROVAL_REQUIRED, RUN_CANCELLED]
        await engine.cancel_run(second.id)
