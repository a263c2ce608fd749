"""Embedders: text to vectors, for the vector half of hybrid memory search.

An :class:`Embedder` is anything with a ``name`` (which vector space it writes:
vectors of different models are never compared) and an async ``embed``. Three
come with Ascent:

- :class:`OpenAIEmbedder`: any OpenAI-compatible ``/v1/embeddings`` endpoint
  through the official ``openai`` client (OpenAI itself, or Ollama, vLLM,
  llama.cpp behind ``OPENAI_BASE_URL``).
- :class:`SentenceTransformerEmbedder`: a local sentence-transformers model
  (the ``local-embeddings`` extra), run in a worker thread.
- :class:`HashingEmbedder`: words hashed into a fixed number of buckets. No
  model, no network, deterministic: texts that share words are near. For tests,
  examples and offline use; it knows nothing of synonyms.
"""

from __future__ import annotations

import asyncio
import hashlib
import math
import re
import threading
from collections.abc import Sequence
from typing import TYPE_CHECKING, Any, Protocol, runtime_checkable

from ..errors import EmbeddingError, UserError
from ..models import default_openai_client

if TYPE_CHECKING:
    import openai

__all__ = [
    "Embedder",
    "EmbeddingError",
    "HashingEmbedder",
    "OpenAIEmbedder",
    "SentenceTransformerEmbedder",
    "hash_embedding",
]

_WORD = re.compile(r"[^\W_]+", re.UNICODE)


@runtime_checkable
class Embedder(Protocol):
    """Turns texts into vectors of one fixed size, one vector per text, in order."""

    name: str

    async def embed(self, texts: Sequence[str]) -> list[list[float]]: ...


def hash_embedding(text: str, dimensions: int) -> list[float]:
    """``text``'s words (lower-cased, crudely stemmed) hashed into ``dimensions`` buckets.

    Each word adds +1 or -1 (a second hash bit) to one bucket, so unrelated words
    cancel rather than pile up; the result has unit length (all zeros for text
    with no words).
    """
    vector = [0.0] * dimensions
    for match in _WORD.finditer(text.lower()):
        word = match.group()
        if len(word) > 4 and word.endswith("s"):  # "spots" and "spot" land together
            word = word[:-1]
        digest = hashlib.blake2b(word.encode(), digest_size=8).digest()
        bucket = int.from_bytes(digest[:4], "little") % dimensions
        vector[bucket] += 1.0 if digest[4] & 1 else -1.0
    norm = math.sqrt(sum(value * value for value in vector))
    return [value / norm for value in vector] if norm else vector


class HashingEmbedder:
    """Deterministic bag-of-words vectors with no model: for tests and offline examples."""

    def __init__(self, *, dimensions: int = 256) -> None:
        if dimensions <= 0:
            raise UserError(f"dimensions must be positive, not {dimensions!r}")
        self.dimensions = dimensions
        self.name = f"hashing-{dimensions}"

    def __repr__(self) -> str:
        return f"HashingEmbedder(dimensions={self.dimensions})"

    async def embed(self, texts: Sequence[str]) -> list[list[float]]:
        return [hash_embedding(text, self.dimensions) for text in texts]


class OpenAIEmbedder:
    """Vectors from an OpenAI-compatible embeddings endpoint, through the ``openai`` client.

    ``client`` defaults to one configured from the environment (``OPENAI_API_KEY``,
    ``OPENAI_BASE_URL``), made per event loop like the model providers' client.
    ``dimensions`` is sent only when given (models that cannot shorten their
    vectors reject it). Texts go in batches of ``batch_size`` per request.
    """

    def __init__(
        self,
        model: str = "text-embedding-3-small",
        *,
        client: openai.AsyncOpenAI | None = None,
        dimensions: int | None = None,
        batch_size: int = 256,
    ) -> None:
        if not model:
            raise UserError("OpenAIEmbedder needs a model name")
        if dimensions is not None and dimensions <= 0:
            raise UserError(f"dimensions must be positive, not {dimensions!r}")
        if batch_size <= 0:
            raise UserError(f"batch_size must be positive, not {batch_size!r}")
        self.model = model
        self.dimensions = dimensions
        self.batch_size = batch_size
        self._client = client
        suffix = f"@{dimensions}" if dimensions else ""
        self.name = f"openai:{model}{suffix}"

    def __repr__(self) -> str:
        return f"OpenAIEmbedder({self.model!r})"

    def _get_client(self) -> openai.AsyncOpenAI:
        if self._client is not None:
            return self._client
        return default_openai_client()

    async def embed(self, texts: Sequence[str]) -> list[list[float]]:
        import openai

        vectors: list[list[float]] = []
        extra: dict[str, Any] = {}
        if self.dimensions is not None:
            extra["dimensions"] = self.dimensions
        client = self._get_client()
        for start in range(0, len(texts), self.batch_size):
            batch = list(texts[start : start + self.batch_size])
            try:
                response = await client.embeddings.create(model=self.model, input=batch, **extra)
            except openai.OpenAIError as exc:
                raise EmbeddingError(
                    f"embeddings request to model {self.model!r} failed: {exc}"
                ) from exc
            data = sorted(response.data, key=lambda item: item.index)
            if len(data) != len(batch):
                raise EmbeddingError(
                    f"asked {self.model!r} for {len(batch)} embeddings, got {len(data)}"
                )
            vectors.extend([float(x) for x in item.embedding] for item in data)
        return vectors


class SentenceTransformerEmbedder:
    """Vectors from a local sentence-transformers model.

    Needs the ``local-embeddings`` extra: ``pip install 'ascent-agents[local-embeddings]'``.
    The model loads on first use, in a worker thread, as does every encoding:
    both are CPU-bound and would otherwise stall the event loop.
    """

    def __init__(
        self, model: str = "sentence-transformers/all-MiniLM-L6-v2", *, device: str | None = None
    ) -> None:
        self.model_name = model
        self.device = device
        self.name = f"sentence-transformers:{model}"
        self._model: Any = None
        self._lock = threading.Lock()  # not asyncio's: the embedder may serve several loops

    def __repr__(self) -> str:
        return f"SentenceTransformerEmbedder({self.model_name!r})"

    def _loaded(self) -> Any:
        with self._lock:
            if self._model is None:
                self._model = self._load()
            return self._model

    def _load(self) -> Any:
        try:
            from sentence_transformers import SentenceTransformer
        except ImportError as exc:
            raise UserError(
                "SentenceTransformerEmbedder needs the sentence-transformers package: "
                "pip install 'ascent-agents[local-embeddings]'"
            ) from exc
        return SentenceTransformer(self.model_name, device=self.device)

    async def embed(self, texts: Sequence[str]) -> list[list[float]]:
        model = self._model or await asyncio.to_thread(self._loaded)
        batch = list(texts)
        encoded = await asyncio.to_thread(model.encode, batch, normalize_embeddings=True)
        vectors = [[float(x) for x in row] for row in encoded]
        if len(vectors) != len(batch):
            raise EmbeddingError(f"{self.name} returned {len(vectors)} vectors for {len(batch)}")
        return vectors
