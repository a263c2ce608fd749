"""The agents as MCP tools at /mcp behind the service's keys, driven by the SDK's ``Client``."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

import httpx
import httpx2
import pytest
from mcp import Client
from mcp.client.streamable_http import streamable_http_client
from mcp.shared.exceptions import MCPError

from ascent.durable import DurableEngine
from ascent.server import create_app

from .conftest import KEYS, live

pytestmark = pytest.mark.asyncio(loop_scope="package")


@asynccontextmanager
async def mcp_client(url: str, key: str | None) -> AsyncIterator[Client]:
    headers = {"Authorization": f"Bearer {key}"} if key else {}
    async with (
        httpx2.AsyncClient(headers=headers) as http,
        Client(streamable_http_client(url, http_client=http)) as client,
    ):
        yield client


async def test_agents_are_mcp_tools_behind_the_keys(
    engine: DurableEngine, database_url: str
) -> None:
    app = create_app(engine=engine, database_url=database_url, api_keys=KEYS, mcp=True)
    async with live(app) as base:
        async with mcp_client(f"{base}/mcp", "key-acme") as client:
            tools = {tool.name: tool for tool in (await client.list_tools()).tools}
            assert set(tools) == {"shop", "echo", "warehouse"}
            assert tools["echo"].description == "Repeats the request."
            assert tools["shop"].input_schema["required"] == ["request"]
            answer = await client.call_tool("shop", {"request": "Status of order A-1042?"})
            assert not answer.is_error
            assert "shipped Monday" in answer.content[0].text
            paused = await client.call_tool("shop", {"request": "Refund order A-1042"})
            assert paused.is_error and "approvals cannot be given over MCP" in (
                paused.content[0].text
            )

        async with httpx.AsyncClient(base_url=base) as raw:
            call = {"jsonrpc": "2.0", "id": 1, "method": "tools/list", "params": {}}
            for headers in ({}, {"Authorization": "Bearer key-nobody"}):
                refused = await raw.post("/mcp", json=call, headers=headers)
                assert refused.status_code == 401
                assert refused.headers["WWW-Authenticate"] == "Bearer"
                assert refused.json()["error"]["type"] == "unauthorized"
            assert (await raw.get("/v1/agents")).status_code == 401  # the same keys as the rest
            assert "/mcp" not in (await raw.get("/openapi.json")).json()["paths"]

        with pytest.raises(ExceptionGroup) as refused_client:  # the SDK's client, refused
            async with mcp_client(f"{base}/mcp", None) as client:
                await client.list_tools()
        assert refused_client.group_contains(MCPError, match="error response", depth=2)


async def test_without_mcp_there_is_no_endpoint(engine: DurableEngine, database_url: str) -> None:
    app = create_app(engine=engine, database_url=database_url, api_keys=KEYS)
    async with live(app) as base, httpx.AsyncClient(base_url=base) as raw:
        call = {"jsonrpc": "2.0", "id": 1, "method": "tools/list", "params": {}}
        missing = await raw.post("/mcp", json=call, headers={"Authorization": "Bearer key-acme"})
        assert missing.status_code == 404


async def test_without_keys_the_endpoint_is_open(engine: DurableEngine, database_url: str) -> None:
    app = create_app(engine=engine, database_url=database_url, api_keys={}, mcp=True)
    async with live(app) as base, mcp_client(f"{base}/mcp", None) as client:
        answer = await client.call_tool("echo", {"request": "hello there"})
        assert not answer.is_error and answer.content[0].text
