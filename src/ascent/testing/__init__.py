"""Test doubles for agents: the same ones Ascent's own tests use.

- :class:`ScriptedModel`: exact outputs per model call, records what it was asked.
- :class:`MockOpenAIServer`: a local OpenAI-compatible HTTP server (Responses and
  Chat Completions, streaming included) for testing the real client path; it
  needs the ``testing`` extra (starlette, uvicorn) and is imported on first use.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from .scripted import ScriptedModel, Step, ToolCall

if TYPE_CHECKING:
    from .mock_openai import MockOpenAIServer

__all__ = ["MockOpenAIServer", "ScriptedModel", "Step", "ToolCall"]


def __getattr__(name: str) -> Any:
    if name == "MockOpenAIServer":
        from .mock_openai import MockOpenAIServer

        return MockOpenAIServer
    raise AttributeError(name)
