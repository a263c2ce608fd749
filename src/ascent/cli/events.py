"""``ascent events``: watch the events runs publish, and send one.

``ascent events tail [TOPIC...]`` prints each event as one line of JSON as it
arrives: from the broker ``ASCENT_BROKER_URL`` names, or, with no broker, from
the outbox in the database (where every event is recorded). ``ascent events
publish TOPIC JSON`` sends one event: a CloudEvent, or data that becomes one.
"""

from __future__ import annotations

import asyncio
import sys
import time
from typing import TYPE_CHECKING, Annotated

import typer

from ._common import fail

if TYPE_CHECKING:
    from ..events import CloudEvent

# ``ascent --help`` loads this module: the events machinery (pydantic, SQLAlchemy,
# FastStream) is imported by the commands when they run, not here.

__all__ = ["events_app"]

events_app = typer.Typer(
    name="events",
    help="Watch the events runs publish ('tail'), or send one ('publish').",
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
)

BrokerOption = Annotated[
    str | None,
    typer.Option("--broker", metavar="URL", help="The broker (default: ASCENT_BROKER_URL)."),
]


@events_app.command("tail")
def tail_command(
    topics: Annotated[
        list[str] | None,
        typer.Argument(help="Topics to follow (default: the runs' and the approvals' topics)."),
    ] = None,
    broker: BrokerOption = None,
    database: Annotated[
        str | None,
        typer.Option(
            "--database-url",
            metavar="URL",
            help="With no broker, follow this database's outbox (default: the project's).",
        ),
    ] = None,
    count: Annotated[
        int | None, typer.Option("--count", min=1, help="Stop after this many events.")
    ] = None,
    timeout: Annotated[
        float | None, typer.Option("--timeout", min=0, help="Stop after this many seconds.")
    ] = None,
) -> None:
    """Print events as they arrive, one JSON line each."""
    from ..errors import AscentError
    from ..events import APPROVALS_TOPIC, RUNS_TOPIC, broker_url
    from ..storage import database_url

    chosen = list(topics or [RUNS_TOPIC, APPROVALS_TOPIC])
    url = broker_url(broker)
    try:
        if url is None:
            _tail_outbox(database or database_url(), chosen, count=count, timeout=timeout)
        else:
            asyncio.run(_tail_broker(url, chosen, count=count, timeout=timeout))
    except KeyboardInterrupt:
        pass
    except AscentError as exc:
        fail(str(exc))


@events_app.command("publish")
def publish_command(
    topic: Annotated[str, typer.Argument(help="The topic to publish to.")],
    body: Annotated[
        str,
        typer.Argument(
            metavar="JSON",
            help="A CloudEvent (with specversion), or the data of one (see --type).",
        ),
    ],
    broker: BrokerOption = None,
    type: Annotated[
        str, typer.Option("--type", help="The event's type, when JSON is its data.")
    ] = "ascent.cli.message.v1",
    source: Annotated[
        str, typer.Option("--source", help="The event's source, when JSON is its data.")
    ] = "/ascent/cli",
) -> None:
    """Send one event to TOPIC; prints its id."""
    from pydantic import ValidationError
    from pydantic_core import from_json

    from ..errors import AscentError
    from ..events import CloudEvent, broker_url

    url = broker_url(broker)
    if url is None:
        fail("no broker to publish to: pass --broker or set ASCENT_BROKER_URL")
    try:
        raw = from_json(body)
    except ValueError as exc:
        fail(f"JSON: {exc}")
    try:
        if isinstance(raw, dict) and "specversion" in raw:
            event = CloudEvent.model_validate(raw)
        else:
            event = CloudEvent(type=type, source=source, data=raw)
    except ValidationError as exc:
        fail(f"not a CloudEvent: {exc.errors()[0]['msg']}")
    try:
        asyncio.run(_publish(url, topic, event))
    except AscentError as exc:
        fail(str(exc))
    typer.echo(event.id)


async def _publish(url: str, topic: str, event: CloudEvent) -> None:
    from ..events import connect_broker

    broker = connect_broker(url)
    await broker.start()
    try:
        await broker.publish(topic, event.to_json_bytes())
    finally:
        await broker.stop()


async def _tail_broker(
    url: str, topics: list[str], *, count: int | None, timeout: float | None
) -> None:
    from ..events import connect_broker, tail

    shown = 0
    deadline = None if timeout is None else time.monotonic() + timeout
    async with tail(connect_broker(url), topics) as queue:
        print("listening on " + ", ".join(topics), file=sys.stderr, flush=True)
        while count is None or shown < count:
            left = None if deadline is None else deadline - time.monotonic()
            if left is not None and left <= 0:
                return
            try:
                _topic, body = await asyncio.wait_for(queue.get(), left)
            except TimeoutError:
                return
            print(body.decode(errors="replace"), flush=True)
            shown += 1


def _tail_outbox(url: str, topics: list[str], *, count: int | None, timeout: float | None) -> None:
    """Follow the outbox: the events written from now on (published or not)."""
    from ..durable.outbox import EVENT_SOURCE, Outbox
    from ..events import CloudEvent

    outbox = Outbox(url)
    after = max((entry.seq for entry in outbox.entries()), default=0)
    print("following the outbox of " + url.split("://", 1)[0], file=sys.stderr, flush=True)
    shown = 0
    deadline = None if timeout is None else time.monotonic() + timeout
    while count is None or shown < count:
        for entry in outbox.entries(after=after):
            after = entry.seq
            if entry.topic in topics:
                event = CloudEvent.from_entry(entry, source=EVENT_SOURCE)
                print(event.to_json_bytes().decode(), flush=True)
                shown += 1
                if count is not None and shown >= count:
                    return
        if deadline is not None and time.monotonic() >= deadline:
            return
        time.sleep(0.2)
