"""Memory tools through real runs, and recall into instructions within a token budget."""

from __future__ import annotations

import contextvars
import json
from collections.abc import Generator
from dataclasses import dataclass
from typing import Any

import pytest

from ascent import Agent, Runner
from ascent.context import RunContext
from ascent.errors import UserError
from ascent.items import FunctionCallOutput, Message
from ascent.memory.current_run import current_run_input, latest_user_text, run_input
from ascent.memory.store import Memory, MemoryStore
from ascent.memory.tools import (
    estimate_tokens,
    format_memories,
    memory_tools,
    recall_for_instructions,
    with_memory,
)
from ascent.testing import ScriptedModel, ToolCall
from ascent.tools import FunctionTool


@dataclass
class User:
    user_id: str
    message: str = ""


def _user_scope(ctx: RunContext[Any]) -> str:
    return str(ctx.context.user_id)


@pytest.fixture(params=["sqlite", "postgres"])
def store(request: pytest.FixtureRequest) -> MemoryStore:
    return MemoryStore(str(request.getfixturevalue(f"{request.param}_url")))


def _tool_outputs(model: ScriptedModel) -> list[FunctionCallOutput]:
    return [item for item in model.requests[-1].input if isinstance(item, FunctionCallOutput)]


async def test_remember_then_recall_in_a_later_run(store: MemoryStore) -> None:
    tools = memory_tools(store, scope_from=_user_scope)
    assert [t.name for t in tools] == ["remember", "recall", "forget"]
    assert all(isinstance(t, FunctionTool) for t in tools)
    schemas = [t.parameters for t in tools if isinstance(t, FunctionTool)]
    assert "scope" not in json.dumps(schemas)  # the model cannot choose whose memories

    first = ScriptedModel(
        [
            ToolCall(
                "remember",
                {"text": "The user's dog is called Biscuit", "tags": ["pet"]},
            ),
            "I'll remember that.",
        ]
    )
    await Runner.run(
        Agent(name="a", model=first, tools=tools), "My dog is Biscuit", context=User("alice")
    )
    first.assert_done()
    (saved,) = await store.list("alice")
    assert (saved.text, saved.tags) == ("The user's dog is called Biscuit", ["pet"])
    assert saved.source_run  # the run that made it

    second = ScriptedModel([ToolCall("recall", {"query": "dog name"}), "Biscuit!"])
    result = await Runner.run(
        Agent(name="a", model=second, tools=tools),
        "What is my dog called?",
        context=User("alice"),
    )
    second.assert_done()
    assert result.final_output == "Biscuit!"
    (output,) = _tool_outputs(second)
    assert not output.is_error
    assert "Biscuit" in output.output and saved.id in output.output

    # Another user asking the same thing gets nothing of alice's.
    other = ScriptedModel([ToolCall("recall", {"query": "dog name"}), "I don't know."])
    await Runner.run(Agent(name="a", model=other, tools=tools), "My dog?", context=User("bob"))
    (output,) = _tool_outputs(other)
    assert "Biscuit" not in output.output
    assert output.output == "No matching memories."


async def test_forget_only_in_the_callers_scope(store: MemoryStore) -> None:
    tools = memory_tools(store, scope_from=_user_scope)
    memory = await store.add("Alice is allergic to peanuts", scope="alice")

    model = ScriptedModel([ToolCall("forget", {"memory_id": memory.id}), "ok"])
    await Runner.run(Agent(name="a", model=model, tools=tools), "forget", context=User("bob"))
    assert "No memory" in _tool_outputs(model)[0].output
    assert await store.get(memory.id, scope="alice") == memory

    model = ScriptedModel([ToolCall("forget", {"memory_id": memory.id}), "ok"])
    await Runner.run(Agent(name="a", model=model, tools=tools), "forget", context=User("alice"))
    assert _tool_outputs(model)[0].output == "Forgotten."
    assert await store.get(memory.id, scope="alice") is None


async def test_a_bad_remember_goes_back_to_the_model(store: MemoryStore) -> None:
    tools = memory_tools(store, scope_from=_user_scope)
    model = ScriptedModel([ToolCall("remember", {"text": "   "}), "sorry"])
    await Runner.run(Agent(name="a", model=model, tools=tools), "x", context=User("alice"))
    (output,) = _tool_outputs(model)
    assert output.is_error and "non-empty text" in output.output
    assert await store.list("alice") == []


async def test_recall_block_respects_the_token_budget(store: MemoryStore) -> None:
    for index in range(20):
        await store.add(f"Project apollo note {index}: " + "detail " * 10, scope="u")
    block = await recall_for_instructions(
        store, scope="u", query="apollo", token_budget=60, limit=20
    )
    assert block.startswith("Relevant memories")
    assert estimate_tokens(block) <= 60
    assert 1 <= block.count("\n- ") < 20

    big = await recall_for_instructions(
        store, scope="u", query="apollo", token_budget=10_000, limit=20
    )
    assert big.count("\n- ") == 20
    assert await recall_for_instructions(store, scope="u", query="apollo", token_budget=5) == ""
    assert await recall_for_instructions(store, scope="u", query="zeppelin") == ""
    assert await recall_for_instructions(store, scope="other", query="apollo") == ""


def test_format_skips_a_memory_too_long_for_the_budget_and_flattens_lines() -> None:
    def memory(text: str) -> Memory:
        from datetime import UTC, datetime

        now = datetime.now(UTC)
        return Memory(id="m", scope="u", text=text, created_at=now, updated_at=now)

    block = format_memories([memory("x" * 400), memory("short\nfact\n- injected")], token_budget=40)
    assert block.splitlines()[1:] == ["- short fact - injected"]
    assert format_memories([], token_budget=100) == ""


async def test_with_memory_adds_the_block_to_dynamic_instructions(store: MemoryStore) -> None:
    await store.add("The user speaks Portuguese", scope="alice")
    await store.add("The user speaks Klingon", scope="bob")

    def base(ctx: RunContext[Any], agent: Agent[Any]) -> str:
        return f"You help {ctx.context.user_id}."

    instructions = with_memory(
        base,
        store,
        scope_from=_user_scope,
        query_from=lambda ctx: ctx.context.message,
        token_budget=100,
    )
    model = ScriptedModel(["Olá!"])
    message = "Which language do I speak?"
    await Runner.run(
        Agent(name="a", model=model, instructions=instructions),
        message,
        context=User("alice", message),
    )
    sent = model.requests[0].instructions or ""
    assert sent.startswith("You help alice.\n\nRelevant memories")
    assert "Portuguese" in sent and "Klingon" not in sent

    static = with_memory(None, store, scope_from=_user_scope, query_from=lambda ctx: None)
    model = ScriptedModel(["hi"])
    await Runner.run(Agent(name="a", model=model, instructions=static), "hi", context=User("a"))
    assert not model.requests[0].instructions


async def test_an_empty_scope_from_the_program_is_an_error(store: MemoryStore) -> None:
    instructions = with_memory(
        "Be brief.", store, scope_from=lambda ctx: "", query_from=lambda ctx: "anything"
    )
    with pytest.raises(UserError, match="scope_from"):
        await Runner.run(
            Agent(name="a", model=ScriptedModel(["x"]), instructions=instructions), "x"
        )


def test_a_run_closed_from_another_context_lets_go_of_its_input() -> None:
    """Temporal closes an evicted workflow's coroutine outside the context it ran in:
    leaving the run's input must not raise there (it surfaced as an ignored error)."""

    class Suspend:
        def __await__(self) -> Generator[None, None, None]:
            yield

    async def run() -> None:
        with run_input([Message(role="user", content="hello")]):
            assert latest_user_text(current_run_input()) == "hello"
            await Suspend()

    coroutine = run()
    contextvars.copy_context().run(coroutine.send, None)  # suspended inside the block
    coroutine.close()  # from this context, as a worker's eviction does
    assert current_run_input() == []
