"""A replica that consumes and relays events, in a process of its own, for the crash tests.

``python -m tests.events.worker DB BROKER MARKS CRASH``: a durable engine on
``DB`` (agent ``support``, the offline model, executor id ``events-worker``, so
a restarted worker resumes its runs at once) with an event service on the
``BROKER``: ``orders.created`` starts runs. It creates ``MARKS/ready``
once started and appends each handled message's event id to ``MARKS/handled``.
``CRASH`` is where it kills itself with SIGKILL (kill -9): ``after-queue`` once
a message's run is durably queued, before the message is acknowledged;
``before-publish`` when the relay is about to publish a run's completion (the
change committed, its event not published); ``none`` never.
"""

from __future__ import annotations

import asyncio
import os
import signal
import sys
from pathlib import Path

from ascent import Agent
from ascent.durable import DurableEngine
from ascent.events import RUN_COMPLETED, EventConsumer, EventService, Subscription, subscribe
from ascent.events._faststream import FastStreamBroker  # claim_after, shortened for tests


async def main(db: str, broker_url: str, marks: Path, crash: str) -> None:
    engine = DurableEngine(
        agents=[Agent(name="support", instructions="Be brief.")],
        model="offline",
        database_url=db,
        executor_id="events-worker",
        poll_interval=0.02,
    )
    await engine.start()
    broker = FastStreamBroker(broker_url, name="worker", claim_after=1.0)
    handle = EventConsumer.handle

    async def handled(self: EventConsumer, subscription: Subscription, body: bytes) -> None:
        await handle(self, subscription, body)
        if crash == "after-queue":
            os.kill(os.getpid(), signal.SIGKILL)
        from ascent.events import parse_event

        with (marks / "handled").open("a") as file:
            file.write(parse_event(body).id + "\n")

    EventConsumer.handle = handled  # type: ignore[method-assign]
    publish = broker.publish

    async def publishing(topic: str, body: bytes) -> None:
        if crash == "before-publish" and RUN_COMPLETED.encode() in body:
            os.kill(os.getpid(), signal.SIGKILL)
        await publish(topic, body)

    broker.publish = publishing  # type: ignore[method-assign]
    service = EventService(
        engine, broker=broker, subscriptions=[subscribe("orders.created", agent="support")]
    )
    await service.start()
    (marks / "ready").touch()
    await asyncio.Event().wait()


if __name__ == "__main__":
    db, url, marks, crash = sys.argv[1:5]
    asyncio.run(main(db, url, Path(marks), crash))
