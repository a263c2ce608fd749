"""The broker seam: publish bytes to a topic, consume a topic alone or as a group.

One setting chooses the broker, ``ASCENT_BROKER_URL``: ``amqp://`` (RabbitMQ),
``kafka://``, ``nats://`` (JetStream) or ``redis://`` (Redis Streams), all
through FastStream (the ``events`` extra), or ``dapr://<pubsub-name>`` (a Dapr
sidecar's pub/sub, :mod:`ascent.events.dapr`). Without it, :class:`LocalBroker`
delivers inside the process: the laptop default needs nothing installed, and
events are still recorded in the outbox.

A handler that returns has handled its message (it is acknowledged); one that
raises has not (the broker delivers it again, to this consumer or another of
its group).
"""

from __future__ import annotations

import asyncio
import itertools
import logging
import os
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from typing import Protocol

from ..errors import UserError

__all__ = [
    "BROKER_SCHEMES",
    "BROKER_URL_ENV",
    "Broker",
    "Handler",
    "LocalBroker",
    "broker_url",
    "connect_broker",
]

logger = logging.getLogger("ascent.events")

BROKER_URL_ENV = "ASCENT_BROKER_URL"
BROKER_SCHEMES = ("amqp", "amqps", "kafka", "nats", "redis", "rediss", "dapr")

Handler = Callable[[bytes], Awaitable[None]]


class Broker(Protocol):
    """What events need of a message broker."""

    url: str | None

    async def start(self) -> None: ...

    async def stop(self) -> None: ...

    async def publish(self, topic: str, body: bytes) -> None:
        """Send ``body`` to ``topic``; returns once the broker has it."""

    async def subscribe(self, topic: str, handler: Handler, *, group: str | None = None) -> None:
        """Call ``handler`` for each message on ``topic`` from now on. Consumers that
        name the same ``group`` share its messages (each goes to one of them);
        without a group, this consumer sees every message."""


def broker_url(url: str | None = None) -> str | None:
    """``url``, else ``ASCENT_BROKER_URL``, else None (the in-process broker)."""
    return url or os.environ.get(BROKER_URL_ENV) or None


def connect_broker(url: str | None = None, *, name: str | None = None) -> Broker:
    """The broker ``url`` names (default: ``ASCENT_BROKER_URL``; none: in-process).

    ``name`` tells this consumer apart within its groups (default: a fresh one).
    """
    url = broker_url(url)
    if url is None:
        return LocalBroker()
    scheme = url.split("://", 1)[0].lower()
    if scheme not in BROKER_SCHEMES:
        raise UserError(
            f"{BROKER_URL_ENV}: unknown broker {scheme!r}; "
            "expected amqp://, kafka://, nats://, redis:// or dapr://"
        )
    if scheme == "dapr":
        from .dapr import DaprBroker

        return DaprBroker(url)
    from ._faststream import FastStreamBroker

    return FastStreamBroker(url, name=name)


@dataclass
class _Group:
    handlers: list[Handler] = field(default_factory=list)
    turn: itertools.count[int] = field(default_factory=itertools.count)


class LocalBroker:
    """An in-process broker: each topic's messages go to every subscriber without a
    group and to one handler of each group, in turn; a handler that raises gets the
    message again (after ``retry_delay`` seconds, up to ``max_deliveries`` times)."""

    url: str | None = None

    def __init__(self, *, retry_delay: float = 0.05, max_deliveries: int = 100) -> None:
        self.retry_delay = retry_delay
        self.max_deliveries = max_deliveries
        self._groups: dict[str, dict[str | None, list[_Group]]] = {}
        self._tasks: set[asyncio.Task[None]] = set()
        self._anonymous = itertools.count()

    async def start(self) -> None:
        return None

    async def stop(self) -> None:
        tasks = list(self._tasks)
        for task in tasks:
            task.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)
        self._groups.clear()

    async def subscribe(self, topic: str, handler: Handler, *, group: str | None = None) -> None:
        groups = self._groups.setdefault(topic, {})
        if group is None:  # a consumer of its own
            groups.setdefault(None, []).append(_Group([handler]))
        else:
            named = groups.setdefault(group, [_Group()])
            named[0].handlers.append(handler)

    async def publish(self, topic: str, body: bytes) -> None:
        for groups in self._groups.get(topic, {}).values():
            for group in groups:
                task = asyncio.create_task(self._deliver(group, body))
                self._tasks.add(task)
                task.add_done_callback(self._tasks.discard)

    async def join(self) -> None:
        """Wait until every message published so far is handled (tests, the CLI)."""
        while self._tasks:
            await asyncio.gather(*list(self._tasks), return_exceptions=True)

    async def _deliver(self, group: _Group, body: bytes) -> None:
        for _attempt in range(self.max_deliveries):
            handler = group.handlers[next(group.turn) % len(group.handlers)]
            try:
                await handler(body)
                return
            except asyncio.CancelledError:
                raise
            except Exception:
                logger.exception("an event handler failed: the message is delivered again")
                await asyncio.sleep(self.retry_delay)
        logger.error("a message was not handled after %d deliveries", self.max_deliveries)
