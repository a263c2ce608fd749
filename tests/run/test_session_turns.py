"""In process, a run's turn reaches its session whole: one write at a pause, one at the end."""

from __future__ import annotations

import asyncio
from pathlib import Path

from ascent import Agent, MaxTurnsExceeded, Runner
from ascent.items import FunctionCall, FunctionCallOutput, Message
from ascent.memory.sql_session import SQLAlchemySession
from ascent.testing import ScriptedModel, ToolCall

from ..sample_tools import lookup


async def test_concurrent_runs_on_one_session_never_interleave_their_turns(
    tmp_path: Path,
) -> None:
    session = SQLAlchemySession("shared", f"sqlite:///{tmp_path / 'db.sqlite'}")

    async def one(number: int) -> None:
        model = ScriptedModel(
            [ToolCall("lookup", {"order_id": f"A-{number}"}), f"Order A-{number}."]
        )
        agent = Agent(name="support", model=model, tools=[lookup])
        await Runner.run(agent, f"Where is A-{number}?", session=session)

    await asyncio.gather(*(one(n) for n in range(10)))

    items = await session.get_items()
    assert len(items) == 40
    for start in range(0, 40, 4):
        user, call, output, answer = items[start : start + 4]
        assert isinstance(user, Message) and user.role == "user"
        assert isinstance(call, FunctionCall) and isinstance(output, FunctionCallOutput)
        assert output.call_id == call.call_id
        assert isinstance(answer, Message) and answer.role == "assistant"


async def test_a_failed_run_leaves_its_session_as_it_was(tmp_path: Path) -> None:
    session = SQLAlchemySession("s", f"sqlite:///{tmp_path / 'db.sqlite'}")
    looping = ScriptedModel([ToolCall("lookup", {"order_id": "A-1"})] * 2)
    agent = Agent(name="support", model=looping, tools=[lookup])
    try:
        await Runner.run(agent, "Where is A-1?", session=session, max_turns=2)
    except MaxTurnsExceeded:
        pass
    else:  # pragma: no cover - the script has no final answer
        raise AssertionError("the run should have run out of turns")
    assert await session.get_items() == []  # no half turn: no dangling tool call
