"""A run survives ``kill -9``: restarted, it resumes after its last finished step.

The model is the mock server in this process; the engines run in child
processes. Counting the server's requests shows that no finished model call is
made again; the tool's own log shows it ran again (tools run at least once).
A recovered run also offers the model the MCP tools it listed before the crash.
"""

from __future__ import annotations

from collections.abc import Callable

import pytest

from ascent.durable import DURABILITY_ENV
from ascent.durable._store import RunStore
from ascent.testing.mock_openai import Delay, MockOpenAIServer, MockRequest, Reply, ToolCall

from .conftest import Workers, finished, paused, record_of, wait_for


def _script_lookup(mock: MockOpenAIServer) -> None:
    mock.add(
        Reply(tool_calls=[ToolCall(name="slow_lookup", arguments={"order_id": "A-1"})]),
        Reply(text="Order A-1 has shipped."),
    )


def _tool_output_sent(mock: MockOpenAIServer) -> str:
    messages = mock.requests[-1].body["messages"]
    return next(m["content"] for m in messages if m["role"] == "tool")


def _tools_offered(request: MockRequest) -> list[str]:
    return sorted(tool["function"]["name"] for tool in request.body["tools"])


def _tool_outputs_sent(mock: MockOpenAIServer) -> dict[str, str]:
    messages = mock.requests[-1].body["messages"]
    names = {
        call["id"]: call["function"]["name"]
        for message in messages
        for call in message.get("tool_calls") or ()
    }
    return {names[m["tool_call_id"]]: m["content"] for m in messages if m["role"] == "tool"}


def test_killed_mid_tool_the_run_resumes_without_repeating_model_calls(
    sqlite_url: str, workers: Callable[[str], Workers], mock_openai: MockOpenAIServer
) -> None:
    _script_lookup(mock_openai)
    group = workers(sqlite_url)
    first = group.spawn("replica-1", start="run-1", delay=60)
    wait_for(lambda: (group.marks / f"started-{first.pid}").exists(), "the tool to start")
    group.kill(first)
    assert len(mock_openai.requests) == 1
    assert record_of(sqlite_url, "run-1").status == "running"  # type: ignore[union-attr]

    second = group.spawn("replica-1", wait="run-1")
    record = group.result(second)

    assert record.status == "completed", record.error
    assert record.output == "Order A-1 has shipped."
    assert len(mock_openai.requests) == 2  # the first model call was not made again
    assert _tool_output_sent(mock_openai) == "A-1: shipped"
    calls = (group.marks / "calls").read_text().split()
    assert calls == [str(first.pid), str(second.pid)]  # the interrupted tool ran again
    events = RunStore(sqlite_url).read_events("run-1", after=0)
    assert [e.seq for e in events] == list(range(1, len(events) + 1))
    assert events[0].type == "run_started" and events[-1].type == "run_completed"
    assert [e.type for e in events].count("run_started") == 1


# steps: the finished model call is not made again; run: no checkpoint came before
# the crash, so the run starts over and makes it again
@pytest.mark.parametrize(("durability", "model_calls"), [("steps", 2), ("run", 3)])
def test_a_replica_takes_over_the_runs_of_a_dead_one_on_postgres(
    durability: str,
    model_calls: int,
    postgres_url: str,
    workers: Callable[[str], Workers],
    mock_openai: MockOpenAIServer,
) -> None:
    lookup = ToolCall(name="slow_lookup", arguments={"order_id": "A-1"})
    lookups = [Reply(tool_calls=[lookup]) for _ in range(model_calls - 1)]
    mock_openai.add(*lookups, Reply(text="Order A-1 has shipped."))
    group = workers(postgres_url)
    group.env[DURABILITY_ENV] = durability
    survivor = group.spawn("replica-b")
    doomed = group.spawn("replica-a", start="run-pg", delay=60)
    wait_for(lambda: (group.marks / f"started-{doomed.pid}").exists(), "the tool to start")
    group.kill(doomed)

    record = wait_for(finished(postgres_url, "run-pg"), "replica-b to finish the run")
    assert record.status == "completed", record.error
    assert record.output == "Order A-1 has shipped."
    assert len(mock_openai.requests) == model_calls
    calls = (group.marks / "calls").read_text().split()
    assert calls == [str(doomed.pid), str(survivor.pid)]
    store = RunStore(postgres_url)
    assert store.replicas.stale_replicas("nobody", cutoff=float("inf")) == [
        "replica-b"
    ]  # a was claimed


@pytest.mark.parametrize("durability", ["steps", "run"])
def test_an_approval_waits_across_a_crash_and_comes_from_another_process(
    durability: str,
    sqlite_url: str,
    workers: Callable[[str], Workers],
    mock_openai: MockOpenAIServer,
) -> None:
    mock_openai.add(
        Reply(tool_calls=[ToolCall(name="refund", arguments={"order_id": "A-9"})]),
        Reply(text="Refunded."),
    )
    group = workers(sqlite_url)
    group.env[DURABILITY_ENV] = durability
    first = group.spawn("replica-1", start="run-ok", input="Refund A-9")

    record = wait_for(paused(sqlite_url, "run-ok"), "the run to ask for approval")
    assert [r.tool_name for r in record.pending_approvals] == ["refund"]
    group.kill(first)

    # the restarted replica resumes the wait; the decision comes from its own engine,
    # a process other than the one that paused the run
    restarted = group.spawn("replica-1", approve="run-ok", wait="run-ok")
    record = group.result(restarted)

    assert record.status == "completed", record.error
    assert record.output == "Refunded."
    assert len(mock_openai.requests) == 2  # in both durabilities, nothing before the pause again
    assert _tool_output_sent(mock_openai) == "refunded A-9"
    types = [e.type for e in RunStore(sqlite_url).read_events("run-ok", after=0)]
    assert types.count("approval_required") == 1 and "run_resumed" in types


def test_a_recovered_run_offers_the_mcp_tools_it_listed_not_the_servers_current_ones(
    sqlite_url: str, workers: Callable[[str], Workers], mock_openai: MockOpenAIServer
) -> None:
    mock_openai.add(
        Delay(seconds=60),  # the first model call hangs: the worker dies in it
        Reply(
            tool_calls=[
                ToolCall(name="greet", arguments={"text": "hi"}),
                ToolCall(name="shout", arguments={"text": "hey"}),
            ]
        ),
        Reply(text="Greeted."),
    )
    group = workers(sqlite_url)
    names = group.marks / "mcp-tools"
    names.write_text("greet shout")
    first = group.spawn("replica-1", start="run-mcp", mcp_tools=names)
    wait_for(lambda: mock_openai.requests, "the first model call")
    group.kill(first)  # the run's only finished step: listing the MCP server's tools
    listed = ["greet", "refund", "shout", "slow_lookup"]
    assert _tools_offered(mock_openai.requests[0]) == listed
    assert record_of(sqlite_url, "run-mcp").status == "running"  # type: ignore[union-attr]

    # The server the recovered run starts offers other tools: shout is gone, whisper new.
    names.write_text("greet whisper")
    second = group.spawn("replica-1", wait="run-mcp", mcp_tools=names)
    record = group.result(second)

    assert record.status == "completed", record.error
    assert record.output == "Greeted."
    assert len(mock_openai.requests) == 3
    # the model calls made after recovery offered the tools recorded before the crash
    assert [_tools_offered(r) for r in mock_openai.requests[1:]] == [listed, listed]
    outputs = _tool_outputs_sent(mock_openai)
    assert outputs["greet"] == "greet: hi"  # a listed tool the server still has works
    assert "Unknown tool: shout" in outputs["shout"]  # the server's own answer, not Ascent's
