"""Reading the Responses API request bodies the mock OpenAI server recorded."""

from __future__ import annotations

from typing import Any


def input_types(body: dict[str, Any]) -> list[str]:
    """The type of each item a request sent as ``input`` (a bare message has none)."""
    return [item.get("type", "message") for item in body["input"]]
