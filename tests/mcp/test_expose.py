"""Ascent agents and tools served as an MCP server, driven by the SDK's own ``Client``."""

from __future__ import annotations

import asyncio
import json
import os
import socket
import subprocess
import sys
import time
from pathlib import Path

import httpx2
import pytest
from mcp import Client, StdioServerParameters
from mcp.client.streamable_http import streamable_http_client
from typer.testing import CliRunner

from ascent import Agent, UserError, function_tool
from ascent._version import __version__
from ascent.cli import app
from ascent.mcp import create_mcp_server, mcp_http_app
from ascent.testing import LoopbackServer, ScriptedModel, ToolCall

from ..processes import ascent_command, ipv6_loopback_port
from ..sample_tools import refund
from .served import Verdict, multiply, order_status, support

ROOT = Path(__file__).resolve().parents[2]
SERVED = Path(__file__).with_name("served.py")


async def test_agents_and_tools_become_mcp_tools() -> None:
    judge = Agent(
        name="Refund judge",
        model=ScriptedModel(['{"approved": true, "reason": "within 30 days"}']),
        output_type=Verdict,
    )
    server = create_mcp_server(agents=[support, judge], tools=[multiply], name="shop")

    async with Client(server) as client:
        tools = {tool.name: tool for tool in (await client.list_tools()).tools}
        assert set(tools) == {"support", "refund_judge", "multiply"}
        assert tools["support"].description == "Answers questions about orders."
        assert tools["support"].input_schema["required"] == ["request"]
        assert tools["support"].output_schema is None
        assert tools["refund_judge"].output_schema is not None
        assert tools["multiply"].input_schema["properties"]["a"]["type"] == "integer"

        answer = await client.call_tool("support", {"request": "Where is order A-1042?"})
        assert not answer.is_error
        assert answer.content[0].text == "Here is what I found: order_status: shipped Monday"

        verdict = await client.call_tool("refund_judge", {"request": "Refund order A-1042?"})
        assert verdict.structured_content == {"approved": True, "reason": "within 30 days"}
        assert json.loads(verdict.content[0].text) == verdict.structured_content

        product = await client.call_tool("multiply", {"a": 6, "b": 7})
        assert product.content[0].text == "42" and not product.is_error


async def test_bad_calls_come_back_as_tool_errors() -> None:
    server = create_mcp_server(agents=[support], tools=[multiply])
    async with Client(server) as client:
        empty = await client.call_tool("support", {"request": "  "})
        assert empty.is_error and "'request' is required" in empty.content[0].text
        wrong = await client.call_tool("multiply", {"a": "six", "b": 7})
        assert wrong.is_error
        text = wrong.content[0].text
        assert text.startswith("invalid arguments for tool 'multiply': a: ")
        assert text.count("invalid arguments") == 1


@pytest.mark.parametrize(
    ("options", "expected"), [({}, __version__), ({"version": "2.5.0"}, "2.5.0")]
)
async def test_server_info_carries_a_version(options: dict[str, str], expected: str) -> None:
    server = create_mcp_server(agents=[support], name="shop", **options)
    async with Client(server, mode="legacy") as client:
        initialized = await client.session.initialize()  # the handshake's own result

    assert initialized.server_info.name == "shop"
    assert initialized.server_info.version == expected


async def test_an_agent_that_fails_or_waits_for_approval_is_a_tool_error() -> None:
    waiting = Agent(
        name="Refunds",
        model=ScriptedModel([ToolCall("refund", {"order_id": "A-1"})]),
        tools=[refund],
    )
    looping = Agent(name="Looper", model=ScriptedModel([ToolCall("nothing")] * 2))
    server = create_mcp_server(agents=[waiting, looping], max_turns=1)
    async with Client(server) as client:
        paused = await client.call_tool("refunds", {"request": "refund A-1"})
        assert paused.is_error and "approvals cannot be given over MCP" in paused.content[0].text
        failed = await client.call_tool("looper", {"request": "go"})
        assert failed.is_error and "max_turns=1" in failed.content[0].text


def test_what_cannot_be_served_is_refused() -> None:
    @function_tool(needs_approval=True)
    def risky() -> str:
        """Something risky."""
        return "done"

    with pytest.raises(UserError, match="needs a person's approval"):
        create_mcp_server(tools=[risky])
    with pytest.raises(UserError, match="two served tools are named 'order_status'"):
        create_mcp_server(tools=[order_status, order_status])
    with pytest.raises(UserError, match="at least one agent or tool"):
        create_mcp_server()


async def test_agent_used_as_a_tool_is_served_as_an_agent() -> None:
    server = create_mcp_server(tools=[support.as_tool(name="ask_support")])
    async with Client(server) as client:
        (tool,) = (await client.list_tools()).tools
        assert tool.name == "ask_support" and tool.input_schema["required"] == ["request"]
        answer = await client.call_tool("ask_support", {"request": "status of A-1042"})
        assert "shipped Monday" in answer.content[0].text


async def test_the_http_app_serves_the_sdk_client() -> None:
    loopback = LoopbackServer(mcp_http_app(agents=[support], tools=[multiply])).start()
    try:
        async with Client(f"{loopback.url}/mcp") as client:
            names = {tool.name for tool in (await client.list_tools()).tools}
            assert names == {"support", "multiply"}
            answer = await client.call_tool("support", {"request": "status of order A-1042"})
            assert answer.content[0].text == "Here is what I found: order_status: shipped Monday"
            assert (await client.call_tool("multiply", {"a": 3, "b": 5})).content[0].text == "15"
    finally:
        loopback.stop()


async def test_ascent_mcp_command_serves_over_stdio_to_the_sdk_client(tmp_path: Path) -> None:
    env = {"ASCENT_MODEL": "offline", "ASCENT_DATABASE_URL": f"sqlite:///{tmp_path / 'a.db'}"}
    params = StdioServerParameters(
        command=sys.executable,
        args=["-m", "ascent.cli", "mcp", f"{SERVED}:support", "--tool", f"{SERVED}:multiply"],
        env={**env, "PYTHONPATH": os.pathsep.join([str(ROOT / "src"), str(ROOT)])},
        cwd=tmp_path,
    )
    async with Client(params) as client:
        names = {tool.name for tool in (await client.list_tools()).tools}
        assert names == {"support", "multiply"}
        answer = await client.call_tool("support", {"request": "What is the status of A-1042?"})
        assert answer.content[0].text == "Here is what I found: order_status: shipped Monday"
        assert (await client.call_tool("multiply", {"a": 2, "b": 21})).content[0].text == "42"


async def test_ascent_mcp_command_serves_streamable_http(tmp_path: Path) -> None:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    env = {
        **os.environ,
        "ASCENT_MODEL": "offline",
        "ASCENT_DATABASE_URL": f"sqlite:///{tmp_path / 'a.db'}",
        "ASCENT_MCP_TOKEN": "cli-token",
    }
    command = [sys.executable, "-m", "ascent.cli", "mcp", f"{SERVED}:support"]
    process = subprocess.Popen(
        [*command, "--http", "--port", str(port)],
        cwd=tmp_path,
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
    )
    try:
        deadline = time.monotonic() + 30
        while True:
            assert process.poll() is None, process.stderr.read() if process.stderr else ""
            try:
                socket.create_connection(("127.0.0.1", port), timeout=0.2).close()
                break
            except OSError:
                assert time.monotonic() < deadline, "ascent mcp --http did not start"
                await asyncio.sleep(0.05)
        url = f"http://127.0.0.1:{port}/mcp"
        async with (
            httpx2.AsyncClient(headers={"Authorization": "Bearer cli-token"}) as http,
            Client(streamable_http_client(url, http_client=http)) as client,
        ):
            answer = await client.call_tool("support", {"request": "Status of order A-1042?"})
            assert answer.content[0].text == "Here is what I found: order_status: shipped Monday"
        async with httpx2.AsyncClient() as raw:  # ASCENT_MCP_TOKEN is required
            call = {"jsonrpc": "2.0", "id": 1, "method": "tools/list", "params": {}}
            assert (await raw.post(url, json=call)).status_code == 401
    finally:
        process.terminate()
        process.wait(timeout=10)
        if process.stderr is not None:
            process.stderr.close()


def test_ascent_mcp_command_binds_ipv6_loopback_written_as_in_a_url(tmp_path: Path) -> None:
    port = ipv6_loopback_port()
    env = {"ASCENT_MODEL": "offline", "ASCENT_DATABASE_URL": f"sqlite:///{tmp_path / 'a.db'}"}
    arguments = ("mcp", f"{SERVED}:support", "--http", "--host", "[::1]", "--port", str(port))
    with ascent_command(*arguments, host="::1", port=port, env=env):
        url = f"http://[::1]:{port}/mcp"
        call = {"jsonrpc": "2.0", "id": 1, "method": "tools/list", "params": {}}
        headers = {"Accept": "application/json, text/event-stream"}
        listed = httpx2.post(url, json=call, headers=headers, timeout=10)
        assert listed.status_code == 200, listed.text
        assert "support" in listed.text
        # served on loopback, so the SDK's DNS-rebinding check is on
        foreign = httpx2.post(url, json=call, headers={**headers, "Host": "attacker.example"})
        assert foreign.status_code == 421


async def test_the_http_app_on_ipv6_loopback_checks_the_host() -> None:
    app = mcp_http_app(agents=[support], host="[::1]")
    call = {"jsonrpc": "2.0", "id": 1, "method": "tools/list", "params": {}}
    headers = {"Accept": "application/json, text/event-stream"}
    async with (
        app.router.lifespan_context(app),
        httpx2.AsyncClient(
            transport=httpx2.ASGITransport(app), base_url="http://[::1]:8000"
        ) as client,
    ):
        assert (await client.post("/mcp", json=call, headers=headers)).status_code == 200
        foreign = await client.post(
            "/mcp", json=call, headers={**headers, "Host": "attacker.example"}
        )
        assert foreign.status_code == 421


def test_ascent_mcp_command_refuses_what_is_not_an_agent_or_a_tool() -> None:
    runner = CliRunner()
    not_an_agent = runner.invoke(app, ["mcp", f"{SERVED}:multiply"])
    assert not_an_agent.exit_code == 1
    assert "is a FunctionTool, not an Agent" in not_an_agent.output
    not_a_tool = runner.invoke(app, ["mcp", "--tool", f"{SERVED}:support"])
    assert not_a_tool.exit_code == 1
    assert "is not a function tool (Agent)" in not_a_tool.output
    nothing = runner.invoke(app, ["mcp"])
    assert nothing.exit_code == 1 and "name at least one agent" in nothing.output
