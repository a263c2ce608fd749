"""Run in ui/chainlit's environment (not by pytest): its HTTP client against a live service.

``python chainlit_client_check.py URL API_KEY`` streams a run whose connection is
cut after the first text delta, and prints as JSON what the client yielded: the
event sequence numbers, the final status, and whether it resumed with
``GET /v1/runs/{id}/events?after=N``.
"""

from __future__ import annotations

import asyncio
import json
import sys
from collections.abc import AsyncIterator
from pathlib import Path

import httpx

sys.path.insert(0, str(Path(__file__).resolve().parents[2] / "ui" / "chainlit"))

from ascent_client import AscentClient


class _Cut(httpx.AsyncByteStream):
    def __init__(self, stream: httpx.AsyncByteStream) -> None:
        self.stream = stream

    async def __aiter__(self) -> AsyncIterator[bytes]:
        async for chunk in self.stream:
            yield chunk
            if b"text_delta" in chunk:
                raise httpx.ReadError("connection cut by the test")

    async def aclose(self) -> None:
        await self.stream.aclose()


class Dropping(httpx.AsyncBaseTransport):
    """Cuts the first streamed run short; records the paths asked for."""

    def __init__(self) -> None:
        self.inner = httpx.AsyncHTTPTransport()
        self.paths: list[str] = []

    async def handle_async_request(self, request: httpx.Request) -> httpx.Response:
        self.paths.append(f"{request.method} {request.url.path}?{request.url.query.decode()}")
        response = await self.inner.handle_async_request(request)
        if request.method == "POST" and request.url.path.endswith("/runs"):
            assert isinstance(response.stream, httpx.AsyncByteStream)
            return httpx.Response(
                response.status_code,
                headers=response.headers,
                stream=_Cut(response.stream),
                request=request,
            )
        return response

    async def aclose(self) -> None:
        await self.inner.aclose()


async def main(url: str, key: str) -> None:
    transport = Dropping()
    client = AscentClient(url, key, transport=transport)
    agent = (await client.agents())[0]
    seqs, status = [], None
    async for event in client.start_run(agent, "Where is my order A-1042?", "client-check"):
        if event.seq is not None:
            seqs.append(event.seq)
        if event.name == "run":
            status = event.data["status"]
    await client.aclose()
    print(json.dumps({"agent": agent, "seqs": seqs, "status": status, "paths": transport.paths}))


if __name__ == "__main__":
    asyncio.run(main(sys.argv[1], sys.argv[2]))
