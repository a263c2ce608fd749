"""MemoryStore on SQLite (a temp file) and a real PostgreSQL: CRUD, keyword search, scopes."""

from __future__ import annotations

from pathlib import Path

import pytest

from ascent.errors import UserError
from ascent.memory.store import (
    Memory,
    MemoryNotFoundError,
    MemoryStore,
    fuse_rankings,
    query_tokens,
)


@pytest.fixture(params=["sqlite", "postgres"])
def store(request: pytest.FixtureRequest) -> MemoryStore:
    url = str(request.getfixturevalue(f"{request.param}_url"))
    return MemoryStore(url, max_text_chars=200)


async def test_add_get_update_delete_list(store: MemoryStore) -> None:
    added = await store.add(
        "The user prefers window seats",
        scope="alice",
        tags=["travel", "preference", "travel"],
        source_run="run_1",
        metadata={"confidence": 0.9},
    )
    assert added.id.startswith("mem_")
    assert added.tags == ["travel", "preference"]
    assert await store.get(added.id, scope="alice") == added

    updated = await store.update(added.id, scope="alice", text="The user prefers aisle seats")
    assert updated.text == "The user prefers aisle seats"
    assert updated.tags == ["travel", "preference"]  # untouched fields stay
    assert updated.metadata == {"confidence": 0.9}
    assert updated.source_run == "run_1"
    assert updated.created_at == added.created_at
    assert updated.updated_at >= added.updated_at
    assert await store.get(added.id, scope="alice") == updated

    retagged = await store.update(added.id, scope="alice", tags=["seat"], metadata={})
    assert (retagged.tags, retagged.metadata) == (["seat"], {})

    second = await store.add("The user lives in Lisbon", scope="alice")
    assert [m.id for m in await store.list("alice")] == [second.id, added.id]
    assert [m.id for m in await store.list("alice", limit=1)] == [second.id]

    assert await store.delete(added.id, scope="alice") is True
    assert await store.delete(added.id, scope="alice") is False
    assert await store.get(added.id, scope="alice") is None
    assert [m.id for m in await store.list("alice")] == [second.id]


async def test_search_ranks_the_memory_with_most_query_words_first(store: MemoryStore) -> None:
    await store.add("The user owns a bicycle", scope="u")
    best = await store.add("The user's favourite colour is green; green tea too", scope="u")
    await store.add("Meeting notes: quarterly budget review", scope="u")
    some = await store.add("Green is the colour of the office walls", scope="u")

    found = await store.search("favourite colour green", scope="u")
    assert [m.id for m in found[:2]] == [best.id, some.id]
    assert all("budget" not in m.text for m in found)
    assert await store.search("submarine", scope="u") == []
    # stemming: "colours" finds "colour"
    assert best.id in [m.id for m in await store.search("colours", scope="u")]
    assert len(await store.search("green", scope="u", limit=1)) == 1


async def test_search_sees_updates_and_deletes(store: MemoryStore) -> None:
    memory = await store.add("The user drinks coffee", scope="u")
    await store.update(memory.id, scope="u", text="The user drinks tea")
    assert await store.search("coffee", scope="u") == []
    assert [m.id for m in await store.search("tea", scope="u")] == [memory.id]
    await store.delete(memory.id, scope="u")
    assert await store.search("tea", scope="u") == []


async def test_tags_filter_requires_every_tag(store: MemoryStore) -> None:
    both = await store.add("Likes jazz music", scope="u", tags=["music", "preference"])
    one = await store.add("Jazz concert on Friday", scope="u", tags=["music"])
    await store.add("Jazz is loud", scope="u")

    assert {m.id for m in await store.search("jazz", scope="u", tags=["music"])} == {
        both.id,
        one.id,
    }
    found = await store.search("jazz", scope="u", tags=["music", "preference"])
    assert [m.id for m in found] == [both.id]
    assert await store.search("jazz", scope="u", tags=["nope"]) == []
    await store.update(both.id, scope="u", tags=[])
    assert await store.search("jazz", scope="u", tags=["preference"]) == []


async def test_scopes_are_isolated(store: MemoryStore) -> None:
    alice = await store.add("Alice's secret password hint is sunflower", scope="alice")
    bob = await store.add("Bob's password hint is sunflower too", scope="bob", tags=["hint"])

    assert [m.id for m in await store.search("sunflower password", scope="alice")] == [alice.id]
    assert [m.id for m in await store.search("sunflower", scope="bob", tags=["hint"])] == [bob.id]
    assert await store.search("sunflower", scope="alice", tags=["hint"]) == []
    assert [m.id for m in await store.list("alice")] == [alice.id]

    assert await store.get(bob.id, scope="alice") is None
    with pytest.raises(MemoryNotFoundError):
        await store.update(bob.id, scope="alice", text="hijacked", tags=["x"])
    assert await store.delete(bob.id, scope="alice") is False
    assert await store.get(bob.id, scope="bob") == bob  # untouched by the attempts
    assert await store.search("hijacked", scope="bob") == []


@pytest.mark.parametrize(
    "query",
    [
        'the "quoted',
        "colour: green",
        "(green OR",
        "NEAR(green tea)",
        "green*",
        "* ^ - + AND OR NOT",
        "'; DROP TABLE ascent_memories; --",
        "or and not",
        "",
        "   ",
        "üñîçødé grün",
        "_ a_b green_tea",
        "nul\x00byte",
    ],
)
async def test_any_query_text_is_safe(store: MemoryStore, query: str) -> None:
    memory = await store.add("The colour green, NEAR the tea", scope="u")
    found = await store.search(query, scope="u")
    assert all(isinstance(m, Memory) for m in found)
    if "green" in query:
        assert [m.id for m in found] == [memory.id]
    assert await store.get(memory.id, scope="u") == memory


async def test_errors_are_clear(store: MemoryStore) -> None:
    with pytest.raises(UserError, match="non-empty text"):
        await store.add("   ", scope="u")
    with pytest.raises(UserError, match="non-empty scope"):
        await store.add("a fact", scope="")
    with pytest.raises(UserError, match="non-empty scope"):
        await store.search("fact", scope=" ")
    with pytest.raises(UserError, match="200-character limit"):
        await store.add("x" * 201, scope="u")
    with pytest.raises(UserError, match="list of strings"):
        await store.add("a fact", scope="u", tags="oops")
    with pytest.raises(UserError, match="NUL"):
        await store.add("nul\x00byte", scope="u")
    with pytest.raises(UserError, match="NUL"):
        await store.add("a fact", scope="u\x00")
    with pytest.raises(UserError, match="non-empty strings"):
        await store.add("a fact", scope="u", tags=["ok", " "])
    with pytest.raises(UserError, match="JSON-serializable"):
        await store.add("a fact", scope="u", metadata={"when": object()})
    memory = await store.add("a fact", scope="u")
    with pytest.raises(UserError, match="non-empty text"):
        await store.update(memory.id, scope="u", text="")
    with pytest.raises(MemoryNotFoundError):
        await store.update("mem_missing", scope="u", text="new")
    for bad_id in ["", "mem\x00", "m" * 65]:  # ids a model might invent
        assert await store.get(bad_id, scope="u") is None
        assert await store.delete(bad_id, scope="u") is False
        with pytest.raises(MemoryNotFoundError):
            await store.update(bad_id, scope="u", text="new")
    assert await store.list("u") == [memory]  # nothing half-written


def test_fuse_rankings() -> None:
    keyword = ["a", "b", "c"]
    vector = ["c", "a", "d"]
    assert fuse_rankings(keyword, vector) == ["a", "c", "b", "d"]
    assert fuse_rankings(["x", "y"]) == ["x", "y"]
    assert fuse_rankings() == []
    assert fuse_rankings(["a", "a", "b"], ["b"]) == ["b", "a"]
    with pytest.raises(UserError):
        fuse_rankings(["a"], k=0)


def test_query_tokens() -> None:
    assert query_tokens('Green "tea": NEAR(green)*') == ["green", "tea", "near"]
    assert query_tokens("snake_case") == ["snake", "case"]
    assert len(query_tokens(" ".join(f"w{i}" for i in range(100)))) == 32


def test_default_url_is_the_project_database(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    url = f"sqlite:///{tmp_path / 'somewhere.db'}"
    monkeypatch.setenv("ASCENT_DATABASE_URL", url)
    assert MemoryStore().url == url
    with pytest.raises(UserError):
        MemoryStore(url, max_text_chars=0)


async def test_postgres_schema_of_earlier_versions_is_upgraded(postgres_url: str) -> None:
    from ascent.memory import _store_schema
    from ascent.storage import get_engine

    memory = await MemoryStore(postgres_url).add("The user drinks green tea", scope="alice")
    with get_engine(postgres_url).begin() as conn:  # back to the expression index of before
        conn.exec_driver_sql("ALTER TABLE ascent_memories DROP COLUMN text_search")
        conn.exec_driver_sql(
            "CREATE INDEX ix_ascent_memories_fts ON ascent_memories "
            "USING GIN (to_tsvector('english', text))"
        )
    _store_schema.schema.forget()  # as a new process would
    found = await MemoryStore(postgres_url).search("green tea", scope="alice")
    assert [m.id for m in found] == [memory.id]
    with get_engine(postgres_url).connect() as conn:
        indexes = set(
            conn.exec_driver_sql(
                "SELECT indexname FROM pg_indexes WHERE tablename = 'ascent_memories'"
            ).scalars()
        )
    assert "ix_ascent_memories_text_search" in indexes
    assert "ix_ascent_memories_fts" not in indexes
