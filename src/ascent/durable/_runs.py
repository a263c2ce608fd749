"""The body of a durable run's workflow: from its input to its recorded end.

:class:`RunWorkflows` is the part of :class:`~ascent.durable.DurableEngine`
that executes inside DBOS workflows. It makes the run's state through the
public run seam (:mod:`ascent.run.start`), runs the agent loop there with the
durable interpreter, and writes the run's record and run-level events as the
run pauses, resumes and ends. It also knows which runs execute in this
process, so the engine can stop or cancel them.
"""

from __future__ import annotations

import asyncio
import contextvars
import dataclasses
import functools
import logging
import threading
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any

from dbos import DBOS
from pydantic_core import to_jsonable_python

from ..items import RunUsage, input_to_items
from ..lifecycle import RunHooks
from ..memory import open_session
from ..memory.session import read_history
from ..run.config import RunConfig
from ..run.registry import AgentRegistry
from ..run.start import new_state, run_agent
from ..run.state import RunState
from ._cancels import CancelWatch
from ._checkpoint import (
    Checkpoint,
    CheckpointInterpreter,
    CheckpointRun,
    Durability,
    decisions_in_log,
    read_checkpoint,
    wait_for_decisions,
)
from ._inputs import input_items
from ._interpreter import DELTAS, DurableInterpreter, DurableRun, EventLog, LogWriter
from ._leases import Lease, adopt_leases, lease_remover, owned_leases, release_lease
from ._news import RunNews
from ._store import PendingEvent, RunStore
from .records import RunRecord, Schedule, run_trace_id
from .runbook import wait_for_session_turn

if TYPE_CHECKING:
    from sqlalchemy.engine import Connection

__all__ = ["RunSettings", "RunWorkflows"]

logger = logging.getLogger("ascent.durable")


@dataclass(frozen=True, kw_only=True)
class RunSettings:
    """What every durable run of one engine shares (as for :meth:`Runner.run`)."""

    database_url: str
    run_config: RunConfig
    context: Any = None
    hooks: RunHooks[Any] | None = None
    max_turns: int

    def trace_id(self, run_id: str) -> str | None:
        """A durable run's trace id follows from its id: any replica finds it."""
        return None if self.run_config.tracing_disabled else run_trace_id(run_id)


class RunWorkflows:
    """Executes durable runs' workflows, and keeps track of those in this process."""

    def __init__(
        self, *, store: RunStore, news: RunNews, agents: AgentRegistry, settings: RunSettings
    ) -> None:
        self.store = store
        self.news = news
        self.agents = agents
        self.settings = settings
        self._lock = threading.Lock()
        self._tasks: dict[str, tuple[asyncio.AbstractEventLoop, asyncio.Task[Any]]] = {}
        self._finishing: set[str] = set()
        self._fresh: set[str] = set()  # runs started here whose workflow has not begun
        self._leased: set[str] = set()  # runs executing here without a workflow (_leases.py)
        self.log_writer = LogWriter(store)  # the runs' event logs, written together
        self.cancels = CancelWatch(self.interrupt)  # steps runs cancelled by other processes

    # ------------------------------------------------------- runs of this process

    def starting_here(self, run_id: str, tenant: str | None) -> None:
        """The run was just started in this process, and will execute here."""
        with self._lock:
            self._fresh.add(run_id)
        self.news.track(run_id, tenant)

    def did_not_start(self, run_id: str) -> None:
        with self._lock:
            self._fresh.discard(run_id)
        self.news.untrack(run_id)

    def task_of(self, run_id: str) -> asyncio.Task[Any] | None:
        """The task of the run's workflow, if it executes in this process."""
        with self._lock:
            entry = self._tasks.get(run_id)
        return None if entry is None else entry[1]

    def interrupt(self, run_id: str) -> None:
        """Cancel the run's task if it executes in this process (a wait for
        approval does not notice a cancellation by itself)."""
        with self._lock:
            entry = self._tasks.get(run_id)
        if entry is not None:
            loop, task = entry
            loop.call_soon_threadsafe(task.cancel)

    # ------------------------------------------------ runs without a workflow

    def launch(self, run_id: str, lease: Lease) -> None:
        """Execute a leased run here, as a task of this event loop (see :mod:`._leases`):
        a new one (after :meth:`starting_here`) or one resumed."""
        with self._lock:
            if run_id in self._tasks or run_id in self._leased:
                return  # it executes here already
            self._leased.add(run_id)
        coroutine = self.execute(
            run_id,
            lease.agent,
            lease.input,
            lease.session_id,
            durability=lease.durability,
            server_state=lease.server_state,
            leased=True,
        )
        # a context of its own, as a workflow has: nothing of the caller's request
        task = asyncio.get_running_loop().create_task(coroutine, context=contextvars.Context())
        with self._lock:  # stop() finds it even before it runs
            self._tasks.setdefault(run_id, (asyncio.get_running_loop(), task))

    async def resume_owned(self, executor_id: str) -> int:
        """Resume the leased runs ``executor_id`` (this replica) owns and does not run."""
        owned = await self.store.call(owned_leases, self.store, executor_id)
        for run_id, lease in owned:
            self.launch(run_id, lease)
        return len(owned)

    async def adopt(self, dead: str, executor_id: str) -> int:
        """Take the leased runs of the replica ``dead`` (claimed by this one) and resume them."""
        await self.store.call(adopt_leases, self.store, dead, executor_id)
        return await self.resume_owned(executor_id)

    def drop_leased(self) -> None:
        """This replica was taken over while it lived (it missed its heartbeats): its
        leased runs belong to another now, which resumes them. Stop them here."""
        with self._lock:
            dropped = [self._tasks[run][1] for run in self._leased if run in self._tasks]
        for task in dropped:
            task.get_loop().call_soon_threadsafe(task.cancel)

    async def stop(self) -> None:
        """Stop the runs executing on this event loop: those whose end is written
        may record it; the others stay pending, for this replica or another."""
        loop = asyncio.get_running_loop()
        with self._lock:
            mine = {run: task for run, (owner, task) in self._tasks.items() if owner is loop}
            finishing = [task for run, task in mine.items() if run in self._finishing]
        if finishing:
            await asyncio.wait(finishing, timeout=5)
        for task in mine.values():
            task.cancel()
        if mine:
            await asyncio.gather(*mine.values(), return_exceptions=True)
        self.cancels.stop()
        self.news.untrack_all()

    # ----------------------------------------------------------- the workflows

    async def execute(
        self,
        run_id: str,
        agent_name: str,
        items: list[dict[str, Any]],
        session_id: str | None,
        *,
        durability: Durability = "steps",
        server_state: dict[str, str] | None = None,
        leased: bool = False,
    ) -> None:
        """The body of a run's workflow (``server_state``: the ``previous_response_id``
        or ``conversation_id`` it begins with), or of a ``leased`` run's task."""
        task = asyncio.current_task()
        assert task is not None
        with self._lock:
            self._tasks[run_id] = (asyncio.get_running_loop(), task)
        if durability == "steps":  # the others find a cancellation at their next write
            self.cancels.watch(run_id)
        try:
            await self._execute(
                run_id, agent_name, items, session_id, durability, server_state or {}, leased
            )
        finally:
            self.cancels.unwatch(run_id)
            with self._lock:
                self._tasks.pop(run_id, None)
                self._finishing.discard(run_id)
                self._leased.discard(run_id)
            self.news.untrack(run_id)
            # its waiters poll slowly while it runs here: tell them (a cancellation by
            # another process, say, ends it without a record written here)
            self.news.notify(run_id, status=True)

    async def execute_scheduled(self, run_id: str, context: dict[str, Any]) -> None:
        """The body of a run that a cron schedule started: its record first."""
        schedule = Schedule.model_validate(context)
        await DBOS.run_step_async(
            {"name": "create"}, self._create_scheduled_run, run_id, schedule.model_dump(mode="json")
        )
        await self.execute(run_id, schedule.agent, input_items(schedule.input), schedule.session_id)

    async def _execute(
        self,
        run_id: str,
        agent_name: str,
        items: list[dict[str, Any]],
        session_id: str | None,
        durability: Durability,
        server_state: dict[str, str],
        leased: bool,
    ) -> None:
        store = self.store
        settings = self.settings
        with self._lock:
            fresh = run_id in self._fresh
            self._fresh.discard(run_id)
        retried: int | None = None
        logged: dict[int, int] = {}
        checkpoint: Checkpoint | None = None
        if not fresh:  # dequeued, scheduled or recovered: no longer waiting for a replica
            record = await store.call(
                store.update_run, run_id, status="running", only_status="queued"
            )
            if durability != "steps":
                # nothing of it is recorded but its checkpoints and its end
                if record is None and await store.call(_over, store, run_id):
                    if leased:
                        await store.call(release_lease, store, run_id)
                    return
                checkpoint = await store.call(read_checkpoint, store, run_id)
            # a recovered run: was its log written to in the step it resumes at, and
            # how much of its finished steps' events did the log get?
            retried, logged = await store.call(store.logged_steps, run_id, uncounted=DELTAS)
        events = EventLog(
            store,
            run_id,
            notify=self.news.notify,
            retried_step=retried,
            last_seq=1 if fresh else None,  # start_run wrote run_started, seq 1
            logged=logged,
            writer=self.log_writer,
        )
        usage: RunUsage | None = None
        try:
            agent = self.agents.get_agent(agent_name)
            if checkpoint is not None:  # its state, history and all
                data: dict[str, Any] = {"state": checkpoint.state, "unsaved": checkpoint.unsaved}
            elif session_id:
                # runs on one session take turns, in the order they were started
                await self._wait_for_session(run_id, session_id)
                if durability != "steps":  # no checkpoint yet: the session is as it was
                    data = await self._begin(run_id, agent_name, items, session_id, server_state)
                else:  # the history read must be replayed as it was: a step
                    data = await DBOS.run_step_async(
                        {"name": "begin"},
                        self._begin,
                        run_id,
                        agent_name,
                        items,
                        session_id,
                        server_state,
                    )
            else:
                data = await self._begin(run_id, agent_name, items, None, server_state)
            state = RunState.model_validate(data["state"])
            usage = state.usage
            if checkpoint is not None and checkpoint.paused:  # it waits for decisions still
                decisions = await wait_for_decisions(store, self.news, run_id, state.interruptions)
                state.approvals.update(decisions)
            if "unsaved" in data:
                unsaved = input_to_items(data["unsaved"])
            else:
                unsaved = state.input[data["history"] :]
            interpreter: Any
            if durability != "steps":
                run = CheckpointRun(
                    run_id=run_id,
                    store=store,
                    news=self.news,
                    events=events,
                    resumed=checkpoint,
                    every_turn=durability == "turns",
                )
                interpreter = functools.partial(CheckpointInterpreter, checkpoints=run)
            else:
                durable = DurableRun(
                    run_id=run_id,
                    events=events,
                    on_pause=functools.partial(self._on_pause, run_id),
                    on_resume=functools.partial(self._on_resume, run_id),
                    decided=functools.partial(self._decided, run_id),
                )
                interpreter = functools.partial(DurableInterpreter, durable=durable)
            config = settings.run_config
            if not config.tracing_disabled:
                metadata = {"run_id": run_id, **config.trace_metadata}
                config = dataclasses.replace(
                    config, trace_id=settings.trace_id(run_id), trace_metadata=metadata
                )
            session = open_session(session_id, settings.database_url) if session_id else None
            result = await run_agent(
                agent,
                state,
                config=config,
                context=settings.context,
                session=session,
                hooks=settings.hooks,
                emit=events.emit,
                interpreter=interpreter,
                unsaved_input=unsaved,
            )
        except asyncio.CancelledError:
            if leased:
                # stopped (or cancelled here): what it streamed since its last checkpoint
                # goes to the log, for its recovery to void, as it did inside a workflow
                await _quietly(events.flush())
            raise
        except Exception as exc:
            # No step needed to end a run: a replay finds the record ended and writes nothing.
            await _quietly(events.flush())
            error = f"{type(exc).__name__}: {exc}"
            usage_data = (usage or RunUsage()).model_dump(mode="json")
            await store.call(self.fail, run_id, error, usage_data, leased=leased)
            return
        unwritten = await events.take()
        await store.call(
            self._finish,
            run_id,
            to_jsonable_python(result.final_output, fallback=str),
            result.usage.model_dump(mode="json"),
            unwritten=unwritten,
            after=events.last_seq,
            leased=leased,
        )

    async def _begin(
        self,
        run_id: str,
        agent: str,
        items: list[dict[str, Any]],
        session_id: str | None,
        server_state: dict[str, str],
    ) -> dict[str, Any]:
        """The run's first state, and how many of its input items are the session's
        history (the rest is new input, added to the session with the run's items).
        With ``server_state`` the provider holds that history: only the new input is sent."""
        session = open_session(session_id, self.settings.database_url) if session_id else None
        history = await read_history(session) if session is not None else []
        state = new_state(
            agent,
            items,
            history=history,
            max_turns=self.settings.max_turns,
            run_id=run_id,
            previous_response_id=server_state.get("previous_response_id"),
            conversation_id=server_state.get("conversation_id"),
        )
        return {"state": state.model_dump(mode="json"), "history": len(history)}

    async def _wait_for_session(self, run_id: str, session_id: str) -> None:
        """Runs on one session take turns, in the order they were started (see
        :func:`wait_for_session_turn`). No step is needed: on a replay the runs
        before it have ended, and it goes straight on."""
        await wait_for_session_turn(self.store, self.news, run_id, session_id)

    def _create_scheduled_run(self, run_id: str, context: dict[str, Any]) -> None:
        schedule = Schedule.model_validate(context)
        now = datetime.now(UTC)
        self.store.insert_run(
            RunRecord(
                id=run_id,
                agent=schedule.agent,
                tenant=schedule.tenant,
                session_id=schedule.session_id,
                status="running",
                trace_id=self.settings.trace_id(run_id),
                schedule=schedule.name,
                created_at=now,
                updated_at=now,
            ),
            events=[("run_started", {"agent": schedule.agent, "schedule": schedule.name}, None)],
        )

    # ------------------------------------------------------------- the record

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
        # the decision logged run_resumed as it was taken (DurableEngine.decide)
        self._update(run_id, [], status="running", pending=[])

    def _decided(self, run_id: str) -> dict[str, Any] | None:
        """The decisions taken for the run's pause, from its log: those of a
        ``run_resumed`` after the last ``approval_required`` (None: none yet)."""
        record = self.store.get_run(run_id)
        if record is None or record.status != "running":
            return None  # still awaiting approval, or over
        return decisions_in_log(self.store, run_id)

    def _finish(
        self,
        run_id: str,
        output: Any,
        usage: dict[str, Any],
        *,
        unwritten: Sequence[PendingEvent] = (),
        after: int | None = None,
        leased: bool = False,
    ) -> None:
        """Record the run's end, with the events not written yet before it (and,
        for a ``leased`` run, its lease deleted in the same transaction)."""
        with self._lock:
            self._finishing.add(run_id)
        self._end(
            run_id,
            [("run_completed", {"output": output, "usage": usage})],
            unwritten=unwritten,
            after=after,
            leased=leased,
            status="completed",
            output=output,
            usage=usage,
            pending=[],
        )

    def fail(self, run_id: str, error: str, usage: dict[str, Any], *, leased: bool = False) -> None:
        """Record that the run failed (unless it is over already)."""
        with self._lock:
            self._finishing.add(run_id)
        self._end(
            run_id,
            [("run_failed", {"error": error})],
            leased=leased,
            status="failed",
            error=error,
            usage=usage,
            pending=[],
        )

    def _end(
        self, run_id: str, events: list[tuple[str, dict[str, Any]]], *, leased: bool, **values: Any
    ) -> None:
        also = lease_remover(self.store, run_id) if leased else None
        if self._update(run_id, events, once=False, also=also, **values) is None and leased:
            release_lease(self.store, run_id)  # it ended elsewhere (a cancellation)

    def _update(
        self,
        run_id: str,
        events: list[tuple[str, dict[str, Any]]],
        *,
        unwritten: Sequence[PendingEvent] = (),
        once: bool = True,
        after: int | None = None,
        also: Callable[[Connection], None] | None = None,
        **values: Any,
    ) -> RunRecord | None:
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
            also=also,
            **values,
        )
        self.news.notify(run_id, status=True, record=record)
        return record


def _over(store: RunStore, run_id: str) -> bool:
    """Whether the run has ended (its end is its record: a replay writes nothing)."""
    record = store.get_run(run_id)
    return record is None or record.done


async def _quietly(awaitable: Any) -> None:
    try:
        await awaitable
    except Exception:
        logger.exception("could not write a run's events")
