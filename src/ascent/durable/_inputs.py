"""Checking a durable run's input before it is stored."""

from __future__ import annotations

from typing import Any

from pydantic import ValidationError

from ..errors import UserError
from ..items import input_to_items, items_to_json

__all__ = ["input_items"]


def input_items(value: Any) -> list[dict[str, Any]]:
    """``value`` (a string or a list of items) as JSON items; a clear error otherwise."""
    if not isinstance(value, str | list):
        raise UserError(f"a run's input is a string or a list of items, not {type(value).__name__}")
    try:
        items = input_to_items(value)
    except ValidationError as exc:
        raise UserError(f"invalid input items: {exc}") from None
    if not items:
        raise UserError("a run needs some input")
    return items_to_json(items)
