"""A consumer that takes one message, says so on stdout, and never acknowledges it.

The broker fixtures' tests run it in a process of their own and kill -9 it while it
holds the message, as a crashed replica would: the broker must redeliver.

Usage: python _holder.py rabbit|nats URL QUEUE_OR_SUBJECT [STREAM]
"""

from __future__ import annotations

import asyncio
import sys
from typing import Any


async def main(kind: str, url: str, target: str, stream: str = "") -> None:
    held = asyncio.Event()

    async def hold(body: Any) -> None:
        print("held", flush=True)
        held.set()
        await asyncio.sleep(3600)

    if kind == "rabbit":
        from faststream.rabbit import RabbitBroker, RabbitQueue

        rabbit = RabbitBroker(url, logger=None)
        rabbit.subscriber(RabbitQueue(target, durable=True))(hold)
        await rabbit.start()
    else:
        from faststream.nats import ConsumerConfig, JStream, NatsBroker, PullSub

        nats = NatsBroker(url, logger=None)
        nats.subscriber(
            target,
            stream=JStream(stream, declare=False),
            durable="workers",
            pull_sub=PullSub(),
            config=ConsumerConfig(ack_wait=1),
        )(hold)
        await nats.start()
    print("ready", flush=True)
    await asyncio.sleep(3600)


if __name__ == "__main__":
    asyncio.run(main(*sys.argv[1:]))
