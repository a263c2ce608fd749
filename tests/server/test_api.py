"""Every endpoint of the service, through the app, with the durable engine on SQLite."""

from __future__ import annotations

import asyncio
import json
import time
from collections.abc import AsyncIterator
from pathlib import Path

import httpx
import pytest
from fastapi import FastAPI
from prometheus_client.parser import text_string_to_metric_families

from ascent.durable import DurableEngine
from ascent.server import create_app
from ascent.tracing import flush_traces

from .conftest import live, serving

pytestmark = pytest.mark.asyncio(loop_scope="package")

STATUS_ANSWER = "Here is what I found: order_status: order A-1042 shipped Monday"


def _error(response: httpx.Response, status: int, type: str) -> str:
    assert response.status_code == status, response.text
    body = response.json()
    assert set(body) == {"error"}
    assert body["error"]["type"] == type
    message: str = body["error"]["message"]
    assert message
    return message


async def test_agents_are_listed_with_tools_and_handoffs(acme: httpx.AsyncClient) -> None:
    response = await acme.get("/v1/agents")
    assert response.status_code == 200
    agents = {agent["name"]: agent for agent in response.json()["agents"]}
    assert list(agents) == ["Shop", "Echo", "Warehouse"]
    assert [tool["name"] for tool in agents["Shop"]["tools"]] == ["order_status", "refund"]
    assert agents["Shop"]["tools"][0]["description"].startswith("Look up where an order is")
    assert agents["Shop"]["description"] == "You help customers of an online shop."
    assert agents["Echo"]["description"] == "Repeats the request."
    assert agents["Echo"]["tools"] == [] and agents["Echo"]["handoffs"] == []


async def test_a_run_answers_with_its_output_and_can_be_read_again(
    acme: httpx.AsyncClient,
) -> None:
    response = await acme.post(
        "/v1/agents/Shop/runs", json={"input": "What is the status of order A-1042?"}
    )
    assert response.status_code == 200, response.text
    run = response.json()
    assert run["status"] == "completed"
    assert run["output"] == STATUS_ANSWER
    assert run["agent"] == "Shop" and run["tenant"] == "acme"
    assert run["usage"]["requests"] == 2 and run["usage"]["input_tokens"] > 0
    again = await acme.get(f"/v1/runs/{run['id']}")
    assert again.status_code == 200
    assert again.json() == run


async def test_input_may_be_conversation_items(acme: httpx.AsyncClient) -> None:
    items = [
        {"type": "message", "role": "user", "content": "Hello there."},
        {"type": "message", "role": "assistant", "content": "Hi! How can I help?"},
        {"role": "user", "content": "What is the status of order A-1042?"},
    ]
    response = await acme.post("/v1/agents/Shop/runs", json={"input": items})
    assert response.status_code == 200, response.text
    assert response.json()["output"] == STATUS_ANSWER


async def test_without_wait_the_run_is_returned_at_once(acme: httpx.AsyncClient) -> None:
    response = await acme.post("/v1/agents/Echo/runs", json={"input": "Say hello.", "wait": False})
    assert response.status_code == 200
    run = response.json()
    assert run["status"] in ("queued", "running")
    stream = await acme.get(f"/v1/runs/{run['id']}/events")  # follows the run to its end
    assert stream.status_code == 200
    finished = await acme.get(f"/v1/runs/{run['id']}")
    assert finished.json()["status"] == "completed"


async def test_unknown_agent_is_404(acme: httpx.AsyncClient) -> None:
    message = _error(
        await acme.post("/v1/agents/Nobody/runs", json={"input": "hi"}), 404, "agent_not_found"
    )
    assert "Nobody" in message and "Shop" in message


@pytest.mark.parametrize(
    ("body", "where"),
    [
        ({}, "body.input"),
        ({"input": ""}, "body.input"),
        ({"input": []}, "body.input"),
        ({"input": 42}, "body.input"),
        ({"input": [{"type": "message"}]}, "body.input"),
        ({"input": "hi", "stream": "maybe"}, "body.stream"),
        ({"input": "hi", "session_id": "no spaces allowed"}, "body.session_id"),
        ({"input": "hi", "surprise": 1}, "body.surprise"),
    ],
)
async def test_malformed_bodies_are_422_with_the_field_named(
    acme: httpx.AsyncClient, body: dict[str, object], where: str
) -> None:
    response = await acme.post("/v1/agents/Shop/runs", json=body)
    message = _error(response, 422, "invalid_request")
    assert message.startswith(where)
    assert response.json()["error"]["details"]


async def test_the_schema_says_what_input_is_refused(acme: httpx.AsyncClient) -> None:
    schema = (await acme.get("/openapi.json")).json()["components"]["schemas"]["RunRequest"]
    text, items = schema["properties"]["input"]["oneOf"]
    assert text["type"] == "string" and text["minLength"] == 1
    assert items["type"] == "array" and items["minItems"] == 1
    for empty, said in (([], "at least 1 item"), ("", "at least 1 character")):
        response = await acme.post("/v1/agents/Echo/runs", json={"input": empty})
        message = _error(response, 422, "invalid_request")
        assert said in message and len(response.json()["error"]["details"]) == 1


async def test_a_body_that_is_not_json_is_422(acme: httpx.AsyncClient) -> None:
    response = await acme.post(
        "/v1/agents/Shop/runs", content=b"{not json", headers={"Content-Type": "application/json"}
    )
    _error(response, 422, "invalid_request")


async def test_oversized_input_is_413(engine: DurableEngine, database_url: str) -> None:
    app = create_app(engine=engine, database_url=database_url, api_keys={}, max_input_bytes=200)
    async with serving(app, key=None) as client:
        small = await client.post("/v1/agents/Echo/runs", json={"input": "hi", "wait": False})
        assert small.status_code == 200
        big = await client.post("/v1/agents/Echo/runs", json={"input": "x" * 500})
        message = _error(big, 413, "input_too_large")
        assert message == "request body too large: the limit is 200 bytes"

        async def chunks() -> AsyncIterator[bytes]:  # no Content-Length: counted as it comes
            yield b'{"input": "'
            yield b"x" * 500
            yield b'"}'

        chunked = await client.post(
            "/v1/agents/Echo/runs", content=chunks(), headers={"Content-Type": "application/json"}
        )
        assert "content-length" not in chunked.request.headers
        assert _error(chunked, 413, "input_too_large") == message


@pytest.mark.parametrize(
    ("method", "path", "body"),
    [
        ("GET", "/v1/runs/{id}", None),
        ("POST", "/v1/runs/{id}/approvals", {"decisions": [{"call_id": "c", "approved": True}]}),
        ("POST", "/v1/runs/{id}/cancel", None),
        ("GET", "/v1/runs/{id}/events", None),
    ],
)
async def test_unknown_run_is_404(
    acme: httpx.AsyncClient, method: str, path: str, body: object
) -> None:
    response = await acme.request(method, path.format(id="no-such-run"), json=body)
    assert "no-such-run" in _error(response, 404, "run_not_found")


async def test_unknown_path_and_method_use_the_error_shape(acme: httpx.AsyncClient) -> None:
    _error(await acme.get("/v1/nothing-here"), 404, "not_found")
    _error(await acme.delete("/v1/agents"), 405, "method_not_allowed")


async def test_a_session_continues_and_can_be_deleted(acme: httpx.AsyncClient) -> None:
    first = await acme.post(
        "/v1/agents/Shop/runs",
        json={"input": "What is the status of order A-1042?", "session_id": "chat-1"},
    )
    assert first.json()["session_id"] == "chat-1"
    items = (await acme.get("/v1/sessions/chat-1/items")).json()
    assert items["session_id"] == "chat-1"
    assert [item["type"] for item in items["items"]] == [
        "message",
        "function_call",
        "function_call_output",
        "message",
    ]
    await acme.post("/v1/agents/Echo/runs", json={"input": "Thanks!", "session_id": "chat-1"})
    after = (await acme.get("/v1/sessions/chat-1/items")).json()["items"]
    assert len(after) == 6 and after[4]["content"] == "Thanks!"
    last = (await acme.get("/v1/sessions/chat-1/items", params={"limit": 1})).json()["items"]
    assert last == after[-1:]
    deleted = await acme.delete("/v1/sessions/chat-1")
    assert deleted.status_code == 204 and deleted.content == b""
    assert (await acme.get("/v1/sessions/chat-1/items")).json()["items"] == []


async def test_bad_session_requests_are_422(acme: httpx.AsyncClient) -> None:
    _error(await acme.get("/v1/sessions/bad id/items"), 422, "invalid_request")
    _error(await acme.get("/v1/sessions/chat-1/items", params={"limit": 0}), 422, "invalid_request")


async def test_a_runs_trace_has_its_model_and_tool_spans(acme: httpx.AsyncClient) -> None:
    run = (
        await acme.post("/v1/agents/Shop/runs", json={"input": "Status of order A-1042?"})
    ).json()
    assert run["trace_id"]
    flush_traces()
    response = await acme.get(f"/v1/traces/{run['trace_id']}")
    assert response.status_code == 200, response.text
    body = response.json()
    assert body["trace"]["trace_id"] == run["trace_id"]
    assert body["trace"]["metadata"]["run_id"] == run["id"]
    kinds = [span["kind"] for span in body["spans"]]
    assert kinds.count("model") == 2 and "tool" in kinds
    short = run["trace_id"].removeprefix("trace_")
    assert (await acme.get(f"/v1/traces/{short}")).json() == body
    _error(await acme.get(f"/v1/traces/{short[:8]}"), 404, "trace_not_found")  # no prefixes
    _error(await acme.get("/v1/traces/trace_nothing"), 404, "trace_not_found")


async def test_health_and_readiness(acme: httpx.AsyncClient) -> None:
    assert (await acme.get("/healthz")).json() == {"status": "ok", "detail": None}
    assert (await acme.get("/readyz")).json()["status"] == "ok"


async def test_not_ready_when_the_database_is_unreachable(
    engine: DurableEngine, tmp_path: Path
) -> None:
    blocker = tmp_path / "a-file"
    blocker.write_text("")
    broken = f"sqlite:///{blocker}/ascent.db"  # its folder is a file: cannot be opened
    app = create_app(engine=engine, database_url=broken, api_keys={})
    async with serving(app, key=None) as client:
        response = await client.get("/readyz")
        assert response.status_code == 503
        assert response.json()["status"] == "unavailable"
        assert (await client.get("/healthz")).status_code == 200


def _samples(text: str) -> dict[tuple[str, tuple[tuple[str, str], ...]], float]:
    return {
        (sample.name, tuple(sorted(sample.labels.items()))): sample.value
        for family in text_string_to_metric_families(text)
        for sample in family.samples
    }


async def test_metrics_count_runs_model_calls_and_tokens(app: FastAPI) -> None:
    async with serving(app) as client:
        before = _samples((await client.get("/metrics")).text)
        run = await client.post("/v1/agents/Shop/runs", json={"input": "Status of order A-1042?"})
        assert run.json()["status"] == "completed"
        response = await client.get("/metrics")
    assert response.headers["content-type"].startswith("text/plain")
    after = _samples(response.text)

    def grew(name: str, **labels: str) -> float:
        key = (name, tuple(sorted(labels.items())))
        return after.get(key, 0.0) - before.get(key, 0.0)

    assert grew("ascent_runs_started_total", agent="Shop") == 1
    assert grew("ascent_runs_completed_total") == 1
    assert grew("ascent_runs_failed_total") == 0
    assert grew("ascent_run_duration_seconds_count") == 1
    assert grew("ascent_model_call_duration_seconds_count", model="offline") == 2
    assert grew("ascent_tokens_total", kind="input") > 0
    assert grew("ascent_tokens_total", kind="output") > 0
    assert grew("ascent_active_runs") == 0  # the run started and ended


async def test_two_apps_keep_separate_metrics(engine: DurableEngine, database_url: str) -> None:
    one = create_app(engine=engine, database_url=database_url, api_keys={})
    two = create_app(engine=engine, database_url=database_url, api_keys={})
    async with serving(one, key=None) as first, serving(two, key=None) as second:
        await first.post("/v1/agents/Echo/runs", json={"input": "hi"})
        assert 'ascent_runs_started_total{agent="Echo"} 1.0' in (await first.get("/metrics")).text
        assert "ascent_runs_started_total{" not in (await second.get("/metrics")).text


async def _read_answer(reader: asyncio.StreamReader) -> tuple[bytes, bytes]:
    """The head and body of the one answer on a connection the server then closes."""
    raw = await asyncio.wait_for(reader.read(), timeout=5)  # to EOF: the server closed it
    head, _, body = raw.partition(b"\r\n\r\n")
    return head, body


@pytest.mark.parametrize("how", ["stops", "trickles"])
async def test_a_body_that_does_not_arrive_in_time_is_408(
    engine: DurableEngine, database_url: str, how: str
) -> None:
    app = create_app(engine=engine, database_url=database_url, api_keys={}, body_timeout=0.5)
    async with live(app) as url:
        port = int(url.rsplit(":", 1)[1])
        reader, writer = await asyncio.open_connection("127.0.0.1", port)
        try:
            began = time.monotonic()
            writer.write(
                b"POST /v1/agents/Echo/runs HTTP/1.1\r\n"
                + f"Host: 127.0.0.1:{port}\r\n".encode()
                + b"Content-Type: application/json\r\nContent-Length: 100\r\n\r\n"
                + b'{"input": "'
            )
            await writer.drain()
            answer = asyncio.ensure_future(_read_answer(reader))
            while how == "trickles" and not answer.done():  # a byte at a time: never idle long
                writer.write(b"x")
                await writer.drain()
                await asyncio.sleep(0.1)
            head, body = await answer
            took = time.monotonic() - began
        finally:
            writer.close()  # else uvicorn's shutdown would wait for this request
        assert head.startswith(b"HTTP/1.1 408"), head
        assert b"connection: close" in head.lower()
        assert json.loads(body)["error"]["type"] == "request_timeout"
        assert 0.4 < took < 3

        async with httpx.AsyncClient(base_url=url) as client:  # a whole body in time is fine
            run = await client.post("/v1/agents/Echo/runs", json={"input": "hi"})
            assert run.status_code == 200 and run.json()["status"] == "completed"


async def test_the_openapi_schema_describes_the_api(acme: httpx.AsyncClient) -> None:
    schema = (await acme.get("/openapi.json")).json()
    paths = schema["paths"]
    assert set(paths) >= {
        "/v1/agents",
        "/v1/agents/{name}/runs",
        "/v1/runs/{run_id}",
        "/v1/runs/{run_id}/approvals",
        "/v1/runs/{run_id}/cancel",
        "/v1/runs/{run_id}/events",
        "/v1/sessions/{session_id}/items",
        "/v1/sessions/{session_id}",
        "/v1/traces/{trace_id}",
        "/healthz",
        "/readyz",
        "/metrics",
    }
    start = paths["/v1/agents/{name}/runs"]["post"]
    assert set(start["responses"]["200"]["content"]) == {"application/json", "text/event-stream"}
    assert start["responses"]["404"]["content"]["application/json"]["schema"] == {
        "$ref": "#/components/schemas/ErrorResponse"
    }
    assert "HTTPValidationError" not in schema["components"]["schemas"]
    assert schema["components"]["securitySchemes"]["HTTPBearer"]["scheme"] == "bearer"


async def test_a_bug_is_a_500_that_reveals_nothing(
    engine: DurableEngine, database_url: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    async def broken(*args: object, **kwargs: object) -> None:
        raise RuntimeError("secret internals")

    app = create_app(engine=engine, database_url=database_url, api_keys={})
    monkeypatch.setattr(engine, "get_run", broken)
    transport = httpx.ASGITransport(app, raise_app_exceptions=False)
    async with httpx.AsyncClient(transport=transport, base_url="http://service") as client:
        response = await client.get("/v1/runs/anything")
    assert response.status_code == 500
    assert response.json() == {"error": {"type": "internal", "message": "internal server error"}}


async def test_an_idempotency_key_returns_the_run_it_started(
    acme: httpx.AsyncClient, globex: httpx.AsyncClient, engine: DurableEngine
) -> None:
    key = {"Idempotency-Key": "order-7781-retry"}
    body = {"input": "Status of order A-1042?"}
    first = await acme.post("/v1/agents/Shop/runs", json=body, headers=key)
    again = await acme.post("/v1/agents/Shop/runs", json=body, headers=key)
    assert first.status_code == again.status_code == 200
    assert again.json()["id"] == first.json()["id"]
    events = (await acme.get(f"/v1/runs/{first.json()['id']}/events")).text
    assert events.count("event: run_started") == 1  # one run, not two

    other_tenant = await globex.post("/v1/agents/Shop/runs", json=body, headers=key)
    assert other_tenant.status_code == 200
    assert other_tenant.json()["id"] != first.json()["id"]  # keys are per tenant
    other_agent = await acme.post("/v1/agents/Echo/runs", json=body, headers=key)
    assert other_agent.status_code == 409
    assert "taken by another run" in other_agent.json()["error"]["message"]
