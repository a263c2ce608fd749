"""Durable runs that stay whole: turns on a session in order and written once, and a
cut model stream asked again rather than failing the run."""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from typing import Any

import openai
import pytest

from ascent import Agent
from ascent.durable import DurableEngine
from ascent.items import FunctionCall, FunctionCallOutput, Item, Message
from ascent.memory import open_session
from ascent.memory.sql_session import SQLAlchemySession
from ascent.models._retry import RetryPolicy
from ascent.models.openai_chat import OpenAIChatModel
from ascent.testing import ScriptedModel, ToolCall
from ascent.testing.mock_openai import BrokenStream, MockOpenAIServer, Reply

from ..sample_tools import lookup, refund

MakeEngine = Callable[..., Any]


def _turns(items: list[Item]) -> list[list[Item]]:
    """The session cut at each user message: one list per run."""
    turns: list[list[Item]] = []
    for item in items:
        if isinstance(item, Message) and item.role == "user":
            turns.append([])
        turns[-1].append(item)
    return turns


def _assert_whole_turns(items: list[Item], runs: int) -> None:
    turns = _turns(items)
    assert len(turns) == runs
    for turn in turns:
        kinds = [type(item).__name__ for item in turn]
        assert kinds == ["Message", "FunctionCall", "FunctionCallOutput", "Message"], kinds
        call, output = turn[1], turn[2]
        assert isinstance(call, FunctionCall) and isinstance(output, FunctionCallOutput)
        assert output.call_id == call.call_id  # every output follows its own call


async def test_runs_on_one_session_take_turns_in_the_order_they_started(
    make_engine: MakeEngine, sqlite_url: str
) -> None:
    runs = 12
    script: list[object] = []
    for number in range(runs):
        script += [ToolCall("lookup", {"order_id": f"A-{number}"}), f"Order A-{number}."]
    agent = Agent(name="support", tools=[lookup])
    engine: DurableEngine = await make_engine(agents=[agent], model=ScriptedModel(script))
    started = [
        await engine.start_run("support", f"Where is A-{n}?", session_id="shared")
        for n in range(runs)
    ]
    records = await asyncio.gather(*(engine.wait_run(r.id, timeout=60) for r in started))

    assert [r.status for r in records] == ["completed"] * runs
    items = await open_session("shared", sqlite_url).get_items()
    _assert_whole_turns(items, runs)
    questions = [t[0].content for t in _turns(items)]  # type: ignore[union-attr]
    assert questions == [f"Where is A-{n}?" for n in range(runs)]  # in the order started
    # each run read the history its predecessors left: the last saw all the others
    assert [o.output for o in records] == [f"Order A-{n}." for n in range(runs)]


async def test_a_run_waits_queued_behind_a_paused_run_on_its_session(
    make_engine: MakeEngine,
) -> None:
    agent = Agent(name="support", tools=[lookup, refund])
    model = ScriptedModel([ToolCall("refund", {"order_id": "A-1"}), "Refunded.", "Hello again."])
    engine: DurableEngine = await make_engine(agents=[agent], model=model)
    first = await engine.wait_run(
        (await engine.start_run("support", "Refund A-1", session_id="s")).id
    )
    assert first.status == "awaiting_approval"
    second = await engine.start_run("support", "Hi", session_id="s")
    assert (await engine.wait_run(second.id, timeout=0.5)).status == "queued"

    await engine.decide(first.id, {first.pending_approvals[0].call_id: True})
    assert (await engine.wait_run(first.id, timeout=30)).status == "completed"
    done = await engine.wait_run(second.id, timeout=30)
    assert done.status == "completed" and done.output == "Hello again."
    # the second run's model call saw the first run's whole turn before its question
    seen = model.requests[-1].input
    assert [type(i).__name__ for i in seen] == [
        "Message",
        "FunctionCall",
        "FunctionCallOutput",
        "Message",
        "Message",
    ]


async def test_a_write_repeated_after_a_crash_adds_nothing(
    make_engine: MakeEngine, sqlite_url: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The session write commits, the process dies before the step is recorded; the
    recovered run makes the write again, and the session keeps one copy."""
    written = asyncio.Event()
    original = SQLAlchemySession.add_items_once

    async def write_then_hang(self: SQLAlchemySession, items: list[Item], write_id: str) -> bool:
        added = await original(self, items, write_id)
        written.set()
        await asyncio.Event().wait()  # the crash comes before the step's record
        return added

    agent = Agent(name="support", tools=[lookup])
    model = ScriptedModel([ToolCall("lookup", {"order_id": "A-1"}), "Shipped."])
    with monkeypatch.context() as patch:
        patch.setattr(SQLAlchemySession, "add_items_once", write_then_hang)
        engine: DurableEngine = await make_engine(agents=[agent], model=model)
        record = await engine.start_run("support", "Where is A-1?", session_id="s")
        await asyncio.wait_for(written.wait(), 20)
        await engine.stop()

    session = open_session("s", sqlite_url)
    assert len(await session.get_items()) == 4  # the turn, written once
    engine = await make_engine(agents=[agent], model=model)  # the same replica resumes
    assert (await engine.wait_run(record.id, timeout=30)).status == "completed"
    items = await session.get_items()
    _assert_whole_turns(items, 1)  # not a second copy of the turn


async def test_add_items_once_skips_a_write_it_has_made(sqlite_url: str) -> None:
    session = SQLAlchemySession("once", sqlite_url)
    item = Message(role="user", content="hello")
    assert await session.add_items_once([item], "run-1:7") is True
    assert await session.add_items_once([item], "run-1:7") is False
    assert await session.add_items_once([item], "run-1:8") is True
    assert len(await session.get_items()) == 2
    await session.clear()  # a cleared session forgets its writes too
    assert await session.add_items_once([item], "run-1:7") is True


async def test_a_durable_run_whose_stream_is_cut_asks_again_and_completes(
    make_engine: MakeEngine, mock_openai: MockOpenAIServer
) -> None:
    async def no_sleep(seconds: float) -> None:
        return None

    mock_openai.add(
        BrokenStream(reply=Reply(text="Your order is on its way and"), after=3),
        Reply(text="Order A-1 has shipped."),
    )
    async with openai.AsyncOpenAI(base_url=mock_openai.base_url, api_key="k") as client:
        model = OpenAIChatModel(model="mock", client=client, retry=RetryPolicy(sleep=no_sleep))
        engine: DurableEngine = await make_engine(agents=[Agent(name="support")], model=model)
        record = await engine.wait_run((await engine.start_run("support", "Where?")).id)
        assert record.status == "completed", record.error
        assert record.output == "Order A-1 has shipped."
        kinds = [e.type async for e in engine.events(record.id)]
        assert "response_discarded" in kinds
