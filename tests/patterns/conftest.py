"""Helpers for the pattern tests: agents with a scripted model each, span trees, databases."""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from ascent import Agent
from ascent.storage import dispose_engines
from ascent.testing import PostgresServer, ScriptedModel, TraceRecorder
from ascent.testing.scripted import StepLike


def scripted(name: str, *steps: StepLike, **fields: Any) -> tuple[Agent[Any], ScriptedModel]:
    """An agent with its own scripted model (so concurrent runs never share a script)."""
    model = ScriptedModel(list(steps), name=f"{name}-model")
    return Agent(name=name, model=model, **fields), model


def one_workflow(recorder: TraceRecorder, workflow: str) -> list[tuple[int, str, str]]:
    """Assert exactly one trace named ``workflow`` holds every span; its span tree."""
    assert [t.workflow for t in recorder.traces] == [workflow]
    [record] = recorder.traces
    assert {s.trace_id for s in recorder.spans} == {record.trace_id}
    return recorder.tree(record.trace_id)


@pytest.fixture(params=["sqlite", "postgres"])
def workspace_url(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[str]:
    """A fresh database: a SQLite file, and a database on the session's PostgreSQL."""
    if request.param == "sqlite":
        yield f"sqlite:///{tmp_path / 'ascent.db'}"
    else:
        server: PostgresServer = request.getfixturevalue("postgres_server")
        yield server.create_database(f"test_{uuid.uuid4().hex[:16]}")
    dispose_engines()
