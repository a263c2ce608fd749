"""``TemporalEngine``: the service's runs executed on Temporal, recorded in the project database.

The service (:func:`ascent.server.create_app`) reads runs through an engine:
their records, tenant by tenant, and the numbered event logs its SSE streams
follow. This engine keeps those where :class:`~ascent.durable.DurableEngine`
keeps them (the project database, through a
:class:`~ascent.durable.runbook.RunBook`), so the API, its tenants and its
clients see the same runs; the runs themselves execute on Temporal workers,
whose :class:`~ascent.temporal.DatabaseRunLog` writes each run's events,
pause and end back to the same database. Starting, deciding and cancelling
go to Temporal; reading stays in the database.
"""

from __future__ import annotations

import contextlib
import dataclasses
import uuid
from collections.abc import AsyncIterator, Mapping, Sequence
from datetime import UTC, datetime
from typing import Any
from urllib.parse import parse_qs, urlsplit

from temporalio.client import Client
from temporalio.service import RPCError

from ..durable import RunEvent, RunRecord, RunStart
from ..durable.records import run_trace_id
from ..durable.runbook import RunBook, input_items
from ..errors import RunConflict, UserError
from ..items import Item, RunUsage, input_to_items
from ..models.base import Model
from ..run.config import DEFAULT_MAX_TURNS, RunConfig
from ..run.registry import AgentRegistry, Agents
from ..run.start import server_state
from ..storage import database_url as default_database_url
from .client import TemporalRuns

__all__ = ["DEFAULT_TASK_QUEUE", "TemporalEngine", "parse_engine_url"]

DEFAULT_TASK_QUEUE = "ascent"


def parse_engine_url(url: str) -> tuple[str, str, str]:
    """``temporal://HOST:PORT/namespace?task_queue=Q`` as (address, namespace, task queue);
    the namespace defaults to ``default``, the task queue to ``ascent``."""
    parts = urlsplit(url)
    if parts.scheme != "temporal" or not parts.netloc:
        raise UserError(f"a Temporal engine's URL is temporal://HOST:PORT/namespace, not {url!r}")
    namespace = parts.path.strip("/") or "default"
    queues = parse_qs(parts.query).get("task_queue", [])
    return parts.netloc, namespace, queues[-1] if queues else DEFAULT_TASK_QUEUE


class TemporalEngine:
    """Runs of ``agents`` on Temporal workers serving ``task_queue``, with their records
    and event logs in ``database_url`` (default: the project database).

    Give it a connected ``client``, or the server's ``address`` (``HOST:PORT``) and
    ``namespace`` to connect to when it starts. The workers must serve the same
    agents with a :class:`~ascent.temporal.DatabaseRunLog` on the same database
    (``ascent worker --temporal HOST:PORT --database-url URL``). ``run_config``,
    ``context`` and ``max_turns`` are the workers' for the runs; here they serve
    what the service runs in process (its MCP tools) and each run's turn limit.
    """

    def __init__(
        self,
        *,
        agents: Agents,
        client: Client | None = None,
        address: str | None = None,
        namespace: str = "default",
        task_queue: str = DEFAULT_TASK_QUEUE,
        database_url: str | None = None,
        model: str | Model | None = None,
        run_config: RunConfig | None = None,
        context: Any = None,
        max_turns: int = DEFAULT_MAX_TURNS,
        poll_interval: float = 0.1,
    ) -> None:
        if client is None and address is None:
            raise UserError("TemporalEngine needs a client or the server's address")
        self.agents = AgentRegistry(agents)
        self.address = address
        self.namespace = namespace
        self.task_queue = task_queue
        self.database_url = database_url or default_database_url()
        config = run_config or RunConfig()
        if model is not None:
            config = dataclasses.replace(config, model=model)
        self.run_config = config
        self.context = context
        self.max_turns = max_turns
        self.book = RunBook(self.database_url, poll_interval=poll_interval)
        self._client = client
        self._runs: TemporalRuns | None = None

    @classmethod
    def from_url(cls, url: str, *, agents: Agents, **options: Any) -> TemporalEngine:
        """An engine for ``temporal://HOST:PORT/namespace`` (``?task_queue=Q`` optional)."""
        address, namespace, task_queue = parse_engine_url(url)
        return cls(
            agents=agents, address=address, namespace=namespace, task_queue=task_queue, **options
        )

    # ----------------------------------------------------------------- lifecycle

    async def start(self) -> None:
        """Connect to Temporal (unless given a client) and open the run records."""
        if self._runs is not None:
            return
        client = self._client
        if client is None:
            assert self.address is not None
            try:
                client = await Client.connect(self.address, namespace=self.namespace)
            except RuntimeError as exc:
                raise UserError(f"cannot reach Temporal at {self.address}: {exc}") from None
            self._client = client
        await self.book.start()
        self._runs = TemporalRuns(client, task_queue=self.task_queue, agents=self.agents)

    async def stop(self) -> None:
        """Stop reading here; runs go on, on the workers."""
        self._runs = None
        await self.book.stop()

    async def __aenter__(self) -> TemporalEngine:
        await self.start()
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.stop()

    @property
    def store(self) -> Any:
        """The run records' tables (what the trace routes read)."""
        return self.book.store

    def _started(self) -> TemporalRuns:
        if self._runs is None:
            raise UserError("the TemporalEngine is not started: call `await engine.start()`")
        return self._runs

    # ---------------------------------------------------------------------- runs

    async def start_runs(self, starts: Sequence[RunStart]) -> list[RunRecord | Exception]:
        """Each of ``starts`` by :meth:`start_run`, in order (an event subscription's
        burst): a Temporal workflow starts with a call of its own."""
        return [await start.start_on(self) for start in starts]

    async def start_run(
        self,
        agent: str,
        input: str | list[Item] | list[dict[str, Any]],
        *,
        session_id: str | None = None,
        tenant: str | None = None,
        run_id: str | None = None,
        durability: str | None = None,
        previous_response_id: str | None = None,
        conversation_id: str | None = None,
    ) -> RunRecord:
        """Record a run of ``agent`` and start its workflow; its record at once.

        A ``run_id`` makes the start idempotent, as with DBOS, and a run on a
        ``session_id`` waits for the session's earlier runs, as with DBOS.
        Temporal records every command of a run, which is DBOS's ``"steps"``: that
        ``durability`` (or none) is taken, the others (fewer records) are refused.
        ``previous_response_id`` or ``conversation_id`` leave the conversation on
        the provider's side; a provider that keeps none is refused here, before
        the run is recorded.
        """
        if durability not in (None, "steps"):
            raise UserError(
                f"durability {durability!r} is not available on the Temporal engine: "
                "Temporal records every command of a run (durability 'steps')"
            )
        runs = self._started()
        found = self.agents.get_agent(agent)
        conversation = server_state(found, self.run_config, previous_response_id, conversation_id)
        items = input_items(input)
        run_id = run_id or uuid.uuid4().hex
        now = datetime.now(UTC)
        record = RunRecord(
            id=run_id,
            agent=agent,
            tenant=tenant,
            session_id=session_id,
            status="running",
            trace_id=None if self.run_config.tracing_disabled else run_trace_id(run_id),
            created_at=now,
            updated_at=now,
        )
        if not await self.book.create(record, events=[("run_started", {"agent": agent}, None)]):
            existing = await self.book.find(run_id)
            if existing is None or existing.tenant != tenant or existing.agent != agent:
                raise RunConflict(f"the run id {run_id!r} is taken by another run")
            if existing.done:  # Temporal would start a closed workflow's id again
                return existing
            record = existing
        try:
            await runs.start(
                agent,
                input_to_items(items),
                run_id=run_id,
                max_turns=self.max_turns,
                session_id=session_id,
                record=True,
                take_turns=True,
                **conversation,
            )
        except RunConflict:  # the same start again: its workflow runs already
            return record
        except Exception as exc:
            await self.book.update(
                run_id,
                status="failed",
                error=f"the run could not start: {exc}",
                usage=RunUsage().model_dump(mode="json"),
                events=[("run_failed", {"error": f"the run could not start: {exc}"}, None)],
            )
            raise
        return record

    async def get_run(self, run_id: str, *, tenant: str | None = None) -> RunRecord:
        return await self.book.get_run(run_id, tenant=tenant)

    async def list_runs(
        self, *, tenant: str | None = None, schedule: str | None = None, limit: int = 50
    ) -> list[RunRecord]:
        return await self.book.list_runs(tenant=tenant, schedule=schedule, limit=limit)

    async def page_runs(self, *, tenant: str | None = None, **filters: Any) -> Any:
        return await self.book.page_runs(tenant=tenant, **filters)

    async def usage(self, *, tenant: str | None = None, since: float | None = None) -> Any:
        return await self.book.usage(tenant=tenant, since=since)

    async def wait_run(
        self, run_id: str, *, tenant: str | None = None, timeout: float | None = None
    ) -> RunRecord:
        return await self.book.wait_run(run_id, tenant=tenant, timeout=timeout)

    def events(
        self, run_id: str, *, after: int = 0, tenant: str | None = None, follow: bool = True
    ) -> AsyncIterator[RunEvent]:
        return self.book.events(run_id, after=after, tenant=tenant, follow=follow)

    async def decide(
        self, run_id: str, decisions: Mapping[str, bool | str], *, tenant: str | None = None
    ) -> RunRecord:
        """Approve (``True``) or reject (``False``, or a reason) pending calls; the
        decision is recorded first (one wins of two racing), then signalled."""
        runs = self._started()
        record, taken = await self.book.decide(run_id, decisions, tenant=tenant)
        await runs.decide(run_id, taken)
        return record

    async def cancel_run(self, run_id: str, *, tenant: str | None = None) -> RunRecord:
        """Record the run as cancelled and cancel its workflow (a command in flight is
        cancelled through its heartbeats)."""
        runs = self._started()
        record, cancelled = await self.book.cancel(run_id, tenant=tenant)
        if cancelled:
            with contextlib.suppress(RPCError):  # its workflow ended meanwhile
                await runs.cancel(run_id)
        return record
