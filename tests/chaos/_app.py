"""The app the chaos tests and ``bench/chaos.py`` serve (``ascent serve`` of ``create_app``).

One agent, ``Support``, on the mock model (``openai-chat:mock`` at
``OPENAI_BASE_URL``), with the sample tools ``lookup`` and ``refund`` (which
needs approval). Its database and API keys come from ``ASCENT_DATABASE_URL``
and ``ASCENT_API_KEYS``; ``CHAOS_MODEL_TIMEOUT`` and ``CHAOS_RUN_TIMEOUT``
bound a hung model and a run (seconds), ``CHAOS_WAIT_TIMEOUT`` how long a
request waits for its run.
"""

from __future__ import annotations

import contextlib
import os
from collections.abc import AsyncIterator
from typing import Any

AGENT = "Support"


def create_app() -> Any:
    from ascent import Agent
    from ascent.durable import DurableEngine
    from ascent.run.config import RunConfig
    from ascent.server import create_app as make
    from tests.sample_tools import lookup, refund

    database_url = os.environ["ASCENT_DATABASE_URL"]
    agent = Agent(
        name=AGENT,
        instructions="You help customers with their orders.",
        tools=[lookup, refund],
        model="openai-chat:mock",
    )
    engine = DurableEngine(
        agents=[agent],
        database_url=database_url,
        run_config=RunConfig(
            model_timeout=float(os.environ.get("CHAOS_MODEL_TIMEOUT", "1")),
            run_timeout=float(os.environ.get("CHAOS_RUN_TIMEOUT", "30")),
        ),
        poll_interval=0.05,
    )
    app = make(
        engine=engine,
        database_url=database_url,
        wait_timeout=float(os.environ.get("CHAOS_WAIT_TIMEOUT", "5")),
        sse_ping_interval=1.0,
    )
    # create_app leaves an engine it is given to its owner: this factory, whose app
    # starts the engine before the service's own lifespan and stops it after
    service_lifespan = app.router.lifespan_context

    @contextlib.asynccontextmanager
    async def lifespan(served: Any) -> AsyncIterator[None]:
        async with engine, service_lifespan(served):
            yield

    app.router.lifespan_context = lifespan
    return app
