"""Finished traces and spans as redacted JSON, made once in the batch processor's thread.

A span's attributes (items, settings, usage...) are serialized once by
pydantic-core, checked for secrets on those bytes, and only walked and
re-serialized when the check finds something to mask. The local trace store
writes the JSON text as it is; exporters that want records
(:class:`~ascent.tracing.SpanRecord`) get them parsed back from it.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from typing import Any, Protocol, runtime_checkable

from pydantic_core import from_json, to_json

from .redaction import redact_json, redact_text, suspicious
from .spans import Span, SpanRecord, Trace, TraceRecord

__all__ = ["Encoded", "EncodedExporter", "encode", "json_value", "record"]

_EMPTY = b"{}"

# A trace or span, its attributes (or metadata) as redacted JSON text, and its
# redacted error. A plain tuple: thousands are made a second, and a tuple costs
# no Python call to build.
Encoded = tuple[Trace | Span, str, str | None]


def record(encoded: Encoded) -> TraceRecord | SpanRecord:
    """An encoded item as a record, for exporters that read fields rather than JSON."""
    item, text, error = encoded
    data: dict[str, Any] = from_json(text) if text != "{}" else {}
    if isinstance(item, Span):
        return item.to_record(attributes=data, error=error)
    return item.to_record(metadata=data, error=error)


@runtime_checkable
class EncodedExporter(Protocol):
    """An exporter that can take encoded items directly (the local trace store)."""

    def export_encoded(self, items: Sequence[Encoded]) -> None: ...


def encode(items: Sequence[Trace | Span], secrets: list[str]) -> list[Encoded]:
    """``items`` as redacted JSON: one serialization each, one scan for secrets in all.

    The scan runs over the whole batch at once; only when it finds something
    are the items checked (and masked) one by one.
    """
    datas: list[bytes] = []
    any_error = False
    for item in items:
        values = item.attributes if isinstance(item, Span) else item.metadata
        datas.append(to_json(values, fallback=str, exclude_none=True) if values else _EMPTY)
        any_error = any_error or item.error is not None
    if suspicious(b"\0".join(datas), secrets):
        datas = [redact_json(data, secrets) for data in datas]
    if not any_error:
        return [(item, data.decode(), None) for item, data in zip(items, datas, strict=True)]
    return [
        (item, data.decode(), redact_text(item.error, secrets) if item.error else item.error)
        for item, data in zip(items, datas, strict=True)
    ]


def json_value(value: Any) -> Any:
    """``value`` parsed when it is JSON text; anything else (other text too) as it is.

    For exporters reading a record's attributes: items arrive as lists (dumped by
    the record) or as JSON text, and tool-call arguments are JSON text.
    """
    if isinstance(value, str):
        try:
            return json.loads(value)
        except ValueError:
            return value
    return value
