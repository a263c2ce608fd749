"""Serve an agent over A2A: an ASGI app (Starlette) and a one-call ``serve``.

The app holds the SDK's JSON-RPC route (``SendMessage``, ``SendStreamingMessage``
over SSE, ``GetTask``, ``CancelTask``, ``SubscribeToTask``, ``ListTasks``) and
the SDK's agent card route (``ETag``, ``304`` on ``If-None-Match``,
``Cache-Control``) at ``/.well-known/agent-card.json`` and the older
``/.well-known/agent.json``. It can be mounted under any prefix (one per agent
in a larger service): the card's URL follows the request's root path unless
``url`` fixes it.

Protocol 1.0 only by default; ``a2a_v03_compat`` also declares the endpoint
for 0.3 in the card and answers the 0.3 method names (``message/send``, ...).

With a ``token``, every request but the card's must carry
``Authorization: Bearer <token>`` (401 otherwise); the card stays public and
declares the scheme. Every request, token or not, must name an allowed
``Host`` (421), come from an allowed ``Origin`` if it changes state (403) and
send JSON if it has a body (415): the service's request guard.
"""

from __future__ import annotations

import contextlib
import hmac
from collections.abc import AsyncIterator, Sequence
from typing import Any

from a2a.server.request_handlers import DefaultRequestHandler
from a2a.server.routes import create_jsonrpc_routes
from a2a.server.tasks import TaskStore
from starlette.applications import Starlette
from starlette.authentication import SimpleUser
from starlette.datastructures import Headers
from starlette.middleware import Middleware
from starlette.responses import JSONResponse
from starlette.routing import BaseRoute
from starlette.types import ASGIApp, Receive, Scope, Send

from .._private.addresses import bind_host
from .._private.http_guard import GuardConfig, RequestGuard
from ..agent import Agent
from ..errors import UserError
from ..run import RunConfig
from ..run.config import DEFAULT_MAX_TURNS
from ._card_routes import CARD_CACHE_CONTROL, CARD_PATHS, card_routes
from ._context import TaskContextBuilder
from .card import build_agent_card
from .executor import AscentAgentExecutor
from .store import SQLTaskStore

__all__ = ["CARD_CACHE_CONTROL", "CARD_PATHS", "TOKEN_USER", "create_a2a_app", "serve"]

TOKEN_USER = "bearer-client"  # the user a valid token authenticates (tasks are scoped to it)


def create_a2a_app(
    agent: Agent[Any],
    *,
    url: str | None = None,
    token: str | None = None,
    description: str | None = None,
    database_url: str | None = None,
    task_store: TaskStore | None = None,
    run_config: RunConfig | None = None,
    max_turns: int = DEFAULT_MAX_TURNS,
    sessions: bool = True,
    a2a_v03_compat: bool = False,
    card_cache_control: str | None = CARD_CACHE_CONTROL,
    allowed_hosts: Sequence[str] | str | None = None,
    allowed_origins: Sequence[str] | None = None,
) -> Starlette:
    """An ASGI app that serves ``agent`` over A2A (JSON-RPC binding).

    ``url`` is the public URL of the JSON-RPC endpoint written in the card
    (default: derived from each request). Tasks, paused runs and per-context
    sessions live in ``database_url`` (default: the project database); pass
    ``task_store`` to keep tasks elsewhere (any SDK ``TaskStore``).
    ``a2a_v03_compat`` serves protocol 0.3 beside 1.0 (see the module
    docstring); ``card_cache_control`` is the card's ``Cache-Control`` header.
    ``allowed_hosts`` and ``allowed_origins`` are those of
    :func:`ascent.server.create_app` (``None`` reads ``ASCENT_ALLOWED_HOSTS``;
    unset, a loopback connection must name a loopback host).
    """
    if token is not None and not token.strip():
        raise UserError("the A2A bearer token is empty")
    guard = GuardConfig.from_options(allowed_hosts=allowed_hosts, allowed_origins=allowed_origins)
    store = SQLTaskStore(database_url)
    tasks = task_store or store
    executor = AscentAgentExecutor(
        agent, store=store, run_config=run_config, max_turns=max_turns, sessions=sessions
    )
    card = build_agent_card(
        agent,
        url=url or "http://localhost/",
        description=description,
        bearer_auth=token is not None,
        a2a_v03_compat=a2a_v03_compat,
    )
    handler = DefaultRequestHandler(
        agent_executor=executor,
        task_store=tasks,
        agent_card=card,
        request_context_builder=TaskContextBuilder(tasks),
    )

    @contextlib.asynccontextmanager
    async def lifespan(_app: Starlette) -> AsyncIterator[None]:
        yield
        await handler.aclose()

    routes: list[BaseRoute] = [
        *card_routes(card, cache_control=card_cache_control, url_from_request=url is None),
        *create_jsonrpc_routes(handler, rpc_url="/", enable_v0_3_compat=a2a_v03_compat),
    ]
    middleware = [Middleware(RequestGuard, config=guard)]
    if token is not None:
        middleware.append(Middleware(BearerAuth, token=token))
    app = Starlette(routes=routes, middleware=middleware, lifespan=lifespan)
    app.state.a2a_handler = handler
    app.state.a2a_executor = executor
    return app


class BearerAuth:
    """ASGI middleware: requests other than the card's need ``Authorization: Bearer <token>``.

    A valid token authenticates :data:`TOKEN_USER`, which the SDK's context
    builder reads, so tasks are stored under that owner.
    """

    def __init__(self, app: ASGIApp, *, token: str) -> None:
        self.app = app
        self._token = token.encode()

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        path = scope["path"].removeprefix(scope.get("root_path", ""))
        if path in CARD_PATHS:
            await self.app(scope, receive, send)
            return
        scheme, _, given = Headers(scope=scope).get("authorization", "").partition(" ")
        valid = hmac.compare_digest(given.strip().encode(), self._token)
        if scheme.lower() != "bearer" or not valid:
            reason = "missing bearer token" if not given else "invalid bearer token"
            response = JSONResponse(
                {"error": reason}, status_code=401, headers={"WWW-Authenticate": "Bearer"}
            )
            await response(scope, receive, send)
            return
        scope["user"] = SimpleUser(TOKEN_USER)
        await self.app(scope, receive, send)


def serve(
    agent: Agent[Any],
    *,
    host: str = "127.0.0.1",
    port: int = 8000,
    token: str | None = None,
    run_config: RunConfig | None = None,
    max_turns: int = DEFAULT_MAX_TURNS,
    log_level: str = "info",
    a2a_v03_compat: bool = False,
    allowed_hosts: Sequence[str] | None = None,
) -> None:
    """Serve ``agent`` over A2A with uvicorn until interrupted (``ascent a2a``)."""
    import uvicorn

    app = create_a2a_app(
        agent,
        token=token,
        run_config=run_config,
        max_turns=max_turns,
        a2a_v03_compat=a2a_v03_compat,
        allowed_hosts=allowed_hosts,
    )
    uvicorn.run(app, host=bind_host(host), port=port, log_level=log_level)
