"""The broker seam itself: choosing a broker by URL, the in-process broker's groups, and
the Kafka path as far as it goes without a Kafka broker (none runs here)."""

from __future__ import annotations

import asyncio
from typing import Any

import pytest

from ascent.errors import UserError
from ascent.events import BROKER_URL_ENV, LocalBroker, connect_broker
from ascent.events._faststream import FastStreamBroker
from ascent.testing.redis import RedisServer


def test_the_url_chooses_the_broker(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv(BROKER_URL_ENV, raising=False)
    assert isinstance(connect_broker(), LocalBroker)
    monkeypatch.setenv(BROKER_URL_ENV, "redis://127.0.0.1:1/0")
    chosen = connect_broker()
    assert isinstance(chosen, FastStreamBroker) and chosen.kind == "redis"
    for url, kind in [
        ("amqp://guest:guest@127.0.0.1:1/", "amqp"),
        ("nats://127.0.0.1:1", "nats"),
        ("kafka://127.0.0.1:1,127.0.0.1:2", "kafka"),
    ]:
        broker = connect_broker(url)
        assert isinstance(broker, FastStreamBroker) and broker.kind == kind
    with pytest.raises(UserError, match="unknown broker 'mqtt'"):
        connect_broker("mqtt://127.0.0.1:1")


async def test_kafka_subscriptions_are_made_as_for_the_other_brokers() -> None:
    """Registering subscribers needs no connection: FastStream checks their options."""
    broker = connect_broker("kafka://127.0.0.1:1,127.0.0.1:2")
    assert isinstance(broker, FastStreamBroker)

    async def handler(body: bytes) -> None:
        return None

    await broker.subscribe("orders.created", handler, group="ascent.support")
    await broker.subscribe("ascent.runs", handler)
    subscribers = list(broker._broker.subscribers)
    assert len(subscribers) == 2


async def test_the_local_broker_gives_each_group_one_copy_in_turn() -> None:
    broker = LocalBroker()
    got: list[tuple[str, bytes]] = []

    def taker(name: str):  # type: ignore[no-untyped-def]
        async def take(body: bytes) -> None:
            got.append((name, body))

        return take

    await broker.subscribe("t", taker("a1"), group="a")
    await broker.subscribe("t", taker("a2"), group="a")
    await broker.subscribe("t", taker("solo"))
    for body in (b"1", b"2"):
        await broker.publish("t", body)
    await broker.join()
    assert sorted(got) == [("a1", b"1"), ("a2", b"2"), ("solo", b"1"), ("solo", b"2")]
    await broker.stop()


async def test_a_redis_tail_leaves_no_consumer_group_behind(redis_server: RedisServer) -> None:
    import redis.asyncio as aioredis

    broker = connect_broker(redis_server.url)

    async def handler(body: bytes) -> None:
        return None

    await broker.start()
    await broker.subscribe("tail.topic", handler)  # a tail: a group of its own
    await broker.subscribe("tail.topic", handler, group="keepers")  # a group: it stays
    client = aioredis.Redis.from_url(redis_server.url, decode_responses=True)
    try:
        names = {group["name"] for group in await client.xinfo_groups("tail.topic")}
        assert len(names) == 2 and "keepers" in names
        await broker.stop()
        assert [g["name"] for g in await client.xinfo_groups("tail.topic")] == ["keepers"]
    finally:
        await client.aclose()


async def test_a_nats_group_member_keeps_fetching_after_timeouts_of_either_kind() -> None:
    """nats-py 2.15+ raises a bare ``asyncio.TimeoutError`` (the builtin) from an expired fetch, and
    its own ``nats.errors.TimeoutError`` otherwise: neither stops the member, each
    message is acknowledged once handled and refused (to come again) when its
    handler fails."""
    import nats.errors

    from ascent.events._faststream import _pull

    class Message:
        subject = "orders"

        def __init__(self, data: bytes) -> None:
            self.data = data
            self.outcome = ""

        async def ack(self) -> None:
            self.outcome = "ack"

        async def nak(self) -> None:
            self.outcome = "nak"

    batch = [Message(b"one"), Message(b"bad"), Message(b"two")]
    answers: list[Any] = [TimeoutError(), nats.errors.TimeoutError(), batch]
    handled: list[bytes] = []
    done = asyncio.Event()

    class Subscription:
        async def fetch(self, batch: int, timeout: float) -> list[Message]:
            if not answers:
                done.set()
                await asyncio.sleep(3600)
            answer = answers.pop(0)
            if isinstance(answer, BaseException):
                raise answer
            return list(answer)

    async def handler(body: bytes) -> None:
        if body == b"bad":
            raise ValueError("cannot")
        handled.append(body)

    task = asyncio.create_task(_pull(Subscription(), handler))
    await asyncio.wait_for(done.wait(), 10)
    task.cancel()
    assert handled == [b"one", b"two"]
    assert [m.outcome for m in batch] == ["ack", "nak", "ack"]
