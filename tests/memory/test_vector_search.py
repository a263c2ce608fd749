"""Hybrid memory search: sqlite-vec on SQLite (through sqlean.py), the keyword-only
fallbacks (no sqlean / sqlite-vec, no pgvector on the real PostgreSQL), bulk adds,
embedding failures and a closed store."""

from __future__ import annotations

import logging
import re
import sys
from collections.abc import Sequence

import pytest

from ascent.errors import UserError
from ascent.memory._vectors import dispose_vector_engines, vector_table
from ascent.memory.embedders import EmbeddingError, HashingEmbedder
from ascent.memory.store import MemoryStore

# Words standing for one idea, so a query can be near a note it shares no word with.
CONCEPTS = {
    "travel": {"vacation", "holiday", "trip", "travel", "spot", "destination", "beach"},
    "food": {"food", "eat", "dinner", "vegetarian", "meal", "cooking"},
    "seat": {"seat", "aisle", "window", "flight"},
}


class ConceptEmbedder:
    """A stand-in embedding model: one dimension per concept, one for anything else."""

    def __init__(self) -> None:
        self.name = "concepts-test"
        self.calls: list[list[str]] = []

    async def embed(self, texts: Sequence[str]) -> list[list[float]]:
        self.calls.append(list(texts))
        vectors = []
        for text in texts:
            words = re.findall(r"\w+", text.lower())
            vector = [float(sum(w in group for w in words)) for group in CONCEPTS.values()]
            vector.append(0.1)  # never all zeros
            vectors.append(vector)
        return vectors


class BrokenEmbedder:
    name = "broken"

    def __init__(self, vectors: list[list[float]] | None = None) -> None:
        self.vectors = vectors

    async def embed(self, texts: Sequence[str]) -> list[list[float]]:
        if self.vectors is None:
            raise ConnectionError("embedding server unreachable")
        return self.vectors


async def test_vector_search_finds_a_note_that_shares_no_word_with_the_query(
    sqlite_url: str,
) -> None:
    hybrid = MemoryStore(sqlite_url, embedder=ConceptEmbedder())
    await hybrid.add("My favourite vacation spot is Lisbon", scope="alice")
    await hybrid.add("Alice is vegetarian", scope="alice")
    assert hybrid.vector_search is True

    found = await hybrid.search("Where should I go on holiday?", scope="alice", limit=1)
    assert [m.text for m in found] == ["My favourite vacation spot is Lisbon"]
    found = await hybrid.search("dinner ideas", scope="alice", limit=1)
    assert [m.text for m in found] == ["Alice is vegetarian"]

    keyword_only = MemoryStore(sqlite_url)
    assert keyword_only.vector_search is False
    assert await keyword_only.search("Where should I go on holiday?", scope="alice") == []


async def test_keyword_and_vector_rankings_are_fused(sqlite_url: str) -> None:
    store = MemoryStore(sqlite_url, embedder=ConceptEmbedder())
    cat = await store.add("Owns a cat named Mochi", scope="alice")
    trams = await store.add("Lisbon has old trams", scope="alice")  # keyword match only
    beach = await store.add("A beach vacation is planned", scope="alice")  # by meaning only
    found = await store.search("Lisbon trip", scope="alice", limit=3)
    # trams: first by keyword and among the vector neighbours; beach: nearest by vector
    assert [m.id for m in found] == [trams.id, beach.id, cat.id]


async def test_vector_search_never_crosses_scopes(sqlite_url: str) -> None:
    store = MemoryStore(sqlite_url, embedder=ConceptEmbedder())
    await store.add("Bob's favourite vacation spot is Oslo", scope="bob")
    await store.add("Likes window seats", scope="alice")
    found = await store.search("holiday destination", scope="alice", limit=5)
    assert all(m.scope == "alice" for m in found)
    assert "Oslo" not in " ".join(m.text for m in found)
    assert [m.text for m in await store.search("holiday trip", scope="bob")] == [
        "Bob's favourite vacation spot is Oslo"
    ]


async def test_update_re_embeds_and_delete_removes_the_vector(sqlite_url: str) -> None:
    embedder = ConceptEmbedder()
    store = MemoryStore(sqlite_url, embedder=embedder, max_distance=0.5)
    memory = await store.add("Going to the beach in July", scope="alice")
    assert [m.id for m in await store.search("holiday", scope="alice")] == [memory.id]

    await store.update(memory.id, scope="alice", text="Cooking pasta tonight")
    assert await store.search("holiday", scope="alice") == []
    assert [m.id for m in await store.search("dinner meal", scope="alice")] == [memory.id]
    # changing only the tags does not call the embedder again
    calls = len(embedder.calls)
    await store.update(memory.id, scope="alice", tags=["food"])
    assert len(embedder.calls) == calls

    assert await store.delete(memory.id, scope="alice")
    table = vector_table(embedder.name, len(CONCEPTS) + 1)
    with store._engine().connect() as conn:
        left = conn.exec_driver_sql(f"SELECT count(*) FROM {table}").scalar()
    assert left == 0
    assert await store.search("dinner meal", scope="alice") == []


async def test_clear_deletes_one_scope_whole(sqlite_url: str) -> None:
    embedder = ConceptEmbedder()
    store = MemoryStore(sqlite_url, embedder=embedder)
    await store.add_many(["Beach trip", "Vegetarian dinner"], scope="alice", tags=["x"])
    bobs = await store.add("Beach holiday", scope="bob")
    assert await store.clear(scope="alice") == 2
    assert await store.list("alice") == []
    assert await store.search("holiday beach", scope="alice") == []
    assert [m.id for m in await store.search("holiday beach", scope="bob")] == [bobs.id]
    table = vector_table(embedder.name, len(CONCEPTS) + 1)
    with store._engine().connect() as conn:
        assert conn.exec_driver_sql(f"SELECT count(*) FROM {table}").scalar() == 1


async def test_tags_filter_applies_to_vector_candidates(sqlite_url: str) -> None:
    store = MemoryStore(sqlite_url, embedder=ConceptEmbedder())
    await store.add("Vacation in Lisbon", scope="alice", tags=["travel"])
    tagged = await store.add("Beach trip to Crete", scope="alice", tags=["travel", "2025"])
    found = await store.search("holiday", scope="alice", tags=["2025"])
    assert [m.id for m in found] == [tagged.id]


async def test_max_distance_drops_unrelated_neighbours(sqlite_url: str) -> None:
    loose = MemoryStore(sqlite_url, embedder=ConceptEmbedder())
    await loose.add("Prefers the aisle seat", scope="alice")
    # the nearest neighbour of anything is something, related or not
    assert len(await loose.search("holiday", scope="alice")) == 1
    strict = MemoryStore(sqlite_url, embedder=ConceptEmbedder(), max_distance=0.5)
    assert await strict.search("holiday", scope="alice") == []
    with pytest.raises(UserError, match="max_distance"):
        MemoryStore(sqlite_url, max_distance=3)


async def test_add_many_inserts_in_batches(sqlite_url: str) -> None:
    embedder = ConceptEmbedder()
    store = MemoryStore(sqlite_url, embedder=embedder)
    texts = [f"note {n} about a holiday" for n in range(25)]
    added = await store.add_many(texts, scope="alice", tags=["bulk"], batch_size=10)
    assert [m.text for m in added] == texts
    assert [len(batch) for batch in embedder.calls] == [10, 10, 5]
    assert len(await store.list("alice", limit=100)) == 25
    assert len(await store.search("holiday", scope="alice", limit=30, tags=["bulk"])) == 25

    with pytest.raises(UserError, match="non-empty"):
        await store.add_many(["fine", "  "], scope="alice")
    with pytest.raises(UserError, match="not one string"):
        await store.add_many("one string", scope="alice")  # type: ignore[arg-type]
    assert len(await store.list("alice", limit=100)) == 25  # nothing of the bad batch


async def test_embedding_failures(sqlite_url: str, caplog: pytest.LogCaptureFixture) -> None:
    store = MemoryStore(sqlite_url, embedder=BrokenEmbedder())
    with pytest.raises(EmbeddingError, match="unreachable"):
        await store.add("The user likes tea", scope="alice")
    assert await MemoryStore(sqlite_url).list("alice") == []  # nothing half-written

    await MemoryStore(sqlite_url).add("The user likes tea", scope="alice")
    with caplog.at_level(logging.WARNING, logger="ascent.memory"):
        found = await store.search("tea", scope="alice")
    assert [m.text for m in found] == ["The user likes tea"]  # keywords still answer
    assert "embedding failed" in caplog.text

    wrong_count = MemoryStore(sqlite_url, embedder=BrokenEmbedder(vectors=[]))
    with pytest.raises(EmbeddingError, match="0 vectors for 1"):
        await wrong_count.add("x", scope="alice")
    with pytest.raises(UserError, match="embedder must have"):
        MemoryStore(sqlite_url, embedder=object())  # type: ignore[arg-type]


async def test_without_sqlean_search_falls_back_to_keywords(
    sqlite_url: str, monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    dispose_vector_engines()
    monkeypatch.setitem(sys.modules, "sqlean", None)  # import sqlean -> ImportError
    store = MemoryStore(sqlite_url, embedder=HashingEmbedder())
    with caplog.at_level(logging.WARNING, logger="ascent.memory"):
        await store.add("My favourite vacation spot is Lisbon", scope="alice")
    assert store.vector_search is False
    assert "vector search is off" in caplog.text
    assert "sqlean" in caplog.text and "ascent-agents[vector]" in caplog.text
    found = await store.search("vacation", scope="alice")
    assert [m.text for m in found] == ["My favourite vacation spot is Lisbon"]


async def test_without_pgvector_postgres_falls_back_to_keywords(
    postgres_url: str, caplog: pytest.LogCaptureFixture
) -> None:
    # pgvector is not installed where these tests run: the fallback is what can be tested
    store = MemoryStore(postgres_url, embedder=HashingEmbedder())
    with caplog.at_level(logging.WARNING, logger="ascent.memory"):
        memory = await store.add("My favourite vacation spot is Lisbon", scope="alice")
    assert store.vector_search is False
    assert "pgvector extension is not installed" in caplog.text
    assert [m.id for m in await store.search("vacation spots", scope="alice")] == [memory.id]
    assert await store.search("vacation", scope="bob") == []
    assert await store.delete(memory.id, scope="alice")


async def test_a_closed_store_refuses_every_call(sqlite_url: str) -> None:
    async with MemoryStore(sqlite_url) as store:
        memory = await store.add("The user likes tea", scope="alice")
    for call in (
        store.add("more", scope="alice"),
        store.search("tea", scope="alice"),
        store.get(memory.id, scope="alice"),
        store.update(memory.id, scope="alice", text="coffee"),
        store.delete(memory.id, scope="alice"),
        store.list("alice"),
    ):
        with pytest.raises(UserError, match="is closed"):
            await call
    assert (await MemoryStore(sqlite_url).get(memory.id, scope="alice")) == memory
