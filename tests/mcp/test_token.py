"""A standalone MCP HTTP server that requires a bearer token, driven by the SDK's own ``Client``."""

from __future__ import annotations

from collections.abc import Iterator

import httpx2
import pytest
from mcp import Client
from mcp.client.streamable_http import streamable_http_client
from mcp.shared.exceptions import MCPError

from ascent import UserError
from ascent.mcp import mcp_http_app, serve_mcp
from ascent.testing import LoopbackServer

from .served import multiply, support

TOKEN = "s3cret-token"
LIST = {"jsonrpc": "2.0", "id": 1, "method": "tools/list", "params": {}}
MCP_HEADERS = {"Accept": "application/json, text/event-stream"}


@pytest.fixture(scope="module")
def guarded_url() -> Iterator[str]:
    loopback = LoopbackServer(mcp_http_app(agents=[support], tools=[multiply], token=TOKEN)).start()
    yield f"{loopback.url}/mcp"
    loopback.stop()


async def test_the_token_lets_the_sdk_client_in(guarded_url: str) -> None:
    async with (
        httpx2.AsyncClient(headers={"Authorization": f"Bearer {TOKEN}"}) as http,
        Client(streamable_http_client(guarded_url, http_client=http)) as client,
    ):
        assert {tool.name for tool in (await client.list_tools()).tools} == {"support", "multiply"}
        answer = await client.call_tool("support", {"request": "status of order A-1042"})
        assert answer.content[0].text == "Here is what I found: order_status: shipped Monday"


async def test_requests_without_the_token_are_refused(guarded_url: str) -> None:
    cases = {
        "missing bearer token": {},
        "invalid bearer token": {"Authorization": "Bearer wrong-token"},
    }
    async with httpx2.AsyncClient() as raw:
        for reason, headers in cases.items():
            refused = await raw.post(guarded_url, json=LIST, headers={**MCP_HEADERS, **headers})
            assert refused.status_code == 401
            assert refused.headers["WWW-Authenticate"] == "Bearer"
            assert refused.json()["error"] == "unauthorized"
            assert refused.json()["error_description"].startswith(reason)
        basic = {**MCP_HEADERS, "Authorization": f"Basic {TOKEN}"}  # right token, wrong scheme
        assert (await raw.post(guarded_url, json=LIST, headers=basic)).status_code == 401
        allowed = await raw.post(
            guarded_url, json=LIST, headers={**MCP_HEADERS, "Authorization": f"Bearer {TOKEN}"}
        )
        assert allowed.status_code == 200

    with pytest.raises(ExceptionGroup) as refused_client:
        async with Client(guarded_url) as client:
            await client.list_tools()
    assert refused_client.group_contains(MCPError, depth=2)


def test_a_token_must_be_usable() -> None:
    for bad in ("", "   ", " padded "):
        with pytest.raises(UserError, match="bearer token is empty"):
            mcp_http_app(agents=[support], token=bad)
    with pytest.raises(UserError, match="stdio has none"):
        serve_mcp(agents=[support], transport="stdio", token=TOKEN)
