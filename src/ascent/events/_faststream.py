"""The broker seam over FastStream: RabbitMQ, Kafka, NATS JetStream, Redis Streams.

One adapter for the four, because FastStream gives them one API; what differs
is how each names a topic and a group:

- RabbitMQ: a durable topic exchange ``ascent``, the topic as routing key; a
  group is a durable queue bound to it (its consumers share the queue), a
  consumer without a group an exclusive queue of its own. Unacknowledged
  messages go back to the queue when their consumer dies.
- Kafka: the topic; a group is a consumer group ``<group>:<topic>`` (offsets
  committed after the handler returns).
- NATS: a JetStream stream per topic; a group is a durable pull consumer its
  members share (a message unacknowledged for ``claim_after`` seconds comes back).
- Redis: a stream per topic; a group is a consumer group. A message whose
  consumer died stays pending: each consumer also claims messages pending
  longer than ``claim_after`` seconds (XAUTOCLAIM) and handles them again.

Bodies are bytes both ways (no FastStream envelope decoding beyond its own).
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import re
import uuid
import weakref
from collections.abc import Awaitable, Callable
from typing import Any
from urllib.parse import urlsplit, urlunsplit

from pydantic_core import from_json

from ..errors import UserError

# as broker.Handler (not imported: broker imports this module when a URL is given)
Handler = Callable[[bytes], Awaitable[None]]

__all__ = ["FastStreamBroker"]

_LOGGER = logging.getLogger("ascent.events.broker")
# how long a publish waits for the broker's acknowledgement (JetStream's default is
# half a second: a loaded machine answers later, and the publish is then tried again)
_PUBLISH_TIMEOUT = 10.0
# messages a NATS group member fetches per request, handled side by side (a burst's
# runs are then queued together); those it holds unacknowledged when it dies come back
_NATS_FETCH = 100
# how long one fetch waits for a first message before it asks again
_NATS_FETCH_WAIT = 1.0
# messages a member holds (fetched, not yet acknowledged) at most
_NATS_IN_FLIGHT = 400
# what a published body is: a CloudEvent in structured mode (or JSON of a caller's own)
_CONTENT_TYPE = "application/cloudevents+json"
# messages RabbitMQ delivers to a group member ahead of its acknowledgements
_RABBIT_PREFETCH = 1000
# tags acknowledged alone above one still outstanding that a channel's RabbitAcks keeps
# (to acknowledge runs of tags past it later) before it acknowledges each alone for good
_MAX_SETTLED = 10 * _RABBIT_PREFETCH


def _require() -> None:
    try:
        import faststream  # noqa: F401
    except ImportError as exc:  # pragma: no cover - the extra is in the dev group
        raise UserError(
            "a broker URL needs FastStream: pip install 'ascent-agents[events]'"
        ) from exc


async def _raw(message: Any) -> bytes:
    """The decoder every subscriber uses: the body as it came, JSON or not."""
    body = message.body
    return body if isinstance(body, bytes) else bytes(body)


def _event_id(body: bytes) -> str | None:
    """The CloudEvent id of ``body``, if it is one."""
    try:
        found = from_json(body)
    except ValueError:
        return None
    event_id = found.get("id") if isinstance(found, dict) else None
    return event_id if isinstance(event_id, str) else None


def _safe(name: str) -> str:
    """A stream or consumer name from a topic (NATS names allow no dots)."""
    return re.sub(r"[^A-Za-z0-9_-]", "_", name)


class FastStreamBroker:
    """A broker named by URL, through FastStream."""

    def __init__(self, url: str, *, name: str | None = None, claim_after: float = 5.0) -> None:
        _require()
        self.url: str | None = url
        self.kind = url.split("://", 1)[0].lower()
        self.name = name or uuid.uuid4().hex[:12]
        self.claim_after = claim_after
        self._broker: Any = self._make()
        self._started = False
        self._streams: dict[str, Any] = {}
        self._members: dict[tuple[str, str], int] = {}  # (group, topic): members here
        self._tails: list[tuple[str, str]] = []  # Redis (topic, group) made for a tail
        self._pulls: list[asyncio.Task[None]] = []  # NATS group members' fetch loops
        self._rabbit_consumers: list[tuple[Any, str]] = []  # RabbitMQ members: queue, tag
        # RabbitMQ: the acknowledgements of each channel's deliveries (its members share it)
        self._rabbit_acks: weakref.WeakKeyDictionary[Any, RabbitAcks] = weakref.WeakKeyDictionary()
        self._exchange_object: Any = None  # RabbitMQ: the exchange, declared on first publish

    def _make(self) -> Any:
        # apply_types=False: handlers take the body as it is; FastDepends would build
        # and validate a model of each call, a third of a message's cost
        kind, url = self.kind, str(self.url)
        if kind in ("amqp", "amqps"):
            from faststream.rabbit import ExchangeType, RabbitBroker, RabbitExchange

            self._exchange = RabbitExchange("ascent", type=ExchangeType.TOPIC, durable=True)
            return RabbitBroker(url, logger=_LOGGER, apply_types=False)
        if kind == "kafka":
            from faststream.kafka import KafkaBroker

            parts = urlsplit(url)
            return KafkaBroker(parts.netloc.split(","), logger=_LOGGER, apply_types=False)
        if kind == "nats":
            from faststream.nats import NatsBroker

            return NatsBroker(url, logger=_LOGGER, apply_types=False)
        from faststream.redis import RedisBroker

        parts = urlsplit(url)
        scheme = "rediss" if kind == "rediss" else "redis"
        return RedisBroker(urlunsplit((scheme, *parts[1:])), logger=_LOGGER, apply_types=False)

    async def start(self) -> None:
        if not self._started:
            await self._broker.start()
            self._started = True

    async def stop(self) -> None:
        consumers, self._rabbit_consumers = self._rabbit_consumers, []
        for queue, tag in consumers:
            with contextlib.suppress(Exception):  # the connection may be gone already
                await queue.cancel(tag)
        pulls, self._pulls = self._pulls, []
        for task in pulls:
            task.cancel()
        for task in pulls:
            with contextlib.suppress(asyncio.CancelledError):
                await task
        self._exchange_object = None  # of the channel that closes now
        if self._started:
            self._started = False
            await self._broker.stop()
        if self._tails:  # a tail's group is of no use once it stops: leave none behind
            await self._forget_tails()

    async def _forget_tails(self) -> None:
        from redis.asyncio import Redis

        client = Redis.from_url(str(self.url))
        try:
            for topic, group in self._tails:
                try:
                    await client.xgroup_destroy(topic, group)
                except Exception:  # gone already: nothing to forget
                    _LOGGER.debug("no group %s on %s to remove", group, topic)
        finally:
            self._tails.clear()
            await client.aclose()

    async def publish(self, topic: str, body: bytes) -> None:
        await self.start()
        broker = self._broker
        # RabbitMQ and NATS: their clients' own publish on FastStream's connection,
        # without FastStream's per-message publishing machinery (about a third of
        # a publish's CPU); the broker's acknowledgement is awaited all the same
        if self.kind in ("amqp", "amqps"):
            import aiormq

            if self._exchange_object is None:
                self._exchange_object = await broker.declare_exchange(self._exchange)
            # aiormq's publish on the exchange's channel, as aio-pika's exchange calls
            # it, but without waiting for the socket to drain the frames: the channel
            # is locked meanwhile, so publishes gathered together went out one per turn
            # of a busy event loop. The broker's confirmation is awaited all the same
            # (a negative one raises). Not mandatory: a topic no one subscribes to yet
            # is no error (and the broker would send each such message back)
            channel = await self._exchange_object.channel.get_underlay_channel()
            await channel.basic_publish(
                body,
                exchange=self._exchange_object.name,
                routing_key=topic,
                properties=aiormq.spec.Basic.Properties(
                    delivery_mode=2, content_type=_CONTENT_TYPE
                ),
                mandatory=False,
                wait=False,
            )
        elif self.kind == "kafka":
            await broker.publish(body, topic)
        elif self.kind == "nats":
            stream = await self._nats_stream(topic)
            # JetStream drops a message whose id it saw within its duplicate window:
            # a relay that publishes an event again after a timeout adds no copy
            event_id = _event_id(body)
            headers = None if event_id is None else {"Nats-Msg-Id": event_id}
            jetstream = broker.config.connection_state.stream
            await jetstream.publish(
                topic, body, stream=stream.name, headers=headers, timeout=_PUBLISH_TIMEOUT
            )
        else:
            await broker.publish(body, stream=topic)

    async def subscribe(self, topic: str, handler: Handler, *, group: str | None = None) -> None:
        from faststream import AckPolicy

        async def on_message(body: bytes) -> None:
            await handler(body)

        options: dict[str, Any] = {"decoder": _raw, "ack_policy": AckPolicy.NACK_ON_ERROR}
        subscribers = []
        broker = self._broker
        if self.kind in ("amqp", "amqps"):
            from faststream.rabbit import RabbitQueue

            if group is None:
                queue = RabbitQueue(
                    f"ascent.tail.{self.name}.{uuid.uuid4().hex[:8]}",
                    routing_key=topic,
                    exclusive=True,
                    auto_delete=True,
                )
            else:
                await self._rabbit_member(topic, handler, group)
                return
            subscribers.append(broker.subscriber(queue, self._exchange, **options))
        elif self.kind == "kafka":
            if group is None:
                subscribers.append(broker.subscriber(topic, **options))
            else:
                subscribers.append(
                    broker.subscriber(
                        topic,
                        # per topic, as RabbitMQ's queues are: one group, one topic
                        group_id=f"{group}:{topic}",
                        auto_offset_reset="earliest",
                        **options,
                    )
                )
        elif self.kind == "nats":
            stream = await self._nats_stream(topic)
            if group is None:  # what comes from now on, not the stream's past
                from faststream.nats import DeliverPolicy

                subscribers.append(
                    broker.subscriber(
                        topic, stream=stream, deliver_policy=DeliverPolicy.NEW, **options
                    )
                )
            else:
                await self._nats_member(topic, stream.name, handler, group)
                return
        else:
            from faststream.redis import StreamSub

            if group is None:
                # a group of its own, made at subscribe time: XREAD from "$" would
                # miss what is published before its first read
                group, claim_pending = f"ascent.tail.{uuid.uuid4().hex[:12]}", False
                self._tails.append((topic, group))
            else:
                claim_pending = True
            # each member of a group here a consumer name of its own, the same after
            # a restart (it claims back what it left pending)
            member = self._members.get((group, topic), 0)
            self._members[(group, topic)] = member + 1
            consumer = f"{group}.{self.name}" + (f".{member}" if member else "")
            subscribers.append(
                broker.subscriber(
                    stream=StreamSub(topic, group=group, consumer=consumer, polling_interval=100),
                    **options,
                )
            )
            if claim_pending:  # what a dead consumer of the group left comes back here
                claim = int(self.claim_after * 1000)
                subscribers.append(
                    broker.subscriber(
                        stream=StreamSub(
                            topic,
                            group=group,
                            consumer=consumer,
                            min_idle_time=claim,
                            polling_interval=200,
                        ),
                        **options,
                    )
                )
        for subscriber in subscribers:
            subscriber(on_message)
        if self._started:
            for subscriber in subscribers:
                await subscriber.start()

    async def _rabbit_member(self, topic: str, handler: Handler, group: str) -> None:
        """A member of a RabbitMQ group: a consumer of the group's durable queue, bound
        to the exchange by the topic, up to ``_RABBIT_PREFETCH`` messages delivered
        ahead and handled side by side; each acknowledged once its handler returns,
        refused back to the queue when it raises.

        aio-pika's own consumer on FastStream's channel rather than FastStream's
        subscriber: its per-message middleware, context and logging cost a
        replica about a tenth of its CPU under an intake burst. Acknowledgements
        are gathered (:class:`RabbitAcks`)."""
        from faststream.rabbit import RabbitQueue

        await self.start()
        # AMQP queue names allow letters, digits and - _ . : only (a group may be
        # "ascent.*", the subscription of any agent)
        name = re.sub(r"[^A-Za-z0-9_.:-]", "_", f"{group}:{topic}")
        exchange = await self._broker.declare_exchange(self._exchange)
        queue = await self._broker.declare_queue(RabbitQueue(name, durable=True))
        await queue.bind(exchange, routing_key=topic)
        await queue.channel.set_qos(prefetch_count=_RABBIT_PREFETCH)

        async def on_message(message: Any) -> None:
            channel = message.channel
            acks = self._rabbit_acks.get(channel)
            if acks is None:
                acks = self._rabbit_acks[channel] = RabbitAcks()
            try:
                await handler(bytes(message.body))
            except Exception:
                _LOGGER.exception("a message on %s failed; it will come again", topic)
                await message.nack(requeue=True)
                acks.settled(message.delivery_tag)
            else:
                acks.handled(message)

        tag = await queue.consume(on_message)
        self._rabbit_consumers.append((queue, tag))

    async def _nats_member(self, topic: str, stream: str, handler: Handler, group: str) -> None:
        """A member of a NATS group: a durable pull consumer the members share, each
        fetching up to ``_NATS_FETCH`` messages and handling them side by side.

        nats-py's own loop rather than FastStream's pull subscriber: FastStream
        0.7 stops its fetch loop for seconds (its supervisor restarts it) when
        nats-py 2.15+ raises a bare ``asyncio.TimeoutError`` from an expired fetch.
        """
        from nats.js.api import ConsumerConfig

        await self.start()
        jetstream = self._broker.config.connection_state.stream
        subscription = await jetstream.pull_subscribe(
            topic,
            durable=_safe(f"{group}-{topic}"),
            stream=stream,
            # a message its consumer died holding comes back after this
            config=ConsumerConfig(ack_wait=self.claim_after),
        )
        self._pulls.append(asyncio.create_task(_pull(subscription, handler)))

    async def _nats_stream(self, topic: str) -> Any:
        """The JetStream stream of ``topic``, declared on first use (FastStream itself
        declares streams only when the broker starts)."""
        from faststream.nats import JStream

        stream = self._streams.get(topic)
        if stream is None:
            stream = JStream(_safe(f"ascent-{topic}"), subjects=[topic])
            await self.start()
            context = self._broker.config.connection_state.stream
            try:
                await context.add_stream(name=stream.name, subjects=[topic])
            except Exception as exc:  # declared already (by another replica, say)
                if "already in use" not in str(exc):
                    raise
            self._streams[topic] = stream
        return stream


class RabbitAcks:
    """The acknowledgements of one RabbitMQ channel's deliveries, gathered.

    A burst's messages are handled together (their runs queued by one engine
    call); rather than a frame each, the handled ones are acknowledged once per
    turn of the event loop: the run of consecutive delivery tags handled (or
    settled) from the lowest outstanding one with one ``multiple`` ack, the
    others handled meanwhile alone, so a message still being handled holds back
    no other's acknowledgement. A message is still acknowledged only once its
    handler returned: a ``multiple`` ack covers every delivery of the channel up
    to its tag that is not settled yet, so it is sent only when each of those is
    handled here; a refused message is nacked (and so settled) before any ack
    that spans its tag. Delivery tags count a channel's deliveries from 1: one
    of these per channel, and a channel reopened is a new one; a tag this
    consumer never saw (another's, on the same channel) stops the run there,
    and should the tags settled above it come to ``_MAX_SETTLED``, each message
    is acknowledged alone from then on.
    """

    def __init__(self) -> None:
        self._next = 1  # the lowest delivery tag not known to be settled
        self._handled: dict[int, Any] = {}  # tag: message, handled, not acknowledged yet
        self._settled: set[int] = set()  # tags above _next settled already
        self._flush: asyncio.Task[None] | None = None
        self._gathering = True
        # one flush at a time: a tag acknowledged alone is on the wire before a later
        # multiple ack spans it (RabbitMQ closes a channel that acknowledges a tag twice)
        self._sending = asyncio.Lock()

    def handled(self, message: Any) -> None:
        """``message``'s handler returned: acknowledge it with the next flush."""
        self._handled[message.delivery_tag] = message
        if self._flush is None:  # after this turn: the rest of the burst joins it
            self._flush = asyncio.get_running_loop().create_task(self._acknowledge())

    def settled(self, tag: int) -> None:
        """The delivery ``tag`` was refused (nacked) already."""
        if self._gathering:
            self._settled.add(tag)

    async def _acknowledge(self) -> None:
        self._flush = None
        async with self._sending:
            await self._send()

    async def _send(self) -> None:
        handled, self._handled = self._handled, {}
        last = None
        while self._gathering:  # the run of settled tags from the lowest outstanding one
            tag = self._next
            if tag in handled:
                last = handled.pop(tag)
            elif tag in self._settled:
                self._settled.discard(tag)
            else:
                break
            self._next = tag + 1
        if self._gathering:
            self._settled.update(handled)  # acknowledged alone just below
            if len(self._settled) > _MAX_SETTLED:  # the run is stuck: stop keeping count
                self._gathering = False
                self._settled.clear()
        try:
            if last is not None:
                await last.ack(multiple=True)
            for message in handled.values():
                await message.ack()
        except Exception as exc:  # the channel closed: its unacknowledged messages come back
            _LOGGER.warning("acknowledgements not sent (%s); the messages will come again", exc)


async def _pull(subscription: Any, handler: Handler) -> None:
    """Fetch and handle until cancelled: each message acknowledged once its handler
    returns, refused (delivered again) when it raises. The next fetch goes out while
    a fetch's messages are handled, up to ``_NATS_IN_FLIGHT`` messages held at once,
    so a burst's runs are being queued while the next messages come in."""
    from nats.errors import ConnectionClosedError
    from nats.js.errors import ServiceUnavailableError

    room = asyncio.Semaphore(_NATS_IN_FLIGHT)
    handling: set[asyncio.Task[None]] = set()

    async def one(message: Any) -> None:
        try:
            await handler(bytes(message.data))
        except Exception:
            _LOGGER.exception("a message on %s failed; it will come again", message.subject)
            await message.nak()
        else:
            await message.ack()
        finally:
            room.release()

    try:
        while True:
            await room.acquire()  # room for one at least before asking for more
            room.release()
            try:
                messages = await subscription.fetch(_NATS_FETCH, timeout=_NATS_FETCH_WAIT)
            except TimeoutError:  # nothing came (nats-py's own TimeoutError is one too)
                continue
            except (ConnectionClosedError, ServiceUnavailableError) as exc:
                _LOGGER.warning("NATS fetch failed (%s); trying again", exc)
                await asyncio.sleep(_NATS_FETCH_WAIT)
                continue
            for message in messages:
                await room.acquire()
                task = asyncio.create_task(one(message))
                handling.add(task)
                task.add_done_callback(handling.discard)
    finally:
        for task in list(handling):
            task.cancel()
