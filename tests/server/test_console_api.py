"""The listing endpoints a console reads: runs, sessions, traces, usage, memories.

Each test makes its own tenants (an app over the shared engine with their keys),
so what it lists is only what it wrote.
"""

from __future__ import annotations

import asyncio
import itertools
import time
import uuid
from collections.abc import AsyncIterator, Callable
from contextlib import AbstractAsyncContextManager, asynccontextmanager
from datetime import UTC, datetime
from typing import Any

import httpx
import pytest
from sqlalchemy import text

from ascent.durable import DurableEngine, RunRecord
from ascent.items import RunUsage, Usage, input_to_items
from ascent.memory import MemoryStore, open_session
from ascent.server import create_app
from ascent.tracing import TraceRecord, flush_traces
from ascent.tracing.store import SQLTraceStore

from .conftest import serving

pytestmark = pytest.mark.asyncio(loop_scope="package")

Tenants = Callable[..., AbstractAsyncContextManager[list[httpx.AsyncClient]]]
_counter = itertools.count()


@pytest.fixture
def tenants(engine: DurableEngine, database_url: str) -> Tenants:
    """``async with tenants(2) as (one, two)``: clients of fresh tenants (``None``: no keys)."""

    @asynccontextmanager
    async def make(count: int = 2) -> AsyncIterator[list[httpx.AsyncClient]]:
        names = [f"t{next(_counter)}-{uuid.uuid4().hex[:6]}" for _ in range(count)]
        keys = {f"key-{name}": name for name in names}
        app = create_app(engine=engine, database_url=database_url, api_keys=keys, wait_timeout=10)
        async with serving(app, f"key-{names[0]}") as first:
            clients = [first]
            for name in names[1:]:
                clients.append(
                    httpx.AsyncClient(
                        transport=httpx.ASGITransport(app),
                        base_url="http://service",
                        headers={"Authorization": f"Bearer key-{name}"},
                    )
                )
            try:
                yield clients
            finally:
                for client in clients[1:]:
                    await client.aclose()

    return make


def _error(response: httpx.Response, status: int, type: str = "invalid_request") -> None:
    assert response.status_code == status, response.text
    assert response.json()["error"]["type"] == type


def _tenant_of(client: httpx.AsyncClient) -> str:
    return client.headers["Authorization"].removeprefix("Bearer key-")


def _record(tenant: str | None, number: int, **values: Any) -> RunRecord:
    at = datetime.fromtimestamp(1_700_000_000 + number, UTC)
    fields: dict[str, Any] = {
        "id": f"run_{tenant}_{number:06d}",
        "agent": "Echo",
        "tenant": tenant,
        "status": "completed",
        "created_at": at,
        "updated_at": at,
    }
    fields.update(values)
    return RunRecord(**fields)


async def _all_pages(client: httpx.AsyncClient, path: str, key: str, **params: Any) -> list[Any]:
    found: list[Any] = []
    before = None
    for _ in range(1000):
        query = {**params, **({"before": before} if before else {})}
        response = await client.get(path, params=query)
        assert response.status_code == 200, response.text
        body = response.json()
        assert len(body[key]) <= params.get("limit", 50)
        found.extend(body[key])
        before = body["next"]
        if before is None:
            return found
    raise AssertionError("paging did not end")


# -------------------------------------------------------------------------- runs


async def test_runs_are_listed_newest_first_and_per_tenant(
    tenants: Tenants, engine: DurableEngine
) -> None:
    async with tenants(2) as (one, two):
        started = []
        for text_ in ("first", "second", "third"):
            response = await one.post(
                "/v1/agents/Echo/runs", json={"input": text_, "session_id": "chat"}
            )
            started.append(response.json())
        await two.post("/v1/agents/Shop/runs", json={"input": "Status of order A-1042?"})

        body = (await one.get("/v1/runs")).json()
        assert [run["id"] for run in body["runs"]] == [run["id"] for run in reversed(started)]
        assert body["next"] is None
        assert body["runs"][0] == started[-1]  # the record as GET /v1/runs/{id} has it
        assert body["runs"][0]["session_id"] == "chat"  # as the tenant named it
        others = (await two.get("/v1/runs")).json()["runs"]
        assert [run["agent"] for run in others] == ["Shop"]
        assert (await one.get("/v1/runs", params={"agent": "Shop"})).json()["runs"] == []
        filtered = (await one.get("/v1/runs", params={"status": "completed"})).json()["runs"]
        assert len(filtered) == 3
        assert (await one.get("/v1/runs", params={"status": "failed"})).json()["runs"] == []


async def test_runs_page_with_a_cursor_without_gaps_or_repeats(
    tenants: Tenants, engine: DurableEngine
) -> None:
    async with tenants(1) as (client,):
        tenant = _tenant_of(client)
        # 25 runs, some created at the same instant: the id breaks the tie
        for number in range(25):
            record = _record(tenant, number // 3, id=f"run_{tenant}_{number:03d}")
            assert engine.store.insert_run(record)
        runs = await _all_pages(client, "/v1/runs", "runs", limit=7)
        ids = [run["id"] for run in runs]
        assert len(ids) == 25 and len(set(ids)) == 25
        keys = [(run["created_at"], run["id"]) for run in runs]
        assert keys == sorted(keys, reverse=True)
        first = (await client.get("/v1/runs", params={"limit": 25})).json()
        assert first["next"] is None and [run["id"] for run in first["runs"]] == ids


async def test_a_page_deep_in_10000_runs_comes_from_the_index(
    tenants: Tenants, engine: DurableEngine
) -> None:
    async with tenants(1) as (client,):
        tenant = _tenant_of(client)
        store = engine.store
        rows = [store._row(_record(tenant, number)) for number in range(10_000)]
        with store.engine.begin() as conn:
            conn.execute(store.tables.runs.insert(), rows)
        page = (await client.get("/v1/runs", params={"limit": 200})).json()
        for _ in range(20):  # 4,000 runs in
            page = (
                await client.get("/v1/runs", params={"limit": 200, "before": page["next"]})
            ).json()
        started = time.perf_counter()
        deep = await client.get("/v1/runs", params={"limit": 200, "before": page["next"]})
        elapsed = time.perf_counter() - started
        assert deep.status_code == 200
        assert deep.json()["runs"][0]["id"] == f"run_{tenant}_{10_000 - 4201:06d}"
        assert elapsed < 1.0
        with store.engine.connect() as conn:
            plan = conn.execute(
                text(
                    "EXPLAIN QUERY PLAN SELECT * FROM ascent_runs WHERE tenant = :t "
                    "AND created_at <= :at AND (created_at < :at OR id < :id) "
                    "ORDER BY created_at DESC, id DESC LIMIT 201"
                ),
                {"t": tenant, "at": 1.7e9 + 5000, "id": "x"},
            ).all()
        assert "ix_ascent_runs_tenant_created" in " ".join(str(row) for row in plan)


async def test_bad_run_listing_requests_are_422(acme: httpx.AsyncClient) -> None:
    for params in (
        {"limit": 0},
        {"limit": 201},
        {"status": "sleeping"},
        {"before": "not a cursor!"},
        {"before": "bm90IGpzb24"},  # base64 of something that is not a cursor
        {"agent": "a\x01b"},
    ):
        _error(await acme.get("/v1/runs", params=params), 422)


# ---------------------------------------------------------------------- sessions


async def test_sessions_are_listed_per_tenant_with_their_items(
    tenants: Tenants, database_url: str
) -> None:
    async with tenants(2) as (one, two):
        await one.post("/v1/agents/Echo/runs", json={"input": "hello", "session_id": "chat-1"})
        await one.post("/v1/agents/Echo/runs", json={"input": "again", "session_id": "chat-2"})
        await one.post("/v1/agents/Echo/runs", json={"input": "more", "session_id": "chat-2"})
        await two.post("/v1/agents/Echo/runs", json={"input": "mine", "session_id": "chat-1"})
        # a session of a tenant whose name differs only in case is not the caller's
        shouting = f"t/{_tenant_of(one).upper()}/chat-9"
        await open_session(shouting, database_url).add_items(input_to_items("hi"))

        body = (await one.get("/v1/sessions")).json()
        assert [(s["id"], s["items"]) for s in body["sessions"]] == [("chat-2", 4), ("chat-1", 2)]
        assert body["next"] is None
        assert body["sessions"][0]["updated_at"] >= body["sessions"][1]["updated_at"]
        theirs = (await two.get("/v1/sessions")).json()["sessions"]
        assert [(s["id"], s["items"]) for s in theirs] == [("chat-1", 2)]

        await one.delete("/v1/sessions/chat-2")
        assert [s["id"] for s in (await one.get("/v1/sessions")).json()["sessions"]] == ["chat-1"]


async def test_sessions_page_with_a_cursor(tenants: Tenants, database_url: str) -> None:
    async with tenants(1) as (client,):
        tenant = _tenant_of(client)
        for number in range(12):
            session = open_session(f"t/{tenant}/s{number:02d}", database_url)
            await session.add_items(input_to_items(f"hi {number}"))
        found = await _all_pages(client, "/v1/sessions", "sessions", limit=5)
        assert [s["id"] for s in found] == [f"s{number:02d}" for number in reversed(range(12))]


async def test_the_anonymous_tenant_lists_only_bare_sessions(
    engine: DurableEngine, database_url: str
) -> None:
    bare = f"anon-{uuid.uuid4().hex[:8]}"
    await open_session(bare, database_url).add_items(input_to_items("hi"))
    await open_session(f"t/acme/{bare}", database_url).add_items(input_to_items("hi"))
    app = create_app(engine=engine, database_url=database_url, api_keys={})
    async with serving(app, None) as client:
        found = await _all_pages(client, "/v1/sessions", "sessions", limit=200)
    ids = [s["id"] for s in found]
    assert bare in ids
    assert not any(session_id.startswith("t/") for session_id in ids)


async def test_bad_session_listing_requests_are_422(acme: httpx.AsyncClient) -> None:
    for params in ({"limit": 0}, {"limit": 500}, {"before": "%%%"}, {"before": ""}):
        _error(await acme.get("/v1/sessions", params=params), 422)


# ------------------------------------------------------------------------ traces


async def test_a_tenant_lists_the_traces_of_its_own_runs(tenants: Tenants) -> None:
    async with tenants(2) as (one, two):
        runs = [
            (
                await one.post("/v1/agents/Shop/runs", json={"input": f"Status of order A-{n}?"})
            ).json()
            for n in range(3)
        ]
        other = (await two.post("/v1/agents/Echo/runs", json={"input": "hi"})).json()
        flush_traces()
        found = await _all_pages(one, "/v1/traces", "traces", limit=2)
        assert [t["trace_id"] for t in found] == [run["trace_id"] for run in reversed(runs)]
        assert [t["run_id"] for t in found] == [run["id"] for run in reversed(runs)]
        assert found[0]["turns"] == 2 and found[0]["agents"] == ["Shop"]
        for summary in found:  # each one listed can be read
            assert (await one.get(f"/v1/traces/{summary['trace_id']}")).status_code == 200
        theirs = (await two.get("/v1/traces")).json()["traces"]
        assert [t["trace_id"] for t in theirs] == [other["trace_id"]]


async def test_traces_outside_the_service_are_listed_only_without_keys(
    tenants: Tenants, engine: DurableEngine, database_url: str
) -> None:
    script = TraceRecord(
        trace_id=f"trace_script{uuid.uuid4().hex}",
        workflow="a script",
        started_at=time.time(),
        ended_at=time.time(),
    )
    SQLTraceStore().export([script])
    async with tenants(1) as (client,):
        run = (await client.post("/v1/agents/Echo/runs", json={"input": "hi"})).json()
        flush_traces()
        listed = [t["trace_id"] for t in (await client.get("/v1/traces")).json()["traces"]]
        assert listed == [run["trace_id"]]
        _error(await client.get(f"/v1/traces/{script.trace_id}"), 404, "trace_not_found")

    app = create_app(engine=engine, database_url=database_url, api_keys={})
    async with serving(app, None) as owner:
        page = (await owner.get("/v1/traces", params={"limit": 200})).json()
        listed = [t["trace_id"] for t in page["traces"]]
        assert script.trace_id in listed
        assert run["trace_id"] not in listed  # a tenant's run is not the owner's
        assert (await owner.get(f"/v1/traces/{script.trace_id}")).status_code == 200
        every = await _all_pages(owner, "/v1/traces", "traces", limit=3)
        keys = [(t["started_at"], t["trace_id"]) for t in every]
        assert keys == sorted(keys, reverse=True) and len(set(keys)) == len(keys)


async def test_bad_trace_listing_requests_are_422(acme: httpx.AsyncClient) -> None:
    for params in ({"limit": 0}, {"limit": 201}, {"before": "x" * 3000}):
        _error(await acme.get("/v1/traces", params=params), 422)


# ------------------------------------------------------------------------- usage


async def test_usage_sums_the_tenants_runs(tenants: Tenants, engine: DurableEngine) -> None:
    async with tenants(2) as (one, two):
        tenant = _tenant_of(one)
        usage = RunUsage()
        usage.record(Usage(requests=1, input_tokens=10, output_tokens=5), agent="A", model="m1")
        usage.record(Usage(requests=1, input_tokens=1, output_tokens=2), agent="B", model="m2")
        for number in range(3):
            engine.store.insert_run(_record(tenant, number, usage=usage))
        body = (await one.get("/v1/usage")).json()
        assert body["runs"] == 3
        assert body["total"] == {
            "requests": 6,
            "input_tokens": 33,
            "output_tokens": 21,
            "cached_input_tokens": 0,
            "reasoning_tokens": 0,
        }
        assert body["by_agent"]["A"]["input_tokens"] == 30
        assert body["by_model"]["m2"]["output_tokens"] == 6
        later = (await one.get("/v1/usage", params={"since": 1_700_000_001})).json()
        assert later["runs"] == 2 and later["since"] == 1_700_000_001
        assert (await two.get("/v1/usage")).json() == {
            "total": {
                "requests": 0,
                "input_tokens": 0,
                "output_tokens": 0,
                "cached_input_tokens": 0,
                "reasoning_tokens": 0,
            },
            "by_agent": {},
            "by_model": {},
            "runs": 0,
            "since": None,
        }


async def test_bad_usage_requests_are_422(acme: httpx.AsyncClient) -> None:
    for since in ("-1", "yesterday", "nan", "inf"):
        _error(await acme.get("/v1/usage", params={"since": since}), 422)


# ---------------------------------------------------------------------- memories


async def test_memories_are_listed_searched_and_deleted_per_tenant(
    tenants: Tenants, database_url: str
) -> None:
    async with tenants(2) as (one, two):
        store = MemoryStore(database_url)
        mine = f"t/{_tenant_of(one)}/user-1"
        theirs = f"t/{_tenant_of(two)}/user-1"
        first = await store.add("prefers tea in the morning", scope=mine)
        second = await store.add("lives in Lisbon", scope=mine)
        other = await store.add("prefers coffee", scope=theirs)

        body = (await one.get("/v1/memories", params={"scope": "user-1"})).json()
        assert [m["id"] for m in body["memories"]] == [second.id, first.id]
        assert {m["scope"] for m in body["memories"]} == {"user-1"}
        found = (await one.get("/v1/memories", params={"scope": "user-1", "q": "tea"})).json()
        assert [m["id"] for m in found["memories"]] == [first.id]
        assert (await one.get("/v1/memories", params={"scope": "user-2"})).json() == {
            "memories": []
        }
        limited = await one.get("/v1/memories", params={"scope": "user-1", "limit": 1})
        assert len(limited.json()["memories"]) == 1

        # another tenant's memory, even under the same scope name, cannot be deleted
        gone = await one.delete(f"/v1/memories/{other.id}", params={"scope": "user-1"})
        _error(gone, 404, "memory_not_found")
        assert await store.get(other.id, scope=theirs) is not None
        deleted = await one.delete(f"/v1/memories/{first.id}", params={"scope": "user-1"})
        assert deleted.status_code == 204
        assert await store.get(first.id, scope=mine) is None
        again = await one.delete(f"/v1/memories/{first.id}", params={"scope": "user-1"})
        _error(again, 404, "memory_not_found")


async def test_bad_memory_requests_are_422(acme: httpx.AsyncClient) -> None:
    _error(await acme.get("/v1/memories"), 422)  # the scope is required
    for params in (
        {"scope": "a/b"},
        {"scope": ""},
        {"scope": "u", "limit": 0},
        {"scope": "u", "q": ""},
        {"scope": "u", "q": "a\x00b"},
    ):
        _error(await acme.get("/v1/memories", params=params), 422)
    _error(await acme.delete("/v1/memories/abc"), 422)
    _error(await acme.delete("/v1/memories/abc", params={"scope": "a b"}), 422)


async def test_the_new_endpoints_are_behind_the_keys(app: Any) -> None:
    async with serving(app, None) as anonymous:
        for path in ("/v1/runs", "/v1/sessions", "/v1/traces", "/v1/usage"):
            _error(await anonymous.get(path), 401, "unauthorized")
        _error(await anonymous.get("/v1/memories", params={"scope": "u"}), 401, "unauthorized")
    await asyncio.sleep(0)


async def test_the_schema_documents_the_new_endpoints_and_their_errors(
    acme: httpx.AsyncClient,
) -> None:
    paths = (await acme.get("/openapi.json")).json()["paths"]
    error = {"$ref": "#/components/schemas/ErrorResponse"}
    for path, method, statuses in (
        ("/v1/runs", "get", ("401", "422")),
        ("/v1/sessions", "get", ("401", "422")),
        ("/v1/traces", "get", ("401", "422")),
        ("/v1/usage", "get", ("401", "422")),
        ("/v1/memories", "get", ("400", "401", "422")),
        ("/v1/memories/{memory_id}", "delete", ("401", "404", "422")),
    ):
        responses = paths[path][method]["responses"]
        for status in statuses:
            assert responses[status]["content"]["application/json"]["schema"] == error
    listed = paths["/v1/runs"]["get"]["responses"]["200"]["content"]["application/json"]
    assert listed["schema"] == {"$ref": "#/components/schemas/RunList"}
    parameters = {p["name"] for p in paths["/v1/runs"]["get"]["parameters"]}
    assert parameters == {"status", "agent", "limit", "before"}
