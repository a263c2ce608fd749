"""``DurableEngine``: start agent runs that survive crashes, restarts and deploys.

A run is a DBOS workflow (see :mod:`._interpreter`), or in ``run`` and ``turns``
durability a task the engine owns and recovers itself (see :mod:`._leases`); the engine starts runs,
answers questions about them from the project database, delivers approvals and
cancellations, and keeps this replica's heartbeat. Every method works from any
process on the same database, so a stateless service can run many replicas.

The engine is composed of parts with one job each: :class:`RunWorkflows`
executes the runs' workflows, :class:`RunNews` tells waits and event streams
that a run moved on, :class:`Schedules` keeps cron schedules, and
:class:`Replica` beats this replica's heart and takes over dead ones' runs.
"""

from __future__ import annotations

import asyncio
import contextlib
import dataclasses
import functools
import hashlib
import logging
import os
import uuid
from collections.abc import AsyncIterator, Mapping, Sequence
from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, datetime
from typing import Any

from dbos import DBOS, SetWorkflowID
from dbos._error import DBOSNonExistentWorkflowError

from .._version import __version__
from ..agent import Agent
from ..errors import RunConflict, UserError
from ..items import Item, RunUsage
from ..lifecycle import RunHooks
from ..models.base import Model
from ..run.config import DEFAULT_MAX_TURNS, RunConfig
from ..run.registry import AgentRegistry, Agents
from ..run.start import server_state
from ..storage import database_url as default_database_url
from ..storage import display_url
from ._checkpoint import DURABILITY_MODES, Durability
from ._inputs import input_items
from ._intake import QueuedRun, RunQueueWriter, RunStart, plan_burst
from ._interpreter import APPROVAL_TOPIC
from ._leases import Lease, has_lease, lease_writer, release_lease, write_lease
from ._listen import NewsListener, listen_url
from ._news import RunNews
from ._replicas import Replica
from ._runs import RunSettings, RunWorkflows
from ._setup import dbos_config, fresh_executor_id, route_dbos_logs
from ._store import PendingEvent, RunPage, RunStore, UsageSum
from ._workflows import (
    checkpointed_run_workflow,
    run_workflow,
    set_active,
)
from .records import RunEvent, RunRecord, Schedule
from .runbook import RunBook
from .schedules import Schedules

__all__ = [
    "APP_VERSION_ENV",
    "DURABILITY_ENV",
    "EXECUTOR_ID_ENV",
    "Durability",
    "DurableEngine",
    "RunStart",
    "run_id_for_key",
]

logger = logging.getLogger("ascent.durable")

EXECUTOR_ID_ENV = "ASCENT_EXECUTOR_ID"
RUN_QUEUE = "ascent.durable.runs"
APP_VERSION_ENV = "ASCENT_APP_VERSION"
DURABILITY_ENV = "ASCENT_DURABILITY"


class DurableEngine:
    """Durable runs of ``agents`` on one database (SQLite by default, PostgreSQL for replicas).

    ``app_version`` names the code version DBOS ties pending runs to (default:
    ``ASCENT_APP_VERSION``, else ``ascent-<version>``); ``executor_id`` names this
    replica (default: ``ASCENT_EXECUTOR_ID``, else a fresh id): a replica that
    restarts under the same id resumes its runs at once, others are taken over
    by a live replica once their heartbeat is ``takeover_after`` seconds old.
    ``model`` overrides every agent's model; ``run_config``, ``context``,
    ``hooks`` and ``max_turns`` are as for :meth:`Runner.run`. ``poll_interval`` is how often
    waits and event streams look at the database for news from other processes when
    they cannot hear it: on SQLite, or on PostgreSQL while the connection that
    listens for its ``NOTIFY`` is down (while it is up, they look every ten seconds
    at most, as a safety net).

    By default a run executes on the replica that started it (and moves only
    if that replica dies). With ``worker_concurrency``, runs go through one
    queue in the database that every replica serves, each replica running at
    most that many at once; a run waiting for a free replica is ``queued``.
    ``worker_concurrency=0`` makes a replica that queues runs and runs none
    (an intake that takes events or requests in while worker replicas run them).

    ``durability`` is how much of a run is recorded, for the runs that do not
    choose (default: ``ASCENT_DURABILITY``, else ``"steps"``): ``"steps"``
    records every model call and tool turn, so a crash repeats at most the one
    in flight; ``"run"`` runs the loop in process and writes a checkpoint only
    where the run pauses, hands off or writes its session, so a crash repeats
    what came after the last one; ``"turns"`` checkpoints after each turn too
    (see ``docs/durable.md``).

    ``executor_threads`` bounds the threads that do the blocking work (database
    writes, sync tools). DBOS sets no bound, and under load a replica grew
    hundreds of threads that spent their time contending for the GIL.
    """

    def __init__(
        self,
        *,
        agents: Agents,
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
        executor_threads: int = 16,
        durability: Durability | None = None,
    ) -> None:
        self.agents = AgentRegistry(agents)
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
        self.settings = RunSettings(
            database_url=self.database_url,
            run_config=config,
            context=context,
            hooks=hooks,
            max_turns=max_turns,
        )
        self.poll_interval = poll_interval
        self.scheduler_poll_interval = scheduler_poll_interval
        if worker_concurrency is not None and worker_concurrency < 0:
            raise UserError("worker_concurrency must be 0 (queue only) or more")
        if executor_threads < 1:
            raise UserError("executor_threads must be at least 1")
        self.executor_threads = executor_threads
        self.durability = _durability(durability or os.environ.get(DURABILITY_ENV) or "steps")
        self.worker_concurrency = worker_concurrency
        self.schedules = Schedules(self.agents)
        self._parts: _Parts | None = None
        self._store: RunStore | None = None
        self._book: RunBook | None = None  # the last start's, kept: the tables stay readable
        self._replica: Replica | None = None
        self._owns_dbos = False  # this engine made the process's DBOS (and must destroy it)

    # ----------------------------------------------------------------- lifecycle

    @property
    def run_config(self) -> RunConfig:
        return self.settings.run_config

    @property
    def context(self) -> Any:
        """The context every run's tools and hooks get."""
        return self.settings.context

    @property
    def max_turns(self) -> int:
        return self.settings.max_turns

    async def list_agents(self) -> list[Agent[Any]]:
        return list(self.agents.values())

    @property
    def store(self) -> RunStore:
        """The runs' records and event logs (readable after :meth:`stop` too)."""
        if self._store is None:
            raise UserError("the DurableEngine is not started: call `await engine.start()`")
        return self._store

    async def start(self) -> None:
        """Launch DBOS, resume this replica's pending runs, and start the heartbeat."""
        if self._parts is not None:
            return
        if self._store is None:
            self._store = await asyncio.to_thread(RunStore, self.database_url)
        store = self._store
        news = RunNews(store, poll_interval=self.poll_interval)
        book = self._book = RunBook.sharing(store, news)
        workflows = RunWorkflows(store=store, news=news, agents=self.agents, settings=self.settings)
        set_active(workflows)  # before DBOS launches: it resumes pending runs at once
        listener: NewsListener | None = None
        try:
            route_dbos_logs()
            self._owns_dbos = True
            config = dbos_config(
                self.database_url,
                app_version=self.app_version,
                executor_id=self.executor_id,
                poll_interval=self.poll_interval,
                scheduler_poll_interval=self.scheduler_poll_interval,
                executor_threads=self.executor_threads,
            )
            DBOS(config=config)
            await asyncio.to_thread(DBOS.launch)
            # this loop's blocking work on DBOS's pool of executor_threads, from now on (DBOS
            # does it at its first async call; a leased run may make none)
            await DBOS._configure_asyncio_thread_pool()
            queue_writer = None
            if self.worker_concurrency is not None:
                if self.worker_concurrency:  # a replica serves the queue it registers
                    await DBOS.register_queue_async(
                        RUN_QUEUE,
                        worker_concurrency=self.worker_concurrency,
                        polling_interval_sec=self.poll_interval,
                    )
                queue_writer = RunQueueWriter(
                    store,
                    system_engine=config.get("system_database_engine") or store.engine,
                    queue=RUN_QUEUE,
                    app_version=self.app_version,
                )
            conninfo = listen_url(self.database_url)
            if conninfo is not None:
                listener = NewsListener(conninfo, news)
            self._parts = _Parts(
                store=store,
                news=news,
                workflows=workflows,
                book=book,
                listener=listener,
                queue_writer=queue_writer,
            )
            if listener is not None:  # PostgreSQL: other replicas' news without polling
                await listener.start()
            # the leased runs this replica owned when it stopped (or died), then its heartbeat
            await workflows.resume_owned(self.executor_id)
            self._replica = Replica(
                store,
                executor_id=self.executor_id,
                app_version=self.app_version,
                heartbeat_interval=self.heartbeat_interval,
                takeover_after=self.takeover_after,
                adopt=functools.partial(workflows.adopt, executor_id=self.executor_id),
                lost=workflows.drop_leased,
            )
            await self._replica.start()
        except BaseException:
            if listener is not None:
                await listener.stop()
            if self._owns_dbos:
                await self._shut_down(workflows)
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
        parts, self._parts = self._parts, None
        if parts is not None and parts.listener is not None:
            await parts.listener.stop()
        if parts is not None and parts.queue_writer is not None:
            parts.queue_writer.close()
        if self._owns_dbos and parts is not None:
            await self._shut_down(parts.workflows)
        if self._store is not None:  # its connections of this loop (the rest stay pooled)
            await self._store.on_loop.aclose()

    async def _shut_down(self, workflows: RunWorkflows) -> None:
        await workflows.stop()
        await asyncio.to_thread(DBOS.destroy, workflow_completion_timeout_sec=0)
        # DBOS made its (now shut down) thread pool this loop's default executor
        asyncio.get_running_loop().set_default_executor(
            ThreadPoolExecutor(thread_name_prefix="asyncio")
        )
        self._owns_dbos = False
        self._parts = None
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
        durability: Durability | None = None,
        previous_response_id: str | None = None,
        conversation_id: str | None = None,
    ) -> RunRecord:
        """Start a durable run of ``agent`` and return its record at once.

        With ``session_id`` the run continues that session's conversation. A
        ``run_id`` makes the start idempotent: starting it again returns the
        existing run. ``durability`` overrides the engine's for this run. An
        unknown agent raises :class:`AgentNotFound`.

        ``previous_response_id`` or ``conversation_id`` leave the conversation on
        the provider's side (the OpenAI Responses API), as for :meth:`Runner.run`:
        each model call sends only what the provider has not seen. A provider
        that keeps no conversation raises :class:`ProviderCapabilityError` here,
        before the run is recorded.
        """
        parts = self._started_parts()
        found = self.agents.get_agent(agent)
        mode = _durability(durability or self.durability)
        items = input_items(input)
        server_state = self._server_state(found, previous_response_id, conversation_id)
        run_id = run_id or uuid.uuid4().hex
        # run and turns record nothing per command: no workflow, a lease (see _leases.py);
        # through a queue, a workflow still (the queue is how replicas share runs)
        lease: Lease | None = None
        if mode != "steps" and self.worker_concurrency is None:
            lease = Lease(
                agent=agent,
                input=items,
                session_id=session_id,
                durability=mode,
                server_state=server_state,
            )
        workflow: Any = run_workflow
        args: tuple[Any, ...] = (run_id, agent, items, session_id)
        if mode != "steps":
            workflow, args = checkpointed_run_workflow, (*args, mode)
        if server_state:  # only then: the arguments of other runs stay as they were
            args = (*args, server_state)
        now = datetime.now(UTC)
        record = RunRecord(
            id=run_id,
            agent=agent,
            tenant=tenant,
            session_id=session_id,
            status="running" if self.worker_concurrency is None else "queued",
            trace_id=self.settings.trace_id(run_id),
            created_at=now,
            updated_at=now,
        )
        started = _first_events(record)
        store = parts.store
        also = None if lease is None else lease_writer(store, run_id, self.executor_id, lease)
        if not await store.call(store.insert_run, record, events=started, also=also):
            existing = await store.call(store.get_run, run_id)
            if existing is None or existing.tenant != tenant or existing.agent != agent:
                raise RunConflict(f"the run id {run_id!r} is taken by another run")
            if (
                existing.done
                or await store.call(has_lease, store, run_id)
                or await DBOS.get_workflow_status_async(run_id) is not None
            ):
                return existing
            # The process that wrote the record died before it started the workflow, and
            # nothing else would start it: this request, the same start again, does.
            record = existing
            if lease is not None:
                await store.call(write_lease, store, run_id, self.executor_id, lease)
        if lease is not None:  # it executes here, in a task of this loop
            parts.workflows.starting_here(run_id, tenant)
            parts.workflows.launch(run_id, lease)
            return record
        try:
            with SetWorkflowID(run_id):
                if self.worker_concurrency is not None:  # whichever replica is free runs it
                    await DBOS.enqueue_workflow_async(RUN_QUEUE, workflow, *args)
                else:
                    parts.workflows.starting_here(run_id, tenant)
                    await DBOS.start_workflow_async(workflow, *args)
        except Exception as exc:
            parts.workflows.did_not_start(run_id)
            await store.call(
                parts.workflows.fail,
                run_id,
                f"the run could not start: {exc}",
                RunUsage().model_dump(),
            )
            raise
        return record

    async def start_runs(self, starts: Sequence[RunStart]) -> list[RunRecord | Exception]:
        """Start several runs at once (an event subscription's burst), each as
        :meth:`start_run` would with its ``agent``, ``input``, ``tenant`` and
        ``run_id``, and answer each in order: its record, or the exception
        :meth:`start_run` would raise.

        With ``worker_concurrency`` (runs queued), the new runs' records and queue
        entries are written together, a transaction or two for the whole burst;
        anything unusual (a run id seen before, a failed write) and an engine
        that starts runs where they are asked for go through :meth:`start_run`
        one at a time.
        """
        parts = self._started_parts()
        results: list[RunRecord | Exception | None] = [None] * len(starts)
        batch: list[tuple[int, QueuedRun]] = []
        if parts.queue_writer is not None and len(starts) > 1:
            results, batch = plan_burst(
                starts,
                agents=self.agents,
                durability=_durability(self.durability),
                trace_id=self.settings.trace_id,
            )
        if batch:
            runs = [queued for _, queued in batch]
            try:
                written = await asyncio.to_thread(
                    parts.queue_writer.write,  # type: ignore[union-attr]
                    runs,
                    first_events=_first_events,
                )
            except Exception:
                written = set()
            for index, queued in batch:
                if queued.record.id in written:
                    results[index] = queued.record
        return [
            await start.start_on(self) if result is None else result
            for start, result in zip(starts, results, strict=True)
        ]

    async def get_run(self, run_id: str, *, tenant: str | None = None) -> RunRecord:
        """The run's record; :class:`RunNotFound` if there is none for ``tenant``."""
        return await self._started_parts().book.get_run(run_id, tenant=tenant)

    async def list_runs(
        self, *, tenant: str | None = None, schedule: str | None = None, limit: int = 50
    ) -> list[RunRecord]:
        """The latest runs of ``tenant`` (of one schedule, if given), newest first."""
        return await self._records().list_runs(tenant=tenant, schedule=schedule, limit=limit)

    async def page_runs(self, *, tenant: str | None = None, **filters: Any) -> RunPage:
        """A page of ``tenant``'s runs, newest first, and the ``before`` of the next page
        (None after the last); ``filters`` as for :meth:`RunStore.page_runs`."""
        return await self._records().page_runs(tenant=tenant, **filters)

    async def usage(self, *, tenant: str | None = None, since: float | None = None) -> UsageSum:
        """The summed usage of ``tenant``'s runs created since ``since``, and their count."""
        return await self._records().usage(tenant=tenant, since=since)

    async def wait_run(
        self, run_id: str, *, tenant: str | None = None, timeout: float | None = None
    ) -> RunRecord:
        """Wait until the run is over or waits for approval; after ``timeout``
        seconds, return the record as it is."""
        return await self._started_parts().book.wait_run(run_id, tenant=tenant, timeout=timeout)

    def events(
        self,
        run_id: str,
        *,
        after: int = 0,
        tenant: str | None = None,
        follow: bool = True,
    ) -> AsyncIterator[RunEvent]:
        """The run's events with ``seq > after``; with ``follow``, then the new ones
        as they come, until the run is over or waits for approval."""
        book = self._started_parts().book
        return book.events(run_id, after=after, tenant=tenant, follow=follow)

    async def decide(
        self,
        run_id: str,
        decisions: Mapping[str, bool | str],
        *,
        tenant: str | None = None,
    ) -> RunRecord:
        """Approve (``True``) or reject (``False``, or a reason string) pending tool
        calls by call id. The run resumes wherever it is running.

        Raises :class:`RunConflict` when the run does not wait for these calls
        (it is not waiting at all, another decision won, or a call id is not
        pending), and :class:`UserError` for a decision that is not one.
        """
        parts = self._started_parts()
        # One conditional update: of two decisions racing, exactly one wins. It logs the
        # decision too, so a run whose message is lost (this process dies before sending
        # it) finds the decision in its log when its wait times out.
        record, taken = await parts.book.decide(run_id, decisions, tenant=tenant)
        message = {call_id: d.model_dump(mode="json") for call_id, d in taken.items()}
        # a leased run has no workflow to tell: it hears of the decision from its record
        with contextlib.suppress(DBOSNonExistentWorkflowError):
            await DBOS.send_async(run_id, message, APPROVAL_TOPIC)
        return record

    async def cancel_run(self, run_id: str, *, tenant: str | None = None) -> RunRecord:
        """Stop the run at once (a tool in flight is interrupted). Cancelling a
        cancelled run returns it as it is; a run that completed or failed raises
        :class:`RunConflict`."""
        parts = self._started_parts()
        record, cancelled = await parts.book.cancel(run_id, tenant=tenant)
        if cancelled:
            await DBOS.cancel_workflow_async(run_id)
            parts.workflows.interrupt(run_id)
            # a leased run is over: nobody resumes it (its replica, if another one, stops
            # at its next write, which finds the run cancelled)
            await parts.store.call(release_lease, parts.store, run_id)
        return record

    # ----------------------------------------------------------------- schedules

    async def schedule(
        self,
        name: str,
        agent: str,
        input: str | list[Item] | list[dict[str, Any]],
        *,
        cron: str,
        tenant: str | None = None,
        session_id: str | None = None,
    ) -> Schedule:
        """Run ``agent`` on ``input`` each time ``cron`` fires (five fields, or six
        with seconds first), until :meth:`unschedule`. Replaces a schedule of the
        same name."""
        self._started_parts()
        return await self.schedules.schedule(
            name, agent, input, cron=cron, tenant=tenant, session_id=session_id
        )

    async def list_schedules(self, *, tenant: str | None = None) -> list[Schedule]:
        self._started_parts()
        return await self.schedules.list_schedules(tenant=tenant)

    async def unschedule(self, name: str, *, tenant: str | None = None) -> None:
        """Delete the schedule ``name`` (runs it started are kept)."""
        self._started_parts()
        await self.schedules.unschedule(name, tenant=tenant)

    # ---------------------------------------------------------------- internals

    def _server_state(
        self, agent: Agent[Any], previous_response_id: str | None, conversation_id: str | None
    ) -> dict[str, str]:
        return server_state(agent, self.run_config, previous_response_id, conversation_id)

    def _records(self) -> RunBook:
        """The book over the run tables, for listings: readable after :meth:`stop`
        too, as :attr:`store` is."""
        if self._book is None:
            raise UserError("the DurableEngine is not started: call `await engine.start()`")
        return self._book

    def _started_parts(self) -> _Parts:
        if self._parts is None:
            raise UserError("the DurableEngine is not started: call `await engine.start()`")
        return self._parts


@dataclasses.dataclass(frozen=True, slots=True)
class _Parts:
    """What a started engine works with."""

    store: RunStore
    news: RunNews
    workflows: RunWorkflows
    book: RunBook
    listener: NewsListener | None = None  # on PostgreSQL
    queue_writer: RunQueueWriter | None = None  # with worker_concurrency


def _first_events(record: RunRecord) -> list[PendingEvent]:
    """A new run's log begins with this."""
    return [("run_started", {"agent": record.agent}, None)]


def _durability(value: str) -> Durability:
    if value not in DURABILITY_MODES:
        raise UserError(
            f"durability is one of {', '.join(map(repr, DURABILITY_MODES))}, not {value!r}"
        )
    return value


def run_id_for_key(tenant: str | None, key: str) -> str:
    """The run id an idempotency key stands for, per tenant (tenants never collide):
    the HTTP ``Idempotency-Key`` and an incoming event's id both name a run this way."""
    digest = hashlib.sha256(f"{tenant or ''}\0{key}".encode()).hexdigest()
    return f"idem_{digest[:32]}"
