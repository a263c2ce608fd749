"""Compaction: token estimates, safe split points, summaries, archives, replace_items."""

from __future__ import annotations

import random

import pytest

from ascent import Agent, Runner, UserError
from ascent.items import (
    FunctionCall,
    FunctionCallOutput,
    Item,
    Message,
    ProviderItem,
    Reasoning,
    items_to_json,
)
from ascent.memory import InMemorySession
from ascent.memory.compaction import (
    SUMMARY_PREFIX,
    CompactingSession,
    Compactor,
    estimate_tokens,
    split_for_compaction,
)
from ascent.memory_agents import agent_summarizer
from ascent.testing import ScriptedModel

from .conftest import SessionFactory


def _user(text: str) -> Message:
    return Message(role="user", content=text)


def _assistant(text: str) -> Message:
    return Message.assistant(text)


def _turn(n: int, words: int = 10) -> list[Item]:
    """One user turn with a tool call, its output, and an answer."""
    pad = " ".join(f"w{n}" for _ in range(words))
    return [
        _user(f"question {n}: {pad}"),
        Reasoning(summary=[{"type": "summary_text", "text": f"thinking {n}"}]),
        FunctionCall(call_id=f"c{n}", name="lookup", arguments=f'{{"q": "{n} {pad}"}}'),
        FunctionCallOutput(call_id=f"c{n}", output=f"result {n}: {pad}"),
        _assistant(f"answer {n}: {pad}"),
    ]


def _history(turns: int, words: int = 10) -> list[Item]:
    return [item for n in range(turns) for item in _turn(n, words)]


def _assert_pairs_whole(recent: list[Item]) -> None:
    calls = {i.call_id for i in recent if isinstance(i, FunctionCall)}
    outputs = {i.call_id for i in recent if isinstance(i, FunctionCallOutput)}
    assert outputs <= calls
    for index, item in enumerate(recent):
        if isinstance(item, Reasoning):
            assert index + 1 < len(recent)
    if recent:
        assert not isinstance(recent[0], FunctionCallOutput)


# ------------------------------------------------------------------ estimate


def test_estimate_tokens() -> None:
    assert estimate_tokens([]) == 0
    assert estimate_tokens([_user("")]) == 1
    assert estimate_tokens([_user("x" * 40)]) == 10
    call = FunctionCall(call_id="c", name="abcd", arguments="x" * 36)
    assert estimate_tokens([call, FunctionCallOutput(call_id="c", output="y" * 9)]) == 10 + 3
    assert estimate_tokens([ProviderItem(type="web_search_call", id="ws_1")]) >= 1


# ------------------------------------------------------------------ split


def test_split_starts_at_user_message_and_keeps_within_budget() -> None:
    items = _history(6)
    older, recent = split_for_compaction(items, keep_recent_tokens=estimate_tokens(_turn(5)) + 5)
    assert older + recent == items
    assert recent == _turn(5)
    assert estimate_tokens(recent) <= estimate_tokens(_turn(5)) + 5


def test_split_everything_fits_or_nothing_fits() -> None:
    items = _history(3)
    assert split_for_compaction(items, keep_recent_tokens=10**6) == ([], items)
    older, recent = split_for_compaction(items, keep_recent_tokens=0)
    assert (older, recent) == (items, [])


def test_split_parallel_calls_are_not_separated() -> None:
    # a user turn whose model call made three parallel calls, outputs in another order
    items: list[Item] = [
        _user("old " * 40),
        _assistant("old answer " * 40),
        _user("check three cities"),
        Reasoning(summary=[{"type": "summary_text", "text": "plan"}]),
        FunctionCall(call_id="a", name="weather", arguments='{"city": "Paris"}'),
        FunctionCall(call_id="b", name="weather", arguments='{"city": "Oslo"}'),
        FunctionCall(call_id="c", name="weather", arguments='{"city": "Rome"}'),
        FunctionCallOutput(call_id="b", output="cold " * 10),
        FunctionCallOutput(call_id="a", output="mild " * 10),
        FunctionCallOutput(call_id="c", output="warm " * 10),
        _assistant("done"),
    ]
    tail = estimate_tokens(items[-1:])
    for budget in range(0, estimate_tokens(items) + 2):
        older, recent = split_for_compaction(items, keep_recent_tokens=budget)
        assert older + recent == items
        assert estimate_tokens(recent) <= budget
        _assert_pairs_whole(recent)
        # no cut inside the reasoning + parallel block: all of it is recent or none
        assert len(recent) in (0, 1) or len(recent) >= 8, (budget, len(recent))
        if budget >= tail:
            assert recent
    # the reasoning item goes with the calls it preceded
    _older, recent = split_for_compaction(items, keep_recent_tokens=estimate_tokens(items[3:]))
    assert recent[0] == items[3] or recent[0] == items[2]


def test_split_property_random_histories() -> None:
    rng = random.Random(7)
    for _ in range(200):
        items: list[Item] = []
        for n in range(rng.randint(1, 8)):
            items.append(_user("u" * rng.randint(0, 80)))
            for k in range(rng.randint(0, 3)):
                ids = [f"{n}-{k}-{j}" for j in range(rng.randint(1, 3))]
                if rng.random() < 0.5:
                    items.append(Reasoning(summary=[{"text": "r" * rng.randint(0, 40)}]))
                items += [FunctionCall(call_id=i, name="t", arguments="{}") for i in ids]
                rng.shuffle(ids)
                items += [
                    FunctionCallOutput(call_id=i, output="o" * rng.randint(0, 200)) for i in ids
                ]
            items.append(_assistant("a" * rng.randint(0, 80)))
        budget = rng.randint(0, estimate_tokens(items))
        older, recent = split_for_compaction(items, keep_recent_tokens=budget)
        assert older + recent == items
        assert estimate_tokens(recent) <= budget
        _assert_pairs_whole(recent)
        older_calls = {i.call_id for i in older if isinstance(i, FunctionCall)}
        assert {i.call_id for i in older if isinstance(i, FunctionCallOutput)} <= older_calls


# ------------------------------------------------------------------ compactor


def _summarizer(
    text: str = "User asked about turns 0-3; lookups done.",
) -> tuple[Agent, ScriptedModel]:
    model = ScriptedModel([text], name="summarizer")
    return Agent(name="summarizer", model=model), model


def test_compactor_options_are_checked() -> None:
    summarizer = agent_summarizer()
    with pytest.raises(UserError):
        Compactor(summarizer=summarizer, max_tokens=100, keep_recent_tokens=100)
    with pytest.raises(UserError):
        Compactor(summarizer=summarizer, max_tokens=0)
    with pytest.raises(UserError, match="async callable"):
        Compactor(summarizer="summarize please")  # type: ignore[arg-type]
    assert summarizer.name == "summarizer"
    with pytest.raises(UserError, match="not both"):
        agent_summarizer(Agent(name="a"), model="offline")


async def test_no_compaction_under_budget(make_session: SessionFactory) -> None:
    session = make_session()
    items = _history(3)
    await session.add_items(items)
    agent, model = _summarizer()
    compactor = Compactor(
        summarizer=agent_summarizer(agent), max_tokens=estimate_tokens(items), keep_recent_tokens=1
    )
    assert await compactor.compact(session) is None
    assert items_to_json(await session.get_items()) == items_to_json(items)
    assert model.requests == []
    # the provider's own count can trigger it even when the estimate would not
    compactor = Compactor(
        summarizer=agent_summarizer(agent), max_tokens=10**6, keep_recent_tokens=10
    )
    assert await compactor.compact(session, token_count=10**5) is None  # under 10**6


async def test_compaction_over_budget(make_session: SessionFactory) -> None:
    session = make_session()
    items = _history(6)
    await session.add_items(items)
    agent, model = _summarizer()
    keep = estimate_tokens(_history(2)) + 3
    compactor = Compactor(
        summarizer=agent_summarizer(agent), max_tokens=keep + 10, keep_recent_tokens=keep
    )
    result = await compactor.compact(session)
    assert result is not None
    model.assert_done()

    older, recent = items[:20], items[20:]
    assert recent == _history(6)[20:]
    prompt = model.requests[0].input[0]
    assert isinstance(prompt, Message) and prompt.role == "user"
    for item in older:
        if isinstance(item, Message):
            assert item.text in prompt.text
        if isinstance(item, FunctionCallOutput):
            assert item.output in prompt.text
    assert "question 4" not in prompt.text

    stored = await session.get_items()
    summary = stored[0]
    assert isinstance(summary, Message) and summary.role == "system"
    assert summary.text == SUMMARY_PREFIX + "User asked about turns 0-3; lookups done."
    assert items_to_json(stored[1:]) == items_to_json(recent)

    archive = compactor.archive_for(session)
    try:
        assert archive.session_id == f"{session.session_id}:archive"
        assert items_to_json(await archive.get_items()) == items_to_json(older)
    finally:
        if hasattr(archive, "aclose"):
            await archive.aclose()

    assert result.summary == "User asked about turns 0-3; lookups done."
    assert (result.archived, result.kept) == (20, 10)
    assert result.tokens_before == estimate_tokens(items)
    assert result.tokens_after == estimate_tokens(stored) < result.tokens_before


async def test_second_compaction_folds_in_the_first_summary() -> None:
    session = InMemorySession("s")
    await session.add_items(_history(4))
    model = ScriptedModel(["first summary", "second summary"])
    keep = estimate_tokens(_turn(0)) + 2
    compactor = Compactor(
        summarizer=agent_summarizer(Agent(name="sum", model=model)),
        max_tokens=keep + 5,
        keep_recent_tokens=keep,
    )
    assert await compactor.compact(session) is not None
    await session.add_items(_history(6)[20:])
    assert await compactor.compact(session) is not None
    assert "first summary" in model.requests[1].input[0].text
    archive = await compactor.archive_for(session).get_items()
    # turns 0-2, then the first summary with turns 3-4: every original, in order
    first_summary = archive[15]
    assert isinstance(first_summary, Message) and first_summary.text.endswith("first summary")
    originals = [*archive[:15], *archive[16:]]
    assert items_to_json(originals) == items_to_json(_history(5))
    assert items_to_json((await session.get_items())[1:]) == items_to_json(_turn(5))


async def test_tool_pairs_survive_compaction(make_session: SessionFactory) -> None:
    session = make_session()
    items = _history(8, words=30)
    await session.add_items(items)
    agent, _model = _summarizer()
    for keep in (7, 50, 130, 333):
        session_items = await session.get_items()
        if estimate_tokens(session_items) <= keep + 1:
            break
        compactor = Compactor(
            summarizer=agent_summarizer(agent.clone(model=ScriptedModel(["s"]))),
            max_tokens=keep + 1,
            keep_recent_tokens=keep,
        )
        await compactor.compact(session)
        _assert_pairs_whole((await session.get_items())[1:])


async def test_usage_count_triggers_and_scales() -> None:
    session = InMemorySession("s")
    items = _history(4)
    await session.add_items(items)
    agent, _model = _summarizer()
    # generous by the estimate, but the provider says the history is twice as large
    estimate = estimate_tokens(items)
    compactor = Compactor(
        summarizer=agent_summarizer(agent), max_tokens=estimate, keep_recent_tokens=estimate // 2
    )
    result = await compactor.compact(session, token_count=estimate * 2)
    assert result is not None and result.tokens_before == estimate * 2
    assert estimate_tokens((await session.get_items())[1:]) <= estimate // 4


async def test_follow_up_run_sends_the_summary(make_session: SessionFactory) -> None:
    session = make_session()
    await session.add_items(_history(5))
    agent, _model = _summarizer("the user likes lookups")
    keep = estimate_tokens(_turn(4)) + 1
    compactor = Compactor(
        summarizer=agent_summarizer(agent), max_tokens=keep + 1, keep_recent_tokens=keep
    )
    assert await compactor.compact(session) is not None

    model = ScriptedModel(["sure"])
    result = await Runner.run(Agent(name="main", model=model), "and now?", session=session)
    assert result.final_output == "sure"
    sent = model.requests[0].input
    assert isinstance(sent[0], Message) and sent[0].role == "system"
    assert "the user likes lookups" in sent[0].text
    assert items_to_json(sent[1:6]) == items_to_json(_turn(4))
    assert isinstance(sent[-1], Message) and sent[-1].text == "and now?"


async def test_concurrent_rewrite_makes_compaction_give_up() -> None:
    session = InMemorySession("s")
    await session.add_items(_history(4))

    def rewrite(_request: object) -> str:
        session._items.pop(0)  # someone rewrites the history while we summarise
        return "summary"

    compactor = Compactor(
        summarizer=agent_summarizer(Agent(name="sum", model=ScriptedModel([rewrite]))),
        max_tokens=10,
        keep_recent_tokens=5,
    )
    assert await compactor.compact(session) is None
    assert len(await session.get_items()) == 19


async def test_items_added_during_summary_are_kept() -> None:
    session = InMemorySession("s")
    await session.add_items(_history(4))
    late = _user("late arrival")

    def add(_request: object) -> str:
        session._items.append(late)
        return "summary"

    compactor = Compactor(
        summarizer=agent_summarizer(Agent(name="sum", model=ScriptedModel([add]))),
        max_tokens=10,
        keep_recent_tokens=5,
    )
    result = await compactor.compact(session)
    assert result is not None
    assert (await session.get_items())[-1] == late


async def test_custom_archive() -> None:
    store: dict[str, InMemorySession] = {}
    session = InMemorySession("s")
    await session.add_items(_history(3))
    compactor = Compactor(
        summarizer=agent_summarizer(_summarizer()[0]),
        max_tokens=10,
        keep_recent_tokens=5,
        archive=lambda sid: store.setdefault(sid, InMemorySession(sid)),
    )
    result = await compactor.compact(session)
    assert result is not None and result.archive_session_id == "s:archive"
    assert items_to_json(await store["s:archive"].get_items()) == items_to_json(_history(3))


async def test_session_without_replace_items_is_refused() -> None:
    class Plain:
        session_id = "p"

        async def get_items(self, limit: int | None = None) -> list[Item]:
            return []

        async def add_items(self, items: list[Item]) -> None: ...

        async def pop_item(self) -> Item | None:
            return None

        async def clear(self) -> None: ...

    with pytest.raises(UserError, match="replace_items"):
        await Compactor(summarizer=agent_summarizer()).compact(Plain())
    with pytest.raises(UserError, match="replace_items"):
        CompactingSession(Plain(), Compactor(summarizer=agent_summarizer()))  # type: ignore[arg-type]


# ------------------------------------------------------------------ replace_items


async def test_replace_items(make_session: SessionFactory) -> None:
    session = make_session()
    other = make_session("other")
    await session.add_items(_history(2))
    await other.add_items([_user("untouched")])
    new = [Message(role="system", content="summary"), *_turn(7)]
    await session.replace_items(new)
    assert items_to_json(await session.get_items()) == items_to_json(new)
    await session.add_items([_user("next")])
    assert items_to_json(await session.get_items()) == items_to_json([*new, _user("next")])
    assert [i.text for i in await other.get_items()] == ["untouched"]
    await session.replace_items([])
    assert await session.get_items() == []


@pytest.mark.parametrize("backend", ["sqlite", "postgres", "redis"])  # memory encodes nothing
async def test_replace_items_is_all_or_nothing(make_session: SessionFactory) -> None:
    session = make_session()
    await session.add_items(_history(1))
    too_big = _user("x" * 2_000_000)
    with pytest.raises(UserError):
        await session.replace_items([_user("fine"), too_big])
    assert items_to_json(await session.get_items()) == items_to_json(_history(1))


async def test_replace_items_concurrent_with_add(
    make_session: SessionFactory, backend: str
) -> None:
    import asyncio

    session = make_session()
    await session.add_items(_history(1))
    new = [_user("a"), _user("b")]
    extra = [_user("c"), _user("d")]
    await asyncio.gather(session.replace_items(new), session.add_items(extra))
    texts = [i.text for i in await session.get_items()]
    # either order, never a mix: the replacement is one step
    assert texts in (["a", "b"], ["a", "b", "c", "d"])
