"""What the service needs of an engine: :class:`RunEngine`, and engines by URL.

The routes start, read, wait for, stream, decide and cancel runs through
these methods only, so any engine that keeps run records and numbered event
logs the same way serves the same API: :class:`~ascent.durable.DurableEngine`
(DBOS, the default) and :class:`~ascent.temporal.TemporalEngine` (Temporal,
``--engine temporal://HOST:PORT/namespace``).
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Mapping, Sequence
from typing import Any, Protocol

from ..durable import RunEvent, RunRecord, RunStart
from ..errors import UserError
from ..run.config import RunConfig
from ..run.registry import AgentRegistry, Agents

__all__ = ["RunEngine", "RunReader", "engine_from_url"]


class RunReader(Protocol):
    """Synchronous reads of run records (the trace routes check a trace's run)."""

    def get_run(self, run_id: str) -> RunRecord | None: ...


class RunEngine(Protocol):
    """An engine the service runs on: agents, run records, event logs, approvals."""

    agents: AgentRegistry
    database_url: str

    @property
    def run_config(self) -> RunConfig: ...

    @property
    def context(self) -> Any: ...

    @property
    def max_turns(self) -> int: ...

    @property
    def store(self) -> RunReader: ...

    async def start(self) -> None: ...

    async def stop(self) -> None: ...

    async def start_run(
        self,
        agent: str,
        input: Any,
        *,
        session_id: str | None = None,
        tenant: str | None = None,
        run_id: str | None = None,
        durability: Any = None,
        previous_response_id: str | None = None,
        conversation_id: str | None = None,
    ) -> RunRecord: ...

    async def start_runs(self, starts: Sequence[RunStart]) -> list[RunRecord | Exception]: ...

    async def get_run(self, run_id: str, *, tenant: str | None = None) -> RunRecord: ...

    async def page_runs(self, *, tenant: str | None = None, **filters: Any) -> Any: ...

    async def usage(self, *, tenant: str | None = None, since: float | None = None) -> Any: ...

    async def wait_run(
        self, run_id: str, *, tenant: str | None = None, timeout: float | None = None
    ) -> RunRecord: ...

    def events(
        self, run_id: str, *, after: int = 0, tenant: str | None = None, follow: bool = True
    ) -> AsyncIterator[RunEvent]: ...

    async def decide(
        self, run_id: str, decisions: Mapping[str, bool | str], *, tenant: str | None = None
    ) -> RunRecord: ...

    async def cancel_run(self, run_id: str, *, tenant: str | None = None) -> RunRecord: ...


def engine_from_url(url: str, *, agents: Agents, **options: Any) -> RunEngine:
    """The engine ``url`` names: ``temporal://HOST:PORT/namespace`` (``?task_queue=Q``)
    for Temporal (needs ``ascent-agents[temporal]``); ``options`` go to it."""
    if not url.startswith("temporal://"):
        raise UserError(
            f"unknown engine {url!r}: the engines are DBOS (the default) and temporal://"
        )
    try:
        from ..temporal.engine import TemporalEngine
    except ImportError as exc:
        raise UserError(
            "the Temporal engine needs Temporal's SDK: pip install 'ascent-agents[temporal]'"
        ) from exc
    return TemporalEngine.from_url(url, agents=agents, **options)
