"""The loopback RabbitMQ fixture: a private node FastStream can use, which leaves nothing behind."""

from __future__ import annotations

import asyncio
import os
import uuid
from typing import Any

import pytest
from faststream.rabbit import RabbitBroker, RabbitQueue
from faststream.rabbit.annotations import RabbitMessage

from ascent.testing.rabbitmq import RabbitMQServer, find_rabbitmq_server
from tests.testing.brokers import alive, eventually, group_members, holder


async def test_faststream_round_trip(rabbitmq_server: RabbitMQServer) -> None:
    queue = RabbitQueue(f"ascent-test-{uuid.uuid4().hex[:8]}", auto_delete=True)
    received: list[dict[str, Any]] = []
    broker = RabbitBroker(rabbitmq_server.url, logger=None)

    @broker.subscriber(queue)
    async def handle(body: dict[str, Any]) -> None:
        received.append(body)

    async with broker:
        await broker.start()
        await broker.publish({"order": 1}, queue=queue)
        await broker.publish({"order": 2}, queue=queue)
        await eventually(lambda: len(received) == 2)
    assert received == [{"order": 1}, {"order": 2}]


async def test_message_held_by_a_killed_consumer_is_redelivered(
    rabbitmq_server: RabbitMQServer,
) -> None:
    """kill -9 a consumer holding an unacknowledged message: the next consumer gets it."""
    queue = f"ascent-test-{uuid.uuid4().hex[:8]}"
    publisher = RabbitBroker(rabbitmq_server.url, logger=None)
    async with publisher:
        await publisher.declare_queue(RabbitQueue(queue, durable=True))
        with holder("rabbit", rabbitmq_server.url, queue) as crashed:
            await publisher.publish({"n": 1}, queue=queue, persist=True)
            assert crashed.stdout is not None
            assert (await asyncio.to_thread(crashed.stdout.readline)).strip() == "held"
            crashed.kill()

        redelivered: list[tuple[dict[str, Any], bool]] = []
        second = RabbitBroker(rabbitmq_server.url, logger=None)

        @second.subscriber(RabbitQueue(queue, durable=True))
        async def take(body: dict[str, Any], message: RabbitMessage) -> None:
            redelivered.append((body, bool(message.raw_message.redelivered)))

        async with second:
            await second.start()
            await eventually(lambda: len(redelivered) == 1)
            await asyncio.sleep(0.2)  # room for a wrong second delivery to show up
    assert redelivered == [({"n": 1}, True)]


def test_url_needs_a_running_node() -> None:
    if find_rabbitmq_server() is None and os.environ.get("CI", "").lower() != "true":
        pytest.skip("rabbitmq-server not found")
    with pytest.raises(RuntimeError, match="not running"):
        _ = RabbitMQServer().url


def test_extra_vhosts_restart_and_a_clean_stop() -> None:
    """One private node (each costs seconds to boot) for a virtual host made on demand,
    the restart and the clean stop."""
    if find_rabbitmq_server() is None and os.environ.get("CI", "").lower() != "true":
        pytest.skip("rabbitmq-server not found")

    async def publish(url: str) -> None:
        broker = RabbitBroker(url, logger=None)
        async with broker:
            await broker.declare_queue(RabbitQueue("kept", durable=True))
            await broker.publish({"kept": True}, queue="kept", persist=True)

    async def take(url: str) -> list[dict[str, Any]]:
        got: list[dict[str, Any]] = []
        broker = RabbitBroker(url, logger=None)

        @broker.subscriber(RabbitQueue("kept", durable=True))
        async def handle(body: dict[str, Any]) -> None:
            got.append(body)

        async with broker:
            await broker.start()
            await eventually(lambda: len(got) == 1)
        return got

    with RabbitMQServer(vhosts=1) as server:
        # the virtual host made at boot, then one made on demand (rabbitmqctl)
        assert server.fresh_url().endswith("/t1")
        url = server.fresh_url()
        assert url.endswith("/t2")
        asyncio.run(publish(url))
        port = server.port
        server.restart()
        assert server.port == port
        assert asyncio.run(take(url)) == [{"kept": True}]
        root = server.root
        members: set[int] = set()
        for pgid in server.pids:
            members |= group_members(pgid)
        assert len(members) >= 3  # the wrapper script, the Erlang VM and its helper, and epmd
        server.stop()
        assert not [pid for pid in members if alive(pid)]
        assert root is not None and not root.exists()
        server.stop()  # a second stop is harmless
