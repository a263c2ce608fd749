"""The relay's event bodies, made without the model, are the model's bytes."""

from __future__ import annotations

from typing import Any

import pytest

from ascent.durable.outbox import OutboxEntry
from ascent.events import CloudEvent, parse_event


@pytest.mark.parametrize(
    "fields",
    [
        {"subject": "run-1", "tenant": "acme", "agent": "support", "data": {"run_id": "run-1"}},
        {"subject": "run-2", "tenant": None, "agent": "a", "data": {"run_id": "run-2", "x": None}},
        {"subject": None, "tenant": None, "agent": None, "data": {"note": "no run", "n": [1.5]}},
        {"subject": "run-3", "tenant": "t", "agent": "b", "data": {"run_id": "other", "é": "ü"}},
    ],
)
def test_an_entry_body_is_the_bytes_of_the_model(fields: dict[str, Any]) -> None:
    kind = "ascent.run.queued.v1"
    entry = OutboxEntry(seq=7, id="e-1", type=kind, topic="t", time=1.5e9, **fields)
    body = CloudEvent.entry_body(entry, source="/ascent/runs")
    assert body == CloudEvent.from_entry(entry, source="/ascent/runs").to_json_bytes()
    assert parse_event(body).runid == entry.data.get("run_id", entry.subject)
