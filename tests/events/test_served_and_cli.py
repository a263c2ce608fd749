"""Events in a served app (its lifespan runs the event service) and on the command line
(``ascent events tail`` and ``publish``)."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import httpx
import pytest
from typer.testing import CliRunner

from ascent.cli.app import app as cli_app
from ascent.durable import run_id_for_key
from ascent.durable._store import RunStore
from ascent.errors import UserError
from ascent.events import (
    BROKER_URL_ENV,
    RUN_COMPLETED,
    RUN_STARTED,
    RUNS_TOPIC,
    SUBSCRIPTIONS_ENV,
    CloudEvent,
    EventService,
    LocalBroker,
    parse_event,
    parse_subscriptions,
    subscribe,
)
from ascent.server import create_app
from ascent.testing import ScriptedModel
from ascent.testing.redis import RedisServer

from .conftest import DEADLINE, Collector, support
from .test_events import order, until

ROOT = Path(__file__).resolve().parents[2]


async def test_a_served_app_runs_its_agents_on_the_topics_it_subscribes_to(
    sqlite_url: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv(BROKER_URL_ENV, raising=False)
    monkeypatch.setenv(SUBSCRIPTIONS_ENV, "orders.created=support@acme")
    app = create_app(
        [support()],
        database_url=sqlite_url,
        model=ScriptedModel(["On it."]),
        api_keys={"key-acme": "acme"},
    )
    service = app.state.ascent.events
    assert isinstance(service, EventService) and isinstance(service.broker, LocalBroker)
    collector = await Collector().attach(service.broker, RUNS_TOPIC)
    event = order()
    async with (
        app.router.lifespan_context(app),
        httpx.AsyncClient(
            transport=httpx.ASGITransport(app),
            base_url="http://service",
            headers={"Authorization": "Bearer key-acme"},
        ) as client,
    ):
        await service.publish("orders.created", event)
        [done] = await collector.wait_for(RUN_COMPLETED)
        answer = await client.get(f"/v1/runs/{done.runid}")
        assert answer.status_code == 200
        assert answer.json()["status"] == "completed" and answer.json()["output"] == "On it."
    assert done.runid == run_id_for_key("acme", event.id) and done.tenant == "acme"


def test_an_app_has_no_event_service_unless_asked_for(
    sqlite_url: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    for name in (BROKER_URL_ENV, SUBSCRIPTIONS_ENV):
        monkeypatch.delenv(name, raising=False)
    assert create_app([support()], database_url=sqlite_url).state.ascent.events is None
    made = create_app([support()], database_url=sqlite_url, events=True).state.ascent.events
    assert made is not None and made.subscriptions == []
    with pytest.raises(UserError, match="give the subscriptions to the EventService"):
        create_app(
            [support()],
            database_url=sqlite_url,
            events=EventService(broker=LocalBroker()),
            subscriptions=[subscribe("x", agent="support")],
        )


def test_subscriptions_from_a_line_of_configuration() -> None:
    parsed = parse_subscriptions("orders.created=support@acme, ascent.decisions=decisions@acme,t=a")
    assert [(s.topic, s.agent, s.tenant) for s in parsed] == [
        ("orders.created", "support", "acme"),
        ("ascent.decisions", None, "acme"),
        ("t", "a", None),
    ]
    with pytest.raises(UserError, match="expected topic=agent"):
        parse_subscriptions("orders.created")


@contextmanager
def tail_process(*args: str) -> Iterator[subprocess.Popen[str]]:
    """``ascent events tail ARGS`` in a process, once it listens."""
    process = subprocess.Popen(
        [sys.executable, "-m", "ascent.cli", "events", "tail", *args],
        cwd=ROOT,
        env={k: v for k, v in os.environ.items() if k != BROKER_URL_ENV},
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        assert process.stderr is not None
        said = process.stderr.readline()  # "listening on ..." / "following the outbox ..."
        assert said.startswith(("listening", "following")), said
        yield process
    finally:
        if process.poll() is None:
            process.kill()
        process.wait()


def test_tail_and_publish_on_a_broker(redis_server: RedisServer) -> None:
    url = redis_server.url
    with tail_process("shop.orders", "--broker", url, "--count", "1", "--timeout", "30") as tail:
        sent = CliRunner().invoke(
            cli_app, ["events", "publish", "shop.orders", '{"order_id": "A-1"}', "--broker", url]
        )
        assert sent.exit_code == 0, sent.output
        out, _ = tail.communicate(timeout=DEADLINE)
    event = parse_event(out.strip().encode())
    assert event.id == sent.output.strip()
    assert event.type == "ascent.cli.message.v1" and event.data == {"order_id": "A-1"}


def test_tail_follows_the_outbox_without_a_broker(sqlite_url: str) -> None:
    from .test_outbox import record

    RunStore(sqlite_url).insert_run(record("before"))  # written before the tail: not shown
    with tail_process("--database-url", sqlite_url, "--count", "1", "--timeout", "30") as tail:
        RunStore(sqlite_url).insert_run(record("after"))
        out, _ = tail.communicate(timeout=DEADLINE)
    [line] = out.strip().splitlines()
    event = CloudEvent.model_validate(json.loads(line))
    assert event.type == RUN_STARTED and event.subject == "after" and event.tenant == "acme"


def test_publish_refuses_what_it_cannot_send(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv(BROKER_URL_ENV, raising=False)
    runner = CliRunner()
    no_broker = runner.invoke(cli_app, ["events", "publish", "t", "{}"])
    assert no_broker.exit_code != 0 and "no broker to publish to" in no_broker.output
    bad = runner.invoke(cli_app, ["events", "publish", "t", "{nope", "--broker", "redis://x"])
    assert bad.exit_code != 0 and "JSON:" in bad.output
    half = runner.invoke(
        cli_app, ["events", "publish", "t", '{"specversion": "1.0"}', "--broker", "redis://x"]
    )
    assert half.exit_code != 0 and "not a CloudEvent" in half.output
    unknown = runner.invoke(cli_app, ["events", "publish", "t", "{}", "--broker", "mqtt://x"])
    assert unknown.exit_code != 0 and "unknown broker 'mqtt'" in unknown.output


async def test_until_is_bounded() -> None:
    with pytest.raises(TimeoutError):
        await until(lambda: False, timeout=0.05)
