"""A service's Temporal stack for the tests: an engine and an in-process worker on one
database, the worker writing the runs' events, pauses and ends there."""

from __future__ import annotations

import contextlib
import dataclasses
from collections.abc import AsyncIterator, Sequence
from dataclasses import dataclass
from typing import Any

from temporalio.testing import WorkflowEnvironment

from ascent import Agent
from ascent.memory import open_session
from ascent.models.base import Model
from ascent.run.config import RunConfig
from ascent.temporal import DatabaseRunLog, TemporalApp, TemporalEngine, serving


@dataclass
class Stack:
    engine: TemporalEngine
    log: DatabaseRunLog


@contextlib.asynccontextmanager
async def temporal_stack(
    temporal: WorkflowEnvironment,
    task_queue: str,
    database_url: str,
    agents: Sequence[Agent[Any]],
    *,
    model: Model | str | None = None,
    config: RunConfig | None = None,
) -> AsyncIterator[Stack]:
    """An engine (started) and a worker serving ``agents`` on ``task_queue``, with
    ``model`` for every agent, both on ``database_url``."""
    log = DatabaseRunLog(database_url)
    config = config or RunConfig()
    if model is not None:
        config = dataclasses.replace(config, model=model)
    worker_app = TemporalApp(
        agents=list(agents),
        config=config,
        events=log,
        records=log,
        sessions=lambda session_id: open_session(session_id, database_url),
    )
    engine = TemporalEngine(
        agents=list(agents),
        client=temporal.client,
        task_queue=task_queue,
        database_url=database_url,
        model=model,
        poll_interval=0.02,
    )
    try:
        async with serving(temporal.client, worker_app, task_queue=task_queue), engine:
            yield Stack(engine=engine, log=log)
    finally:
        await log.close()
