"""Durability modes in this process: ``steps`` and ``run`` give the same runs.

``run`` durability runs the loop in process and writes a checkpoint only where a
run pauses, hands off or writes its session; these tests show a run's items,
output, events and session come out the same in both modes, and what the
checkpoints hold. (Crashes: ``test_modes_recovery.py``.)
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from typing import Any

import pytest
from dbos import DBOS

from ascent import Agent, UserError, function_tool
from ascent.durable import DurableEngine, RunEvent
from ascent.durable._checkpoint import CheckpointInterpreter, read_checkpoint
from ascent.durable._store import RunStore
from ascent.items import FunctionCallOutput, Message
from ascent.memory import open_session
from ascent.testing import ScriptedModel
from ascent.testing.scripted import ToolCall

from ..sample_tools import lookup, refund, stalling_settle

MakeEngine = Callable[..., Any]
MODES = ("steps", "turns", "run")


def support() -> Agent[Any]:
    return Agent(name="support", instructions="Be brief.", tools=[lookup, refund])


def _comparable(events: list[RunEvent]) -> list[tuple[str, Any]]:
    """The events as a client sees them, but ids that differ from run to run."""
    kept = []
    for event in events:
        data = {k: v for k, v in event.data.items() if k not in {"run_id", "call_id", "item"}}
        item = event.data.get("item")
        if isinstance(item, dict):
            data["item"] = {k: v for k, v in item.items() if k not in {"call_id", "id"}}
        kept.append((event.type, data))
    return kept


async def _run_both(
    make_engine: MakeEngine, script: list[Any], agents: list[Agent[Any]], text: str, **kw: Any
) -> dict[str, tuple[Any, list[RunEvent], ScriptedModel]]:
    """The same run in each mode, one engine per mode (one at a time in a process)."""
    results = {}
    for mode in MODES:
        model = ScriptedModel(list(script))
        engine: DurableEngine = await make_engine(
            agents=agents, model=model, durability=mode, executor_id=f"replica-{mode}"
        )
        record = await engine.wait_run((await engine.start_run(agents[0].name, text, **kw)).id)
        events = [e async for e in engine.events(record.id, follow=False)]
        results[mode] = (record, events, model)
        await engine.stop()
    return results


async def test_a_tool_run_gives_the_same_output_events_and_model_input_in_both_modes(
    make_engine: MakeEngine,
) -> None:
    script = [ToolCall("lookup", {"order_id": "A-1"}), "A-1 has shipped."]
    results = await _run_both(make_engine, script, [support()], "Where is A-1?")
    (steps, steps_events, steps_model) = results["steps"]
    assert steps.status == "completed" and steps.output == "A-1 has shipped."
    assert steps_model.requests
    for mode in ("turns", "run"):
        run, run_events, run_model = results[mode]
        assert run.status == steps.status and run.output == steps.output
        assert run.usage == steps.usage
        assert _comparable(run_events) == _comparable(steps_events)
        assert _inputs(run_model) == _inputs(steps_model)


def _inputs(model: ScriptedModel) -> list[list[dict[str, Any]]]:
    return [[i.model_dump(exclude={"call_id", "id"}) for i in r.input] for r in model.requests]


async def test_a_run_mode_run_writes_no_checkpoint_unless_it_must(
    make_engine: MakeEngine, sqlite_url: str
) -> None:
    """No pause, handoff or session: its record's end is all it writes."""
    model = ScriptedModel([ToolCall("lookup", {"order_id": "A-1"}), "Shipped."])
    engine: DurableEngine = await make_engine(agents=[support()], model=model, durability="run")
    record = await engine.wait_run((await engine.start_run("support", "Where is A-1?")).id)
    assert record.status == "completed"
    assert read_checkpoint(engine.store, record.id) is None
    steps = await DBOS.list_workflow_steps_async(record.id)
    assert steps == []  # not one recorded step


async def test_a_handoff_is_checkpointed_with_the_next_agents_start(
    make_engine: MakeEngine,
) -> None:
    script = [ToolCall("transfer_to_billing", {}), "Billing here: paid."]
    billing = Agent(name="billing", instructions="Billing.")
    front = Agent(name="front", instructions="Route.", handoffs=[billing])
    results = await _run_both(make_engine, script, [front], "Was I charged?")
    steps, steps_events, _ = results["steps"]
    assert steps.output == "Billing here: paid."
    for mode in ("turns", "run"):
        run, run_events, _ = results[mode]
        assert run.output == steps.output
        assert _comparable(run_events) == _comparable(steps_events)

    model = ScriptedModel(list(script))
    engine: DurableEngine = await make_engine(agents=[front], model=model, durability="run")
    record = await engine.wait_run((await engine.start_run("front", "Was I charged?")).id)
    checkpoint = read_checkpoint(engine.store, record.id)
    assert checkpoint is not None and checkpoint.number == 1
    assert checkpoint.state["current_agent"] == "billing"
    assert checkpoint.state["turn"] == 1 and not checkpoint.state["agent_started"]
    assert checkpoint.commands == 2  # the model call and the handoff came before it


async def test_an_approval_pauses_on_a_checkpoint_and_a_decision_resumes_it(
    make_engine: MakeEngine,
) -> None:
    model = ScriptedModel([ToolCall("refund", {"order_id": "A-9"}), "I could not refund it."])
    engine: DurableEngine = await make_engine(agents=[support()], model=model, durability="run")
    record = await engine.wait_run((await engine.start_run("support", "Refund A-9")).id)
    assert record.status == "awaiting_approval"
    [request] = record.pending_approvals
    checkpoint = read_checkpoint(engine.store, record.id)
    assert checkpoint is not None and checkpoint.state["status"] == "awaiting_approval"

    await engine.decide(record.id, {request.call_id: "not without a receipt"})
    record = await engine.wait_run(record.id)
    assert record.status == "completed" and record.output == "I could not refund it."
    sent = model.requests[-1].input[-1]
    assert isinstance(sent, FunctionCallOutput) and sent.is_error
    assert "not without a receipt" in sent.output
    types = [e.type async for e in engine.events(record.id, follow=False)]
    assert types.count("approval_required") == 1 and types.count("run_resumed") == 1
    assert types[-1] == "run_completed"


async def test_a_run_mode_wait_for_approval_ends_when_the_run_is_cancelled(
    make_engine: MakeEngine,
) -> None:
    model = ScriptedModel([ToolCall("refund", {"order_id": "A-9"}), "unused"])
    engine: DurableEngine = await make_engine(agents=[support()], model=model, durability="run")
    record = await engine.wait_run((await engine.start_run("support", "Refund A-9")).id)
    task = engine._started_parts().workflows.task_of(record.id)
    assert task is not None
    # another replica's cancel_run: only the record tells this process
    engine.store.update_run(record.id, status="cancelled", pending=[])
    await asyncio.wait({task}, timeout=10)
    assert task.done()
    assert (await engine.get_run(record.id)).status == "cancelled"
    assert model.remaining == 1


async def test_a_session_carries_the_conversation_in_both_modes(
    make_engine: MakeEngine, sqlite_url: str
) -> None:
    for mode in MODES:
        model = ScriptedModel(["Noted: email.", "You prefer email."])
        engine: DurableEngine = await make_engine(
            agents=[support()], model=model, executor_id=f"replica-{mode}"
        )
        for text in ("I prefer email.", "How do I prefer to be contacted?"):
            record = await engine.start_run(
                "support", text, session_id=f"customer-{mode}", durability=mode
            )
            assert (await engine.wait_run(record.id)).status == "completed"
        texts = [i.text for i in model.requests[-1].input if isinstance(i, Message)]
        assert texts == ["I prefer email.", "Noted: email.", "How do I prefer to be contacted?"]
        assert len(await open_session(f"customer-{mode}", sqlite_url).get_items()) == 4
        await engine.stop()


async def test_a_paused_run_with_a_session_adds_its_items_once_across_the_pause(
    make_engine: MakeEngine, sqlite_url: str
) -> None:
    model = ScriptedModel([ToolCall("refund", {"order_id": "A-9"}), "Refunded."])
    engine: DurableEngine = await make_engine(agents=[support()], model=model, durability="run")
    record = await engine.start_run("support", "Refund A-9", session_id="s-1")
    record = await engine.wait_run(record.id)
    session = open_session("s-1", sqlite_url)
    assert len(await session.get_items()) == 2  # the input and the call, before the wait
    await engine.decide(record.id, {r.call_id: True for r in record.pending_approvals})
    assert (await engine.wait_run(record.id)).status == "completed"
    items = await session.get_items()
    assert [type(i).__name__ for i in items] == [
        "Message",
        "FunctionCall",
        "FunctionCallOutput",
        "Message",
    ]


async def test_the_durability_is_checked_and_read_from_the_environment(
    make_engine: MakeEngine, monkeypatch: pytest.MonkeyPatch
) -> None:
    with pytest.raises(UserError, match="durability is one of 'steps', 'turns', 'run', not 'x'"):
        DurableEngine(agents=[support()], durability="x")  # type: ignore[arg-type]
    monkeypatch.setenv("ASCENT_DURABILITY", "run")
    assert DurableEngine(agents=[support()]).durability == "run"
    monkeypatch.setenv("ASCENT_DURABILITY", "nope")
    with pytest.raises(UserError, match="not 'nope'"):
        DurableEngine(agents=[support()])
    monkeypatch.delenv("ASCENT_DURABILITY")
    engine: DurableEngine = await make_engine(agents=[support()], model=ScriptedModel(["hi"]))
    assert engine.durability == "steps"
    with pytest.raises(UserError, match="not 'fast'"):
        await engine.start_run("support", "hi", durability="fast")  # type: ignore[arg-type]


def test_checkpoints_are_read_back_as_written(sqlite_url: str) -> None:
    store = RunStore(sqlite_url)
    assert read_checkpoint(store, "nope") is None


async def test_a_run_stopped_after_a_handoff_resumes_from_the_handoff_not_its_start(
    make_engine: MakeEngine,
) -> None:
    settle, entered, calls = stalling_settle()
    billing = Agent(name="billing", instructions="Billing.", tools=[settle])
    front = Agent(name="front", instructions="Route.", handoffs=[billing])
    model = ScriptedModel(
        [
            ToolCall("transfer_to_billing", {}),
            ToolCall("settle", {"invoice": "I-1"}),
            ToolCall("settle", {"invoice": "I-1"}),
            "Settled.",
        ]
    )
    engine: DurableEngine = await make_engine(agents=[front], model=model, durability="run")
    record = await engine.start_run("front", "Settle I-1")
    await asyncio.wait_for(entered.wait(), 10)
    await engine.stop()  # the run stays pending, its last checkpoint the handoff

    engine = await make_engine(agents=[front], model=model, durability="run")
    record = await engine.wait_run(record.id, timeout=30)
    assert record.status == "completed" and record.output == "Settled."
    # front's call came before the checkpoint: made once; billing's first call and its
    # tool came after it: made again
    assert len(model.requests) == 4 and model.remaining == 0
    assert calls == ["I-1", "I-1"]
    types = [e.type async for e in engine.events(record.id, follow=False)]
    assert types.count("run_started") == 1 and "response_discarded" in types
    changed = [e.data["agent"] async for e in engine.events(record.id) if e.type == "agent_changed"]
    assert changed[:2] == ["front", "billing"]


async def test_turns_durability_checkpoints_each_turn_and_resumes_after_the_last(
    make_engine: MakeEngine,
) -> None:
    settle, entered, calls = stalling_settle()
    model = ScriptedModel(
        [
            ToolCall("lookup", {"order_id": "I-1"}),
            ToolCall("settle", {"invoice": "I-1"}),
            ToolCall("settle", {"invoice": "I-1"}),
            "Settled.",
        ]
    )
    agent = Agent(name="billing", instructions="Billing.", tools=[lookup, settle])
    engine: DurableEngine = await make_engine(agents=[agent], model=model, durability="turns")
    record = await engine.start_run("billing", "Settle I-1")
    await asyncio.wait_for(entered.wait(), 10)
    checkpoint = read_checkpoint(engine.store, record.id)
    assert checkpoint is not None and checkpoint.number == 1  # after the first turn
    assert checkpoint.commands == 2 and checkpoint.state["turn"] == 1
    await engine.stop()

    engine = await make_engine(agents=[agent], model=model, durability="turns")
    record = await engine.wait_run(record.id, timeout=30)
    assert record.status == "completed" and record.output == "Settled."
    # the first turn (its model call and lookup) is not repeated; the cut one is
    assert len(model.requests) == 4 and model.remaining == 0
    assert calls == ["I-1", "I-1"]


async def test_a_run_mode_run_cancelled_elsewhere_stops_at_its_next_checkpoint(
    make_engine: MakeEngine,
) -> None:
    entered, release = asyncio.Event(), asyncio.Event()

    @function_tool
    async def look(order_id: str) -> str:
        """Look an order up."""
        entered.set()
        await release.wait()
        return "found"

    billing = Agent(name="billing", instructions="Billing.")
    front = Agent(name="front", instructions="Route.", tools=[look], handoffs=[billing])
    model = ScriptedModel(
        [ToolCall("look", {"order_id": "A-1"}), ToolCall("transfer_to_billing", {}), "unused"]
    )
    engine: DurableEngine = await make_engine(agents=[front], model=model, durability="run")
    record = await engine.start_run("front", "Where is A-1?")
    await asyncio.wait_for(entered.wait(), 10)
    task = engine._started_parts().workflows.task_of(record.id)
    assert task is not None
    # another replica's cancel_run: only the record tells this process
    engine.store.update_run(record.id, status="cancelled", pending=[])
    release.set()
    await asyncio.wait({task}, timeout=10)
    assert task.done()
    record = await engine.get_run(record.id)
    assert record.status == "cancelled" and record.error is None
    assert model.remaining == 1  # the handoff's checkpoint found the run over: billing never ran


async def test_a_session_write_cut_after_its_checkpoint_is_made_once_on_recovery(
    make_engine: MakeEngine, sqlite_url: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The run's end: a checkpoint holding its items, then the session write, then
    its record. Stopped right after the write, the recovered run neither calls the
    model again (its checkpoint says completed) nor adds the items twice."""
    written = asyncio.Event()
    add = CheckpointInterpreter._add

    async def add_then_stall(self: CheckpointInterpreter, items: list[Any], number: int) -> None:
        await add(self, items, number)
        if not written.is_set():
            written.set()
            await asyncio.Event().wait()  # the replica stops here

    monkeypatch.setattr(CheckpointInterpreter, "_add", add_then_stall)
    model = ScriptedModel([ToolCall("lookup", {"order_id": "A-1"}), "Shipped."])
    engine: DurableEngine = await make_engine(agents=[support()], model=model, durability="run")
    record = await engine.start_run("support", "Where is A-1?", session_id="s-2")
    await asyncio.wait_for(written.wait(), 10)
    await engine.stop()
    session = open_session("s-2", sqlite_url)
    assert len(await session.get_items()) == 4

    engine = await make_engine(agents=[support()], model=model, durability="run")
    record = await engine.wait_run(record.id, timeout=30)
    assert record.status == "completed" and record.output == "Shipped."
    assert len(model.requests) == 2  # nothing ran again: the checkpoint was the run's end
    assert len(await session.get_items()) == 4  # the write was not made twice


async def test_run_durability_runs_through_a_queue_too(make_engine: MakeEngine) -> None:
    model = ScriptedModel([ToolCall("lookup", {"order_id": "A-1"}), "Shipped."])
    engine: DurableEngine = await make_engine(
        agents=[support()], model=model, durability="run", worker_concurrency=2
    )
    record = await engine.start_run("support", "Where is A-1?")
    assert record.status == "queued"
    record = await engine.wait_run(record.id, timeout=30)
    assert record.status == "completed" and record.output == "Shipped."
    assert await DBOS.list_workflow_steps_async(record.id) == []
