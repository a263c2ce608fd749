"""Orchestrator-workers: a structured plan, workers at once, a synthesis of their results."""

from __future__ import annotations

import asyncio
import json

import pytest

from ascent import Agent, UserError, function_tool
from ascent.errors import BranchError, PatternError
from ascent.patterns import Plan, Subtask, orchestrate
from ascent.testing import ScriptedModel, ToolCall, recording_traces
from ascent.testing.scripted import StepLike

from .conftest import one_workflow, scripted

PLAN = Plan(
    subtasks=[
        Subtask(title="Flights", instructions="Find flights to Rome"),
        Subtask(title="Hotels", instructions="Find a hotel near the Forum"),
    ]
)


def worker_answering(request_text: str) -> str:
    return "flight AZ 101" if "flights" in request_text.lower() else "Hotel Forum"


async def test_plan_workers_at_once_and_a_synthesis_of_their_results() -> None:
    together = asyncio.Barrier(2)

    @function_tool
    async def search(query: str) -> str:
        """Search travel offers."""
        async with asyncio.timeout(5):  # a guard against hanging, not a measurement
            await together.wait()
        return f"offers for {query}"

    def answer(request) -> StepLike:  # type: ignore[no-untyped-def]
        text = request.input[0].text
        if len(request.input) == 1:
            return ToolCall("search", {"query": text.split("\n")[0]})
        return worker_answering(text)

    worker_model = ScriptedModel([answer] * 4)
    worker = Agent(name="Worker", model=worker_model, tools=[search])
    planner, planner_model = scripted("Planner", PLAN)
    synthesizer, synth_model = scripted("Synthesizer", "Fly AZ 101, stay at Hotel Forum.")

    result = await orchestrate(planner, worker, synthesizer, "Plan a weekend in Rome")

    assert result.plan == PLAN
    assert [w.subtask.title for w in result.work] == ["Flights", "Hotels"]
    assert [w.output for w in result.work] == ["flight AZ 101", "Hotel Forum"]
    for item in result.work:  # both workers were inside search() at the same time
        outputs = [i.output for i in item.run.new_items if i.type == "function_call_output"]
        assert outputs[0].startswith("offers for")
    assert result.final_output == "Fly AZ 101, stay at Hotel Forum."
    assert planner_model.requests[0].output.schema["required"] == ["subtasks"]
    synthesis_input = synth_model.requests[0].input[-1].text
    assert synthesis_input.startswith("Task: Plan a weekend in Rome")
    assert "## Flights\nflight AZ 101" in synthesis_input
    assert "## Hotels\nHotel Forum" in synthesis_input
    assert "Find a hotel near the Forum" in result.work[1].run.input[-1].text
    worker_model.assert_done()


async def test_named_workers_are_chosen_by_the_plan() -> None:
    plan = {
        "subtasks": [
            {"title": "Prices", "instructions": "Compare prices", "worker": "analyst"},
            {"title": "Blurb", "instructions": "Write a blurb", "worker": "writer"},
        ]
    }
    planner, planner_model = scripted("Planner", json.dumps(plan))
    analyst, _ = scripted("Analyst", "cheapest: B", handoff_description="Numbers")
    writer, _ = scripted("Writer", "A lovely trip.", handoff_description="Prose")
    synthesizer, _ = scripted("Synth", "done")

    result = await orchestrate(
        planner, {"analyst": analyst, "writer": writer}, synthesizer, "Sell the trip"
    )

    assert [(w.worker, w.output) for w in result.work] == [
        ("Analyst", "cheapest: B"),
        ("Writer", "A lovely trip."),
    ]
    schema = planner_model.requests[0].output.schema
    subtask_schema = next(iter(schema["$defs"].values()))
    assert subtask_schema["properties"]["worker"]["enum"] == ["analyst", "writer"]


async def test_subtasks_past_the_bound_are_skipped_not_run() -> None:
    plan = Plan(subtasks=[Subtask(title=f"T{n}", instructions=f"do {n}") for n in range(4)])
    planner, _ = scripted("Planner", plan)
    worker, worker_model = scripted("Worker", "r", "r")
    synthesizer, _ = scripted("Synth", "done")
    result = await orchestrate(planner, worker, synthesizer, "go", max_subtasks=2)
    assert [w.subtask.title for w in result.work] == ["T0", "T1"]
    assert [s.title for s in result.skipped] == ["T2", "T3"]
    worker_model.assert_done()


async def test_a_failing_worker_names_its_subtask() -> None:
    planner, _ = scripted("Planner", PLAN)
    worker, _ = scripted("Worker", RuntimeError("no network"), "unused")
    synthesizer, synth_model = scripted("Synth")
    with pytest.raises(BranchError) as caught:
        await orchestrate(planner, worker, synthesizer, "Plan Rome", max_concurrency=1)
    assert caught.value.branch == "1. Flights"
    assert synth_model.requests == []


async def test_an_empty_plan_or_an_unknown_worker_is_a_pattern_error() -> None:
    planner, _ = scripted("Planner", Plan(subtasks=[]))
    with pytest.raises(PatternError, match="planned no subtasks"):
        await orchestrate(planner, Agent(name="W"), Agent(name="S"), "go")
    # a planner with its own output type may name no worker (or one that is not there)
    planner, _ = scripted("Planner", PLAN, output_type=Plan)
    with pytest.raises(PatternError, match="'Flights' names worker '', not one of a, b"):
        team = {"a": Agent(name="A"), "b": Agent(name="B")}
        await orchestrate(planner, team, Agent(name="S"), "go")


async def test_bad_bounds_are_user_errors() -> None:
    with pytest.raises(UserError, match="max_subtasks"):
        await orchestrate(Agent(name="P"), Agent(name="W"), Agent(name="S"), "go", max_subtasks=0)
    with pytest.raises(UserError, match="at least one worker"):
        await orchestrate(Agent(name="P"), {}, Agent(name="S"), "go")


async def test_the_offline_model_plans_and_synthesizes_in_one_trace() -> None:
    with recording_traces() as recorder:
        result = await orchestrate(
            Agent(name="Planner", model="offline"),
            Agent(name="Worker", model="offline"),
            Agent(name="Synthesizer", model="offline"),
            "Plan a trip to Rome",
        )
    assert len(result.work) == 1 and result.final_output.startswith("You said: Task:")
    tree = one_workflow(recorder, "Orchestrator-workers")
    assert [(d, name) for d, kind, name in tree if kind == "custom"] == [
        (0, "Orchestrator-workers"),
        (1, "plan: Planner"),
        (1, "branch 1. Plan a trip to Rome"),
        (1, "synthesize: Synthesizer"),
    ]
