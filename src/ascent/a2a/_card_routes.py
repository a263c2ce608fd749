"""The agent card's routes: the SDK's own, at both well-known paths.

The SDK's route sends the ``ETag``, answers ``304`` to a matching
``If-None-Match`` and sends the ``Cache-Control`` it is given. Its card
modifier does not see the request, so for a card whose URL follows the request
(an app mounted under a prefix, behind any host name) each route is wrapped to
hand the request's endpoint URL to the modifier.
"""

from __future__ import annotations

from contextvars import ContextVar

from a2a.server.routes import create_agent_card_routes
from a2a.types import AgentCard
from starlette.requests import Request
from starlette.routing import Route
from starlette.types import ASGIApp, Receive, Scope, Send

__all__ = ["CARD_CACHE_CONTROL", "CARD_PATHS", "card_routes"]

CARD_PATHS = ("/.well-known/agent-card.json", "/.well-known/agent.json")
CARD_CACHE_CONTROL = "public, max-age=300"  # then clients revalidate with the ETag

_endpoint: ContextVar[str | None] = ContextVar("ascent_a2a_endpoint", default=None)


def card_routes(
    card: AgentCard, *, cache_control: str | None, url_from_request: bool
) -> list[Route]:
    """The SDK's card route at each of :data:`CARD_PATHS`.

    With ``url_from_request``, the card's interfaces point at the endpoint the
    request reached (``<scheme>://<host><root path>/``) rather than ``card``'s URL.
    """
    routes: list[Route] = []
    for path in CARD_PATHS:
        routes += create_agent_card_routes(
            card,
            card_modifier=_at_request_endpoint if url_from_request else None,
            card_url=path,
            cache_control=cache_control,
        )
    if url_from_request:
        for route in routes:
            route.app = _WithEndpoint(route.app)
    return routes


def _endpoint_url(request: Request) -> str:
    """The URL of the JSON-RPC endpoint (the app's root) as ``request`` reached it."""
    root = request.scope.get("root_path", "")
    return str(request.url.replace(path=f"{root}/", query=""))


class _WithEndpoint:
    """Runs a route with the request's endpoint URL in :data:`_endpoint`."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        token = _endpoint.set(_endpoint_url(Request(scope)))
        try:
            await self.app(scope, receive, send)
        finally:
            _endpoint.reset(token)


async def _at_request_endpoint(card: AgentCard) -> AgentCard:
    url = _endpoint.get()
    if url is None:
        return card
    served = AgentCard()
    served.CopyFrom(card)
    for interface in served.supported_interfaces:
        interface.url = url
    return served
