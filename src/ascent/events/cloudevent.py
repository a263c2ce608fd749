"""CloudEvents 1.0 in structured JSON mode: the one envelope every event travels in.

A structured CloudEvent is a JSON object whose attributes (``id``, ``source``,
``type``, ...) and ``data`` sit side by side, so it reads the same on every
broker and over HTTP. Ascent adds three extension attributes to the events it
publishes about runs: ``runid``, ``tenant`` and ``agent`` (extension names are
lower-case letters and digits, per the spec).
"""

from __future__ import annotations

import uuid
from datetime import UTC, datetime
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, ValidationError
from pydantic_core import from_json, to_json

from ..durable.outbox import OutboxEntry
from ..errors import InvalidEvent

__all__ = ["MAX_EVENT_BYTES", "CloudEvent", "parse_event"]

# What one incoming message may weigh: a run's input, not a file transfer.
MAX_EVENT_BYTES = 256 * 1024


class CloudEvent(BaseModel):
    """One CloudEvents 1.0 event (structured JSON). Unknown attributes are kept:
    they are the producer's extensions."""

    model_config = ConfigDict(extra="allow")

    specversion: Literal["1.0"] = "1.0"
    id: str = Field(default_factory=lambda: uuid.uuid4().hex, min_length=1)
    source: str = Field(min_length=1)
    type: str = Field(min_length=1)
    subject: str | None = None
    time: datetime | None = Field(default_factory=lambda: datetime.now(UTC))
    datacontenttype: str | None = "application/json"
    dataschema: str | None = None
    data: Any = None
    runid: str | None = None
    tenant: str | None = None
    agent: str | None = None

    def to_json_bytes(self) -> bytes:
        """The structured-mode body: attributes and data in one JSON object."""
        return self.model_dump_json(exclude_none=True).encode()

    @staticmethod
    def entry_body(entry: OutboxEntry, *, source: str) -> bytes:
        """``from_entry(entry, source=source).to_json_bytes()``, the same bytes, without
        the model in between (the relay makes one per event it publishes)."""
        attributes = {
            "specversion": "1.0",
            "id": entry.id,
            "source": source,
            "type": entry.type,
            "subject": entry.subject,
            "time": datetime.fromtimestamp(entry.time, UTC),
            "datacontenttype": "application/json",
            "data": entry.data,
            "runid": entry.data.get("run_id", entry.subject),
            "tenant": entry.tenant,
            "agent": entry.agent,
        }
        return to_json({name: value for name, value in attributes.items() if value is not None})

    @classmethod
    def from_entry(cls, entry: OutboxEntry, *, source: str) -> CloudEvent:
        """The event an outbox row stands for (its id is the row's: stable on every try)."""
        return cls(
            id=entry.id,
            source=source,
            type=entry.type,
            subject=entry.subject,
            time=datetime.fromtimestamp(entry.time, UTC),
            data=entry.data,
            runid=entry.data.get("run_id", entry.subject),
            tenant=entry.tenant,
            agent=entry.agent,
        )


def parse_event(body: bytes, *, max_bytes: int = MAX_EVENT_BYTES) -> CloudEvent:
    """The CloudEvent in ``body``; :class:`InvalidEvent` says why there is none."""
    if len(body) > max_bytes:
        raise InvalidEvent(f"oversized: {len(body)} bytes, the limit is {max_bytes}")
    try:
        raw = from_json(body)
    except ValueError as exc:
        raise InvalidEvent(f"malformed JSON: {exc}") from None
    if not isinstance(raw, dict) or "specversion" not in raw:
        raise InvalidEvent("not a CloudEvent: a JSON object with specversion, id, source, type")
    try:
        return CloudEvent.model_validate(raw)
    except ValidationError as exc:
        problems = "; ".join(
            f"{'.'.join(str(p) for p in error['loc']) or 'event'}: {error['msg']}"
            for error in exc.errors()
        )
        raise InvalidEvent(f"not a CloudEvent 1.0: {problems}") from None
