"""The body of a durable run's workflow: from its input to its recorded end.

The half of :class:`~ascent.durable.DurableEngine` that runs inside DBOS
workflows: it builds the run's state, drives the agent loop through
:func:`ascent.run.runner._execute` with the durable interpreter, and writes the
run's record and run-level events as the run pauses, resumes and ends.
"""

from __future__ import annotations

import asyncio
import dataclasses
import functools
import logging
import threading
from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

from dbos import DBOS
from pydantic_core import to_jsonable_python

from ..items import Item, RunUsage, input_to_items
from ..memory import open_session
from ..run.runner import _execute
from ..run.state import RunState
from ._interpreter import DELTAS, DurableInterpreter, DurableRun, EventLog

if TYPE_CHECKING:
    from ..agent import Agent
    from ..lifecycle import RunHooks
    from ..run.config import RunConfig
    from ._store import PendingEvent, RunStore
    from .records import RunRecord

__all__ = ["RunDriver"]

logger = logging.getLogger("ascent.durable")


class RunDriver:
    """Runs the workflows of durable runs (mixed into the engine)."""

    if TYPE_CHECKING:
        database_url: str
        run_config: RunConfig
        context: Any
        hooks: RunHooks[Any] | None
        max_turns: int
        _lock: threading.Lock
        _tasks: dict[str, tuple[asyncio.AbstractEventLoop, asyncio.Task[Any]]]
        _finishing: set[str]
        _fresh: set[str]
        _local: dict[str, Any]

        @property
        def store(self) -> RunStore: ...

        def _agent(self, name: str) -> Agent[Any]: ...
        def _trace_id(self, run_id: str) -> str | None: ...
        def _notify(
            self, run_id: str, *, status: bool = False, record: RunRecord | None = None
        ) -> None: ...

    async def _drive(
        self, run_id: str, agent_name: str, items: list[dict[str, Any]], session_id: str | None
    ) -> None:
        """The body of a run's workflow (the loop runs inside :func:`_execute`)."""
        task = asyncio.current_task()
        assert task is not None
        with self._lock:
            self._tasks[run_id] = (asyncio.get_running_loop(), task)
        try:
            await self._drive_run(run_id, agent_name, items, session_id)
        finally:
            with self._lock:
                self._tasks.pop(run_id, None)
                self._finishing.discard(run_id)
                self._local.pop(run_id, None)
            # its waiters poll slowly while it runs here: tell them (a cancellation by
            # another process, say, ends it without a record written here)
            self._notify(run_id, status=True)

    async def _drive_run(
        self, run_id: str, agent_name: str, items: list[dict[str, Any]], session_id: str | None
    ) -> None:
        store = self.store
        with self._lock:
            fresh = run_id in self._fresh
            self._fresh.discard(run_id)
        retried: int | None = None
        logged: dict[int, int] = {}
        if not fresh:  # dequeued, scheduled or recovered: no longer waiting for a replica
            await asyncio.to_thread(
                store.update_run, run_id, status="running", only_status="queued"
            )
            # a recovered run: was its log written to in the step it resumes at, and
            # how much of its finished steps' events did the log get?
            retried, logged = await asyncio.to_thread(store.logged_steps, run_id, uncounted=DELTAS)
        events = EventLog(
            store,
            run_id,
            notify=self._notify,
            retried_step=retried,
            last_seq=1 if fresh else None,  # start_run wrote run_started, seq 1
            logged=logged,
        )
        usage: RunUsage | None = None
        try:
            agent = self._agent(agent_name)
            if session_id:  # the history read must be replayed as it was: a step
                data = await DBOS.run_step_async(
                    {"name": "begin"}, self._begin, run_id, agent_name, items, session_id
                )
            else:
                data = await self._begin(run_id, agent_name, items, None)
            state = RunState.model_validate(data)
            usage = state.usage
            durable = DurableRun(
                run_id=run_id,
                events=events,
                on_pause=functools.partial(self._on_pause, run_id),
                on_resume=functools.partial(self._on_resume, run_id),
            )
            config = self.run_config
            if not config.tracing_disabled:
                metadata = {"run_id": run_id, **config.trace_metadata}
                config = dataclasses.replace(
                    config, trace_id=self._trace_id(run_id), trace_metadata=metadata
                )
            result = await _execute(
                agent,
                state,
                context=self.context,
                max_turns=state.max_turns,
                session=open_session(session_id, self.database_url) if session_id else None,
                hooks=self.hooks,
                config=config,
                emit=events.emit,
                interpreter_class=functools.partial(DurableInterpreter, durable=durable),
            )
        except Exception as exc:
            # No step needed to end a run: a replay finds the record ended and writes nothing.
            await _quietly(events.flush())
            error = f"{type(exc).__name__}: {exc}"
            await asyncio.to_thread(
                self._fail, run_id, error, (usage or RunUsage()).model_dump(mode="json")
            )
            return
        unwritten = await events.take()
        await asyncio.to_thread(
            self._finish,
            run_id,
            to_jsonable_python(result.final_output, fallback=str),
            result.usage.model_dump(mode="json"),
            unwritten=unwritten,
            after=events.last_seq,
        )

    async def _begin(
        self, run_id: str, agent: str, items: list[dict[str, Any]], session_id: str | None
    ) -> dict[str, Any]:
        new_input = input_to_items(items)
        history: list[Item] = []
        if session_id:
            session = open_session(session_id, self.database_url)
            history = await session.get_items()
            await session.add_items(new_input)
        state = RunState(
            run_id=run_id,
            starting_agent=agent,
            current_agent=agent,
            input=[*history, *new_input],
            max_turns=self.max_turns,
        )
        return state.model_dump(mode="json")

    def _on_pause(
        self, run_id: str, requests: list[Any], event: dict[str, Any], usage: dict[str, Any]
    ) -> None:
        self._update(
            run_id,
            [("approval_required", event)],
            status="awaiting_approval",
            pending=requests,
            usage=usage,
        )

    def _on_resume(self, run_id: str, decisions: dict[str, Any]) -> None:
        self._update(
            run_id, [("run_resumed", {"decisions": decisions})], status="running", pending=[]
        )

    def _finish(
        self,
        run_id: str,
        output: Any,
        usage: dict[str, Any],
        *,
        unwritten: Sequence[PendingEvent] = (),
        after: int | None = None,
    ) -> None:
        """Record the run's end, with the events not written yet before it."""
        with self._lock:
            self._finishing.add(run_id)
        self._update(
            run_id,
            [("run_completed", {"output": output, "usage": usage})],
            unwritten=unwritten,
            once=False,
            after=after,
            status="completed",
            output=output,
            usage=usage,
            pending=[],
        )

    def _fail(self, run_id: str, error: str, usage: dict[str, Any]) -> None:
        with self._lock:
            self._finishing.add(run_id)
        self._update(
            run_id,
            [("run_failed", {"error": error})],
            once=False,
            status="failed",
            error=error,
            usage=usage,
            pending=[],
        )

    def _update(
        self,
        run_id: str,
        events: list[tuple[str, dict[str, Any]]],
        *,
        unwritten: Sequence[PendingEvent] = (),
        once: bool = True,
        after: int | None = None,
        **values: Any,
    ) -> None:
        """Update an active run's record and log its events (after the run's
        ``unwritten`` ones), ``once``: a step that runs again after a crash does
        not log them twice. (A run's end needs no such check: the record of an
        ended run is not written again.)"""
        step = DBOS.step_id
        record = self.store.update_run(
            run_id,
            events=[*unwritten, *((kind, data, step) for kind, data in events)],
            once=once,
            after=after,
            **values,
        )
        self._notify(run_id, status=True, record=record)


async def _quietly(awaitable: Any) -> None:
    try:
        await awaitable
    except Exception:
        logger.exception("could not write a run's events")
