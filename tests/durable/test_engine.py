"""The durable engine in this process: runs, events, approvals, cancellation, errors.

The model is a :class:`ScriptedModel`; the database a fresh SQLite file per test.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Callable
from pathlib import Path
from typing import Any

import pytest
from dbos import DBOS
from pydantic import BaseModel

from ascent import Agent, ModelAPIError, RunConflict, UserError, function_tool, input_guardrail
from ascent.context import RunContext, ToolContext
from ascent.durable import (
    AgentNotFound,
    DurableEngine,
    RunEvent,
    RunNotFound,
    RunRecord,
    durable_sleep,
    idempotency_key,
)
from ascent.items import FunctionCall, FunctionCallOutput, Item, Message, Usage
from ascent.lifecycle import RunHooks
from ascent.memory import open_session
from ascent.models.base import (
    ModelRequest,
    ModelResponse,
    ModelStreamEvent,
    ResponseCompleted,
    TextDelta,
)
from ascent.testing import ScriptedModel
from ascent.testing.scripted import ToolCall
from ascent.testing.traces import recording_traces

from ..sample_tools import lookup, refund


def support(*tools: Any) -> Agent[Any]:
    return Agent(name="support", instructions="Be brief.", tools=list(tools) or [lookup, refund])


MakeEngine = Callable[..., Any]


async def test_a_run_completes_and_its_events_can_be_read_from_any_point(
    make_engine: MakeEngine,
) -> None:
    model = ScriptedModel([ToolCall("lookup", {"order_id": "A-1"}), "A-1 has shipped."])
    engine: DurableEngine = await make_engine(agents=[support()], model=model)
    started = await engine.start_run("support", "Where is A-1?")
    assert started.status == "running" and started.agent == "support"

    record = await engine.wait_run(started.id)
    assert record.status == "completed" and record.output == "A-1 has shipped."
    assert record.usage.requests == 2 and record.error is None and not record.pending_approvals
    events = [e async for e in engine.events(record.id, follow=False)]
    assert [e.seq for e in events] == list(range(1, len(events) + 1))
    types = [e.type for e in events]
    assert types[0] == "run_started" and types[-1] == "run_completed"
    assert "".join(e.data["delta"] for e in events if e.type == "text_delta") == "A-1 has shipped."
    items = [e.data for e in events if e.type == "item"]
    outputs = [i["item"]["output"] for i in items if i["name"] == "tool_output"]
    assert outputs == ["A-1: shipped"]
    assert events[-1].data["output"] == "A-1 has shipped."

    tail = [e async for e in engine.events(record.id, after=3, follow=False)]
    assert tail == events[3:]
    assert [e async for e in engine.events(record.id, after=len(events))] == []


async def test_on_sqlite_dbos_keeps_its_tables_in_a_file_of_its_own(
    make_engine: MakeEngine, sqlite_url: str
) -> None:
    """So that a run's own writes never wait for DBOS's checkpoints (one writer per file)."""
    import contextlib
    import sqlite3

    engine: DurableEngine = await make_engine(agents=[support()], model=ScriptedModel(["Hi."]))
    record = await engine.wait_run((await engine.start_run("support", "Hello")).id)
    assert record.status == "completed"

    project = Path(sqlite_url.removeprefix("sqlite:///"))
    beside = project.with_name("durable-dbos.db")

    def tables(path: Path) -> set[str]:
        with contextlib.closing(sqlite3.connect(path)) as connection:
            rows = connection.execute("SELECT name FROM sqlite_master WHERE type = 'table'")
            return {name for (name,) in rows}

    assert {"ascent_runs", "ascent_run_events"} <= tables(project)
    assert "workflow_status" not in tables(project)
    assert "workflow_status" in tables(beside)
    assert not {"ascent_runs", "ascent_run_events"} & tables(beside)


async def test_following_a_run_streams_its_events_as_they_happen(make_engine: MakeEngine) -> None:
    release = asyncio.Event()

    @function_tool
    async def slow(order_id: str) -> str:
        """Look an order up, slowly."""
        await release.wait()
        return "found"

    model = ScriptedModel([ToolCall("slow", {"order_id": "A-1"}), "Found it."])
    engine: DurableEngine = await make_engine(agents=[support(slow)], model=model)
    record = await engine.start_run("support", "Where is A-1?")
    seen: list[RunEvent] = []

    async def follow() -> None:
        async for event in engine.events(record.id):
            seen.append(event)
            if event.type == "item" and event.data["name"] == "tool_call":
                release.set()  # the tool finishes only once the stream has shown its call

    await asyncio.wait_for(follow(), 20)
    assert seen[-1].type == "run_completed"
    assert seen == [e async for e in engine.events(record.id, follow=False)]


async def test_approval_is_a_durable_wait_and_a_rejection_reaches_the_model(
    make_engine: MakeEngine,
) -> None:
    model = ScriptedModel([ToolCall("refund", {"order_id": "A-9"}), "I could not refund it."])
    engine: DurableEngine = await make_engine(agents=[support()], model=model)
    record = await engine.wait_run((await engine.start_run("support", "Refund A-9")).id)
    assert record.status == "awaiting_approval"
    [request] = record.pending_approvals
    assert (request.tool_name, request.arguments) == ("refund", '{"order_id": "A-9"}')

    with pytest.raises(RunConflict, match=r"no pending approval for call id\(s\) nope"):
        await engine.decide(record.id, {"nope": True})
    with pytest.raises(UserError, match="True, False or a reason"):
        await engine.decide(record.id, {request.call_id: 3})  # type: ignore[dict-item]
    await engine.decide(record.id, {request.call_id: "not without a receipt"})
    record = await engine.wait_run(record.id)

    assert record.status == "completed" and record.output == "I could not refund it."
    sent = model.requests[-1].input[-1]
    assert isinstance(sent, FunctionCallOutput) and sent.is_error
    assert "rejected" in sent.output and "not without a receipt" in sent.output
    types = [e.type async for e in engine.events(record.id, follow=False)]
    assert types.count("approval_required") == 1 and types.count("run_resumed") == 1
    with pytest.raises(RunConflict, match="is completed, not awaiting approval"):
        await engine.decide(record.id, {request.call_id: True})
    with pytest.raises(RunConflict, match="cannot be cancelled: it is completed already"):
        await engine.cancel_run(record.id)


async def _in_a_tool_that_never_ends(
    make_engine: MakeEngine,
) -> tuple[DurableEngine, RunRecord, ScriptedModel, list[str]]:
    """A run started and inside its tool, which waits for ever; the list gets
    "cancelled" when the tool is."""
    entered = asyncio.Event()
    outcome: list[str] = []

    @function_tool
    async def forever(order_id: str) -> str:
        """Wait for ever."""
        entered.set()
        try:
            await asyncio.Event().wait()
        except asyncio.CancelledError:
            outcome.append("cancelled")
            raise
        return "never"

    model = ScriptedModel([ToolCall("forever", {"order_id": "A-1"}), "unused"])
    engine: DurableEngine = await make_engine(agents=[support(forever)], model=model)
    record = await engine.start_run("support", "Go")
    await asyncio.wait_for(entered.wait(), 20)
    return engine, record, model, outcome


async def test_cancel_stops_a_tool_in_flight(make_engine: MakeEngine) -> None:
    engine, record, model, outcome = await _in_a_tool_that_never_ends(make_engine)
    assert (await engine.wait_run(record.id, timeout=0.05)).status == "running"

    cancelled = await engine.cancel_run(record.id)

    assert cancelled.status == "cancelled"
    assert (await engine.wait_run(record.id)).status == "cancelled"
    for _ in range(200):
        if outcome:
            break
        await asyncio.sleep(0.01)
    assert outcome == ["cancelled"]
    events = [e async for e in engine.events(record.id)]
    assert events[-1].type == "run_cancelled"
    assert (await engine.cancel_run(record.id)).status == "cancelled"  # a no-op, not an error
    assert model.remaining == 1


async def test_a_wait_on_a_run_of_this_process_takes_its_end_from_the_run_itself(
    make_engine: MakeEngine, monkeypatch: pytest.MonkeyPatch
) -> None:
    release = asyncio.Event()

    @function_tool
    async def slow(order_id: str) -> str:
        """Wait until released."""
        await release.wait()
        return f"{order_id}: done"

    model = ScriptedModel([ToolCall("slow", {"order_id": "A-1"}), "All done."])
    engine: DurableEngine = await make_engine(agents=[support(slow)], model=model)
    reads: list[str] = []
    get_run = engine.store.get_run
    monkeypatch.setattr(
        engine.store, "get_run", lambda run_id: reads.append(run_id) or get_run(run_id)
    )
    record = await engine.start_run("support", "Go", tenant="acme")
    waiting = asyncio.create_task(engine.wait_run(record.id, tenant="acme"))
    await asyncio.sleep(0.05)
    release.set()
    finished = await asyncio.wait_for(waiting, 20)
    assert (finished.status, finished.output) == ("completed", "All done.")
    assert reads == []  # the record came with the news of the run's end, not from a read
    assert await engine.wait_run(record.id, tenant="acme") == finished  # read, now it is over
    with pytest.raises(RunNotFound):  # another tenant's wait is refused as before
        await engine.wait_run(record.id, tenant="other")


async def test_a_run_of_this_process_cancelled_elsewhere_ends_the_waits_here(
    make_engine: MakeEngine,
) -> None:
    entered = asyncio.Event()

    @function_tool
    async def forever(order_id: str) -> str:
        """Wait for ever."""
        entered.set()
        await asyncio.Event().wait()
        return "never"

    model = ScriptedModel([ToolCall("forever", {"order_id": "A-1"}), "unused"])
    engine: DurableEngine = await make_engine(agents=[support(forever)], model=model)
    record = await engine.start_run("support", "Go")
    await asyncio.wait_for(entered.wait(), 20)
    waiting = asyncio.create_task(engine.wait_run(record.id))
    await asyncio.sleep(0.05)
    # what cancel_run does in another replica: nothing of it reaches this process directly
    engine.store.update_run(record.id, status="cancelled", pending=[])
    await DBOS.cancel_workflow_async(record.id)

    assert (await asyncio.wait_for(waiting, 20)).status == "cancelled"


async def test_a_tool_in_flight_stops_when_its_run_is_cancelled_elsewhere(
    make_engine: MakeEngine,
) -> None:
    """A ``steps`` run cancelled by another process (nothing of it reaches this one
    directly) is interrupted in its step, not only at its next one."""
    engine, record, model, outcome = await _in_a_tool_that_never_ends(make_engine)
    task = engine._started_parts().workflows.task_of(record.id)
    assert task is not None

    # what cancel_run does in another replica
    engine.store.update_run(record.id, status="cancelled", pending=[])
    await DBOS.cancel_workflow_async(record.id)

    await asyncio.wait({task}, timeout=10)
    assert task.done()
    assert outcome == ["cancelled"]
    assert (await engine.get_run(record.id)).status == "cancelled"
    assert model.remaining == 1  # the run went no further


async def test_a_run_waiting_for_approval_stops_when_cancelled_elsewhere(
    make_engine: MakeEngine,
) -> None:
    model = ScriptedModel([ToolCall("refund", {"order_id": "A-9"}), "unused"])
    engine: DurableEngine = await make_engine(agents=[support()], model=model)
    record = await engine.wait_run((await engine.start_run("support", "Refund A-9")).id)
    assert record.status == "awaiting_approval"
    task = engine._started_parts().workflows.task_of(record.id)  # waiting in this process
    assert task is not None

    # what cancel_run does in another replica: nothing of it reaches this process directly
    engine.store.update_run(record.id, status="cancelled", pending=[])
    await DBOS.cancel_workflow_async(record.id)

    await asyncio.wait({task}, timeout=10)
    assert task.done()  # the wait ended now, not when it renews (within the hour)
    assert (await engine.get_run(record.id)).status == "cancelled"
    assert model.remaining == 1  # the run went no further


async def test_a_failing_model_fails_the_run_with_its_message(make_engine: MakeEngine) -> None:
    model = ScriptedModel([ModelAPIError("the provider is down", provider="scripted")])
    engine: DurableEngine = await make_engine(agents=[support()], model=model)
    record = await engine.wait_run((await engine.start_run("support", "Hi")).id)
    assert record.status == "failed"
    assert record.error is not None and "the provider is down" in record.error
    events = [e async for e in engine.events(record.id)]
    assert events[-1].type == "run_failed" and "the provider is down" in events[-1].data["error"]


async def test_bad_requests_get_clear_errors(make_engine: MakeEngine) -> None:
    engine: DurableEngine = await make_engine(agents=[support()], model=ScriptedModel(["Hi."]))
    with pytest.raises(AgentNotFound, match="no agent named 'billing' \\(agents: support\\)"):
        await engine.start_run("billing", "Hi")
    with pytest.raises(UserError, match="a string or a list of items"):
        await engine.start_run("support", 42)  # type: ignore[arg-type]
    with pytest.raises(UserError, match="needs some input"):
        await engine.start_run("support", [])
    with pytest.raises(UserError, match="invalid input items"):
        await engine.start_run("support", [{"role": "user", "content": 7}])
    with pytest.raises(RunNotFound, match="no run with id 'missing'"):
        await engine.get_run("missing")
    with pytest.raises(RunNotFound):
        await engine.cancel_run("missing")


async def test_one_tenant_cannot_see_or_touch_another_tenants_runs(
    make_engine: MakeEngine,
) -> None:
    model = ScriptedModel([ToolCall("refund", {"order_id": "A-9"})])
    engine: DurableEngine = await make_engine(agents=[support()], model=model)
    record = await engine.start_run("support", "Refund A-9", tenant="acme")
    record = await engine.wait_run(record.id, tenant="acme")
    assert record.status == "awaiting_approval" and record.tenant == "acme"
    call_id = record.pending_approvals[0].call_id
    for tenant in ("globex", None):
        with pytest.raises(RunNotFound):
            await engine.get_run(record.id, tenant=tenant)
        with pytest.raises(RunNotFound):
            await engine.decide(record.id, {call_id: True}, tenant=tenant)
        with pytest.raises(RunNotFound):
            await engine.cancel_run(record.id, tenant=tenant)
        with pytest.raises(RunNotFound):
            _ = [e async for e in engine.events(record.id, tenant=tenant)]
    assert [r.id for r in await engine.list_runs(tenant="acme")] == [record.id]
    assert await engine.list_runs(tenant="globex") == []
    assert (await engine.cancel_run(record.id, tenant="acme")).status == "cancelled"


async def test_a_run_id_makes_starting_idempotent(make_engine: MakeEngine) -> None:
    engine: DurableEngine = await make_engine(
        agents=[support(), Agent(name="other")], model=ScriptedModel(["Hi."])
    )
    first = await engine.start_run("support", "Hi", run_id="order-42")
    again = await engine.start_run("support", "Hi", run_id="order-42")
    assert again.id == first.id == "order-42"
    assert (await engine.wait_run("order-42")).output == "Hi."
    with pytest.raises(RunConflict, match="taken by another run"):
        await engine.start_run("other", "Hi", run_id="order-42")
    with pytest.raises(RunConflict, match="taken by another run"):
        await engine.start_run("support", "Hi", run_id="order-42", tenant="acme")


async def test_a_session_carries_the_conversation_across_runs(
    make_engine: MakeEngine, sqlite_url: str
) -> None:
    model = ScriptedModel(["Noted: email.", "You prefer email."])
    engine: DurableEngine = await make_engine(agents=[support()], model=model)
    for text in ("I prefer email.", "How do I prefer to be contacted?"):
        record = await engine.start_run("support", text, session_id="customer-7")
        assert (await engine.wait_run(record.id)).status == "completed"
    texts = [i.text for i in model.requests[-1].input if isinstance(i, Message)]
    assert texts == ["I prefer email.", "Noted: email.", "How do I prefer to be contacted?"]
    assert len(await open_session("customer-7", sqlite_url).get_items()) == 4


async def test_a_run_cancelled_while_it_waits_for_approval_leaves_its_session_usable(
    make_engine: MakeEngine, sqlite_url: str
) -> None:
    """The pause saved the refund's call to the session; the cancel means no output
    ever follows it. The next run sends that call answered with an error, as model
    APIs require, and completes."""
    model = ScriptedModel([ToolCall("refund", {"order_id": "A-9"}), "How can I help?"])
    engine: DurableEngine = await make_engine(agents=[support()], model=model)
    paused = await engine.start_run("support", "Refund A-9", session_id="customer-9")
    assert (await engine.wait_run(paused.id)).status == "awaiting_approval"
    assert (await engine.cancel_run(paused.id)).status == "cancelled"

    record = await engine.start_run("support", "Hello again", session_id="customer-9")

    assert (await engine.wait_run(record.id)).output == "How can I help?"
    sent = model.requests[-1].input
    calls = [i.call_id for i in sent if isinstance(i, FunctionCall)]
    answers = [i for i in sent if isinstance(i, FunctionCallOutput)]
    assert [a.call_id for a in answers] == calls and len(calls) == 1
    assert answers[0].is_error and "cancelled" in answers[0].output


async def test_tools_get_an_idempotency_key_and_can_sleep_durably(
    make_engine: MakeEngine,
) -> None:
    keys: list[tuple[str | None, str]] = []

    @function_tool
    async def charge(ctx: ToolContext[Any], amount: int) -> str:
        """Charge the customer."""
        await durable_sleep(0.01)
        keys.append((idempotency_key(), ctx.idempotency_key))
        return "charged"

    model = ScriptedModel([ToolCall("charge", {"amount": 5}, call_id="c1"), "Done."])
    engine: DurableEngine = await make_engine(agents=[support(charge)], model=model)
    record = await engine.wait_run((await engine.start_run("support", "Charge 5")).id)
    assert record.status == "completed"
    [(step_key, call_key)] = keys
    assert step_key is not None and step_key.startswith(f"{record.id}:")
    assert step_key.rsplit(":", 1)[1].isdigit()
    assert call_key == f"{record.id}:c1"
    assert idempotency_key() is None  # outside a durable run
    await durable_sleep(0)  # and a plain sleep there


async def test_a_process_runs_one_engine_at_a_time(make_engine: MakeEngine) -> None:
    await make_engine(agents=[support()])
    second = DurableEngine(agents=[support()], database_url="sqlite:///:memory:")
    with pytest.raises(UserError, match="already running in this process"):
        await second.start()


def test_engine_options_are_checked() -> None:
    with pytest.raises(UserError, match="two agents are named 'support'"):
        DurableEngine(agents=[support(), support()])
    with pytest.raises(UserError, match="is not an Agent"):
        DurableEngine(agents={"x": "not an agent"})  # type: ignore[dict-item]
    with pytest.raises(UserError, match="takeover_after must be longer"):
        DurableEngine(agents=[support()], heartbeat_interval=5, takeover_after=1)
    with pytest.raises(UserError, match="executor_threads must be at least 1"):
        DurableEngine(agents=[support()], executor_threads=0)


async def test_a_durable_run_is_traced_under_the_id_its_record_names(
    make_engine: MakeEngine,
) -> None:
    model = ScriptedModel([ToolCall("lookup", {"order_id": "A-1"}), "Shipped."])
    engine: DurableEngine = await make_engine(agents=[support()], model=model)
    with recording_traces() as recorder:
        record = await engine.wait_run((await engine.start_run("support", "A-1?")).id)
        for _ in range(200):
            if recorder.traces:
                break
            await asyncio.sleep(0.01)
    assert record.trace_id == f"trace_{record.id}"
    [trace] = recorder.traces
    assert trace.trace_id == record.trace_id and trace.metadata["run_id"] == record.id
    kinds = [kind for _, kind, _ in recorder.tree(record.trace_id)]
    assert kinds == ["agent", "model", "tool", "model"]


class Ticket(BaseModel):
    order_id: str
    priority: int


@input_guardrail
async def no_homework(ctx: RunContext[Any], agent: Agent[Any], items: list[Item]) -> bool:
    return "homework" in str(getattr(items[-1], "text", ""))


async def test_handoffs_guardrails_and_structured_output_round_trip_through_steps(
    make_engine: MakeEngine,
) -> None:
    model = ScriptedModel([ToolCall("transfer_to_triage", {}), Ticket(order_id="A-1", priority=2)])
    triage = Agent(name="triage", output_type=Ticket)
    front = Agent(name="front", handoffs=[triage], input_guardrails=[no_homework])
    engine: DurableEngine = await make_engine(agents=[front], model=model)

    record = await engine.wait_run((await engine.start_run("front", "File A-1")).id)
    assert record.status == "completed", record.error
    assert record.output == {"order_id": "A-1", "priority": 2}  # structured output, as JSON
    changed = [e.data["agent"] async for e in engine.events(record.id) if e.type == "agent_changed"]
    assert changed == ["front", "triage"]

    record = await engine.wait_run((await engine.start_run("front", "Do my homework")).id)
    assert record.status == "failed"
    assert record.error is not None and "InputGuardrailTripwireTriggered" in record.error


class StallingModel:
    """Streams ``Hel`` and then stalls for ever on its first call; answers after that."""

    name = "stalling"
    supports_hosted_tools = False

    def __init__(self) -> None:
        self.calls = 0

    async def respond(self, request: ModelRequest) -> ModelResponse:  # pragma: no cover
        raise AssertionError("durable runs stream")

    async def stream(self, request: ModelRequest) -> AsyncIterator[ModelStreamEvent]:
        self.calls += 1
        if self.calls == 1:
            yield TextDelta(delta="Hel")
            await asyncio.Event().wait()
        yield TextDelta(delta="Hello again.")
        message = Message.assistant("Hello again.")
        yield ResponseCompleted(response=ModelResponse(output=[message], usage=Usage(requests=1)))


async def test_a_step_cut_short_runs_again_and_its_partial_deltas_are_voided(
    make_engine: MakeEngine,
) -> None:
    model = StallingModel()
    engine: DurableEngine = await make_engine(agents=[support()], model=model)
    record = await engine.start_run("support", "Hi")
    async for event in engine.events(record.id):
        if event.type == "text_delta":
            break  # the first call streamed, and stalls
    await engine.stop()  # the run stays pending in the database

    engine = await make_engine(agents=[support()], model=model)  # same replica id: it resumes
    record = await engine.wait_run(record.id, timeout=30)

    assert record.status == "completed" and record.output == "Hello again."
    assert model.calls == 2
    events = [e async for e in engine.events(record.id)]
    types = [e.type for e in events]
    assert types.count("run_started") == 1
    deltas = [e.data["delta"] for e in events if e.type == "text_delta"]
    assert deltas == ["Hel", "Hello again."]
    assert types.index("response_discarded") == types.index("text_delta") + 1


async def test_events_a_crash_kept_from_the_log_come_back_from_the_steps_record(
    make_engine: MakeEngine, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The log is written behind the run; a step's events are recorded with its result."""
    from ascent.durable._interpreter import EventLog

    started, release = asyncio.Event(), asyncio.Event()

    @function_tool
    async def slow(order_id: str) -> str:
        """Look an order up, slowly."""
        started.set()
        await release.wait()
        return "found"

    model = ScriptedModel([ToolCall("slow", {"order_id": "A-1"}), "Found it."])
    with monkeypatch.context() as patch:
        patch.setattr(EventLog, "_flush_soon", lambda self: None)  # nothing reaches the log
        engine: DurableEngine = await make_engine(agents=[support(slow)], model=model)
        record = await engine.start_run("support", "Where is A-1?")
        await asyncio.wait_for(started.wait(), 10)  # the model's step is recorded
        await engine.stop()  # the crash: the run's unwritten events are gone
        assert [e.type for e in engine.store.read_events(record.id, after=0)] == ["run_started"]

    release.set()
    engine = await make_engine(agents=[support(slow)], model=model)  # same replica: it resumes
    record = await engine.wait_run(record.id, timeout=30)
    assert record.status == "completed" and record.output == "Found it."
    assert model.remaining == 0  # two calls in all: the first came back from its record

    events = [e async for e in engine.events(record.id)]
    assert [e.seq for e in events] == list(range(1, len(events) + 1))
    items = [e.data["name"] for e in events if e.type == "item"]
    assert items.count("tool_call") == 1 and items.count("tool_output") == 1
    assert items.index("tool_call") < items.index("tool_output") < items.index("message")
    assert [e.type for e in events][-1] == "run_completed"


async def test_an_engine_that_cannot_start_leaves_the_process_free(
    make_engine: MakeEngine, tmp_path: Path
) -> None:
    blocked = tmp_path / "file"
    blocked.write_text("not a directory")
    engine = DurableEngine(agents=[support()], database_url=f"sqlite:///{blocked}/db.sqlite")
    with pytest.raises(Exception):  # noqa: B017 - whatever the database says
        await engine.start()
    await engine.stop()  # harmless
    with pytest.raises(UserError, match="not started"):
        await engine.get_run("x")
    working: DurableEngine = await make_engine(agents=[support()], model=ScriptedModel(["Hi."]))
    record = await working.wait_run((await working.start_run("support", "Hi")).id)
    assert record.output == "Hi."


async def test_with_a_queue_a_replica_runs_at_most_its_worker_concurrency(
    make_engine: MakeEngine,
) -> None:
    release = asyncio.Event()

    @function_tool
    async def slow(order_id: str) -> str:
        """Look an order up, slowly."""
        await release.wait()
        return "found"

    model = ScriptedModel(
        [
            ToolCall("slow", {"order_id": "1"}),
            "First.",
            ToolCall("slow", {"order_id": "2"}),
            "Next.",
        ]
    )
    engine: DurableEngine = await make_engine(
        agents=[support(slow)], model=model, worker_concurrency=1
    )
    first = await engine.start_run("support", "One")
    assert first.status == "queued"
    for _ in range(1000):
        if (await engine.get_run(first.id)).status == "running":
            break
        await asyncio.sleep(0.01)
    second = await engine.start_run("support", "Two")
    assert (await engine.wait_run(second.id, timeout=0.3)).status == "queued"  # one at a time

    release.set()
    assert (await engine.wait_run(first.id)).output == "First."
    assert (await engine.wait_run(second.id)).output == "Next."
    with pytest.raises(UserError, match="0 \\(queue only\\) or more"):
        DurableEngine(agents=[support()], worker_concurrency=-1)


async def test_run_hooks_see_the_steps_that_run(make_engine: MakeEngine) -> None:
    seen: list[str] = []

    class Hooks(RunHooks[Any]):
        async def on_tool_start(self, context: Any, agent: Agent[Any], call: Any) -> None:
            seen.append(f"tool {call.name}")

        async def on_llm_end(self, context: Any, agent: Agent[Any], response: Any) -> None:
            seen.append("model")

    model = ScriptedModel([ToolCall("lookup", {"order_id": "A-1"}), "Shipped."])
    engine: DurableEngine = await make_engine(agents=[support()], model=model, hooks=Hooks())
    record = await engine.wait_run((await engine.start_run("support", "A-1?")).id)
    assert record.status == "completed"
    assert seen == ["model", "tool lookup", "model"]
