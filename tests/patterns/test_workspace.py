"""The shared workspace: notes by topic with their authors, through tools, kept in the database."""

from __future__ import annotations

import pytest

from ascent import Agent, Runner, RunState, UserError, function_tool
from ascent.patterns import Workspace
from ascent.testing import ToolCall
from ascent.testing.scripted import StepLike

from .conftest import scripted


def tool_outputs(items: list) -> list[str]:
    return [item.output for item in items if item.type == "function_call_output"]


async def test_notes_written_in_one_run_are_read_in_a_later_one(workspace_url: str) -> None:
    first = Workspace("trip-42", workspace_url)
    await first.clear()
    researcher, _ = scripted(
        "Researcher",
        ToolCall("write_note", {"topic": "flights", "content": "AZ 101 at 9:05, 120 EUR"}),
        "Noted the flight.",
    )
    await Runner.run(first.attach(researcher), "Find a flight to Rome")

    later = Workspace("trip-42", workspace_url)  # a new object, as in another process
    writer, _ = scripted(
        "Writer",
        ToolCall("list_notes"),
        ToolCall("read_note", {"topic": "flights"}),
        "Take AZ 101.",
    )
    result = await Runner.run(later.attach(writer), "Write the itinerary")

    listed, read = tool_outputs(result.new_items)
    assert listed == "- flights (by Researcher): AZ 101 at 9:05, 120 EUR"
    assert read == "flights (by Researcher): AZ 101 at 9:05, 120 EUR"
    [note] = await later.notes()
    assert (note.topic, note.author, note.content) == (
        "flights",
        "Researcher",
        "AZ 101 at 9:05, 120 EUR",
    )


async def test_rewrites_are_revisions_and_workspaces_are_separate(workspace_url: str) -> None:
    ours, theirs = Workspace("ours", workspace_url), Workspace("theirs", workspace_url)
    await ours.clear()
    await theirs.clear()
    a = await ours.write("plan", "draft", author="Planner")
    await ours.write("budget", "500 EUR", author="Analyst")
    b = await ours.write("plan", "final", author="Reviewer")
    await theirs.write("plan", "something else", author="Other")

    assert b.revision > a.revision
    latest = await ours.read("plan")
    assert latest is not None and (latest.content, latest.author) == ("final", "Reviewer")
    assert [(n.topic, n.content) for n in await ours.notes()] == [
        ("plan", "final"),
        ("budget", "500 EUR"),
    ]
    assert [n.author for n in await ours.history("plan")] == ["Planner", "Reviewer"]
    assert len(await ours.history()) == 3
    assert await ours.render() == "- plan (by Reviewer): final\n- budget (by Analyst): 500 EUR"
    assert await ours.read("nothing") is None

    await ours.clear()
    assert await ours.notes() == [] and await ours.render() == "The workspace is empty."
    assert [n.content for n in await theirs.notes()] == ["something else"]


async def test_reading_a_missing_topic_tells_the_model_what_there_is() -> None:
    workspace = Workspace("w", "memory://")
    await workspace.write("sources", "two papers", author="Researcher")
    reader, _ = scripted("Reader", ToolCall("read_note", {"topic": "draft"}), "ok")
    result = await Runner.run(workspace.attach(reader), "read the draft")
    assert tool_outputs(result.new_items) == ["No note on 'draft'. Topics: sources."]


async def test_a_memory_workspace_lives_in_its_object_only() -> None:
    one = Workspace("same", "memory://")
    await one.write("k", "v", author="me")
    assert [n.content for n in await one.notes()] == ["v"]
    assert await Workspace("same", "memory://").notes() == []


async def test_attach_keeps_the_agents_own_tools_and_adds_each_tool_once() -> None:
    workspace = Workspace("w", "memory://")
    agent, _ = scripted("A", tools=workspace.tools()[:1])
    twice = workspace.attach(workspace.attach(agent))
    assert [t.name for t in twice.tools] == ["write_note", "read_note", "list_notes"]
    assert twice.tools[0] is agent.tools[0]
    assert len(agent.tools) == 1


async def test_misuse_is_a_user_error() -> None:
    with pytest.raises(UserError, match="workspace_id"):
        Workspace("")
    with pytest.raises(UserError, match="topic"):
        await Workspace("w", "memory://").write("  ", "x", author="me")
    with pytest.raises(UserError, match="not a usable database URL"):
        await Workspace("w", "nosuchdb://host/db").notes()


async def test_a_resumed_run_sees_notes_written_while_it_was_paused(workspace_url: str) -> None:
    @function_tool(needs_approval=True)
    def book(what: str) -> str:
        """Book something (a person approves first)."""
        return f"booked {what}"

    def planner(workspace: Workspace, *steps: StepLike) -> Agent:
        agent, _ = scripted("Planner", *steps, tools=[book])
        return workspace.attach(agent)

    await Workspace("job-7", workspace_url).clear()
    first = planner(
        Workspace("job-7", workspace_url),
        ToolCall("write_note", {"topic": "plan", "content": "book AZ 101"}),
        ToolCall("book", {"what": "AZ 101"}),
    )
    paused = await Runner.run(first, "Plan and book the trip")
    assert paused.is_interrupted
    saved = paused.state.to_json()

    # while the run waits, someone else leaves a note (another process, another object)
    await Workspace("job-7", workspace_url).write("budget", "approved", author="Finance")

    state = RunState.from_json(saved)
    state.approve(state.interruptions[0])
    resumed_agent = planner(
        Workspace("job-7", workspace_url), ToolCall("list_notes"), "Booked, within budget."
    )
    resumed = await Runner.run(resumed_agent, state)
    assert resumed.final_output == "Booked, within budget."
    assert tool_outputs(resumed.new_items)[-1] == (
        "- plan (by Planner): book AZ 101\n- budget (by Finance): approved"
    )
