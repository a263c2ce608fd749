"""RabbitMQ acknowledgements gathered per channel (``RabbitAcks``): a burst is
acknowledged with one ``multiple`` ack, never past a delivery still being
handled, never a tag twice (RabbitMQ would close the channel)."""

from __future__ import annotations

import asyncio
from dataclasses import dataclass, field

import pytest

from ascent.events._faststream import RabbitAcks


@dataclass
class Wire:
    """The acknowledgements sent, as the broker applies them: a multiple ack settles
    every delivery up to its tag still outstanding; a tag acknowledged alone twice
    is an error (RabbitMQ closes the channel)."""

    frames: list[tuple[int, bool]] = field(default_factory=list)
    acked: set[int] = field(default_factory=set)
    delivered: set[int] = field(default_factory=set)

    def ack(self, tag: int, multiple: bool) -> None:
        self.frames.append((tag, multiple))
        covered = {t for t in self.delivered if t <= tag} if multiple else {tag}
        assert multiple or tag not in self.acked, f"tag {tag} acknowledged twice"
        self.acked |= covered


@dataclass
class Message:
    delivery_tag: int
    wire: Wire

    async def ack(self, multiple: bool = False) -> None:
        await asyncio.sleep(0)  # a frame goes out after a turn: flushes could interleave
        self.wire.ack(self.delivery_tag, multiple)


async def settle() -> None:
    for _ in range(50):
        await asyncio.sleep(0)


async def test_a_burst_handled_together_is_acknowledged_with_one_frame() -> None:
    wire, acks = Wire(), RabbitAcks()
    messages = [Message(tag, wire) for tag in range(1, 101)]
    wire.delivered = {m.delivery_tag for m in messages}
    for message in messages:
        acks.handled(message)
    await settle()
    assert wire.frames == [(100, True)]
    assert wire.acked == set(range(1, 101))


async def test_a_message_still_handled_holds_back_no_other_and_none_is_acked_twice() -> None:
    wire, acks = Wire(), RabbitAcks()
    messages = {tag: Message(tag, wire) for tag in range(1, 11)}
    wire.delivered = set(messages)
    for tag in (2, 3, 5, 6):  # 1 and 4 still being handled
        acks.handled(messages[tag])
    await settle()
    assert sorted(wire.frames) == [(2, False), (3, False), (5, False), (6, False)]
    assert 1 not in wire.acked and 4 not in wire.acked
    wire.delivered.discard(4)  # 4 failed: nacked, back to the queue (settled on the wire)
    acks.settled(4)
    acks.handled(messages[1])
    for tag in (7, 8):
        acks.handled(messages[tag])
    await settle()
    # 1, then 2 and 3 (sent), 4 (nacked), 5 and 6 (sent), 7 and 8: one frame up to 8
    assert wire.frames[4:] == [(8, True)]
    assert wire.acked == {1, 2, 3, 5, 6, 7, 8}
    for tag in (10, 9):
        acks.handled(messages[tag])
    await settle()
    assert wire.frames[5:] == [(10, True)]


async def test_a_tag_never_seen_here_stops_the_run_of_multiple_acks() -> None:
    wire, acks = Wire(), RabbitAcks()
    wire.delivered = {1, 2, 3}  # 1 went to another consumer of the channel
    for tag in (2, 3):
        acks.handled(Message(tag, wire))
    await settle()
    assert sorted(wire.frames) == [(2, False), (3, False)]
    assert 1 not in wire.acked


async def test_an_acknowledgement_that_cannot_be_sent_is_logged_not_raised(
    caplog: pytest.LogCaptureFixture,
) -> None:
    class Closed(Message):
        async def ack(self, multiple: bool = False) -> None:
            raise ConnectionError("the channel closed")

    acks = RabbitAcks()
    acks.handled(Closed(1, Wire()))
    await settle()
    assert "will come again" in caplog.text
