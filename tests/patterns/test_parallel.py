"""Sectioning and voting: real concurrency, the bound, failures named, cancellation."""

from __future__ import annotations

import asyncio

import pytest
from pydantic import BaseModel

from ascent import Agent, FunctionTool, UserError, function_tool
from ascent.errors import BranchError, PatternError
from ascent.patterns import Branch, majority, parallel, vote
from ascent.testing import ToolCall, recording_traces

from .conftest import one_workflow, scripted


def meeting(barrier: asyncio.Barrier, active: list[int], peak: list[int]) -> FunctionTool:
    """A tool that returns only once ``barrier``'s parties are all inside it at once."""

    @function_tool
    async def meet() -> str:
        """Wait for the other branches."""
        active[0] += 1
        peak[0] = max(peak[0], active[0])
        try:
            async with asyncio.timeout(5):  # a guard against hanging, not a measurement
                await barrier.wait()
            return "met"
        finally:
            active[0] -= 1

    return meet


def meeting_branch(name: str, tool: FunctionTool, text: str) -> Agent:
    agent, _ = scripted(name, ToolCall("meet"), text, tools=[tool])
    return agent


def tool_outputs(result_items: list) -> list[str]:
    return [item.output for item in result_items if item.type == "function_call_output"]


async def test_branches_run_at_the_same_time_with_their_own_inputs() -> None:
    active, peak = [0], [0]
    meet = meeting(asyncio.Barrier(3), active, peak)
    branches = [
        Branch(name=f"part {n}", agent=meeting_branch(f"Writer {n}", meet, f"section {n}"))
        for n in (1, 2, 3)
    ]
    branches[2] = Branch(name="part 3", agent=branches[2].agent, input="only the conclusion")

    result = await parallel(branches, "the shared brief")

    assert result.outputs == {"part 1": "section 1", "part 2": "section 2", "part 3": "section 3"}
    assert list(result.results) == ["part 1", "part 2", "part 3"]  # the order given
    for run in result.results.values():
        assert tool_outputs(run.new_items) == ["met"]  # all three were inside meet() together
    assert peak[0] == 3 and result.failures == {}
    assert result.results["part 1"].input[-1].text == "the shared brief"
    assert result.results["part 3"].input[-1].text == "only the conclusion"


async def test_max_concurrency_bounds_how_many_run_at_once() -> None:
    active, peak = [0], [0]
    meet = meeting(asyncio.Barrier(2), active, peak)  # pairs meet: two at a time is enough
    agents = {f"b{n}": meeting_branch(f"A{n}", meet, f"done {n}") for n in range(6)}

    result = await parallel(agents, "go", max_concurrency=2)

    assert len(result.outputs) == 6
    assert peak[0] == 2  # two overlapped (the barrier proves it), never three


async def test_a_failed_branch_is_named_and_its_running_siblings_are_cancelled() -> None:
    sibling_started = asyncio.Event()
    cancelled: list[str] = []

    @function_tool
    async def wait_for_sibling() -> str:
        """Wait until the other branch is busy."""
        await sibling_started.wait()
        return "ok"

    @function_tool
    async def slow_search() -> str:
        """Search for a long time."""
        sibling_started.set()
        try:
            await asyncio.Event().wait()
        except asyncio.CancelledError:
            cancelled.append("slow_search")
            raise
        return "never"

    bad, _ = scripted("Bad", ToolCall("wait_for_sibling"), RuntimeError("boom"))
    bad = bad.clone(tools=[wait_for_sibling])
    slow, _ = scripted("Slow", ToolCall("slow_search"), tools=[slow_search])

    with pytest.raises(BranchError) as caught:
        await parallel({"slow one": slow, "bad one": bad}, "go")

    assert caught.value.branch == "bad one"
    assert isinstance(caught.value.error, RuntimeError)
    assert caught.value.__cause__ is caught.value.error
    assert "branch 'bad one' failed: RuntimeError: boom" in str(caught.value)
    assert cancelled == ["slow_search"]


async def test_without_fail_fast_the_others_finish_and_failures_are_reported() -> None:
    good, _ = scripted("Good", "fine")
    bad, _ = scripted("Bad", RuntimeError("boom"))
    result = await parallel({"good": good, "bad": bad}, "go", fail_fast=False)
    assert result.outputs == {"good": "fine"}
    assert list(result.failures) == ["bad"]
    assert result.failures["bad"].branch == "bad"


async def test_cancelling_the_caller_cancels_every_branch() -> None:
    started: list[str] = []
    cancelled: list[str] = []
    both = asyncio.Barrier(3)

    @function_tool
    async def work(ctx_name: str) -> str:
        """Work for a long time."""
        started.append(ctx_name)
        await both.wait()
        try:
            await asyncio.Event().wait()
        except asyncio.CancelledError:
            cancelled.append(ctx_name)
            raise
        return "never"

    agents = {
        name: scripted(name, ToolCall("work", {"ctx_name": name}), tools=[work])[0]
        for name in ("left", "right")
    }
    task = asyncio.create_task(parallel(agents, "go"))
    async with asyncio.timeout(5):
        await both.wait()  # both branches are inside their tool
    task.cancel()
    with pytest.raises(asyncio.CancelledError):
        await task
    assert sorted(started) == sorted(cancelled) == ["left", "right"]


async def test_parallel_is_one_trace_with_a_span_per_branch() -> None:
    a, _ = scripted("A", "a")
    b, _ = scripted("B", "b")
    with recording_traces() as recorder:
        await parallel({"first": a, "second": b}, "go")
    tree = one_workflow(recorder, "Parallel")
    assert tree[0] == (0, "custom", "Parallel")
    assert sorted(t for t in tree if t[1] != "model") == sorted(
        [
            (0, "custom", "Parallel"),
            (1, "custom", "branch first"),
            (2, "agent", "A"),
            (1, "custom", "branch second"),
            (2, "agent", "B"),
        ]
    )


async def test_a_failed_branch_span_records_the_error() -> None:
    bad, _ = scripted("Bad", RuntimeError("boom"))
    with recording_traces() as recorder, pytest.raises(BranchError):
        await parallel({"bad": bad}, "go")
    [span] = [s for s in recorder.spans if s.name == "branch bad"]
    assert span.error == "RuntimeError: boom"
    [record] = recorder.traces
    assert record.error is not None and "bad" in record.error


async def test_bad_arguments_are_user_errors() -> None:
    a, _ = scripted("A")
    with pytest.raises(UserError, match="unique"):
        await parallel([Branch(name="x", agent=a), Branch(name="x", agent=a)], "go")
    with pytest.raises(UserError, match="at least 1"):
        await parallel({"x": a}, "go", max_concurrency=0)
    with pytest.raises(UserError, match="no input"):
        await parallel([Branch(name="x", agent=a)])
    with pytest.raises(UserError, match="at least one branch"):
        await parallel({}, "go")


class Verdict(BaseModel):
    spam: bool


async def test_voting_takes_the_majority_and_keeps_every_vote() -> None:
    checker, model = scripted(
        "Checker",
        Verdict(spam=True),
        Verdict(spam=False),
        Verdict(spam=True),
        output_type=Verdict,
    )
    result = await vote(checker, "WIN A PRIZE NOW", voters=3)
    assert sorted(v.spam for v in result.votes) == [False, True, True]
    assert result.winner == Verdict(spam=True) and result.final_output == Verdict(spam=True)
    assert result.agreement == pytest.approx(2 / 3)
    assert len(result.runs) == 3
    model.assert_done()


async def test_voting_with_several_agents_and_a_custom_aggregate() -> None:
    strict, _ = scripted("Strict", Verdict(spam=True), output_type=Verdict)
    lenient, _ = scripted("Lenient", Verdict(spam=False), output_type=Verdict)
    result = await vote([strict, lenient], "hi", aggregate=lambda vs: any(v.spam for v in vs))
    assert result.winner is True


async def test_voting_tolerates_failed_voters_only_when_asked() -> None:
    good, _ = scripted("Good", "yes")
    bad, _ = scripted("Bad", RuntimeError("down"))
    result = await vote([good, bad], "ok?", fail_fast=False)
    assert result.votes == ["yes"] and list(result.failures) == ["voter 2 (Bad)"]
    with pytest.raises(BranchError, match="voter 2"):
        await vote([scripted("G", "yes")[0], scripted("B", RuntimeError("down"))[0]], "ok?")
    with pytest.raises(PatternError, match="every voter failed"):
        await vote([scripted("B", RuntimeError("down"))[0]], "ok?", fail_fast=False)


def test_majority_ignores_case_and_spacing_and_breaks_ties_by_order() -> None:
    assert majority(["Paris", "paris ", "Lyon"]) == "Paris"
    assert majority(["a", "b"]) == "a"
    with pytest.raises(PatternError):
        majority([])
