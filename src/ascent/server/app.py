"""The app factory: a stateless FastAPI service over the durable engine.

Nothing a request needs is kept in memory between requests: runs, their event
logs, sessions and traces are in the database, so any number of replicas behind
a load balancer serve any request. The lifespan starts the engine (which
recovers this replica's pending runs) and stops it gracefully: in-flight runs
stay with the durable engine and are resumed, never cut mid-write.
"""

from __future__ import annotations

import contextlib
import os
from collections.abc import AsyncIterator, Mapping, Sequence

from fastapi import FastAPI
from starlette.applications import Starlette

from .._private.http_guard import GuardConfig, RequestGuard
from .._version import __version__
from ..durable import Durability, DurableEngine
from ..errors import UserError
from ..events import BROKER_URL_ENV, SUBSCRIPTIONS_ENV, EventService, Subscription
from ..models import serving_openai_client
from ..models.base import Model
from ..run.config import RunConfig
from ..run.registry import Agents
from ..tracing import get_trace_provider
from ._errors import install_error_handlers
from ._limits import BodyLimit
from ._metrics import Metrics
from ._state import ServiceState
from .config import (
    DEFAULT_BODY_TIMEOUT,
    DEFAULT_MAX_INPUT_BYTES,
    DEFAULT_MODEL_TIMEOUT,
    DEFAULT_RUN_TIMEOUT,
    ServiceConfig,
    parse_api_keys,
    time_limit,
)
from .engine import RunEngine, engine_from_url
from .routes import (
    agents_router,
    health_router,
    memories_router,
    runs_router,
    sessions_router,
    traces_router,
    usage_router,
)

__all__ = ["create_app"]


def create_app(
    agents: Agents | None = None,
    *,
    engine: RunEngine | str | None = None,
    database_url: str | None = None,
    traces_url: str | None = None,
    api_keys: Mapping[str, str] | str | None = None,
    max_input_bytes: int = DEFAULT_MAX_INPUT_BYTES,
    body_timeout: float = DEFAULT_BODY_TIMEOUT,
    wait_timeout: float = 30.0,
    sse_ping_interval: float = 15.0,
    model: str | Model | None = None,
    model_timeout: float | None = None,
    run_timeout: float | None = None,
    app_version: str | None = None,
    executor_id: str | None = None,
    durability: Durability | None = None,
    a2a: bool = False,
    mcp: bool = False,
    allowed_hosts: Sequence[str] | str | None = None,
    allowed_origins: Sequence[str] | None = None,
    title: str = "Ascent service",
    console: bool = True,
    events: EventService | bool | None = None,
    subscriptions: Sequence[Subscription] | None = None,
) -> FastAPI:
    """The service for ``agents``: REST + SSE over a durable engine.

    ``database_url`` holds runs, sessions and traces (default: the project
    database; ``postgresql://...`` for several replicas); traces are read from
    ``traces_url`` (default: the project database, where runs' traces are
    written unless tracing is configured otherwise). ``api_keys`` maps
    bearer tokens to tenants (or is ``"key:tenant,..."``); ``None`` reads
    ``ASCENT_API_KEYS``, and an empty mapping turns authentication off. A request
    body over ``max_input_bytes`` is a 413; one that does not arrive in full
    within ``body_timeout`` seconds a 408. Pass an
    ``engine`` to share one you start and stop yourself, or an engine's URL
    (``temporal://HOST:PORT/namespace``: runs execute on Temporal workers, see
    ``docs/temporal.md``; ``model``, ``database_url`` and the time limits go to
    it); otherwise the app makes a :class:`DurableEngine` (``model``,
    ``app_version``, ``executor_id``, ``durability`` (default:
    ``ASCENT_DURABILITY``, else ``"steps"``) go to it, and the time
    limits: ``model_timeout`` seconds for each attempt of a model call and
    ``run_timeout`` seconds of work for a run; ``None`` reads
    ``ASCENT_MODEL_TIMEOUT`` and ``ASCENT_RUN_TIMEOUT``, else 120 and 1800; ``0``
    is no limit) and owns
    its lifecycle. ``a2a=True`` also serves each agent over A2A under
    ``/a2a/<agent>`` (needs the ``a2a`` extra); ``mcp=True`` serves the agents
    as MCP tools at ``/mcp``, streamable HTTP (needs the ``mcp`` extra). Both
    are behind the same API keys. ``console=True`` (the default) serves the
    console, a web UI over this same API, at ``/ui`` (its static files need no
    key; everything they show comes from the API, with the user's key).

    Every request, keys or not, must name an allowed ``Host`` (421), come from
    an allowed ``Origin`` if it changes state (403) and send JSON if it has a
    body (415). ``allowed_hosts`` (patterns such as ``api.example.com``,
    ``*.example.com:8443`` or ``*``, or one comma-separated string of them;
    ``None`` reads ``ASCENT_ALLOWED_HOSTS``) extends the loopback names; unset,
    a request on a loopback connection must name a loopback host, and others
    may name any. ``allowed_origins`` replaces the default allowed origins
    (those of the allowed hosts); a request's own host is always one.

    ``events`` runs an :class:`~ascent.events.EventService` beside the engine
    (started after it, stopped before): lifecycle events published to the
    broker ``ASCENT_BROKER_URL`` names, and ``subscriptions`` (default:
    ``ASCENT_SUBSCRIPTIONS``) starting runs. ``True`` makes one, ``None`` (the
    default) makes one when subscriptions are given or either variable is set.
    With ``ASCENT_BROKER_URL=dapr://<pubsub>`` the app also answers its Dapr
    sidecar: ``GET /dapr/subscribe`` and the routes events are delivered to.
    """
    keys = parse_api_keys(api_keys) if api_keys is None or isinstance(api_keys, str) else api_keys
    guard = GuardConfig.from_options(allowed_hosts=allowed_hosts, allowed_origins=allowed_origins)
    config = ServiceConfig(
        api_keys=dict(keys),
        max_input_bytes=max_input_bytes,
        body_timeout=body_timeout,
        wait_timeout=wait_timeout,
        sse_ping_interval=sse_ping_interval,
        database_url=database_url,
        traces_url=traces_url,
        allowed_hosts=guard.allowed_hosts,
        allowed_origins=guard.allowed_origins,
    )
    owns_engine = engine is None or isinstance(engine, str)
    run_config = RunConfig(
        model_timeout=time_limit(model_timeout, "ASCENT_MODEL_TIMEOUT", DEFAULT_MODEL_TIMEOUT),
        run_timeout=time_limit(run_timeout, "ASCENT_RUN_TIMEOUT", DEFAULT_RUN_TIMEOUT),
    )
    if isinstance(engine, str):
        if agents is None:
            raise UserError("create_app needs agents to serve on an engine given by URL")
        if durability not in (None, "steps"):
            raise UserError(
                f"durability {durability!r} is not available on the engine {engine}: "
                "Temporal records every command of a run (durability 'steps')"
            )
        engine = engine_from_url(
            engine, agents=agents, database_url=database_url, model=model, run_config=run_config
        )
    elif engine is None:
        if agents is None:
            raise UserError("create_app needs agents (or an engine that has them)")
        engine = DurableEngine(
            agents=agents,
            database_url=database_url,
            app_version=app_version,
            executor_id=executor_id,
            durability=durability,
            model=model,
            run_config=run_config,
        )
    elif agents is not None:
        raise UserError("give the agents to the engine, not to create_app: the engine runs them")
    if not engine.agents:
        raise UserError("create_app needs at least one agent")
    service = _event_service(engine, events, subscriptions)
    state = ServiceState(
        config=config, engine=engine, metrics=Metrics(), owns_engine=owns_engine, events=service
    )

    mounted: list[Starlette] = []

    @contextlib.asynccontextmanager
    async def lifespan(_app: FastAPI) -> AsyncIterator[None]:
        async with contextlib.AsyncExitStack() as stack:
            # entered first, closed last: the engine's runs use it until they stop
            await stack.enter_async_context(serving_openai_client())
            if state.owns_engine:
                await state.engine.start()
                stack.push_async_callback(state.engine.stop)
            if state.events is not None:
                await state.events.start(state.engine)
                stack.push_async_callback(state.events.stop)
            state.metrics.attach(get_trace_provider())
            stack.callback(state.metrics.detach)
            for sub_app in mounted:  # mounted apps' lifespans do not run on their own
                await stack.enter_async_context(sub_app.router.lifespan_context(sub_app))
            yield

    app = FastAPI(
        title=title,
        version=__version__,
        description="Run agents durably over HTTP: start runs, stream their events, "
        "approve tool calls, read sessions and traces.",
        lifespan=lifespan,
    )
    app.add_middleware(BodyLimit, max_bytes=config.max_input_bytes, timeout=config.body_timeout)
    app.add_middleware(RequestGuard, config=guard)  # the outermost: it reads no body
    app.state.ascent = state
    install_error_handlers(app)
    for router in (
        health_router,
        agents_router,
        runs_router,
        sessions_router,
        traces_router,
        usage_router,
        memories_router,
    ):
        app.include_router(router)
    if service is not None:
        from ..events.dapr import DaprBroker

        if isinstance(service.broker, DaprBroker):  # the sidecar delivers over HTTP
            from .routes.dapr import dapr_router

            app.include_router(dapr_router(service.broker))
    if console:
        from ._console import mount_console

        mount_console(app)
    if a2a:
        from ._a2a import mount_a2a

        mounted.extend(mount_a2a(app, state))
    if mcp:
        from ..mcp.servers import require_mcp
        from ._mcp import mount_mcp

        require_mcp()
        mounted.append(mount_mcp(app, state))
    return app


def _event_service(
    engine: RunEngine,
    events: EventService | bool | None,
    subscriptions: Sequence[Subscription] | None,
) -> EventService | None:
    if isinstance(events, EventService):
        if subscriptions is not None:
            raise UserError("give the subscriptions to the EventService, not to create_app")
        return events
    if events is None:
        events = subscriptions is not None or any(
            os.environ.get(name) for name in (BROKER_URL_ENV, SUBSCRIPTIONS_ENV)
        )
    return EventService(engine, subscriptions=subscriptions) if events else None
