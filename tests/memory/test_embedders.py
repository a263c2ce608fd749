"""Embedders: the OpenAI-compatible one over real HTTP (the local mock server), the
sentence-transformers adapter (with a stand-in module: torch is not installed
here), and the hashing one."""

from __future__ import annotations

import math
import sys
import types
from typing import Any

import openai
import pytest

from ascent.errors import UserError
from ascent.memory.embedders import (
    Embedder,
    EmbeddingError,
    HashingEmbedder,
    OpenAIEmbedder,
    SentenceTransformerEmbedder,
    hash_embedding,
)
from ascent.memory.store import MemoryStore
from ascent.testing import MockOpenAIServer


def client_for(server: MockOpenAIServer) -> openai.AsyncOpenAI:
    return openai.AsyncOpenAI(base_url=server.base_url, api_key="test", max_retries=0)


def cosine(a: list[float], b: list[float]) -> float:
    return sum(x * y for x, y in zip(a, b, strict=True)) / (
        math.sqrt(sum(x * x for x in a)) * math.sqrt(sum(y * y for y in b))
    )


def test_hash_embedding_is_deterministic_unit_length_and_word_based() -> None:
    a = hash_embedding("My favourite vacation spots", 64)
    assert a == hash_embedding("my FAVOURITE vacation spot!", 64)
    assert math.isclose(sum(x * x for x in a), 1.0)
    assert hash_embedding("...", 64) == [0.0] * 64
    near = cosine(a, hash_embedding("vacation spot", 64))
    far = cosine(a, hash_embedding("the quarterly revenue report", 64))
    assert near > 0.5 > far
    assert isinstance(HashingEmbedder(), Embedder)
    with pytest.raises(UserError):
        HashingEmbedder(dimensions=0)


async def test_openai_embedder_over_http(mock_openai: MockOpenAIServer) -> None:
    embedder = OpenAIEmbedder(
        "text-embedding-3-small", client=client_for(mock_openai), dimensions=32, batch_size=2
    )
    assert isinstance(embedder, Embedder)
    texts = ["vacation in Lisbon", "aisle seat", "tea, no sugar"]
    vectors = await embedder.embed(texts)
    assert len(vectors) == 3
    for text, vector in zip(texts, vectors, strict=True):
        # decoded from the client's default base64 encoding, same floats (float32)
        assert vector == pytest.approx(hash_embedding(text, 32), abs=1e-6)
    bodies = [r.body for r in mock_openai.requests]
    assert [b["input"] for b in bodies] == [texts[:2], texts[2:]]
    assert {b["model"] for b in bodies} == {"text-embedding-3-small"}
    assert {b["dimensions"] for b in bodies} == {32}
    assert embedder.name == "openai:text-embedding-3-small@32"


async def test_openai_embedder_reads_openai_base_url(
    mock_openai: MockOpenAIServer, monkeypatch: pytest.MonkeyPatch
) -> None:
    # a local server (Ollama, vLLM) needs no key: the base URL alone is enough
    monkeypatch.delenv("OPENAI_API_KEY", raising=False)
    monkeypatch.setenv("OPENAI_BASE_URL", mock_openai.base_url)
    vectors = await OpenAIEmbedder("nomic-embed-text").embed(["hello there"])
    assert vectors[0] == pytest.approx(hash_embedding("hello there", 64), abs=1e-6)
    assert "dimensions" not in mock_openai.requests[0].body


async def test_openai_embedder_errors_are_clear(mock_openai: MockOpenAIServer) -> None:
    embedder = OpenAIEmbedder("text-embedding-3-small", client=client_for(mock_openai))
    with pytest.raises(EmbeddingError, match="text-embedding-3-small"):
        await embedder.embed([None])  # type: ignore[list-item]
    with pytest.raises(UserError):
        OpenAIEmbedder("")
    with pytest.raises(UserError):
        OpenAIEmbedder("m", dimensions=-1)

    dead = openai.AsyncOpenAI(base_url="http://127.0.0.1:9/v1", api_key="x", max_retries=0)
    with pytest.raises(EmbeddingError, match="failed"):
        await OpenAIEmbedder("m", client=dead).embed(["hi"])


async def test_memory_store_with_the_openai_embedder(
    mock_openai: MockOpenAIServer, sqlite_url: str
) -> None:
    store = MemoryStore(
        sqlite_url, embedder=OpenAIEmbedder("m", client=client_for(mock_openai), dimensions=64)
    )
    lisbon = await store.add("My favourite vacation spot is Lisbon", scope="alice")
    await store.add("Prefers aisle seats", scope="alice")
    assert store.vector_search is True
    found = await store.search("favourite vacation?", scope="alice", limit=1)
    assert [m.id for m in found] == [lisbon.id]
    assert len(mock_openai.requests) == 3  # two memories, one query


class _FakeSentenceTransformer:
    """Stands in for sentence_transformers.SentenceTransformer (torch is not installed)."""

    loaded: list[tuple[str, str | None]] = []

    def __init__(self, model_name: str, device: str | None = None) -> None:
        self.loaded.append((model_name, device))

    def encode(self, texts: list[str], normalize_embeddings: bool = False) -> list[Any]:
        assert normalize_embeddings
        return [hash_embedding(text, 8) for text in texts]


async def test_sentence_transformer_adapter_with_a_stand_in_module(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    module = types.ModuleType("sentence_transformers")
    module.SentenceTransformer = _FakeSentenceTransformer  # type: ignore[attr-defined]
    monkeypatch.setitem(sys.modules, "sentence_transformers", module)
    _FakeSentenceTransformer.loaded = []
    embedder = SentenceTransformerEmbedder("all-MiniLM-L6-v2", device="cpu")
    assert isinstance(embedder, Embedder)
    first = await embedder.embed(["vacation spot", "tea"])
    second = await embedder.embed(["vacation spot"])
    assert first[0] == second[0] == hash_embedding("vacation spot", 8)
    assert _FakeSentenceTransformer.loaded == [("all-MiniLM-L6-v2", "cpu")]  # loaded once
    assert embedder.name == "sentence-transformers:all-MiniLM-L6-v2"


async def test_sentence_transformer_missing_names_the_extra(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setitem(sys.modules, "sentence_transformers", None)
    embedder = SentenceTransformerEmbedder()  # constructing is free: nothing imported yet
    with pytest.raises(UserError, match=r"ascent-agents\[local-embeddings\]"):
        await embedder.embed(["hi"])
