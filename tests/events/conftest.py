"""Events on a real broker: the in-process one, Redis Streams, RabbitMQ and NATS
JetStream, each on loopback.

Every broker test runs on each kind (``broker_kind``): a test asks for
``make_broker`` and gets a fresh broker of that kind per call (one per replica,
say), all on one server per test. Each test starts clean: Redis is flushed,
RabbitMQ gives it a virtual host of its own, NATS is a server of its own (it
starts in milliseconds; its streams would otherwise replay old events).
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

from ascent import Agent
from ascent.durable import DurableEngine
from ascent.events import Broker, CloudEvent, LocalBroker, connect_broker, parse_event
from ascent.storage import dispose_engines
from ascent.testing.nats import NATSServer
from ascent.testing.rabbitmq import RabbitMQServer
from ascent.testing.redis import RedisServer

from ..engines import MakeEngine, engine_maker
from ..sample_tools import lookup, refund

DEADLINE = 30.0


def support() -> Agent[Any]:
    return Agent(name="support", instructions="Be brief.", tools=[lookup, refund])


@pytest.fixture
def sqlite_url(tmp_path: Path) -> Iterator[str]:
    yield f"sqlite:///{tmp_path / 'events.db'}"
    dispose_engines()


@pytest.fixture(params=["local", "redis", "rabbitmq", "nats"])
def broker_kind(request: pytest.FixtureRequest) -> str:
    return str(request.param)


@pytest.fixture
def broker_url(broker_kind: str, request: pytest.FixtureRequest) -> Iterator[str | None]:
    if broker_kind == "local":
        yield None
        return
    if broker_kind == "rabbitmq":
        rabbitmq: RabbitMQServer = request.getfixturevalue("rabbitmq_server")
        yield rabbitmq.fresh_url()
        return
    if broker_kind == "nats":
        nats: NATSServer = request.getfixturevalue("fresh_nats_server")
        yield nats.url
        return
    server: RedisServer = request.getfixturevalue("redis_server")
    import redis

    client = redis.Redis.from_url(server.url)
    client.flushall()
    client.close()
    yield server.url


@pytest.fixture
async def make_broker(broker_url: str | None) -> AsyncIterator[Callable[[], Broker]]:
    """Brokers of this test's kind; in process, every call shares one (as replicas
    in one process would)."""
    made: list[Broker] = []
    shared = LocalBroker(retry_delay=0.01)

    def make() -> Broker:
        if broker_url is None:
            return shared
        broker = connect_broker(broker_url)
        made.append(broker)
        return broker

    yield make
    for broker in made:
        await broker.stop()
    await shared.stop()


@pytest.fixture
async def make_engine(sqlite_url: str) -> AsyncIterator[MakeEngine]:
    async with engine_maker(sqlite_url, executor_id="events-replica") as make:

        async def make_serving_support(**options: Any) -> DurableEngine:
            options.setdefault("agents", [support()])
            return await make(**options)

        yield make_serving_support


class Collector:
    """Every event published on some topics from now on, as CloudEvents (and raw)."""

    def __init__(self) -> None:
        self.events: list[CloudEvent] = []
        self.raw: list[bytes] = []
        self._changed = asyncio.Condition()

    async def attach(self, broker: Broker, *topics: str) -> Collector:
        await broker.start()
        for topic in topics:
            await broker.subscribe(topic, self._take)
        return self

    async def _take(self, body: bytes) -> None:
        async with self._changed:
            self.raw.append(body)
            self.events.append(parse_event(body))
            self._changed.notify_all()

    def of(self, type: str, *, run_id: str | None = None) -> list[CloudEvent]:
        return [e for e in self.events if e.type == type and (run_id is None or e.runid == run_id)]

    async def wait_for(
        self, type: str, *, run_id: str | None = None, count: int = 1, timeout: float = DEADLINE
    ) -> list[CloudEvent]:
        async def enough() -> list[CloudEvent]:
            async with self._changed:
                await self._changed.wait_for(lambda: len(self.of(type, run_id=run_id)) >= count)
                return self.of(type, run_id=run_id)

        return await asyncio.wait_for(enough(), timeout)
