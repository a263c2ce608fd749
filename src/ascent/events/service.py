"""``EventService``: an engine's events, out (the relay) and in (subscriptions).

The engine is DBOS's or Temporal's (any :class:`~ascent.events.EventEngine`):
both write a run's lifecycle events to the outbox of the project database,
with the change they report.

Start it after the engine and stop it before: the served app does both in its
lifespan. Each replica runs one; replicas share the outbox (each row is
published by one of them) and each subscription's group (each message is
handled by one of them).
"""

from __future__ import annotations

import asyncio
import contextlib
import itertools
import uuid
from collections.abc import AsyncIterator, Sequence
from typing import Any

from ..durable.outbox import EVENT_SOURCE
from ..errors import UserError
from .broker import Broker, LocalBroker, connect_broker
from .cloudevent import CloudEvent, parse_event
from .consumer import EventConsumer, EventEngine, Subscription, parse_subscriptions, subscribe
from .relay import OutboxRelay

__all__ = ["EventService", "publish_event"]


class EventService:
    """Publishes ``engine``'s lifecycle events and runs its agents on subscribed topics.

    ``broker_url`` names the broker (default: ``ASCENT_BROKER_URL``; none: an
    in-process broker), or pass a ``broker``. ``subscriptions`` default to those
    of ``ASCENT_SUBSCRIPTIONS``; :meth:`subscribe` adds more. ``relay=False``
    leaves publishing to other replicas (the outbox is still written).
    """

    def __init__(
        self,
        engine: EventEngine | None = None,
        *,
        broker_url: str | None = None,
        broker: Broker | None = None,
        subscriptions: Sequence[Subscription] | None = None,
        relay: bool = True,
        name: str | None = None,
        source: str = EVENT_SOURCE,
        relay_interval: float = 0.05,
    ) -> None:
        self.engine = engine
        # a replica restarted under its executor id takes back its own claims at once
        self.name = name or _service_name(engine)
        self.broker: Broker = broker or connect_broker(broker_url, name=self.name)
        # the relay publishes on a connection of its own when the service makes its
        # connections: RabbitMQ blocks a connection that publishes faster than it
        # takes in (flow control), and its consumers' deliveries would wait with it
        self.relay_broker: Broker = (
            self.broker
            if broker is not None or self.broker.url is None
            else connect_broker(broker_url, name=f"{self.name}.relay")
        )
        self.subscriptions: list[Subscription] = (
            parse_subscriptions() if subscriptions is None else list(subscriptions)
        )
        self.relay_enabled = relay
        self.source = source
        self.relay_interval = relay_interval
        self.relay: OutboxRelay | None = None
        self.consumer: EventConsumer | None = None

    def subscribe(
        self, topic: str, *, agent: str | None, tenant: str | None = None, **options: Any
    ) -> Subscription:
        """Add a subscription (see :func:`ascent.events.subscribe`); as a decorator, the
        function it decorates makes the runs' input from each event."""
        if self.consumer is not None:
            raise UserError("subscribe before the event service starts")
        subscription = subscribe(topic, agent=agent, tenant=tenant, **options)
        self.subscriptions.append(subscription)
        return subscription

    async def start(self, engine: EventEngine | None = None) -> None:
        """Connect to the broker, start the relay and the subscriptions."""
        engine = engine or self.engine
        if engine is None:
            raise UserError("the event service needs an engine (DBOS's or Temporal's)")
        self.engine = engine
        await self.broker.start()
        if self.relay_enabled:
            await self.relay_broker.start()
            self.relay = OutboxRelay(
                engine.database_url,
                self.relay_broker,
                name=self.name,
                source=self.source,
                interval=self.relay_interval,
            )
            await self.relay.start()
        self.consumer = EventConsumer(engine, self.broker, self.subscriptions)
        await self.consumer.start()

    async def stop(self) -> None:
        if self.relay is not None:
            await self.relay.stop()
            self.relay = None
        self.consumer = None
        await self.broker.stop()
        if self.relay_broker is not self.broker:
            await self.relay_broker.stop()

    async def __aenter__(self) -> EventService:
        await self.start()
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.stop()

    async def publish(self, topic: str, event: CloudEvent) -> None:
        """Publish ``event`` to ``topic`` directly (not through the outbox: for events
        that report no change of a run, such as a reviewer's decision)."""
        await self.broker.publish(topic, event.to_json_bytes())

    async def settle(self) -> None:
        """Publish what the outbox holds and, in process, wait until it is handled."""
        if self.relay is not None:
            while await self.relay.publish_pending():
                pass
        if isinstance(self.broker, LocalBroker):
            await self.broker.join()


_made: dict[str, itertools.count[int]] = {}


def _service_name(engine: EventEngine | None) -> str:
    """``<executor id>.<n>``: the n-th service of this replica, the same after a restart
    (an engine without executor ids, Temporal's, gets a fresh name)."""
    executor_id = getattr(engine, "executor_id", None)
    if not isinstance(executor_id, str):
        return f"events-{uuid.uuid4().hex[:12]}"
    number = next(_made.setdefault(executor_id, itertools.count()))
    return f"{executor_id}.{number}"


async def publish_event(broker: Broker, topic: str, event: CloudEvent | dict[str, Any]) -> None:
    """Send one event (a CloudEvent, or a dict that is one) to ``topic``."""
    if isinstance(event, dict):
        event = parse_event(CloudEvent.model_validate(event).to_json_bytes())
    await broker.publish(topic, event.to_json_bytes())


@contextlib.asynccontextmanager
async def tail(
    broker: Broker, topics: Sequence[str]
) -> AsyncIterator[asyncio.Queue[tuple[str, bytes]]]:
    """A queue of ``(topic, body)`` for every message on ``topics`` from now on."""
    queue: asyncio.Queue[tuple[str, bytes]] = asyncio.Queue()
    await broker.start()
    for topic in topics:

        async def handler(body: bytes, topic: str = topic) -> None:
            await queue.put((topic, body))

        await broker.subscribe(topic, handler)
    try:
        yield queue
    finally:
        await broker.stop()
