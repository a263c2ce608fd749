"""Test doubles for agents: the same ones Ascent's own tests use.

- :class:`ScriptedModel`: exact outputs per model call, records what it was asked.
- :class:`MockOpenAIServer`: a local OpenAI-compatible HTTP server (Responses and
  Chat Completions, streaming included) for testing the real client path; it
  needs the ``testing`` extra (starlette, uvicorn) and is imported on first use.
- :class:`PostgresServer` and :class:`RedisServer`: throwaway servers on loopback.
- :class:`LoopbackServer`: any ASGI app served by uvicorn on loopback, in a thread;
  :func:`wait_until_serving` waits for a server started in another process.
- :func:`recording_traces`: collect a block's traces and spans in memory.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from .scripted import ScriptedModel, Step, ToolCall
from .traces import TraceRecorder, recording_traces

if TYPE_CHECKING:
    from .loopback import LoopbackServer, wait_until_serving
    from .mock_openai import MockOpenAIServer
    from .postgres import PostgresServer
    from .redis import RedisServer

__all__ = [
    "LoopbackServer",
    "MockOpenAIServer",
    "PostgresServer",
    "RedisServer",
    "ScriptedModel",
    "Step",
    "ToolCall",
    "TraceRecorder",
    "recording_traces",
    "wait_until_serving",
]


def __getattr__(name: str) -> Any:
    if name in ("LoopbackServer", "wait_until_serving"):
        from . import loopback

        return getattr(loopback, name)
    if name == "MockOpenAIServer":
        from .mock_openai import MockOpenAIServer

        return MockOpenAIServer
    if name == "PostgresServer":
        from .postgres import PostgresServer

        return PostgresServer
    if name == "RedisServer":
        from .redis import RedisServer

        return RedisServer
    raise AttributeError(name)
