"""Durable engines started for a test and stopped after it, on one database."""

from __future__ import annotations

from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import asynccontextmanager
from typing import Any

from ascent.durable import DurableEngine

MakeEngine = Callable[..., Awaitable[DurableEngine]]


@asynccontextmanager
async def engine_maker(database_url: str, **defaults: Any) -> AsyncIterator[MakeEngine]:
    """A maker of started :class:`DurableEngine`\\ s on ``database_url`` (``defaults``, then
    each call's options, on top of a short poll interval); all stopped on exit."""
    started: list[DurableEngine] = []

    async def make(**options: Any) -> DurableEngine:
        settings = {"database_url": database_url, "poll_interval": 0.02, **defaults, **options}
        engine = DurableEngine(**settings)
        await engine.start()
        started.append(engine)
        return engine

    try:
        yield make
    finally:
        for engine in started:
            await engine.stop()
