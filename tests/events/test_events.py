"""Events in and out on a real broker (in process, and Redis Streams): runs started by
events, their lifecycle published, approvals answered by events, duplicates, poison
messages and a shared subscription."""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from typing import Any

import pytest

from ascent.durable import DurableEngine, run_id_for_key
from ascent.errors import UserError
from ascent.events import (
    APPROVAL_DECIDED,
    APPROVAL_REQUIRED,
    APPROVALS_TOPIC,
    DEAD_LETTER,
    DEAD_LETTER_TOPIC,
    DECISIONS_TOPIC,
    RUN_COMPLETED,
    RUN_QUEUED,
    RUN_STARTED,
    RUNS_TOPIC,
    Broker,
    CloudEvent,
    EventService,
    decisions,
    publish_event,
    subscribe,
)
from ascent.testing import ScriptedModel
from ascent.testing.scripted import ToolCall

from .conftest import DEADLINE, Collector

MakeEngine = Callable[..., Any]
MakeBroker = Callable[[], Broker]


def order(order_id: str = "A-1", **attributes: Any) -> CloudEvent:
    return CloudEvent(
        source="/shop",
        type="com.example.order.created.v1",
        data={"order_id": order_id},
        **attributes,
    )


async def until(check: Callable[[], bool], timeout: float = DEADLINE) -> None:
    async def wait() -> None:
        while not check():
            await asyncio.sleep(0.02)

    await asyncio.wait_for(wait(), timeout)


async def served(
    engine: DurableEngine, broker: Broker, *subscriptions: Any, **options: Any
) -> EventService:
    service = EventService(engine, broker=broker, subscriptions=list(subscriptions), **options)
    await service.start()
    return service


async def test_an_event_starts_a_run_whose_lifecycle_is_published(
    make_engine: MakeEngine, make_broker: MakeBroker
) -> None:
    model = ScriptedModel(["Order A-1 noted."])
    engine = await make_engine(model=model)
    collector = await Collector().attach(make_broker(), RUNS_TOPIC)
    service = await served(
        engine, make_broker(), subscribe("orders.created", agent="support", tenant="acme")
    )
    event = order()
    await publish_event(make_broker(), "orders.created", event)

    [done] = await collector.wait_for(RUN_COMPLETED)
    run_id = run_id_for_key("acme", event.id)  # the event id is the idempotency key
    assert done.runid == done.subject == run_id == done.data["run_id"]
    assert (done.tenant, done.agent, done.data["output"]) == ("acme", "support", "Order A-1 noted.")
    assert done.source == "/ascent/runs" and done.specversion == "1.0"
    record = await engine.get_run(run_id, tenant="acme")
    assert record.status == "completed"
    # the run's input is the event itself
    asked = str(model.requests[0].input)
    assert event.id in asked and "com.example.order.created.v1" in asked and "A-1" in asked
    assert next(e.type for e in collector.events if e.runid == run_id) == RUN_STARTED
    await service.stop()


async def test_an_approval_required_event_answered_by_a_decision_event_resumes_the_run(
    make_engine: MakeEngine, make_broker: MakeBroker
) -> None:
    model = ScriptedModel([ToolCall("refund", {"order_id": "A-9"}), "Refunded A-9."])
    engine = await make_engine(model=model)
    collector = await Collector().attach(
        make_broker(), RUNS_TOPIC, APPROVALS_TOPIC, DEAD_LETTER_TOPIC
    )
    service = await served(
        engine,
        make_broker(),
        subscribe("tickets.opened", agent="support", tenant="acme"),
        decisions("acme"),
        decisions("globex", topic="globex.decisions"),
    )
    publisher = make_broker()
    await publish_event(publisher, "tickets.opened", order("A-9"))

    [review] = await collector.wait_for(APPROVAL_REQUIRED)
    assert review.data["tool"] == "refund" and review.data["arguments"] == {"order_id": "A-9"}
    assert review.data["requested_by"] == "support" and review.tenant == "acme"
    run_id = review.data["run_id"]
    decision = {
        "run_id": run_id,
        "decisions": [{"call_id": review.data["call_id"], "approved": True}],
    }

    # another tenant's reviewer cannot resume it: the run is not found in its tenant
    await publish_event(
        publisher,
        "globex.decisions",
        CloudEvent(source="/rev", type=APPROVAL_DECIDED, data=decision),
    )
    [letter] = await collector.wait_for(DEAD_LETTER)
    assert letter.data["reason"].startswith("not found (404)")
    assert (await engine.get_run(run_id, tenant="acme")).status == "awaiting_approval"

    await publish_event(
        publisher, DECISIONS_TOPIC, CloudEvent(source="/rev", type=APPROVAL_DECIDED, data=decision)
    )
    [done] = await collector.wait_for(RUN_COMPLETED, run_id=run_id)
    assert done.data["output"] == "Refunded A-9."
    [decided] = await collector.wait_for(APPROVAL_DECIDED, run_id=run_id)
    assert decided.data["decisions"] == [
        {"call_id": review.data["call_id"], "approved": True, "reason": None}
    ]

    # the same decision again is the endpoint's 409: dead-lettered, nothing changes
    await publish_event(
        publisher, DECISIONS_TOPIC, CloudEvent(source="/rev", type=APPROVAL_DECIDED, data=decision)
    )
    letters = await collector.wait_for(DEAD_LETTER, count=2)
    assert letters[1].data["reason"].startswith("conflict (409)")
    assert (await engine.get_run(run_id, tenant="acme")).status == "completed"
    await service.stop()


async def test_a_redelivered_event_starts_no_second_run(
    make_engine: MakeEngine, make_broker: MakeBroker, broker_kind: str
) -> None:
    engine = await make_engine(model=ScriptedModel(["Noted.", "unused"]))
    collector = await Collector().attach(make_broker(), RUNS_TOPIC)
    orders = subscribe("orders.created", agent="support", tenant="acme")
    service = await served(engine, make_broker(), orders)
    event = order()
    publisher = make_broker()
    await publish_event(publisher, "orders.created", event)
    await collector.wait_for(RUN_COMPLETED)
    assert service.consumer is not None
    consumer = service.consumer
    if broker_kind == "nats":
        # JetStream drops a second publication of one event id by itself (Nats-Msg-Id):
        # the consumer gets the copy a redelivery would bring
        await publish_event(publisher, "orders.created", event)
        await consumer.handle(orders, event.to_json_bytes())
    else:
        await publish_event(publisher, "orders.created", event)  # the broker delivers it again
    await until(lambda: consumer.handled == 2)
    await service.settle()

    runs = await engine.list_runs(tenant="acme")
    assert [run.id for run in runs] == [run_id_for_key("acme", event.id)]
    assert len(collector.of(RUN_STARTED)) == 1 and len(collector.of(RUN_COMPLETED)) == 1
    assert collector.of(RUN_QUEUED) == []  # the run started at once: no queue
    await service.stop()


async def test_poison_messages_are_dead_lettered_with_their_reason_and_consuming_goes_on(
    make_engine: MakeEngine, make_broker: MakeBroker
) -> None:
    engine = await make_engine(model=ScriptedModel(["Noted."]))
    collector = await Collector().attach(make_broker(), RUNS_TOPIC, DEAD_LETTER_TOPIC)
    orders = subscribe("orders.created", agent="support", tenant="acme")
    orders.max_bytes = 2048
    service = await served(
        engine, make_broker(), orders, subscribe("routed", agent="*", tenant="acme")
    )
    publisher = make_broker()
    await publisher.publish("orders.created", b"{not json")
    await publisher.publish("orders.created", b'{"hello": "world"}')
    await publisher.publish("orders.created", b'{"specversion": "1.0", "id": "x"}')
    await publish_event(publisher, "orders.created", order("A-1" * 1000))
    await publish_event(publisher, "routed", order(agent="nobody"))
    await publish_event(publisher, "routed", order())  # names no agent at all
    await publish_event(publisher, "orders.created", order("A-2"))  # a good one, after

    await collector.wait_for(RUN_COMPLETED)
    letters = await collector.wait_for(DEAD_LETTER, count=6)
    reasons = sorted(letter.data["reason"] for letter in letters)
    assert reasons[0].startswith("malformed JSON")
    assert reasons[1].startswith("not a CloudEvent 1.0: source: Field required")
    assert reasons[2].startswith("not a CloudEvent: a JSON object with specversion")
    assert reasons[3].startswith("oversized:") and "the limit is 2048" in reasons[3]
    assert reasons[4] == "the event names no agent (its `agent` attribute)"
    assert reasons[5].startswith("unknown agent:") and "nobody" in reasons[5]
    malformed = next(x for x in letters if x.data["reason"].startswith("malformed"))
    assert malformed.data["message"] == "{not json" and malformed.data["attempts"] == 1
    assert malformed.data["topic"] == "orders.created"
    assert malformed.data["subscription"] == "orders.created -> support @ acme"
    assert len(await engine.list_runs(tenant="acme")) == 1
    await service.stop()


async def test_a_failure_that_persists_is_dead_lettered_after_the_bounded_attempts(
    make_engine: MakeEngine, make_broker: MakeBroker, monkeypatch: pytest.MonkeyPatch
) -> None:
    engine = await make_engine(model=ScriptedModel([]))
    calls: list[str] = []

    async def database_away(*args: Any, **kwargs: Any) -> Any:
        calls.append(args[0])
        raise ConnectionError("the database is away")

    monkeypatch.setattr(engine, "start_run", database_away)
    collector = await Collector().attach(make_broker(), DEAD_LETTER_TOPIC)
    service = await served(
        engine,
        make_broker(),
        subscribe("orders.created", agent="support", tenant="acme", max_attempts=3),
    )
    assert service.consumer is not None
    service.consumer.retry_delay = 0.01
    await publish_event(make_broker(), "orders.created", order())
    [letter] = await collector.wait_for(DEAD_LETTER)
    assert letter.data["attempts"] == 3 and calls == ["support"] * 3
    assert letter.data["reason"] == (
        "gave up after 3 attempts: ConnectionError: the database is away"
    )
    await service.stop()


async def test_two_replicas_share_a_subscription_and_each_message_runs_once(
    make_engine: MakeEngine, make_broker: MakeBroker
) -> None:
    engine = await make_engine(model=ScriptedModel(["Noted."] * 12), worker_concurrency=4)
    collector = await Collector().attach(make_broker(), RUNS_TOPIC)
    replicas = [  # the second handles two messages at once
        await served(
            engine, make_broker(), subscribe("orders.created", agent="support", concurrency=n)
        )
        for n in (1, 2)
    ]
    publisher = make_broker()
    sent = [order(f"A-{n}") for n in range(12)]
    for event in sent:
        await publish_event(publisher, "orders.created", event)

    await collector.wait_for(RUN_COMPLETED, count=12)
    consumers = [replica.consumer for replica in replicas]
    assert all(consumer is not None for consumer in consumers)
    await until(lambda: sum(c.handled for c in consumers if c) == 12)
    for replica in replicas:
        await replica.settle()
    await asyncio.sleep(0.3)  # a second delivery or publication would show by now
    assert sum(c.handled for c in consumers if c) == 12
    run_ids = sorted(run_id_for_key(None, event.id) for event in sent)
    assert sorted(run.id for run in await engine.list_runs()) == run_ids
    # both replicas relay the one outbox: each event is published once
    completed = collector.of(RUN_COMPLETED)
    assert sorted(e.runid or "" for e in completed) == run_ids
    assert len({e.id for e in collector.events}) == len(collector.events)
    assert len(collector.of(RUN_QUEUED)) == 12  # a queue: each run waited for a worker
    for replica in replicas:
        await replica.stop()


async def test_a_tool_emits_an_event_of_its_own_once_per_step(
    make_engine: MakeEngine, make_broker: MakeBroker
) -> None:
    from ascent import Agent, function_tool
    from ascent.durable import emit_event
    from ascent.events import AGENT_EVENTS_TOPIC

    ids: list[str] = []

    @function_tool
    async def issue_refund(order_id: str) -> str:
        """Refund an order."""
        for _ in range(2):  # a step that runs again emits the same event
            ids.append(await emit_event("com.example.refund.issued.v1", {"order_id": order_id}))
        return "refunded"

    agent = Agent(name="support", tools=[issue_refund])
    model = ScriptedModel([ToolCall("issue_refund", {"order_id": "A-3"}), "Done."])
    engine = await make_engine(agents=[agent], model=model)
    collector = await Collector().attach(make_broker(), AGENT_EVENTS_TOPIC, RUNS_TOPIC)
    service = await served(engine, make_broker())
    run = await engine.start_run("support", "Refund A-3", tenant="acme")
    await collector.wait_for(RUN_COMPLETED, run_id=run.id)
    [emitted] = await collector.wait_for("com.example.refund.issued.v1")
    await service.settle()
    assert ids[0] == ids[1] == emitted.id
    assert emitted.data == {
        "run_id": run.id,
        "tenant": "acme",
        "agent": "support",
        "data": {"order_id": "A-3"},
    }
    assert (emitted.runid, emitted.tenant, emitted.agent) == (run.id, "acme", "support")
    assert len(collector.of("com.example.refund.issued.v1")) == 1
    with pytest.raises(UserError, match="emit_event works in a tool of a durable run"):
        await emit_event("x.v1")
    await service.stop()
