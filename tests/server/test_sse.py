"""Run events as server-sent events: streaming a new run, and resuming with Last-Event-ID."""

from __future__ import annotations

import asyncio
import uuid

import httpx
import pytest
import uvicorn
from fastapi import FastAPI

from .conftest import sse_events
from .served_agents import ARRIVED, GATES

pytestmark = pytest.mark.asyncio(loop_scope="package")


def _check_stream(events: list[dict[str, object]], *, first: int) -> list[int]:
    """Ids count up from ``first`` without gaps; the last event is the run record."""
    *logged, final = events
    ids = [int(str(event["id"])) for event in logged]
    assert ids == list(range(first, first + len(ids)))
    assert final["event"] == "run" and "id" not in final
    for event in logged:
        data = event["data"]
        assert isinstance(data, dict) and data["seq"] == int(str(event["id"]))
        assert data["type"] == event["event"]
    return ids


@pytest.mark.parametrize("how", ["body", "accept"])
async def test_a_new_run_streams_its_events(acme: httpx.AsyncClient, how: str) -> None:
    body: dict[str, object] = {"input": "What is the status of order A-1042?"}
    headers = {}
    if how == "body":
        body["stream"] = True
    else:
        headers["Accept"] = "text/event-stream"
    response = await acme.post("/v1/agents/Shop/runs", json=body, headers=headers)
    assert response.status_code == 200
    assert response.headers["content-type"].startswith("text/event-stream")
    events = sse_events(response.text)
    _check_stream(events, first=1)
    types = [event["event"] for event in events]
    assert types[0] == "run_started" and types[-2:] == ["run_completed", "run"]
    assert "text_delta" in types and "item" in types
    text = "".join(e["data"]["data"]["delta"] for e in events if e["event"] == "text_delta")
    assert text == "Here is what I found: order_status: order A-1042 shipped Monday"
    assert events[-1]["data"]["status"] == "completed"


async def test_a_stream_stops_at_an_approval_and_resumes_after_it(
    acme: httpx.AsyncClient,
) -> None:
    response = await acme.post(
        "/v1/agents/Shop/runs", json={"input": "Refund order A-1042", "stream": True}
    )
    events = sse_events(response.text)
    ids = _check_stream(events, first=1)
    assert events[-2]["event"] == "approval_required"
    final = events[-1]["data"]
    assert final["status"] == "awaiting_approval"
    call_id = final["pending_approvals"][0]["call_id"]
    await acme.post(
        f"/v1/runs/{final['id']}/approvals",
        json={"decisions": [{"call_id": call_id, "approved": True}], "wait": False},
    )
    resumed = await acme.get(
        f"/v1/runs/{final['id']}/events",
        headers={"Last-Event-ID": str(ids[-1])},
    )
    rest = sse_events(resumed.text)
    _check_stream(rest, first=ids[-1] + 1)
    assert rest[0]["event"] == "run_resumed"
    assert rest[-2]["event"] == "run_completed"
    assert rest[-1]["data"]["output"] == "Here is what I found: refund: refunded A-1042"


async def test_last_event_id_wins_over_after(acme: httpx.AsyncClient) -> None:
    run = (await acme.post("/v1/agents/Echo/runs", json={"input": "hello there"})).json()
    url = f"/v1/runs/{run['id']}/events"
    everything = sse_events((await acme.get(url)).text)
    total = len(everything) - 1
    assert total >= 4
    from_after = sse_events((await acme.get(url, params={"after": 2})).text)
    assert _check_stream(from_after, first=3)[-1] == total
    from_header = sse_events(
        (await acme.get(url, params={"after": 1}, headers={"Last-Event-ID": "3"})).text
    )
    assert _check_stream(from_header, first=4)[-1] == total
    past_the_end = sse_events((await acme.get(url, headers={"Last-Event-ID": "999"})).text)
    assert [event["event"] for event in past_the_end] == ["run"]


@pytest.mark.parametrize(
    ("params", "headers"),
    [({"after": -1}, {}), ({"after": "x"}, {}), ({}, {"Last-Event-ID": "abc"})],
)
async def test_bad_resume_points_are_422(
    acme: httpx.AsyncClient, params: dict[str, object], headers: dict[str, str]
) -> None:
    run = (await acme.post("/v1/agents/Echo/runs", json={"input": "hi"})).json()
    response = await acme.get(f"/v1/runs/{run['id']}/events", params=params, headers=headers)
    assert response.status_code == 422
    assert response.json()["error"]["type"] == "invalid_request"


async def test_a_client_that_drops_the_stream_resumes_where_it_left(live_url: str) -> None:
    item = f"crate-{uuid.uuid4().hex[:6]}"
    gate = GATES[item] = asyncio.Event()
    ARRIVED[item] = arrived = asyncio.Event()
    headers = {"Authorization": "Bearer key-acme"}
    async with httpx.AsyncClient(base_url=live_url, headers=headers, timeout=20) as client:
        run = (
            await client.post(
                "/v1/agents/Warehouse/runs",
                json={"input": f'Count the inventory of "{item}"', "wait": False},
            )
        ).json()
        seen: list[dict[str, object]] = []
        async with client.stream("GET", f"/v1/runs/{run['id']}/events") as stream:
            buffer = ""
            async for chunk in stream.aiter_text():
                buffer += chunk
                seen = sse_events(buffer.rsplit("\n\n", 1)[0] + "\n\n")
                if any(
                    e["event"] == "item" and e["data"]["data"]["name"] == "tool_call" for e in seen
                ):
                    break  # the client goes away mid-run
        await asyncio.wait_for(arrived.wait(), timeout=10)
        gate.set()
        last = int(str(seen[-1]["id"]))
        resumed = await client.get(
            f"/v1/runs/{run['id']}/events", headers={"Last-Event-ID": str(last)}
        )
    rest = sse_events(resumed.text)
    _check_stream(rest, first=last + 1)
    assert rest[-1]["data"]["status"] == "completed"
    assert rest[-1]["data"]["output"] == f"Here is what I found: inventory: {item}: 7 in stock"
    everything = [*(int(str(e["id"])) for e in seen), *(int(str(e["id"])) for e in rest[:-1])]
    assert everything == list(range(1, len(everything) + 1))  # nothing missed, nothing twice


async def test_shutdown_closes_open_streams_and_the_run_goes_on(
    app: FastAPI, acme: httpx.AsyncClient
) -> None:
    item = f"pallet-{uuid.uuid4().hex[:6]}"
    gate = GATES[item] = asyncio.Event()
    ARRIVED[item] = arrived = asyncio.Event()
    config = uvicorn.Config(app, port=0, log_level="warning", timeout_graceful_shutdown=1)
    server = uvicorn.Server(config)
    serving_task = asyncio.create_task(server.serve())
    while not server.started:
        await asyncio.sleep(0.01)
    base = f"http://127.0.0.1:{server.servers[0].sockets[0].getsockname()[1]}"
    headers = {"Authorization": "Bearer key-acme"}
    async with httpx.AsyncClient(base_url=base, headers=headers, timeout=20) as client:
        run = (
            await client.post(
                "/v1/agents/Warehouse/runs",
                json={"input": f'Count the inventory of "{item}"', "wait": False},
            )
        ).json()
        await asyncio.wait_for(arrived.wait(), timeout=10)
        received = ""
        with pytest.raises(httpx.TransportError):  # the server goes away mid-stream
            async with client.stream("GET", f"/v1/runs/{run['id']}/events") as stream:
                async for chunk in stream.aiter_text():
                    received += chunk
                    server.should_exit = True  # SIGTERM, as uvicorn handles it
    await asyncio.wait_for(serving_task, timeout=10)
    assert "event: run_started" in received and "event: run" not in received.split("\n")
    gate.set()  # the run was never this server's to stop: it finishes
    events = await acme.get(f"/v1/runs/{run['id']}/events")
    assert sse_events(events.text)[-1]["data"]["status"] == "completed"
