"""Dapr pub/sub, app side: what the sidecar asks and sends, and publishing through it.

No ``daprd`` runs here. The requests below are shaped as Dapr's documentation
shows the sidecar sending them (programmatic subscriptions read with
``GET /dapr/subscribe``; each event POSTed to its route as a structured
CloudEvent, ``application/cloudevents+json``, with the envelope fields Dapr
adds: ``topic``, ``pubsubname``, ``traceid``, ``traceparent``, ``tracestate``);
a small HTTP server stands in for the sidecar's publish API.
"""

from __future__ import annotations

import json
from collections.abc import AsyncIterator, Awaitable, Callable
from pathlib import Path
from typing import Any

import httpx
import pytest
from fastapi import FastAPI
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from ascent import Agent
from ascent.durable import DurableEngine, run_id_for_key
from ascent.errors import UserError
from ascent.events import (
    APPROVAL_DECIDED,
    APPROVAL_REQUIRED,
    APPROVALS_TOPIC,
    DEAD_LETTER,
    DEAD_LETTER_TOPIC,
    DECISIONS_TOPIC,
    MAX_EVENT_BYTES,
    RUN_COMPLETED,
    RUNS_TOPIC,
    EventService,
    connect_broker,
    decisions,
    subscribe,
)
from ascent.events.dapr import DaprBroker, sidecar_url
from ascent.server import create_app
from ascent.server.routes.dapr import dapr_router
from ascent.storage import dispose_engines
from ascent.testing import ScriptedModel
from ascent.testing.loopback import LoopbackServer
from ascent.testing.scripted import ToolCall

from ..sample_tools import refund
from ..testing.brokers import eventually

TRACEPARENT = "00-113ad9c4e42b27583ae98ba698d54255-e3743e35ff56f219-01"


def sidecar_delivery(
    topic: str, *, event_id: str = "5929aaac-a5e2-4ca1-859c-edfe73f11565"
) -> bytes:
    """A CloudEvent as the sidecar POSTs it: the publisher's event plus Dapr's fields."""
    return json.dumps(
        {
            "topic": topic,
            "pubsubname": "orders-pubsub",
            "traceid": TRACEPARENT,
            "traceparent": TRACEPARENT,
            "tracestate": "",
            "data": {"orderId": 1},
            "id": event_id,
            "specversion": "1.0",
            "datacontenttype": "application/json; charset=utf-8",
            "source": "checkout",
            "type": "com.example.order.created",
            "time": "2026-09-23T06:23:21Z",
        }
    ).encode()


SIDECAR_HEADERS = {
    "content-type": "application/cloudevents+json",
    "traceparent": TRACEPARENT,
    "tracestate": "",
}


def app_for(broker: DaprBroker, **options: Any) -> FastAPI:
    app = FastAPI()
    app.include_router(dapr_router(broker, **options))
    return app


@pytest.fixture
async def broker() -> AsyncIterator[DaprBroker]:
    broker = DaprBroker("dapr://orders-pubsub", sidecar="http://127.0.0.1:9")
    yield broker
    await broker.stop()


def client(app: FastAPI) -> httpx.AsyncClient:
    return httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://127.0.0.1")


async def test_subscribe_lists_the_topics_in_dapr_programmatic_format(broker: DaprBroker) -> None:
    async def ignore(body: bytes) -> None:
        return None

    await broker.subscribe("orders.created", ignore, group="ascent.support")
    await broker.subscribe("ascent.approval.decided", ignore)
    await broker.subscribe("orders.created", ignore)  # a second handler: still one entry
    async with client(app_for(broker)) as http:
        response = await http.get("/dapr/subscribe")
    assert response.status_code == 200
    assert response.json() == [
        {
            "pubsubname": "orders-pubsub",
            "topic": "orders.created",
            "routes": {"default": "/dapr/events/orders.created"},
        },
        {
            "pubsubname": "orders-pubsub",
            "topic": "ascent.approval.decided",
            "routes": {"default": "/dapr/events/ascent.approval.decided"},
        },
    ]


async def test_subscription_metadata_is_declared() -> None:
    broker = DaprBroker(
        "dapr://pubsub", sidecar="http://127.0.0.1:9", metadata={"rawPayload": "false"}
    )

    async def ignore(body: bytes) -> None:
        return None

    await broker.subscribe("t", ignore)
    assert broker.subscriptions() == [
        {
            "pubsubname": "pubsub",
            "topic": "t",
            "routes": {"default": "/dapr/events/t"},
            "metadata": {"rawPayload": "false"},
        }
    ]


async def test_a_delivered_event_reaches_the_handler_as_sent_and_succeeds(
    broker: DaprBroker,
) -> None:
    got: list[bytes] = []

    async def handle(body: bytes) -> None:
        got.append(body)

    await broker.subscribe("orders.created", handle)
    body = sidecar_delivery("orders.created")
    async with client(app_for(broker)) as http:
        response = await http.post(
            "/dapr/events/orders.created", content=body, headers=SIDECAR_HEADERS
        )
    assert response.status_code == 200
    assert response.json() == {"status": "SUCCESS"}
    assert got == [body]


async def test_one_member_of_each_group_takes_a_delivery(broker: DaprBroker) -> None:
    """A subscription handling several messages at once is several members of its group:
    each delivery goes to one of them, and to one member of every other group."""
    calls: list[str] = []

    def member(name: str) -> Callable[[bytes], Awaitable[None]]:
        async def handle(body: bytes) -> None:
            calls.append(name)

        return handle

    for name in ("support-1", "support-2", "support-3"):
        await broker.subscribe("orders.created", member(name), group="ascent.support")
    await broker.subscribe("orders.created", member("audit"), group="ascent.audit")
    await broker.subscribe("orders.created", member("tail"))
    for _ in range(3):
        assert await broker.deliver("orders.created", b"{}") == "SUCCESS"
    assert sorted(calls) == sorted(
        ["support-1", "support-2", "support-3"] + ["audit"] * 3 + ["tail"] * 3
    )
    assert len(broker.subscriptions()) == 1


async def test_a_failing_handler_asks_dapr_to_retry(broker: DaprBroker) -> None:
    calls: list[bytes] = []

    async def fail(body: bytes) -> None:
        calls.append(body)
        raise ConnectionError("the database is away")

    await broker.subscribe("orders.created", fail)
    async with client(app_for(broker)) as http:
        response = await http.post(
            "/dapr/events/orders.created",
            content=sidecar_delivery("orders.created"),
            headers=SIDECAR_HEADERS,
        )
    assert response.status_code == 200
    assert response.json() == {"status": "RETRY"}
    assert len(calls) == 1


async def test_an_event_on_a_topic_not_taken_here_is_dropped(broker: DaprBroker) -> None:
    got: list[bytes] = []

    async def handle(body: bytes) -> None:
        got.append(body)

    await broker.subscribe("orders.created", handle)
    async with client(app_for(broker)) as http:
        response = await http.post(
            "/dapr/events/orders.cancelled",
            content=sidecar_delivery("orders.cancelled"),
            headers=SIDECAR_HEADERS,
        )
    assert response.json() == {"status": "DROP"}
    assert got == []


async def test_the_app_api_token_is_checked_when_set(broker: DaprBroker) -> None:
    got: list[bytes] = []

    async def handle(body: bytes) -> None:
        got.append(body)

    await broker.subscribe("orders.created", handle)
    body = sidecar_delivery("orders.created")
    async with client(app_for(broker, app_token="s3cret")) as http:
        assert (await http.get("/dapr/subscribe")).status_code == 401
        wrong = {**SIDECAR_HEADERS, "dapr-api-token": "guess"}
        assert (
            await http.post("/dapr/events/orders.created", content=body, headers=wrong)
        ).status_code == 401
        assert got == []
        right = {**SIDECAR_HEADERS, "dapr-api-token": "s3cret"}
        assert (await http.get("/dapr/subscribe", headers=right)).status_code == 200
        response = await http.post("/dapr/events/orders.created", content=body, headers=right)
    assert response.json() == {"status": "SUCCESS"}
    assert got == [body]


class Sidecar:
    """A stand-in for the sidecar's publish API: records each request, answers ``status``."""

    def __init__(self) -> None:
        self.requests: list[tuple[str, dict[str, str], bytes]] = []
        self.status = 204

    async def publish(self, request: Request) -> Response:
        self.requests.append((request.url.path, dict(request.headers), await request.body()))
        return Response(status_code=self.status)

    def app(self) -> Starlette:
        return Starlette(
            routes=[Route("/v1.0/publish/{pubsub}/{topic}", self.publish, methods=["POST"])]
        )


@pytest.fixture
def sidecar() -> Any:
    stand_in = Sidecar()
    with LoopbackServer(stand_in.app()) as server:
        stand_in.url = server.url  # type: ignore[attr-defined]
        stand_in.port = server.port  # type: ignore[attr-defined]
        yield stand_in


async def test_publish_posts_the_cloudevent_to_the_sidecar(
    sidecar: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("DAPR_HTTP_PORT", str(sidecar.port))
    monkeypatch.delenv("DAPR_HTTP_ENDPOINT", raising=False)
    monkeypatch.setenv("DAPR_API_TOKEN", "sidecar-token")
    broker = DaprBroker("dapr://orders-pubsub")
    event = b'{"specversion":"1.0","id":"e1","source":"/ascent","type":"ascent.run.completed"}'
    try:
        await broker.publish("ascent.run.completed", event)
    finally:
        await broker.stop()
    [(path, headers, body)] = sidecar.requests
    assert path == "/v1.0/publish/orders-pubsub/ascent.run.completed"
    assert headers["content-type"] == "application/cloudevents+json"
    assert headers["dapr-api-token"] == "sidecar-token"
    assert body == event


async def test_publish_raises_when_the_sidecar_refuses(sidecar: Any) -> None:
    sidecar.status = 500
    broker = DaprBroker("dapr://orders-pubsub", sidecar=sidecar.url, api_token="")
    try:
        with pytest.raises(RuntimeError, match=r"did not take the event.*500"):
            await broker.publish("t", b"{}")
    finally:
        await broker.stop()
    [(_, headers, _)] = sidecar.requests
    assert "dapr-api-token" not in headers


async def test_publish_raises_when_no_sidecar_answers() -> None:
    broker = DaprBroker("dapr://p", sidecar="http://127.0.0.1:9", timeout=2)
    try:
        with pytest.raises(httpx.TransportError):
            await broker.publish("t", b"{}")
    finally:
        await broker.stop()


def test_sidecar_address_comes_from_daprs_variables() -> None:
    assert sidecar_url({}) == "http://127.0.0.1:3500"
    assert sidecar_url({"DAPR_HTTP_PORT": "3601"}) == "http://127.0.0.1:3601"
    assert (
        sidecar_url({"DAPR_HTTP_PORT": "3601", "DAPR_HTTP_ENDPOINT": "http://dapr:3500/"})
        == "http://dapr:3500"
    )


@pytest.mark.parametrize("url", ["dapr://", "dapr://pubsub/topic", "amqp://pubsub"])
def test_a_bad_dapr_url_is_refused(url: str) -> None:
    with pytest.raises(UserError, match="dapr://<pubsub-name>"):
        DaprBroker(url)


async def test_the_service_runs_sidecar_events_and_publishes_through_the_sidecar(
    sidecar: Any, tmp_path: Path
) -> None:
    """End to end on the app side: a delivered event starts one run (a redelivery none),
    its completion goes out through the sidecar, and a poison message is dead-lettered."""
    engine = DurableEngine(
        agents=[Agent(name="support", instructions="Be brief.")],
        database_url=f"sqlite:///{tmp_path / 'dapr.db'}",
        model=ScriptedModel(["on it"] * 4),
        poll_interval=0.02,
        executor_id="dapr-replica",
    )
    broker = DaprBroker("dapr://orders-pubsub", sidecar=sidecar.url, api_token="")
    service = EventService(
        engine,
        broker=broker,
        subscriptions=[subscribe("orders.created", agent="support", tenant="acme")],
        relay_interval=0.02,
    )
    await engine.start()
    await service.start()
    try:
        async with client(app_for(broker)) as http:
            listed = (await http.get("/dapr/subscribe")).json()
            assert [entry["topic"] for entry in listed] == ["orders.created"]
            body = sidecar_delivery("orders.created", event_id="order-1")
            for _delivery in range(2):  # the sidecar delivers it twice (at least once)
                response = await http.post(
                    listed[0]["routes"]["default"], content=body, headers=SIDECAR_HEADERS
                )
                assert response.json() == {"status": "SUCCESS"}
            run_id = run_id_for_key("acme", "order-1")
            record = await engine.wait_run(run_id, tenant="acme", timeout=30)
            assert record.status == "completed"
            assert [r.id for r in await engine.list_runs(tenant="acme")] == [run_id]

            poison = await http.post(
                "/dapr/events/orders.created", content=b"{not json", headers=SIDECAR_HEADERS
            )
            assert poison.json() == {"status": "SUCCESS"}  # dead-lettered, not retried
            oversized = json.loads(sidecar_delivery("orders.created", event_id="order-2"))
            oversized["data"] = {"note": "x" * (MAX_EVENT_BYTES + 1)}  # under the body limit
            answer = await http.post(
                "/dapr/events/orders.created",
                content=json.dumps(oversized).encode(),
                headers=SIDECAR_HEADERS,
            )
            assert answer.json() == {"status": "SUCCESS"}

        def published(topic: str) -> list[dict[str, Any]]:
            prefix = f"/v1.0/publish/orders-pubsub/{topic}"
            return [json.loads(b) for path, _, b in sidecar.requests if path == prefix]

        await eventually(
            lambda: any(
                e["type"] == RUN_COMPLETED and e.get("runid") == run_id
                for e in published(RUNS_TOPIC)
            )
        )
        letters = published(DEAD_LETTER_TOPIC)
        assert [letter["type"] for letter in letters] == [DEAD_LETTER, DEAD_LETTER]
        assert letters[0]["data"]["reason"].startswith("malformed JSON")
        assert letters[1]["data"]["reason"].startswith("oversized:")
        assert len(await engine.list_runs(tenant="acme")) == 1
        assert all(
            headers["content-type"] == "application/cloudevents+json"
            for _, headers, _ in sidecar.requests
        )
    finally:
        await service.stop()
        await engine.stop()
        dispose_engines()


async def test_a_served_app_with_a_dapr_broker_answers_its_sidecar(
    sidecar: Any, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """``ASCENT_BROKER_URL=dapr://...``: create_app serves the sidecar's routes; with API
    keys on they need the app API token, and a delivery runs in the subscription's tenant."""
    monkeypatch.setenv("ASCENT_BROKER_URL", "dapr://orders-pubsub")
    monkeypatch.setenv("DAPR_HTTP_PORT", str(sidecar.port))
    monkeypatch.delenv("DAPR_HTTP_ENDPOINT", raising=False)
    monkeypatch.delenv("DAPR_API_TOKEN", raising=False)
    monkeypatch.delenv("APP_API_TOKEN", raising=False)

    def served(**options: Any) -> FastAPI:
        return create_app(
            [Agent(name="support", instructions="Be brief.")],
            database_url=f"sqlite:///{tmp_path / 'served.db'}",
            model=ScriptedModel(["on it"]),
            api_keys={"key-acme": "acme"},
            subscriptions=[subscribe("orders.created", agent="support", tenant="acme")],
            console=False,
            **options,
        )

    locked = served()
    async with locked.router.lifespan_context(locked), client(locked) as http:
        refused = await http.get("/dapr/subscribe")
        assert refused.status_code == 401
        assert "APP_API_TOKEN" in refused.json()["error"]["message"]
    dispose_engines()

    monkeypatch.setenv("APP_API_TOKEN", "app-token")
    app = served()
    token = {"dapr-api-token": "app-token"}
    try:
        async with app.router.lifespan_context(app), client(app) as http:
            assert (await http.get("/dapr/subscribe")).status_code == 401
            listed = (await http.get("/dapr/subscribe", headers=token)).json()
            assert listed == [
                {
                    "pubsubname": "orders-pubsub",
                    "topic": "orders.created",
                    "routes": {"default": "/dapr/events/orders.created"},
                }
            ]
            response = await http.post(
                "/dapr/events/orders.created",
                content=sidecar_delivery("orders.created", event_id="order-7"),
                headers={**SIDECAR_HEADERS, **token},
            )
            assert response.status_code == 200 and response.json() == {"status": "SUCCESS"}
            run_id = run_id_for_key("acme", "order-7")
            engine = app.state.ascent.engine
            record = await engine.wait_run(run_id, tenant="acme", timeout=30)
            assert record.status == "completed"
            # the service's own API still wants its bearer keys
            assert (await http.get(f"/v1/runs/{run_id}", headers=token)).status_code == 401
            await eventually(
                lambda: any(p.endswith("/ascent.runs") for p, _, _ in sidecar.requests)
            )
    finally:
        dispose_engines()


def test_a_dapr_url_chooses_the_sidecar(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("ASCENT_BROKER_URL", "dapr://orders-pubsub")
    monkeypatch.setenv("DAPR_HTTP_PORT", "3601")
    monkeypatch.delenv("DAPR_HTTP_ENDPOINT", raising=False)
    chosen = connect_broker()
    assert isinstance(chosen, DaprBroker)
    assert (chosen.pubsub, chosen.sidecar) == ("orders-pubsub", "http://127.0.0.1:3601")


async def test_a_decision_delivered_by_the_sidecar_resumes_the_run(
    sidecar: Any, tmp_path: Path
) -> None:
    """HumanReviewRequired goes out through the sidecar; the reviewer's HumanDecisionMade,
    delivered by the sidecar on ascent.decisions, resumes the run; the same decision
    again is the approvals endpoint's 409, dead-lettered."""
    engine = DurableEngine(
        agents=[Agent(name="support", instructions="Be brief.", tools=[refund])],
        database_url=f"sqlite:///{tmp_path / 'decide.db'}",
        model=ScriptedModel([ToolCall("refund", {"order_id": "A-9"}), "Refunded A-9."]),
        poll_interval=0.02,
        executor_id="dapr-replica",
    )
    broker = DaprBroker("dapr://orders-pubsub", sidecar=sidecar.url, api_token="")
    service = EventService(
        engine,
        broker=broker,
        subscriptions=[
            subscribe("tickets.opened", agent="support", tenant="acme"),
            decisions("acme"),
        ],
        relay_interval=0.02,
    )

    def published(topic: str) -> list[dict[str, Any]]:
        prefix = f"/v1.0/publish/orders-pubsub/{topic}"
        return [json.loads(b) for path, _, b in sidecar.requests if path == prefix]

    await engine.start()
    await service.start()
    try:
        async with client(app_for(broker)) as http:
            topics = {e["topic"] for e in (await http.get("/dapr/subscribe")).json()}
            assert topics == {"tickets.opened", DECISIONS_TOPIC}
            opened = await http.post(
                "/dapr/events/tickets.opened",
                content=sidecar_delivery("tickets.opened", event_id="ticket-1"),
                headers=SIDECAR_HEADERS,
            )
            assert opened.json() == {"status": "SUCCESS"}
            await eventually(lambda: bool(published(APPROVALS_TOPIC)))
            [review] = published(APPROVALS_TOPIC)
            assert review["type"] == APPROVAL_REQUIRED and review["data"]["tool"] == "refund"
            run_id = review["data"]["run_id"]
            decision = json.dumps(
                {
                    "specversion": "1.0",
                    "id": "decision-1",
                    "source": "/review-queue",
                    "type": APPROVAL_DECIDED,
                    "data": {
                        "run_id": run_id,
                        "decisions": [{"call_id": review["data"]["call_id"], "approved": True}],
                    },
                    "topic": DECISIONS_TOPIC,
                    "pubsubname": "orders-pubsub",
                    "traceparent": TRACEPARENT,
                    "tracestate": "",
                }
            ).encode()
            for _time in range(2):
                answer = await http.post(
                    f"/dapr/events/{DECISIONS_TOPIC}", content=decision, headers=SIDECAR_HEADERS
                )
                assert answer.json() == {"status": "SUCCESS"}
            record = await engine.wait_run(run_id, tenant="acme", timeout=30)
            assert record.status == "completed" and record.output == "Refunded A-9."
        [letter] = published(DEAD_LETTER_TOPIC)
        assert letter["data"]["reason"].startswith("conflict (409)")
    finally:
        await service.stop()
        await engine.stop()
        dispose_engines()
