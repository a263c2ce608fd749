"""Agents using an MCP server over streamable HTTP (the calc server on loopback)."""

from __future__ import annotations

import asyncio
import json
import uuid

import pytest

from ascent import Agent, Runner, RunResult, UserError
from ascent.errors import MCPError
from ascent.items import FunctionCallOutput
from ascent.mcp import MCPServerHTTP
from ascent.testing import LoopbackServer, ScriptedModel, ToolCall, recording_traces

from ..sample_tools import refund


def _outputs(result: RunResult) -> dict[str, FunctionCallOutput]:
    items = result.new_items
    return {i.tool_name: i for i in items if isinstance(i, FunctionCallOutput)}


async def test_tools_look_like_function_tools_and_calls_round_trip(calc_http_url: str) -> None:
    server = MCPServerHTTP(url=calc_http_url, name="calc")
    model = ScriptedModel(
        [
            [ToolCall("add", {"a": 2, "b": 40}), ToolCall("shout", {"text": "hello"})],
            ToolCall("divide", {"a": 1, "b": 0}),
            "The sum is 42.",
        ]
    )
    agent = Agent(name="Calc", model=model, mcp_servers=[server])

    result = await Runner.run(agent, "add 2 and 40")

    assert result.final_output == "The sum is 42."
    specs = {spec.name: spec for spec in model.requests[0].tools}
    assert {"add", "shout", "divide", "sleep", "learn", "pid"} <= set(specs)
    add = specs["add"]
    assert add.description == "Add two whole numbers."
    assert add.parameters["properties"]["a"]["type"] == "integer"
    assert add.parameters["required"] == ["a", "b"]
    outputs = _outputs(result)
    assert json.loads(outputs["add"].output) == {"total": 42}  # structured content, as JSON
    assert outputs["shout"].output == "HELLO"  # text content
    assert not outputs["add"].is_error and not outputs["shout"].is_error
    assert outputs["divide"].is_error  # isError: the model is told, the run goes on
    assert "cannot divide by zero" in outputs["divide"].output
    assert not server.is_connected  # the run opened it, so the run closed it
    model.assert_done()


async def test_text_instead_of_structured_content(calc_http_url: str) -> None:
    server = MCPServerHTTP(url=calc_http_url, use_structured_content=False)
    model = ScriptedModel([ToolCall("add", {"a": 1, "b": 1}), "two"])
    result = await Runner.run(Agent(name="a", model=model, mcp_servers=[server]), "1+1")
    assert json.loads(_outputs(result)["add"].output) == {"total": 2}
    assert _outputs(result)["add"].output != '{"total": 2}'  # the server's own (indented) text


async def test_allow_and_block_lists_and_a_filter_function(calc_http_url: str) -> None:
    async def no_learning(tool: object) -> bool:
        return getattr(tool, "name", "") != "learn"

    cases = [
        (MCPServerHTTP(url=calc_http_url, allowed_tools=["add", "shout"]), {"add", "shout"}),
        (
            MCPServerHTTP(url=calc_http_url, blocked_tools=["learn", "sleep", "pid", "divide"]),
            {"add", "shout"},
        ),
        (
            MCPServerHTTP(
                url=calc_http_url,
                tool_filter=no_learning,
                allowed_tools=["add", "learn", "pid"],
            ),
            {"add", "pid"},
        ),
    ]
    for server, expected in cases:
        model = ScriptedModel([ToolCall("divide", {"a": 1, "b": 2}), "done"])
        result = await Runner.run(Agent(name="a", model=model, mcp_servers=[server]), "go")
        assert {spec.name for spec in model.requests[0].tools} == expected
        refused = _outputs(result)["divide"]  # a filtered tool cannot be called either
        assert refused.is_error and "no tool named 'divide'" in refused.output


async def test_tool_list_is_cached_until_invalidated(calc_http_url: str) -> None:
    fresh = f"fresh_{uuid.uuid4().hex[:8]}"
    async with MCPServerHTTP(url=calc_http_url) as server:
        before = {tool.name for tool in await server.list_tools()}
        learned = await server.call_tool("learn", {"name": fresh})
        assert not learned.is_error
        assert {tool.name for tool in await server.list_tools()} == before  # cached
        server.invalidate_tools_cache()
        assert fresh in {tool.name for tool in await server.list_tools()}

    uncached = MCPServerHTTP(url=calc_http_url, cache_tools_list=False)
    other = f"other_{uuid.uuid4().hex[:8]}"
    async with uncached:
        await uncached.list_tools()
        await uncached.call_tool("learn", {"name": other})
        assert other in {tool.name for tool in await uncached.list_tools()}


async def test_a_server_kept_open_lists_once_for_many_runs(calc_http_url: str) -> None:
    fresh = f"late_{uuid.uuid4().hex[:8]}"
    async with MCPServerHTTP(url=calc_http_url) as server:
        model = ScriptedModel([ToolCall("learn", {"name": fresh}), "learned", "again"])
        agent = Agent(name="a", model=model, mcp_servers=[server])
        await Runner.run(agent, "learn")
        await Runner.run(agent, "again")
        assert server.is_connected  # the runs did not close what they did not open
        assert fresh not in {spec.name for spec in model.requests[2].tools}  # cached list
        server.invalidate_tools_cache()
        model.add("third")
        await Runner.run(agent, "third")
        assert fresh in {spec.name for spec in model.requests[3].tools}
    assert not server.is_connected


async def test_a_slow_call_times_out_as_a_tool_error(calc_http_url: str) -> None:
    server = MCPServerHTTP(url=calc_http_url, timeout=0.2)
    model = ScriptedModel(
        [ToolCall("sleep", {"seconds": 5}), ToolCall("shout", {"text": "ok"}), "done"]
    )
    result = await Runner.run(Agent(name="a", model=model, mcp_servers=[server]), "wait")
    slow = _outputs(result)["sleep"]
    assert slow.is_error and "timed out after 0.2s" in slow.output
    assert _outputs(result)["shout"].output == "OK"  # the connection still works


async def test_unreachable_server_fails_the_run_clearly() -> None:
    server = MCPServerHTTP(url="http://127.0.0.1:9/mcp", name="nowhere", connect_timeout=5)
    agent = Agent(name="a", model=ScriptedModel(["never"]), mcp_servers=[server])
    with pytest.raises(MCPError, match="MCP server 'nowhere' failed to start"):
        await Runner.run(agent, "hi")
    assert not server.is_connected


async def test_same_tool_names_clash_unless_prefixed(calc_http_url: str) -> None:
    one, two = MCPServerHTTP(url=calc_http_url), MCPServerHTTP(url=calc_http_url)
    agent = Agent(name="a", model=ScriptedModel(["x"]), mcp_servers=[one, two])
    with pytest.raises(UserError, match="tool 'add' of MCP server"):
        await Runner.run(agent, "hi")
    assert not one.is_connected and not two.is_connected  # released even on failure

    prefixed = MCPServerHTTP(url=calc_http_url, tool_prefix="b_")
    model = ScriptedModel([ToolCall("b_add", {"a": 1, "b": 2}), "3"])
    result = await Runner.run(Agent(name="a", model=model, mcp_servers=[one, prefixed]), "add")
    assert json.loads(_outputs(result)["b_add"].output) == {"total": 3}


async def test_mcp_tool_calls_are_tool_spans_with_the_server_name(calc_http_url: str) -> None:
    server = MCPServerHTTP(url=calc_http_url, name="calc-http")
    model = ScriptedModel([ToolCall("shout", {"text": "x"}), "done"])
    with recording_traces() as recorder:
        await Runner.run(Agent(name="a", model=model, mcp_servers=[server]), "go")
    tool_spans = [s for s in recorder.spans if s.kind == "tool"]
    assert [s.name for s in tool_spans] == ["shout"]
    assert tool_spans[0].attributes["mcp_server"] == "calc-http"
    assert tool_spans[0].attributes["mcp_tool"] == "shout"
    agent_span = next(s for s in recorder.spans if s.kind == "agent")
    assert "shout" in agent_span.attributes["tools"]


async def test_concurrent_runs_share_one_connection_opened_by_the_runs(
    calc_http_url: str,
) -> None:
    server = MCPServerHTTP(url=calc_http_url)

    def agent(n: int) -> Agent:
        model = ScriptedModel([ToolCall("add", {"a": n, "b": n}), f"done {n}"])
        return Agent(name=f"a{n}", model=model, mcp_servers=[server])

    results = await asyncio.gather(*(Runner.run(agent(n), "add") for n in range(4)))

    assert [json.loads(_outputs(r)["add"].output)["total"] for r in results] == [0, 2, 4, 6]
    assert not server.is_connected  # closed once the last run ended


async def test_an_agent_reached_by_handoff_gets_its_server_tools(calc_http_url: str) -> None:
    calc = Agent(
        name="Calc",
        model=ScriptedModel([ToolCall("add", {"a": 1, "b": 2}), "3"]),
        mcp_servers=[MCPServerHTTP(url=calc_http_url)],
    )
    triage = Agent(
        name="Triage", model=ScriptedModel([ToolCall("transfer_to_calc")]), handoffs=[calc]
    )
    result = await Runner.run(triage, "add 1 and 2")
    assert result.last_agent is calc and result.final_output == "3"
    assert json.loads(_outputs(result)["add"].output) == {"total": 3}


async def test_a_resumed_run_knows_the_server_tools_before_its_first_model_call(
    calc_http_url: str,
) -> None:
    server = MCPServerHTTP(url=calc_http_url)
    model = ScriptedModel(
        [[ToolCall("refund", {"order_id": "A-1"}), ToolCall("add", {"a": 5, "b": 5})], "done"]
    )
    agent = Agent(name="a", model=model, tools=[refund], mcp_servers=[server])

    paused = await Runner.run(agent, "refund and add")
    assert paused.interruptions and not server.is_connected
    paused.state.approve(paused.interruptions[0])
    result = await Runner.run(agent, paused.state)

    outputs = _outputs(result)
    assert outputs["refund"].output == "refunded A-1"
    assert json.loads(outputs["add"].output) == {"total": 10}
    assert result.final_output == "done"


async def test_headers_go_with_every_request() -> None:
    from mcp.server.mcpserver import MCPServer as SDKServer
    from starlette.types import ASGIApp, Receive, Scope, Send

    sdk_server = SDKServer("guarded", log_level="ERROR")

    @sdk_server.tool(structured_output=False)
    def secret() -> str:
        """The secret."""
        return "42"

    def require_token(app: ASGIApp) -> ASGIApp:
        async def guarded(scope: Scope, receive: Receive, send: Send) -> None:
            headers = dict(scope.get("headers", []))
            if scope["type"] == "http" and headers.get(b"authorization") != b"Bearer s3cret":
                await send({"type": "http.response.start", "status": 401, "headers": []})
                await send({"type": "http.response.body", "body": b"unauthorized"})
                return
            await app(scope, receive, send)

        return guarded

    loopback = LoopbackServer(require_token(sdk_server.streamable_http_app())).start()
    url = f"{loopback.url}/mcp"
    try:
        with pytest.raises(MCPError, match="MCP server 'guarded' failed to start"):
            await MCPServerHTTP(url=url, name="guarded").connect()
        server = MCPServerHTTP(url=url, headers={"Authorization": "Bearer s3cret"})
        model = ScriptedModel([ToolCall("secret"), "done"])
        result = await Runner.run(Agent(name="a", model=model, mcp_servers=[server]), "tell")
        assert _outputs(result)["secret"].output == "42"
    finally:
        loopback.stop()
