"""The loopback NATS fixture: JetStream FastStream can use, which leaves nothing behind."""

from __future__ import annotations

import asyncio
import os
import uuid
from typing import Any

import nats
import pytest
from faststream.nats import ConsumerConfig, JStream, NatsBroker, PullSub
from faststream.nats.annotations import NatsMessage

from ascent.testing.nats import NATSServer, find_nats_server
from tests.testing.brokers import alive, eventually, group_members, holder


async def test_faststream_jetstream_round_trip(nats_server: NATSServer) -> None:
    name = f"ascent-test-{uuid.uuid4().hex[:8]}"
    stream = JStream(name, subjects=[f"{name}.>"])
    received: list[dict[str, Any]] = []
    broker = NatsBroker(nats_server.url, logger=None)

    @broker.subscriber(f"{name}.orders", stream=stream, durable="workers", pull_sub=PullSub())
    async def handle(body: dict[str, Any]) -> None:
        received.append(body)

    async with broker:
        await broker.start()
        ack = await broker.publish({"order": 1}, f"{name}.orders", stream=name)
        assert ack.stream == name  # stored by JetStream, not just sent
        await broker.publish({"order": 2}, f"{name}.orders", stream=name)
        await eventually(lambda: len(received) == 2)
    assert received == [{"order": 1}, {"order": 2}]


async def test_message_held_by_a_killed_consumer_is_redelivered(nats_server: NATSServer) -> None:
    """kill -9 a pull consumer holding an unacknowledged message: the group gets it again."""
    name = f"ascent-test-{uuid.uuid4().hex[:8]}"
    subject = f"{name}.orders"
    await _add_stream(nats_server.url, name)
    redelivered: list[tuple[dict[str, Any], int]] = []
    broker = NatsBroker(nats_server.url, logger=None)
    with holder("nats", nats_server.url, subject, name) as crashed:
        async with broker:
            await broker.connect()
            await broker.publish({"n": 1}, subject, stream=name)
            assert crashed.stdout is not None
            assert (await asyncio.to_thread(crashed.stdout.readline)).strip() == "held"
            crashed.kill()

    @broker.subscriber(
        subject,
        stream=JStream(name, declare=False),
        durable="workers",
        pull_sub=PullSub(),
        config=ConsumerConfig(ack_wait=1),
    )
    async def take(body: dict[str, Any], message: NatsMessage) -> None:
        redelivered.append((body, message.raw_message.metadata.num_delivered))

    async with broker:
        await broker.start()
        await eventually(lambda: len(redelivered) == 1)
        await asyncio.sleep(0.2)  # room for a wrong second delivery to show up
    assert redelivered == [({"n": 1}, 2)]


def test_restart_keeps_the_stream_and_the_port() -> None:
    if find_nats_server() is None and os.environ.get("CI", "").lower() != "true":
        pytest.skip("nats-server not found")
    name = f"kept-{uuid.uuid4().hex[:8]}"

    async def publish(url: str) -> None:
        await _add_stream(url, name)
        broker = NatsBroker(url, logger=None)
        async with broker:
            await broker.connect()
            await broker.publish({"kept": True}, f"{name}.x", stream=name)

    async def take(url: str) -> list[dict[str, Any]]:
        got: list[dict[str, Any]] = []
        broker = NatsBroker(url, logger=None)

        @broker.subscriber(
            f"{name}.x", stream=JStream(name, declare=False), durable="d", pull_sub=PullSub()
        )
        async def handle(body: dict[str, Any]) -> None:
            got.append(body)

        async with broker:
            await broker.start()
            await eventually(lambda: len(got) == 1)
        return got

    with NATSServer() as server:
        asyncio.run(publish(server.url))
        port = server.port
        server.restart()
        assert server.port == port
        assert asyncio.run(take(server.url)) == [{"kept": True}]


def test_stop_leaves_no_process_and_no_folder() -> None:
    if find_nats_server() is None and os.environ.get("CI", "").lower() != "true":
        pytest.skip("nats-server not found")
    server = NATSServer().start()
    root, pid = server.root, server.pid
    assert pid is not None and alive(pid)
    members = group_members(pid)
    assert pid in members
    server.stop()
    assert not [p for p in members if alive(p)]
    assert root is not None and not root.exists()


def test_url_needs_a_running_server() -> None:
    if find_nats_server() is None and os.environ.get("CI", "").lower() != "true":
        pytest.skip("nats-server not found")
    with pytest.raises(RuntimeError, match="not running"):
        _ = NATSServer().url


async def _add_stream(url: str, name: str) -> None:
    client = await nats.connect(url)
    try:
        await client.jetstream().add_stream(name=name, subjects=[f"{name}.>"])
    finally:
        await client.close()
