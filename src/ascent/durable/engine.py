"""``DurableEngine``: start agent runs that survive crashes, restarts and deploys.

A run is a DBOS workflow (see :mod:`._interpreter`); the engine starts runs,
answers questions about them from the project database, delivers approvals and
cancellations, and keeps this replica's heartbeat. Every method works from any
process on the same database, so a stateless service can run many replicas.
"""

from __future__ import annotations

import asyncio
import contextlib
import dataclasses
import logging
import os
import threading
import time
import uuid
from collections.abc import AsyncIterator, Mapping, Sequence
from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, datetime
from typing import Any

from dbos import DBOS, DBOSConfig, SetWorkflowID

from .._version import __version__
from ..agent import Agent
from ..errors import UserError
from ..items import Item, RunUsage
from ..lifecycle import RunHooks
from ..models.base import Model
from ..run.commands import ApprovalDecision
from ..run.config import DEFAULT_MAX_TURNS, RunConfig
from ..storage import database_url as default_database_url
from ..storage import display_url
from ._inputs import input_items
from ._interpreter import APPROVAL_TOPIC
from ._replicas import Replica
from ._runs import RunDriver
from ._setup import (
    JSONSerializer,
    dbos_database_url,
    fresh_executor_id,
    route_dbos_logs,
    sqlite_system_engine,
)
from ._store import RunStore
from ._workflows import run_workflow, set_active
from .records import TERMINAL_STATUSES, AgentNotFound, RunEvent, RunNotFound, RunRecord
from .schedules import Schedules

__all__ = ["APP_VERSION_ENV", "EXECUTOR_ID_ENV", "DurableEngine"]

logger = logging.getLogger("ascent.durable")

EXECUTOR_ID_ENV = "ASCENT_EXECUTOR_ID"
RUN_QUEUE = "ascent.durable.runs"
APP_VERSION_ENV = "ASCENT_APP_VERSION"
_STOP_FOLLOWING = TERMINAL_STATUSES | {"awaiting_approval"}
_MAX_POLL_INTERVAL = 1.0
# A run that runs in this process tells its waits and streams what it writes; they
# read the database only for what other processes do (a cancellation): less often.
_LOCAL_POLL_INTERVAL = 1.0
_LOCAL_MAX_POLL_INTERVAL = 10.0


def _now() -> datetime:
    return datetime.now(UTC)


class DurableEngine(RunDriver, Schedules):
    """Durable runs of ``agents`` on one database (SQLite by default, PostgreSQL for replicas).

    ``app_version`` names the code version DBOS ties pending runs to (default:
    ``ASCENT_APP_VERSION``, else ``ascent-<version>``); ``executor_id`` names this
    replica (default: ``ASCENT_EXECUTOR_ID``, else a fresh id): a replica that
    restarts under the same id resumes its runs at once, others are taken over
    by a live replica once their heartbeat is ``takeover_after`` seconds old.
    ``model`` overrides every agent's model; ``run_config``, ``context``,
    ``hooks`` and ``max_turns`` are as for :meth:`Runner.run`. ``poll_interval`` is how often
    waits and event streams look at the database for news from other processes.

    By default a run executes on the replica that started it (and moves only
    if that replica dies). With ``worker_concurrency``, runs go through one
    queue in the database that every replica serves, each replica running at
    most that many at once; a run waiting for a free replica is ``queued``.

    ``executor_threads`` bounds the threads that do the blocking work (database
    writes, sync tools). DBOS sets no bound, and under load a replica grew
    hundreds of threads that spent their time contending for the GIL.
    """

    def __init__(
        self,
        *,
        agents: Mapping[str, Agent[Any]] | Sequence[Agent[Any]],
        database_url: str | None = None,
        app_version: str | None = None,
        executor_id: str | None = None,
        model: str | Model | None = None,
        heartbeat_interval: float = 5.0,
        takeover_after: float = 30.0,
        run_config: RunConfig | None = None,
        context: Any = None,
        hooks: RunHooks[Any] | None = None,
        max_turns: int = DEFAULT_MAX_TURNS,
        poll_interval: float = 0.1,
        scheduler_poll_interval: float = 10.0,
        worker_concurrency: int | None = None,
        executor_threads: int = 32,
    ) -> None:
        self._agents = _agent_map(agents)
        self.database_url = database_url or default_database_url()
        self.app_version = app_version or os.environ.get(APP_VERSION_ENV) or f"ascent-{__version__}"
        self.executor_id = executor_id or os.environ.get(EXECUTOR_ID_ENV) or fresh_executor_id()
        if takeover_after <= heartbeat_interval:
            raise UserError("takeover_after must be longer than heartbeat_interval")
        self.heartbeat_interval = heartbeat_interval
        self.takeover_after = takeover_after
        config = run_config or RunConfig()
        if model is not None:
            config = dataclasses.replace(config, model=model)
        self.run_config = config
        self.context = context
        self.hooks = hooks
        self.max_turns = max_turns
        self.poll_interval = poll_interval
        self.scheduler_poll_interval = scheduler_poll_interval
        if worker_concurrency is not None and worker_concurrency < 1:
            raise UserError("worker_concurrency must be at least 1")
        if executor_threads < 1:
            raise UserError("executor_threads must be at least 1")
        self.executor_threads = executor_threads
        self.worker_concurrency = worker_concurrency
        self._store: RunStore | None = None
        self._replica: Replica | None = None
        self._started = False
        self._owns_dbos = False  # this engine made the process's DBOS (and must destroy it)
        self._tasks: dict[str, tuple[asyncio.AbstractEventLoop, asyncio.Task[Any]]] = {}
        self._finishing: set[str] = set()
        self._fresh: set[str] = set()  # runs started here whose workflow has not begun
        self._local: dict[str, _LocalRun] = {}  # runs started here that run here, until they end
        self._waiters: dict[str, set[_Waiter]] = {}  # run id -> this process's waits
        self._lock = threading.Lock()

    # ----------------------------------------------------------------- lifecycle

    @property
    def agents(self) -> Mapping[str, Agent[Any]]:
        return self._agents

    async def list_agents(self) -> list[Agent[Any]]:
        return list(self._agents.values())

    @property
    def store(self) -> RunStore:
        if self._store is None:
            raise UserError("the DurableEngine is not started: call `await engine.start()`")
        return self._store

    async def start(self) -> None:
        """Launch DBOS, resume this replica's pending runs, and start the heartbeat."""
        if self._started:
            return
        set_active(self)
        try:
            self._store = await asyncio.to_thread(RunStore, self.database_url)
            system_url = dbos_database_url(self.database_url)
            config: DBOSConfig = {
                "name": "ascent",
                "system_database_url": system_url,
                "application_version": self.app_version,
                "executor_id": self.executor_id,
                "serializer": JSONSerializer(),
                "log_level": "WARNING",
                "notification_listener_polling_interval_sec": self.poll_interval,
                "scheduler_polling_interval_sec": self.scheduler_poll_interval,
                "max_executor_threads": self.executor_threads,
            }
            if self.database_url.startswith("sqlite"):
                config["system_database_engine"] = sqlite_system_engine(system_url)
            else:
                # DBOS retries its operations when a connection turns out dead, so the
                # ping before each use (a round trip, a dozen per run) buys nothing.
                config["db_engine_kwargs"] = {"pool_pre_ping": False}
            route_dbos_logs()
            self._owns_dbos = True
            DBOS(config=config)
            await asyncio.to_thread(DBOS.launch)
            if self.worker_concurrency is not None:
                await DBOS.register_queue_async(
                    RUN_QUEUE,
                    worker_concurrency=self.worker_concurrency,
                    polling_interval_sec=self.poll_interval,
                )
            self._started = True
            self._replica = Replica(
                self._store,
                executor_id=self.executor_id,
                app_version=self.app_version,
                heartbeat_interval=self.heartbeat_interval,
                takeover_after=self.takeover_after,
            )
            await self._replica.start()
        except BaseException:
            if self._owns_dbos:
                await self.stop()
            else:
                set_active(None)
            raise
        logger.info(
            "durable engine %s (version %s) on %s",
            self.executor_id,
            self.app_version,
            display_url(self.database_url),
        )

    async def stop(self) -> None:
        """Stop this replica. Runs in flight stay pending in the database, not cut
        mid-write: this replica resumes them when it starts again under the same
        executor id, or another replica takes them over."""
        if self._replica is not None:
            await self._replica.stop()
            self._replica = None
        if not self._owns_dbos:
            return  # never started, or stopped already
        loop = asyncio.get_running_loop()
        with self._lock:
            mine = {run: task for run, (owner, task) in self._tasks.items() if owner is loop}
            finishing = [task for run, task in mine.items() if run in self._finishing]
        if finishing:  # their outcome is written: let DBOS record the workflow's end too
            await asyncio.wait(finishing, timeout=5)
        for task in mine.values():
            task.cancel()
        if mine:
            await asyncio.gather(*mine.values(), return_exceptions=True)
        with self._lock:  # runs that never began here are no longer this process's
            self._local.clear()
        await asyncio.to_thread(DBOS.destroy, workflow_completion_timeout_sec=0)
        # DBOS made its (now shut down) thread pool this loop's default executor
        loop.set_default_executor(ThreadPoolExecutor(thread_name_prefix="asyncio"))
        self._owns_dbos = self._started = False
        set_active(None)

    async def __aenter__(self) -> DurableEngine:
        await self.start()
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.stop()

    # ---------------------------------------------------------------------- runs

    async def start_run(
        self,
        agent: str,
        input: str | list[Item] | list[dict[str, Any]],
        *,
        session_id: str | None = None,
        tenant: str | None = None,
        run_id: str | None = None,
    ) -> RunRecord:
        """Start a durable run of ``agent`` and return its record at once.

        With ``session_id`` the run continues that session's conversation. A
        ``run_id`` makes the start idempotent: starting it again returns the
        existing run.
        """
        self._agent(agent)
        items = input_items(input)
        run_id = run_id or uuid.uuid4().hex
        now = _now()
        record = RunRecord(
            id=run_id,
            agent=agent,
            tenant=tenant,
            session_id=session_id,
            status="running" if self.worker_concurrency is None else "queued",
            trace_id=self._trace_id(run_id),
            created_at=now,
            updated_at=now,
        )
        started = [("run_started", {"agent": agent}, None)]
        if not await asyncio.to_thread(self.store.insert_run, record, events=started):
            existing = await asyncio.to_thread(self.store.get_run, run_id)
            if existing is None or existing.tenant != tenant or existing.agent != agent:
                raise UserError(f"the run id {run_id!r} is taken by another run")
            return existing
        try:
            with SetWorkflowID(run_id):
                if self.worker_concurrency is not None:  # whichever replica is free runs it
                    await DBOS.enqueue_workflow_async(
                        RUN_QUEUE, run_workflow, run_id, agent, items, session_id
                    )
                else:
                    with self._lock:
                        self._fresh.add(run_id)
                        self._local[run_id] = _LocalRun(tenant)
                    await DBOS.start_workflow_async(run_workflow, run_id, agent, items, session_id)
        except Exception as exc:
            with self._lock:
                self._fresh.discard(run_id)
                self._local.pop(run_id, None)
            await asyncio.to_thread(
                self._fail, run_id, f"the run could not start: {exc}", RunUsage().model_dump()
            )
            raise
        return record

    async def get_run(self, run_id: str, *, tenant: str | None = None) -> RunRecord:
        """The run's record; :class:`RunNotFound` if there is none for ``tenant``."""
        record = await asyncio.to_thread(self.store.get_run, run_id)
        if record is None or record.tenant != tenant:
            raise RunNotFound(run_id)
        return record

    async def wait_run(
        self, run_id: str, *, tenant: str | None = None, timeout: float | None = None
    ) -> RunRecord:
        """Wait until the run is over or waits for approval; after ``timeout``
        seconds, return the record as it is."""
        deadline = None if timeout is None else time.monotonic() + timeout
        pause = self._first_pause(run_id)
        # A run this process runs hands its waits its record when it ends: no read first.
        local = self._local_news(run_id, tenant) if timeout is None or timeout > 0 else None
        if isinstance(local, RunRecord):
            return local
        while True:
            left = None if deadline is None else deadline - time.monotonic()
            if local is None:
                record = await self.get_run(run_id, tenant=tenant)
                if record.status in _STOP_FOLLOWING:
                    return record
                if left is not None and left <= 0:
                    return record
            waiter = await self._wait_news(
                run_id,
                pause if left is None else max(0.0, min(left, pause)),
                status_only=True,
                waiter=local,
            )
            local = None
            news = waiter.record if waiter is not None else None
            if news is not None and news.status in _STOP_FOLLOWING and news.tenant == tenant:
                return news  # this process wrote it just now: no need to read it back
            expired = deadline is not None and time.monotonic() >= deadline
            if waiter is None and pause < _LOCAL_MAX_POLL_INTERVAL and not expired:
                # No news of a run still running here is no news: DBOS interrupts it if
                # another process cancels it, and its end wakes us. Read only now and then.
                local = self._local_news(run_id, tenant)
                if isinstance(local, RunRecord):
                    return local
            pause = self._next_pause(run_id, pause, woken=waiter is not None)

    async def decide(
        self,
        run_id: str,
        decisions: Mapping[str, bool | str],
        *,
        tenant: str | None = None,
    ) -> RunRecord:
        """Approve (``True``) or reject (``False``, or a reason string) pending tool
        calls by call id. The run resumes wherever it is running."""
        record = await self.get_run(run_id, tenant=tenant)
        if record.status != "awaiting_approval":
            raise UserError(f"run {run_id!r} is not waiting for approval (it is {record.status})")
        pending = {request.call_id: request for request in record.pending_approvals}
        unknown = [call_id for call_id in decisions if call_id not in pending]
        if unknown or not decisions:
            raise UserError(
                f"no pending tool call {', '.join(map(repr, unknown)) or '(none given)'} in run "
                f"{run_id!r}; pending: {', '.join(pending) or 'none'}"
            )
        message = {k: _decision(v).model_dump(mode="json") for k, v in decisions.items()}
        remaining = [r for call_id, r in pending.items() if call_id not in decisions]
        updated = await asyncio.to_thread(
            self.store.update_run, run_id, status="running", pending=remaining
        )
        await DBOS.send_async(run_id, message, APPROVAL_TOPIC)
        self._notify(run_id, status=True, record=updated)
        return updated or await self.get_run(run_id, tenant=tenant)

    async def cancel_run(self, run_id: str, *, tenant: str | None = None) -> RunRecord:
        """Stop the run at once (a tool in flight is interrupted). A run that is
        over already raises :class:`UserError`."""
        record = await self.get_run(run_id, tenant=tenant)
        if record.done:
            raise UserError(f"run {run_id!r} cannot be cancelled: it is {record.status} already")
        updated = await asyncio.to_thread(
            self.store.update_run,
            run_id,
            status="cancelled",
            pending=[],
            events=[("run_cancelled", {"run_id": run_id}, None)],
        )
        await DBOS.cancel_workflow_async(run_id)
        with self._lock:
            entry = self._tasks.get(run_id)
        if entry is not None:  # a wait for approval does not notice cancellation by itself
            loop, task = entry
            loop.call_soon_threadsafe(task.cancel)
        self._notify(run_id, status=True, record=updated)
        return updated or await self.get_run(run_id, tenant=tenant)

    async def events(
        self,
        run_id: str,
        *,
        after: int = 0,
        tenant: str | None = None,
        follow: bool = True,
    ) -> AsyncIterator[RunEvent]:
        """The run's events with ``seq > after``; with ``follow``, then the new ones
        as they come, until the run is over or waits for approval."""
        await self.get_run(run_id, tenant=tenant)
        last = after
        pause = self._first_pause(run_id)
        while True:
            record, batch = await asyncio.to_thread(
                self.store.read_run_and_events, run_id, after=last
            )
            for event in batch:
                yield event
                last = event.seq
            if batch:
                continue  # there may be more already: read again before waiting
            if not follow or record is None or record.status in _STOP_FOLLOWING:
                return
            waiter = await self._wait_news(run_id, pause)
            pause = self._next_pause(run_id, pause, woken=waiter is not None)

    # ---------------------------------------------------------------- internals

    def _agent(self, name: str) -> Agent[Any]:
        agent = self._agents.get(name)
        if agent is None:
            known = ", ".join(sorted(self._agents)) or "none"
            raise AgentNotFound(f"no agent named {name!r} (agents: {known})")
        return agent

    def _trace_id(self, run_id: str) -> str | None:
        return None if self.run_config.tracing_disabled else f"trace_{run_id}"

    def _notify(
        self, run_id: str, *, status: bool = False, record: RunRecord | None = None
    ) -> None:
        """Wake the streams of this process that follow ``run_id`` (and its waits too,
        when its ``status`` changed), handing them the ``record`` just written."""
        with self._lock:
            waiters = list(self._waiters.get(run_id, ()))
            local = self._local.get(run_id)
            if local is not None and record is not None:
                local.record = record
        for waiter in waiters:
            if waiter.status_only and not status:
                continue
            if record is not None:
                waiter.record = record
            with contextlib.suppress(RuntimeError):  # RuntimeError: that loop is closed
                waiter.loop.call_soon_threadsafe(waiter.event.set)

    def _first_pause(self, run_id: str) -> float:
        if run_id in self._local:
            return max(self.poll_interval, _LOCAL_POLL_INTERVAL)
        return self.poll_interval

    def _next_pause(self, run_id: str, pause: float, *, woken: bool) -> float:
        """How long the next wait for news lasts. This process's own runs wake their
        waiters at once; the database is polled for news from elsewhere, less and
        less often while nothing happens (up to once a second, every ten seconds
        for the runs of this process), so many idle waiters cost the database little."""
        if woken:
            return self._first_pause(run_id)
        most = _LOCAL_MAX_POLL_INTERVAL if run_id in self._local else _MAX_POLL_INTERVAL
        return min(pause * 2, max(self.poll_interval, most))

    def _local_news(self, run_id: str, tenant: str | None) -> RunRecord | _Waiter | None:
        """For a running run of ``tenant`` that this process runs: its record if it has
        ended already, else a waiter for its status, registered in the same breath
        so no news slips between. None: the database has to be asked."""
        with self._lock:
            local = self._local.get(run_id)
            if local is None or local.tenant != tenant:
                return None
            if local.record is not None:
                if local.record.done:  # an end is final: any later read would say the same
                    return local.record
                if local.record.status in _STOP_FOLLOWING:
                    return None  # paused: another replica may have resumed it since
            waiter = _Waiter(asyncio.get_running_loop(), True)
            self._waiters.setdefault(run_id, set()).add(waiter)
            return waiter

    async def _wait_news(
        self,
        run_id: str,
        timeout: float,
        *,
        status_only: bool = False,
        waiter: _Waiter | None = None,
    ) -> _Waiter | None:
        """Wait up to ``timeout`` for news of the run (with ``waiter`` if one is
        registered already): the woken waiter, or None."""
        entry = waiter
        if entry is None:
            entry = _Waiter(asyncio.get_running_loop(), status_only)
            with self._lock:
                self._waiters.setdefault(run_id, set()).add(entry)
        try:
            await asyncio.wait_for(entry.event.wait(), timeout)
            return entry
        except TimeoutError:
            return None
        finally:
            with self._lock:
                waiters = self._waiters.get(run_id)
                if waiters is not None:
                    waiters.discard(entry)
                    if not waiters:
                        del self._waiters[run_id]


class _LocalRun:
    """A run started and run by this process: whose it is, and its latest record
    as written here (what its waits return without reading it back)."""

    __slots__ = ("record", "tenant")

    def __init__(self, tenant: str | None) -> None:
        self.tenant = tenant
        self.record: RunRecord | None = None


class _Waiter:
    """One wait of this process for news of a run (see ``DurableEngine._notify``)."""

    __slots__ = ("event", "loop", "record", "status_only")

    def __init__(self, loop: asyncio.AbstractEventLoop, status_only: bool) -> None:
        self.loop = loop
        self.event = asyncio.Event()
        self.status_only = status_only
        self.record: RunRecord | None = None  # the run as this process just wrote it


def _agent_map(agents: Mapping[str, Agent[Any]] | Sequence[Agent[Any]]) -> dict[str, Agent[Any]]:
    if isinstance(agents, Mapping):
        result = dict(agents)
    else:
        result = {}
        for agent in agents:
            if agent.name in result:
                raise UserError(f"two agents are named {agent.name!r}")
            result[agent.name] = agent
    for name, agent in result.items():
        if not isinstance(agent, Agent):
            raise UserError(f"agents[{name!r}] is not an Agent but {type(agent).__name__}")
    return result


def _decision(value: bool | str) -> ApprovalDecision:
    if value is True:
        return ApprovalDecision(approved=True)
    if value is False:
        return ApprovalDecision(approved=False)
    if isinstance(value, str):
        return ApprovalDecision(approved=False, reason=value)
    raise UserError(f"a decision is True, False or a reason string, not {value!r}")
