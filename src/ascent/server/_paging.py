"""Keyset paging on the wire: ``next`` cursors and the ``before`` and ``limit`` parameters.

A cursor is the sort key of the last item of a page, ``(time, id)``, as
URL-safe base64 of JSON: opaque to clients (they pass it back as ``before``),
checked when it comes back (anything else is a 422), and never an offset, so a
page deep in a long list costs what the first one does.
"""

from __future__ import annotations

import base64
import binascii
import json
import math
from typing import Annotated

from fastapi import Query

from ._errors import ApiError

__all__ = ["MAX_LIMIT", "Before", "Limit", "decode_cursor", "encode_cursor"]

MAX_LIMIT = 200
_MAX_CURSOR = 2000

Limit = Annotated[int, Query(ge=1, le=MAX_LIMIT, description="The most items in one page.")]
Before = Annotated[
    str | None,
    Query(
        min_length=1,
        max_length=_MAX_CURSOR,
        pattern=r"^[A-Za-z0-9_-]+={0,2}$",
        description="The `next` of the previous page: the items after it.",
    ),
]


def encode_cursor(key: tuple[float, str] | None) -> str | None:
    """The ``next`` of a page whose last item has sort key ``key`` (None: no next page)."""
    if key is None:
        return None
    text = json.dumps([key[0], key[1]], separators=(",", ":"), ensure_ascii=False)
    return base64.urlsafe_b64encode(text.encode()).decode().rstrip("=")


def decode_cursor(cursor: str | None) -> tuple[float, str] | None:
    """The sort key a ``before`` stands for; 422 if it is not a cursor this API gave."""
    if cursor is None:
        return None
    try:
        raw = base64.urlsafe_b64decode(cursor + "=" * (-len(cursor) % 4))
        value = json.loads(raw.decode())
    except (binascii.Error, ValueError):
        value = None
    if (
        isinstance(value, list)
        and len(value) == 2
        and isinstance(value[0], int | float)
        and not isinstance(value[0], bool)
        and math.isfinite(value[0])
        and isinstance(value[1], str)
        and 0 < len(value[1]) <= 255
        and "\x00" not in value[1]
        and _encodable(value[1])
    ):
        return float(value[0]), value[1]
    raise ApiError(422, "before: not a cursor from this API (pass a page's `next`)")


def _encodable(text: str) -> bool:
    try:
        text.encode("utf-8")
    except UnicodeEncodeError:
        return False
    return True
