"""Agents using an MCP server started as a subprocess and spoken to over stdio."""

from __future__ import annotations

import json
import os
import sys
from pathlib import Path

import pytest

from ascent import Agent, Runner, RunResult, RunState, function_tool
from ascent.errors import MCPError
from ascent.items import FunctionCallOutput
from ascent.mcp import MCPServerStdio
from ascent.testing import ScriptedModel, ToolCall

from .conftest import calc_stdio, named_stdio


def _outputs(result: RunResult) -> list[FunctionCallOutput]:
    return [i for i in result.new_items if isinstance(i, FunctionCallOutput)]


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    # a zombie still answers kill(0): look at its state where /proc exists
    try:
        with open(f"/proc/{pid}/stat", encoding="ascii") as handle:
            return handle.read().split(") ", 1)[1][:1] != "Z"
    except OSError:
        return True


async def test_a_run_starts_the_server_once_and_stops_it_at_the_end() -> None:
    server = calc_stdio(name="calc")
    model = ScriptedModel(
        [
            ToolCall("pid"),
            [ToolCall("add", {"a": 20, "b": 22}), ToolCall("divide", {"a": 1, "b": 0})],
            ToolCall("pid"),
            "42",
        ]
    )
    result = await Runner.run(Agent(name="Calc", model=model, mcp_servers=[server]), "sum")

    first_pid, add, divide, second_pid = _outputs(result)
    assert first_pid.output == second_pid.output  # one process for the whole run, every turn
    assert json.loads(add.output) == {"total": 42}
    assert divide.is_error and "cannot divide by zero" in divide.output
    assert result.final_output == "42"
    assert not server.is_connected
    assert not _alive(int(first_pid.output))  # owned by the run: stopped when it ended


async def test_async_with_keeps_one_process_across_runs() -> None:
    async with calc_stdio() as server:
        model = ScriptedModel([ToolCall("pid"), "one", ToolCall("pid"), "two"])
        agent = Agent(name="a", model=model, mcp_servers=[server])
        first = _outputs(await Runner.run(agent, "pid"))[0].output
        second = _outputs(await Runner.run(agent, "pid"))[0].output
        assert first == second and _alive(int(first))
        assert server.is_connected
    assert not _alive(int(first))


async def test_a_server_that_dies_mid_run_becomes_a_tool_error() -> None:
    server = calc_stdio(name="fragile")
    model = ScriptedModel(
        [ToolCall("crash"), ToolCall("shout", {"text": "still there?"}), "It stopped."]
    )
    agent = Agent(name="a", model=model, mcp_servers=[server])

    result = await Runner.run(agent, "crash it")

    crash, shout = _outputs(result)
    assert crash.is_error and "MCP server 'fragile' is gone" in crash.output
    assert shout.is_error and "MCP server 'fragile' is gone" in shout.output
    assert result.final_output == "It stopped."  # the run went on; the model was told
    model.assert_done()

    # the next run starts the server again
    model.add(ToolCall("shout", {"text": "back"}), "back")
    again = await Runner.run(agent, "again")
    assert _outputs(again)[0].output == "BACK"


@pytest.mark.parametrize(
    ("command", "args", "message"),
    [
        ("ascent-no-such-command-xyz", [], "failed to start"),
        (sys.executable, ["-c", "import sys; sys.exit(3)"], "failed to start"),
        (sys.executable, ["-c", "import sys; sys.stdin.read()"], "did not start within 0.5s"),
    ],
    ids=["missing-command", "exits-at-once", "never-answers"],
)
async def test_a_server_that_fails_to_start_raises_mcp_error(
    command: str, args: list[str], message: str
) -> None:
    server = MCPServerStdio(command=command, args=args, name="broken", connect_timeout=0.5)
    agent = Agent(name="a", model=ScriptedModel(["never"]), mcp_servers=[server])
    with pytest.raises(MCPError, match=f"MCP server 'broken' {message}"):
        await Runner.run(agent, "hi")
    assert not server.is_connected


async def test_calling_a_server_that_is_not_connected_says_how_to_connect() -> None:
    with pytest.raises(MCPError, match="is not connected"):
        await calc_stdio().call_tool("add", {"a": 1, "b": 2})


async def test_a_run_resumed_from_json_offers_the_tools_it_listed_not_the_current_ones(
    tmp_path: Path,
) -> None:
    @function_tool(needs_approval=True)
    def refund(order_id: str) -> str:
        """Refund an order."""
        return f"refunded {order_id}"

    names = tmp_path / "names"
    names.write_text("greet shout")
    model = ScriptedModel(
        [
            ToolCall("refund", {"order_id": "A-1"}),
            [ToolCall("greet", {"text": "hi"}), ToolCall("shout", {"text": "hey"})],
            "done",
        ]
    )

    servers: list[MCPServerStdio] = []

    def agent() -> Agent:
        # a new server object each time, as in another process: no tool list cached
        servers.append(named_stdio(names, name="named"))
        return Agent(name="a", model=model, tools=[refund], mcp_servers=[servers[-1]])

    paused = await Runner.run(agent(), "refund A-1")
    assert paused.interruptions and not servers[0].is_connected  # its process is gone
    saved = paused.state.to_json()
    listed = json.loads(saved)["server_tools"]["a"]  # the list, as the state records it
    assert [(s["server"], [t["name"] for t in s["tools"]]) for s in listed] == [
        ("named", ["greet", "shout"])
    ]

    names.write_text("greet whisper")  # the server that the resumed run starts has other tools
    state = RunState.from_json(saved)
    state.approve(state.interruptions[0])
    result = await Runner.run(agent(), state)

    offered = [sorted(spec.name for spec in request.tools) for request in model.requests]
    assert offered == [["greet", "refund", "shout"]] * 3  # as listed before the pause
    outputs = {o.tool_name: o for o in _outputs(result)}
    assert outputs["refund"].output == "refunded A-1"
    assert outputs["greet"].output == "greet: hi"  # a listed tool the server still has works
    shout = outputs["shout"]  # listed, so called: the server no longer has it and says so
    assert shout.is_error and "Unknown tool: shout" in shout.output
    assert result.final_output == "done"
    model.assert_done()
