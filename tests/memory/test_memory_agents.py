"""Automatic recall, extraction after a run (across sessions), and sessions that compact
themselves, through real runs on SQLite."""

from __future__ import annotations

import json
import logging
from typing import Any

import pytest

from ascent import Agent, AgentHooks, ModelSettings, RunContext, RunHooks, Runner, UserError
from ascent.items import Item, Message
from ascent.memory import SQLiteSession
from ascent.memory.compaction import SUMMARY_PREFIX, CompactingSession, Compactor, estimate_tokens
from ascent.memory.store import MemoryStore
from ascent.memory.tools import memory_tools, with_memory
from ascent.memory_agents import (
    Extraction,
    MemoryExtractionHooks,
    MemoryExtractor,
    agent_summarizer,
)
from ascent.testing import ScriptedModel
from ascent.testing.scripted import Step

VACATION = "My favourite vacation spot is Lisbon, I go every spring."
QUESTION = "Remind me what I said about my favourite vacation spot?"
FACT = "The user's favourite vacation spot is Lisbon."


def user_scope(ctx: RunContext[Any]) -> str:
    return str(ctx.context["user"])


def extraction(*facts: dict[str, Any]) -> str:
    return json.dumps({"facts": list(facts)})


class SeenInstructions(RunHooks[Any]):
    def __init__(self) -> None:
        self.instructions: list[str | None] = []

    async def on_llm_start(
        self,
        context: RunContext[Any],
        agent: Agent[Any],
        instructions: str | None,
        input: list[Item],
    ) -> None:
        self.instructions.append(instructions)


async def test_vacation_spot_is_remembered_across_sessions(sqlite_url: str) -> None:
    store = MemoryStore(sqlite_url)
    extractor_model = ScriptedModel(
        [extraction({"text": FACT, "tags": ["preference"]}), extraction()]
    )
    extractor = MemoryExtractor(store, model=extractor_model)
    assistant = Agent(
        name="assistant",
        instructions=with_memory("You are a helpful assistant.", store, scope_from=user_scope),
        tools=memory_tools(store, scope_from=user_scope),
        model="offline",
        hooks=MemoryExtractionHooks(extractor, scope_from=user_scope),
    )
    alice = {"user": "alice"}

    first = SQLiteSession("monday", sqlite_url)
    await Runner.run(assistant, VACATION, session=first, context=alice)
    [memory] = await store.list("alice")
    assert memory.text == FACT and memory.tags == ["preference"]
    assert memory.metadata == {"extracted": True} and memory.source_run
    # the extractor saw the turn and the (empty) list of known memories
    request = extractor_model.requests[0].input[0]
    assert isinstance(request, Message)
    assert "user: " + VACATION in request.text and "(none)" in request.text

    # another session: nothing of Monday's conversation is in its history
    second = SQLiteSession("friday", sqlite_url)
    seen = SeenInstructions()
    recall_first = ModelSettings(tool_choice="recall")
    answer = await Runner.run(
        assistant.clone(model_settings=recall_first),
        QUESTION,
        session=second,
        context=alice,
        hooks=seen,
    )
    assert "Lisbon" in answer.final_output  # found through the recall tool
    # and automatic recall had already put it in the instructions of the first call
    assert seen.instructions[0] is not None
    assert "You are a helpful assistant." in seen.instructions[0]
    assert FACT in seen.instructions[0]
    assert [m.text for m in await store.list("alice")] == [FACT]  # not stored twice
    extractor_model.assert_done()

    # another user asking the same question gets nothing of alice's
    bob = SeenInstructions()
    other = await Runner.run(
        assistant.clone(model_settings=recall_first),
        QUESTION,
        session=SQLiteSession("bob", sqlite_url),
        context={"user": "bob"},
        hooks=bob,
    )
    assert "Lisbon" not in other.final_output
    assert FACT not in (bob.instructions[0] or "")


async def test_extraction_updates_a_known_memory_instead_of_adding(sqlite_url: str) -> None:
    store = MemoryStore(sqlite_url)
    old = await store.add(FACT, scope="alice", tags=["preference"])
    duplicate = await store.add("The user drinks tea without sugar.", scope="alice")
    bobs = await store.add("The user's favourite vacation spot is Oslo.", scope="bob")
    model = ScriptedModel(
        [
            extraction(
                {"text": "The user's favourite vacation spot is now Porto.", "replaces": old.id},
                {"text": "the user drinks tea without sugar"},  # already known: skipped
                {"text": "The user has a cat.", "replaces": bobs.id},  # not a known id here
            )
        ]
    )
    extractor = MemoryExtractor(store, model=model)
    changed = await extractor.extract(
        [Message(role="user", content="I prefer Porto for vacation now. I have a cat.")],
        scope="alice",
        source_run="run_1",
    )
    assert [m.text for m in changed] == [
        "The user's favourite vacation spot is now Porto.",
        "The user has a cat.",
    ]
    assert changed[0].id == old.id and changed[0].tags == ["preference"]
    texts = sorted(m.text for m in await store.list("alice"))
    assert texts == sorted(
        [
            "The user's favourite vacation spot is now Porto.",
            duplicate.text,
            "The user has a cat.",
        ]
    )
    assert (await store.get(bobs.id, scope="bob")) == bobs  # another scope's memory untouched
    shown = model.requests[0].input[0]
    assert isinstance(shown, Message) and old.id in shown.text


async def test_failed_extraction_is_logged_and_the_run_stands(
    sqlite_url: str, caplog: pytest.LogCaptureFixture
) -> None:
    store = MemoryStore(sqlite_url)
    broken = ScriptedModel([Step(error=RuntimeError("extractor down"))])
    agent = Agent(
        name="assistant",
        model=ScriptedModel(["Noted."]),
        hooks=MemoryExtractionHooks(MemoryExtractor(store, model=broken), scope_from=user_scope),
    )
    with caplog.at_level(logging.WARNING, logger="ascent.memory"):
        result = await Runner.run(agent, VACATION, context={"user": "alice"})
    assert result.final_output == "Noted."
    assert "memory extraction after run" in caplog.text and "extractor down" in caplog.text
    assert await store.list("alice") == []


def test_extractor_options_are_checked(sqlite_url: str) -> None:
    store = MemoryStore(sqlite_url)
    with pytest.raises(UserError, match="output_type=Extraction"):
        MemoryExtractor(store, agent=Agent(name="x"))
    with pytest.raises(UserError, match="not both"):
        MemoryExtractor(store, agent=Agent(name="x", output_type=Extraction), model="offline")
    assert MemoryExtractor(store).agent.output_type is Extraction
    assert isinstance(
        MemoryExtractionHooks(MemoryExtractor(store), scope_from=user_scope), AgentHooks
    )


async def test_recall_is_bounded_and_uses_the_latest_user_message(sqlite_url: str) -> None:
    store = MemoryStore(sqlite_url)
    for n in range(30):
        await store.add(f"Vacation note number {n}: " + "details " * 20, scope="alice")
    await store.add("The user is allergic to peanuts.", scope="alice")
    instructions = with_memory(None, store, scope_from=user_scope, token_budget=120)
    seen = SeenInstructions()
    model = ScriptedModel(["ok", "ok"])
    agent = Agent(name="a", instructions=instructions, model=model)
    session = SQLiteSession("s", sqlite_url)
    await Runner.run(agent, "Any vacation notes?", session=session, context={"user": "alice"})
    await Runner.run(
        agent, "Am I allergic to anything?", session=session, hooks=seen, context={"user": "alice"}
    )
    block = seen.instructions[0] or ""
    assert "allergic to peanuts" in block  # the latest message, not the first one
    assert estimate_tokens([Message(role="system", content=block)]) <= 120
    with pytest.raises(UserError, match="token_budget"):
        with_memory(None, store, scope_from=user_scope, token_budget=-1)


async def test_compacting_session_compacts_after_a_run_crosses_the_budget(
    sqlite_url: str,
) -> None:
    inner = SQLiteSession("long", sqlite_url)
    summarizer_model = ScriptedModel(["The user asked about ten topics."])
    compactor = Compactor(
        summarizer=agent_summarizer(Agent(name="summarizer", model=summarizer_model)),
        max_tokens=200,
        keep_recent_tokens=60,
    )
    session = CompactingSession(inner, compactor)
    agent = Agent(name="a", model=ScriptedModel([f"answer {n} " * 10 for n in range(6)]))
    for n in range(6):
        await Runner.run(agent, f"question {n} " * 10, session=session)
        if session.last_compaction is not None:
            break
    result = session.last_compaction
    assert result is not None and result.tokens_before > 200
    summarizer_model.assert_done()
    stored = await session.get_items()
    assert isinstance(stored[0], Message) and stored[0].role == "system"
    assert stored[0].text == SUMMARY_PREFIX + "The user asked about ten topics."
    assert stored[0].agent == "summarizer"
    assert estimate_tokens(stored) < result.tokens_before
    archive = SQLiteSession("long:archive", sqlite_url)
    assert len(await archive.get_items()) == result.archived > 0  # originals kept for audit
    # the next run starts from the summary and the recent turns
    follow = ScriptedModel(["fine"])
    await Runner.run(Agent(name="b", model=follow), "and now?", session=session)
    assert follow.requests[0].input[0] == stored[0]
