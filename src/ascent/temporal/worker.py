"""Temporal workers that run Ascent agents, and the replayer that checks their histories."""

from __future__ import annotations

import pkgutil
import uuid
from collections.abc import AsyncIterator, Iterator
from contextlib import asynccontextmanager, contextmanager
from pathlib import Path
from typing import Any

from temporalio.client import Client
from temporalio.worker import Replayer, Worker
from temporalio.worker.workflow_sandbox import SandboxedWorkflowRunner, SandboxRestrictions

from ._activities import RunActivities
from ._workflow import AgentRunWorkflow
from .app import TemporalApp, release_app, serve_app

__all__ = ["replaying", "sandbox_restrictions", "sandbox_runner", "serving"]

_WORKFLOW_MODULE = AgentRunWorkflow.__module__


def _ascent_modules() -> list[str]:
    """Every Ascent module but the workflow's own (and the packages above it)."""
    here = Path(__file__).parent
    names = [f"ascent.{m.name}" for m in pkgutil.iter_modules([str(here.parent)])]
    names.remove("ascent.temporal")
    names += [f"ascent.temporal.{m.name}" for m in pkgutil.iter_modules([str(here)])]
    names.remove(_WORKFLOW_MODULE)
    return names


def sandbox_restrictions() -> SandboxRestrictions:
    """Temporal's default restrictions, with Ascent passed through (see :func:`sandbox_runner`)."""
    return SandboxRestrictions.default.with_passthrough_modules(
        *_ascent_modules(), "pydantic", "pydantic_core"
    )


def sandbox_runner() -> SandboxedWorkflowRunner:
    """Temporal's sandbox, with Ascent passed through.

    The sandbox re-imports a workflow's module for each run and checks what it
    calls (no clock, no randomness, no I/O). The workflow's module stays in it;
    the rest of Ascent is passed through, whole: the loop it drives does no
    I/O by design, and the agents the workflow reads are the worker's own
    objects, not copies made by a second import.
    """
    return SandboxedWorkflowRunner(restrictions=sandbox_restrictions())


@asynccontextmanager
async def serving(
    client: Client, app: TemporalApp | Any, *, task_queue: str, **options: Any
) -> AsyncIterator[Worker]:
    """A worker running ``app``'s agents (a :class:`TemporalApp`, or agents) on
    ``task_queue`` until the block ends. ``options`` go to Temporal's ``Worker``."""
    app = TemporalApp.of(app)
    serve_app(task_queue, app)
    activities = RunActivities(app)
    try:
        worker = Worker(
            client,
            task_queue=task_queue,
            workflows=[AgentRunWorkflow],
            activities=[
                activities.execute,
                activities.paused,
                activities.session_history,
                activities.save_items,
                activities.ended,
                activities.take_turn,
            ],
            workflow_runner=sandbox_runner(),
            **options,
        )
        async with worker:
            yield worker
    finally:
        release_app(task_queue, app)


@contextmanager
def replaying(app: TemporalApp | Any) -> Iterator[Replayer]:
    """A :class:`Replayer` of recorded runs of ``app``: replaying a recorded
    history fails if today's code would have taken other steps."""
    app = TemporalApp.of(app)
    build_id = f"ascent-{uuid.uuid4().hex[:12]}"
    # A replayer runs workflows on a task queue of its own, named by its build id.
    task_queue = f"replay-{build_id}"
    serve_app(task_queue, app)
    try:
        yield Replayer(
            workflows=[AgentRunWorkflow], workflow_runner=sandbox_runner(), build_id=build_id
        )
    finally:
        release_app(task_queue, app)
