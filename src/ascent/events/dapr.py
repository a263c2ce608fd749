"""The broker seam through a Dapr sidecar: ``ASCENT_BROKER_URL=dapr://<pubsub-name>``.

Where Dapr runs beside the service, the sidecar owns the connection to the real
broker. Publishing is one HTTP call to the sidecar
(``POST /v1.0/publish/<pubsub>/<topic>``, the event as
``application/cloudevents+json``, so Dapr keeps its id, type and source rather
than wrapping it again). Messages come the other way: the sidecar asks the
service for its subscriptions (``GET /dapr/subscribe``) and POSTs each event to
the route a subscription declares. :meth:`DaprBroker.deliver` is what that route
calls; its answer is Dapr's status: ``SUCCESS`` (handled: acknowledged),
``RETRY`` (a handler failed: Dapr delivers it again, per its resiliency policy)
or ``DROP`` (no subscription here for that topic).

Dapr shares a topic's messages among the replicas of one app id, so every
subscription is a competing-consumer group here, whatever group it names.
"""

from __future__ import annotations

import itertools
import logging
import os
from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass, field
from typing import Any, Literal
from urllib.parse import quote, urlsplit

from ..errors import UserError

# broker.Handler, spelled out: broker.py imports this module (connect_broker)
Handler = Callable[[bytes], Awaitable[None]]

__all__ = [
    "DAPR_ROUTE_PREFIX",
    "DaprBroker",
    "DaprStatus",
    "sidecar_url",
]

logger = logging.getLogger("ascent.events")

DAPR_ROUTE_PREFIX = "/dapr/events/"
CLOUDEVENTS_JSON = "application/cloudevents+json"
DaprStatus = Literal["SUCCESS", "RETRY", "DROP"]
_DEFAULT_HTTP_PORT = "3500"


def sidecar_url(environ: Mapping[str, str] | None = None) -> str:
    """The sidecar's HTTP API: ``DAPR_HTTP_ENDPOINT``, else loopback at
    ``DAPR_HTTP_PORT`` (default 3500), the variables Dapr sets in the app's container."""
    env = os.environ if environ is None else environ
    endpoint = env.get("DAPR_HTTP_ENDPOINT", "").strip()
    if endpoint:
        return endpoint.rstrip("/")
    port = env.get("DAPR_HTTP_PORT", "").strip() or _DEFAULT_HTTP_PORT
    return f"http://127.0.0.1:{port}"


@dataclass
class _Topic:
    """A topic's consumers: each group's members (one of them takes a delivery, in
    turn) and the consumers of no group (each takes every delivery)."""

    groups: dict[str, list[Handler]] = field(default_factory=dict)
    alone: list[Handler] = field(default_factory=list)
    turn: itertools.count[int] = field(default_factory=itertools.count)

    def takers(self) -> list[Handler]:
        """Who handles the next delivery: one member of each group, and every loner."""
        turn = next(self.turn)
        return [members[turn % len(members)] for members in self.groups.values()] + self.alone


class DaprBroker:
    """Publish through a Dapr sidecar and take the events it delivers.

    ``url`` is ``dapr://<pubsub-name>``: the name of the pub/sub component the
    sidecar is configured with. ``sidecar`` overrides the sidecar's address
    (default: :func:`sidecar_url`); ``api_token`` is the sidecar's API token
    (default: ``DAPR_API_TOKEN``, sent as ``dapr-api-token`` when set).
    ``metadata`` goes into every subscription the service declares (component
    options, such as ``rawPayload`` or a consumer id).
    """

    def __init__(
        self,
        url: str,
        *,
        sidecar: str | None = None,
        api_token: str | None = None,
        metadata: Mapping[str, str] | None = None,
        timeout: float = 10.0,
    ) -> None:
        parts = urlsplit(url)
        if parts.scheme.lower() != "dapr" or not parts.netloc or parts.path not in ("", "/"):
            raise UserError(f"a Dapr broker URL is dapr://<pubsub-name>, not {url!r}")
        self.url: str | None = url
        self.pubsub = parts.netloc
        self.sidecar = (sidecar or sidecar_url()).rstrip("/")
        self.api_token = api_token if api_token is not None else os.environ.get("DAPR_API_TOKEN")
        self.metadata = dict(metadata or {})
        self.timeout = timeout
        self._topics: dict[str, _Topic] = {}
        self._client: Any = None

    async def start(self) -> None:
        if self._client is None:
            import httpx

            self._client = httpx.AsyncClient(timeout=self.timeout)

    async def stop(self) -> None:
        client, self._client = self._client, None
        if client is not None:
            await client.aclose()

    async def publish(self, topic: str, body: bytes) -> None:
        """Hand ``body`` (a structured CloudEvent) to the sidecar; it answers 204 once
        the pub/sub component has it. Any other answer raises (the relay tries again)."""
        await self.start()
        headers = {"content-type": CLOUDEVENTS_JSON}
        if self.api_token:
            headers["dapr-api-token"] = self.api_token
        address = (
            f"{self.sidecar}/v1.0/publish/{quote(self.pubsub, safe='')}/{quote(topic, safe='')}"
        )
        response = await self._client.post(address, content=body, headers=headers)
        if response.status_code != 204:
            detail = response.text[:500]
            raise RuntimeError(
                f"the Dapr sidecar did not take the event for {self.pubsub}/{topic}: "
                f"{response.status_code} {detail}"
            )

    async def subscribe(self, topic: str, handler: Handler, *, group: str | None = None) -> None:
        """Declare ``topic`` to the sidecar (through :meth:`subscriptions`) and call
        ``handler`` for each event it delivers there. Across replicas, the sidecar
        shares a topic's messages among the app id's replicas whatever the group;
        within this replica, the members of one group share the deliveries (each
        goes to one of them) and a handler of no group gets every one."""
        subscribed = self._topics.setdefault(topic, _Topic())
        if group is None:
            subscribed.alone.append(handler)
        else:
            subscribed.groups.setdefault(group, []).append(handler)

    @staticmethod
    def route(topic: str) -> str:
        """The path the sidecar POSTs ``topic``'s events to."""
        return DAPR_ROUTE_PREFIX + quote(topic, safe="")

    def subscriptions(self) -> list[dict[str, Any]]:
        """The answer to the sidecar's ``GET /dapr/subscribe`` (programmatic subscriptions)."""
        declared = []
        for topic in self._topics:
            entry: dict[str, Any] = {
                "pubsubname": self.pubsub,
                "topic": topic,
                "routes": {"default": self.route(topic)},
            }
            if self.metadata:
                entry["metadata"] = dict(self.metadata)
            declared.append(entry)
        return declared

    async def deliver(self, topic: str, body: bytes) -> DaprStatus:
        """Give one delivered event to ``topic``'s handlers; the status the sidecar gets."""
        subscribed = self._topics.get(topic)
        if subscribed is None:
            logger.warning("Dapr delivered an event on %r, which this service does not take", topic)
            return "DROP"
        for handler in subscribed.takers():
            try:
                await handler(body)
            except Exception:
                logger.exception("an event handler failed: Dapr is asked to deliver it again")
                return "RETRY"
        return "SUCCESS"
