"""Persistent sessions on every backend: the protocol, round trips, runs, concurrency, retention."""

from __future__ import annotations

import asyncio
import sys
import time
from pathlib import Path

import pytest
from sqlalchemy import create_engine, text

from ascent import Agent, Runner, UserError, function_tool
from ascent.items import (
    FunctionCall,
    FunctionCallOutput,
    InputFile,
    InputImage,
    InputText,
    Item,
    Message,
    OutputText,
    ProviderItem,
    Reasoning,
    Refusal,
    items_to_json,
)
from ascent.memory import (
    InMemorySession,
    RedisSession,
    SQLAlchemySession,
    SQLiteSession,
    list_sessions,
    open_session,
    prune_expired,
)
from ascent.memory.session import answer_open_calls
from ascent.storage import DATABASE_URL_ENV, normalize_url
from ascent.testing import ScriptedModel, ToolCall

from .conftest import SessionFactory


def _user(text_: str) -> Message:
    return Message(role="user", content=text_)


def _texts(items: list[Item]) -> list[str]:
    return [item.text for item in items if isinstance(item, Message)]


async def test_add_get_last_n_pop_clear(make_session: SessionFactory, backend: str) -> None:
    session = make_session()
    assert await session.get_items() == []
    assert await session.pop_item() is None
    await session.add_items([_user("a"), _user("b")])
    await session.add_items([_user("c")])
    await session.add_items([])
    assert _texts(await session.get_items()) == ["a", "b", "c"]
    assert _texts(await session.get_items(limit=2)) == ["b", "c"]
    assert _texts(await session.get_items(limit=10)) == ["a", "b", "c"]
    assert await session.get_items(limit=0) == []

    popped = await session.pop_item()
    assert isinstance(popped, Message) and popped.text == "c"
    await session.add_items([_user("d")])
    assert _texts(await session.get_items()) == ["a", "b", "d"]

    other = make_session("other")
    await other.add_items([_user("x")])
    await session.clear()
    assert await session.get_items() == []
    assert _texts(await other.get_items()) == ["x"]  # clear touches one session only

    await session.add_items([_user("after clear")])
    assert _texts(await session.get_items()) == ["after clear"]
    if backend != "memory":
        await session.delete()  # type: ignore[attr-defined]
        assert await session.get_items() == []
        assert _texts(await other.get_items()) == ["x"]


async def test_every_item_type_round_trips_with_local_fields(
    make_session: SessionFactory,
) -> None:
    items: list[Item] = [
        Message(role="system", content="be brief"),
        Message(
            role="user",
            content=[
                InputText(text="look é ☃"),
                InputImage(image_url="https://example.com/a.png", detail="high"),
                InputFile(file_id="file_1", filename="a.pdf"),
            ],
        ),
        Message(
            role="assistant",
            content=[OutputText(text="hi", annotations=[{"type": "url"}]), Refusal(refusal="no")],
            id="msg_1",
            status="completed",
            agent="triage",
        ),
        Reasoning(id="rs_1", summary=[{"type": "summary_text", "text": "hm"}], agent="triage"),
        FunctionCall(call_id="c1", name="lookup", arguments='{"q": 1}', agent="triage"),
        FunctionCallOutput(call_id="c1", output="42", agent="triage", tool_name="lookup"),
        FunctionCall(call_id="c2", name="transfer_to_billing", agent="triage"),
        FunctionCallOutput(
            call_id="c2", output="{}", agent="triage", handoff_to="billing", is_error=True
        ),
        ProviderItem.model_validate(
            {"type": "web_search_call", "id": "ws_1", "status": "completed", "action": {"q": "x"}}
        ),
    ]
    writer = make_session("round")
    await writer.add_items(items)
    reader = make_session("round")  # a fresh object: what another process would see
    got = await reader.get_items()
    assert [type(item) for item in got] == [type(item) for item in items]
    assert items_to_json(got) == items_to_json(items)
    last = got[-2]
    assert isinstance(last, FunctionCallOutput)
    assert (last.handoff_to, last.is_error, last.agent) == ("billing", True, "triage")


async def test_a_runner_conversation_continues_across_runs(
    make_session: SessionFactory,
) -> None:
    @function_tool
    def lookup(city: str) -> str:
        """Weather for a city."""
        return f"sunny in {city}"

    model = ScriptedModel(
        [ToolCall("lookup", {"city": "Paris"}), "It is sunny.", "You asked: Paris."]
    )
    agent = Agent(name="a", model=model, tools=[lookup])
    first = await Runner.run(agent, "Weather in Paris?", session=make_session("chat"))
    assert first.final_output == "It is sunny."

    second = await Runner.run(agent, "What did I ask?", session=make_session("chat"))
    assert second.final_output == "You asked: Paris."
    sent = model.requests[2].input
    kinds = [item.type for item in sent]
    assert kinds == ["message", "function_call", "function_call_output", "message", "message"]
    assert _texts(sent) == ["Weather in Paris?", "It is sunny.", "What did I ask?"]
    output = sent[2]
    assert isinstance(output, FunctionCallOutput) and output.output == "sunny in Paris"
    stored = await make_session("chat").get_items()
    assert _texts(stored)[-1] == "You asked: Paris."
    assert len(stored) == 6


@pytest.mark.parametrize("backend", ["sqlite", "postgres", "redis"])
async def test_concurrent_writers_lose_nothing_and_keep_calls_contiguous(
    make_session: SessionFactory,
) -> None:
    writers, calls, per_call = 20, 10, 3

    async def write(writer: int) -> None:
        session = make_session("busy")  # one object per writer, as separate replicas would
        for call in range(calls):
            await session.add_items([_user(f"{writer}:{call}:{part}") for part in range(per_call)])

    await asyncio.gather(*(write(writer) for writer in range(writers)))
    texts = _texts(await make_session("busy").get_items())
    assert len(texts) == writers * calls * per_call
    assert len(set(texts)) == len(texts)
    for start in range(0, len(texts), per_call):
        block = [entry.rsplit(":", 1) for entry in texts[start : start + per_call]]
        assert {prefix for prefix, _part in block} == {block[0][0]}, texts[start : start + 3]
        assert [part for _prefix, part in block] == ["0", "1", "2"]
    for writer in range(writers):  # each writer's own calls stay in its order
        mine = [entry for entry in texts if entry.startswith(f"{writer}:") and entry.endswith(":0")]
        assert mine == [f"{writer}:{call}:0" for call in range(calls)]


@pytest.mark.parametrize("backend", ["sqlite", "postgres", "redis"])
async def test_ttl_expires_sessions_and_prune_removes_them(
    make_session: SessionFactory, backend: str, request: pytest.FixtureRequest
) -> None:
    short = make_session("short", ttl=0.5)
    lasting = make_session("lasting")
    await short.add_items([_user("old")])
    await lasting.add_items([_user("keep")])
    assert _texts(await short.get_items()) == ["old"]
    await asyncio.sleep(0.7)
    assert await short.get_items() == []
    assert await short.pop_item() is None
    assert _texts(await lasting.get_items()) == ["keep"]

    if backend != "redis":  # Redis expires keys itself; SQL needs pruning
        url = str(request.getfixturevalue(f"{backend}_url"))
        assert await asyncio.to_thread(prune_expired, url) == 1
        assert await asyncio.to_thread(prune_expired, url) == 0
        engine = create_engine(normalize_url(url))
        try:
            with engine.connect() as conn:
                ids = conn.execute(text("SELECT session_id FROM ascent_sessions")).scalars()
                assert [i.split("-", 1)[1] for i in ids] == ["lasting"]
                count = conn.execute(text("SELECT count(*) FROM ascent_session_items")).scalar()
                assert count == 1
        finally:
            engine.dispose()

    await short.add_items([_user("new")])  # writing again starts a fresh session
    assert _texts(await short.get_items()) == ["new"]


@pytest.mark.parametrize("backend", ["sqlite", "postgres"])
async def test_a_write_after_expiry_does_not_revive_old_items(
    make_session: SessionFactory,
) -> None:
    session = make_session("revive", ttl=0.3)
    await session.add_items([_user("old")])
    await asyncio.sleep(0.45)
    await session.add_items([_user("new")])  # no prune in between: the old rows still exist
    assert _texts(await session.get_items()) == ["new"]


@pytest.mark.parametrize("backend", ["sqlite", "postgres", "redis"])
async def test_oversized_items_are_refused_and_nothing_is_written(
    make_session: SessionFactory,
) -> None:
    session = make_session("big")
    await session.add_items([_user("before")])
    huge = FunctionCallOutput(call_id="c1", output="x" * 1_100_000)
    with pytest.raises(UserError, match=r"item #1 \(function_call_output\).*1,000,000-byte"):
        await session.add_items([_user("fits"), huge])
    assert _texts(await session.get_items()) == ["before"]


async def test_max_item_bytes_is_configurable(tmp_path: Path) -> None:
    session = SQLiteSession("s", tmp_path / "db.sqlite", max_item_bytes=100)
    with pytest.raises(UserError, match="100-byte"):
        await session.add_items([_user("y" * 200)])
    await session.add_items([_user("short")])
    assert _texts(await session.get_items()) == ["short"]


async def test_last_n_is_an_index_range_scan(sqlite_url: str) -> None:
    session = SQLiteSession("s", sqlite_url)
    await session.add_items([_user(str(n)) for n in range(5)])
    assert _texts(await session.get_items(limit=2)) == ["3", "4"]
    engine = create_engine(sqlite_url)
    try:
        with engine.connect() as conn:
            plan = " ".join(
                str(row[-1])
                for row in conn.execute(
                    text(
                        "EXPLAIN QUERY PLAN SELECT item_json FROM ascent_session_items "
                        "WHERE session_id = 's' ORDER BY seq DESC LIMIT 2"
                    )
                )
            )
    finally:
        engine.dispose()
    assert "SEARCH" in plan and "SCAN" not in plan and "TEMP B-TREE" not in plan


def test_open_session_picks_the_store_from_the_url(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(tmp_path)
    monkeypatch.delenv(DATABASE_URL_ENV, raising=False)
    default = open_session("s")
    assert isinstance(default, SQLiteSession)
    assert default.url == f"sqlite:///{tmp_path / '.ascent' / 'ascent.db'}"
    assert isinstance(open_session("s", f"sqlite:///{tmp_path}/x.db"), SQLiteSession)
    pg = open_session("s", "postgresql://u@127.0.0.1:1/db", ttl=5)
    assert type(pg) is SQLAlchemySession and pg.ttl == 5
    assert isinstance(open_session("s", "redis://127.0.0.1:1/0"), RedisSession)
    assert isinstance(open_session("s", "rediss://127.0.0.1:1/0"), RedisSession)
    assert isinstance(open_session("s", "memory://"), InMemorySession)

    monkeypatch.setenv(DATABASE_URL_ENV, "postgresql://u@127.0.0.1:1/db")
    assert type(open_session("s")) is SQLAlchemySession  # no URL: the project database
    assert SQLiteSession("s").url == f"sqlite:///{tmp_path / '.ascent' / 'ascent.db'}"


def test_unknown_or_unusable_urls_raise_user_errors() -> None:
    with pytest.raises(UserError, match=r"ftp://.*sqlite:///.*postgresql://.*redis://.*memory://"):
        open_session("s", "ftp://example.com/x")
    with pytest.raises(UserError, match="memory://"):
        SQLiteSession("s", "sqlite://")
    with pytest.raises(UserError, match="SQLite"):
        SQLiteSession("s", "postgresql://u@h/db")
    with pytest.raises(UserError, match="ttl"):
        SQLiteSession("s", "sqlite:///x.db", ttl=0)


def test_a_missing_redis_package_is_a_clear_error(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setitem(sys.modules, "redis", None)
    monkeypatch.setitem(sys.modules, "redis.asyncio", None)
    with pytest.raises(UserError, match=r"ascent-agents\[redis\]"):
        open_session("s", "redis://127.0.0.1:1/0")


async def test_redis_ttl_is_refreshed_by_each_write(redis_server: object) -> None:
    from ascent.testing.redis import RedisServer

    assert isinstance(redis_server, RedisServer)
    session = RedisSession(f"ttl-{time.time_ns()}", redis_server.url, ttl=100)
    try:
        await session.add_items([_user("a")])
        client = session._redis()
        assert 0 < await client.pttl(session.key) <= 100_000
        await client.pexpire(session.key, 5_000)
        await session.add_items([_user("b")])
        assert await client.pttl(session.key) > 5_000
        await session.delete()
        assert await client.exists(session.key) == 0
    finally:
        await session.aclose()


@pytest.mark.parametrize("where", ["sqlite", "postgres"])
async def test_sessions_are_listed_by_prefix_newest_first(
    request: pytest.FixtureRequest, where: str
) -> None:
    url = str(request.getfixturevalue(f"{where}_url"))
    for name in ("t/acme/a", "t/acme/b", "t/acme/c", "t/ACME/x", "t/acme_/y", "bare"):
        await open_session(name, url).add_items([_user("hi"), _user("again")])
    expiring = open_session("t/acme/gone", url, ttl=0.01)
    await expiring.add_items([_user("hi")])
    await asyncio.sleep(0.05)
    await open_session("t/acme/a", url).add_items([_user("latest")])

    seen: list[tuple[str, int]] = []
    before = None
    while True:
        page, before = list_sessions(url, prefix="t/acme/", limit=2, before=before)
        seen.extend((found.session_id, found.items) for found in page)
        if before is None:
            break
    # the prefix is compared exactly: case counts ("t/ACME/" is another tenant's)
    assert seen == [("t/acme/a", 3), ("t/acme/c", 2), ("t/acme/b", 2)]
    bare, _ = list_sessions(url, exclude_prefix="t/")
    assert [found.session_id for found in bare] == ["bare"]
    assert list_sessions(url, prefix="t/nobody/") == ([], None)
    assert list_sessions(url, prefix="t/ac_e/") == ([], None)  # "_" is no wildcard
    assert list_sessions(url, prefix="t/ac%/") == ([], None)


def test_open_session_says_where_a_named_session_lives() -> None:
    """Where the SDK's default session is in memory, ours persists: the first line says so."""
    from ascent.memory import open_session

    first = (open_session.__doc__ or "").strip().splitlines()[0]
    assert "on disk" in first and "persistent" in first
    assert 'url="memory://"' in (open_session.__doc__ or "")
    docs = Path(__file__).parents[2] / "docs" / "memory.md"
    sessions = docs.read_text().split("## Sessions", 1)[1].strip()
    assert sessions.startswith("A session opened by name is persistent")


def test_a_call_no_output_answers_gets_an_error_answer_after_its_response() -> None:
    said = Message(role="user", content=[InputText(text="refund A1 and A2")])
    looked = FunctionCall(call_id="c1", name="lookup", arguments='{"order_id": "A1"}', agent="a")
    refund_1 = FunctionCall(call_id="c2", name="refund", arguments='{"order_id": "A1"}', agent="a")
    refund_2 = FunctionCall(call_id="c3", name="refund", arguments='{"order_id": "A2"}', agent="a")
    answer = FunctionCallOutput(call_id="c1", output="A1: shipped", tool_name="lookup")
    after = Message(role="user", content=[InputText(text="never mind")])
    items: list[Item] = [said, looked, refund_1, refund_2, answer, after]

    closed = answer_open_calls(items)

    [first, second] = [i for i in closed if isinstance(i, FunctionCallOutput) and i.is_error]
    assert (first.call_id, first.tool_name, first.agent) == ("c2", "refund", "a")
    assert second.call_id == "c3" and "cancelled or abandoned" in second.output
    # after the response's calls, where the run's own outputs would be; the rest kept
    assert closed == [said, looked, refund_1, refund_2, first, second, answer, after]
    assert answer_open_calls(closed) == closed
    [*_, last] = answer_open_calls(items[:2])  # a call at the end is answered too
    assert isinstance(last, FunctionCallOutput) and last.call_id == "c1" and last.is_error
