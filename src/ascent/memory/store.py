"""Long-term memory: facts and notes an agent keeps across runs, searched by relevance.

A :class:`MemoryStore` lives in the project database (SQLite by default,
PostgreSQL for many replicas) through :func:`ascent.storage.get_engine`, so it
needs no extra service. Tables::

    ascent_memories(seq PK, id UNIQUE, scope, text, tags_json, source_run,
                    metadata_json, created_at, updated_at)
    ascent_memory_tags(memory_id, tag, scope)  PK (memory_id, tag)

Keyword relevance comes from the database's own full-text search: on SQLite an
FTS5 table (external content over ``ascent_memories``, kept in sync by triggers,
so no write path can forget it) ranked by ``bm25``; on PostgreSQL a stored,
generated ``tsvector`` column with a GIN index, ranked by ``ts_rank``. The
user's query is reduced to its word tokens joined by OR, so quotes, colons,
``NEAR`` or ``*`` in it are plain words and never a syntax error, and a
question still finds a note that shares only some of its words.

Every query filters on ``scope`` (a user, a tenant): one scope's memories are
never read, changed or deleted through another. With an embedder, memories
get vectors too (sqlite-vec, pgvector: see :mod:`ascent.memory._vectors`) and
:func:`fuse_rankings` merges the keyword and vector rankings by reciprocal rank.

Times are stored as epoch seconds (portable, cheap to compare) and exposed as
UTC datetimes.
"""

from __future__ import annotations

import asyncio
import builtins
import json
import logging
import time
import uuid
from collections.abc import Iterable, Sequence
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any, Self

from pydantic import BaseModel, ConfigDict, Field

from ..errors import MemoryNotFoundError, UserError
from ..storage import database_url, display_url, write_transaction
from ._search import (
    CANDIDATES_PER_RESULT,
    MIN_CANDIDATES,
    fuse_rankings,
    keyword_rows,
    query_tokens,
    rows_by_id,
)
from ._store_schema import (
    MEMORIES_TABLE,
    MEMORY_TAGS_TABLE,
    check_scope,
    encode_metadata,
    engine_for,
    plausible_id,
    schema,
)
from ._store_schema import clean_tags as clean_tags_of
from ._vectors import VectorIndex, open_vector_index
from .embedders import Embedder, EmbeddingError

if TYPE_CHECKING:
    from sqlalchemy.engine import Connection, Engine, Row

logger = logging.getLogger("ascent.memory")

__all__ = [
    "DEFAULT_MAX_TEXT_CHARS",
    "MEMORIES_TABLE",
    "MEMORY_TAGS_TABLE",
    "Memory",
    "MemoryNotFoundError",
    "MemoryStore",
    "fuse_rankings",
    "query_tokens",
]

DEFAULT_MAX_TEXT_CHARS = 8_000


class Memory(BaseModel):
    """One remembered fact or note, owned by exactly one scope."""

    model_config = ConfigDict(defer_build=True)

    id: str
    scope: str
    text: str
    tags: list[str] = Field(default_factory=list)
    source_run: str | None = None
    created_at: datetime
    updated_at: datetime
    metadata: dict[str, Any] = Field(default_factory=dict)


def _to_datetime(seconds: float) -> datetime:
    return datetime.fromtimestamp(seconds, tz=UTC)


def _row_to_memory(row: Row[Any]) -> Memory:
    return Memory(
        id=row.id,
        scope=row.scope,
        text=row.text,
        tags=json.loads(row.tags_json),
        source_run=row.source_run,
        created_at=_to_datetime(row.created_at),
        updated_at=_to_datetime(row.updated_at),
        metadata=json.loads(row.metadata_json),
    )


class MemoryStore:
    """Facts and notes with a scope, tags and provenance; add, update, delete, search.

    ``url`` is any SQLite or PostgreSQL URL (default: the project database).
    ``scope`` is required on every call and every query filters on it, so a
    caller that passes the right user's scope can never see another user's
    memories. Texts longer than ``max_text_chars`` are refused: a memory is a
    note, and each recalled one costs prompt tokens on every run.

    With an ``embedder`` (see :mod:`ascent.memory.embedders`), every memory
    written gets a vector too, and search fuses keyword and vector rankings.
    Where the database cannot hold vectors (no sqlite-vec / sqlean.py, no
    pgvector) a warning says so once and search stays keyword-only. Nearest
    neighbours always exist, related or not: ``max_distance`` (cosine distance,
    0 to 2) drops the vector candidates farther than that; where to put it
    depends on the embedding model.
    """

    def __init__(
        self,
        url: str | None = None,
        *,
        embedder: Embedder | None = None,
        max_text_chars: int = DEFAULT_MAX_TEXT_CHARS,
        max_distance: float | None = None,
    ) -> None:
        if max_distance is not None and not 0 <= max_distance <= 2:
            raise UserError(f"max_distance is a cosine distance in [0, 2], not {max_distance!r}")
        if max_text_chars <= 0:
            raise UserError(f"max_text_chars must be positive, not {max_text_chars!r}")
        if embedder is not None and not isinstance(embedder, Embedder):
            raise UserError(
                f"embedder must have a name and an async embed(texts), not {embedder!r}"
            )
        self.url = url or database_url()
        self.embedder = embedder
        self.max_text_chars = max_text_chars
        self.max_distance = max_distance
        self._closed = False
        self._resolved: tuple[Engine, VectorIndex | None] | None = None

    def __repr__(self) -> str:
        return f"{type(self).__name__}({display_url(self.url)!r})"

    async def __aenter__(self) -> Self:
        return self

    async def __aexit__(self, *exc_info: object) -> None:
        self.close()

    def close(self) -> None:
        """Refuse any further call. The connection pool is shared per database, so it stays."""
        self._closed = True

    @property
    def vector_search(self) -> bool | None:
        """Whether search uses vectors too; None until the store's first call finds out."""
        if self.embedder is None:
            return False
        return None if self._resolved is None else self._resolved[1] is not None

    # ------------------------------------------------------------ public API

    async def add(
        self,
        text: str,
        *,
        scope: str,
        tags: Iterable[str] = (),
        source_run: str | None = None,
        metadata: dict[str, Any] | None = None,
    ) -> Memory:
        """Store a new memory and return it (with its generated id)."""
        memories = await self.add_many(
            [text], scope=scope, tags=tags, source_run=source_run, metadata=metadata
        )
        return memories[0]

    async def add_many(
        self,
        texts: Sequence[str],
        *,
        scope: str,
        tags: Iterable[str] = (),
        source_run: str | None = None,
        metadata: dict[str, Any] | None = None,
        batch_size: int = 1000,
    ) -> builtins.list[Memory]:
        """Store many memories of one scope in bulk: one transaction (and one
        embeddings call) per ``batch_size`` texts. Everything is checked before
        anything is written."""
        self._check_open()
        check_scope(scope)
        if isinstance(texts, str):
            raise UserError("add_many takes a list of texts, not one string")
        for text in texts:
            self._check_text(text)
        if source_run is not None and ("\x00" in source_run or len(source_run) > 255):
            raise UserError("source_run must be a run id of at most 255 characters")
        if batch_size <= 0:
            raise UserError(f"batch_size must be positive, not {batch_size!r}")
        clean_tags = clean_tags_of(tags)
        metadata_json = encode_metadata(metadata)
        index = await self._vector_index()
        added: builtins.list[Memory] = []
        for start in range(0, len(texts), batch_size):
            batch = list(texts[start : start + batch_size])
            vectors = await self._embed(batch) if index is not None else None
            ids = [f"mem_{uuid.uuid4().hex}" for _ in batch]
            added += await asyncio.to_thread(
                self._insert, ids, scope, batch, clean_tags, source_run, metadata_json, vectors
            )
        return added

    async def update(
        self,
        id: str,
        *,
        scope: str,
        text: str | None = None,
        tags: Iterable[str] | None = None,
        metadata: dict[str, Any] | None = None,
    ) -> Memory:
        """Change a memory's text, tags or metadata (each replaced when given).

        Raises :class:`MemoryNotFoundError` when ``id`` is not in ``scope``.
        """
        self._check_open()
        check_scope(scope)
        if not plausible_id(id):
            raise MemoryNotFoundError(f"no memory {id!r} in scope {scope!r}")
        if text is not None:
            self._check_text(text)
        new_tags = None if tags is None else clean_tags_of(tags)
        metadata_json = None if metadata is None else encode_metadata(metadata)
        vector = None
        if text is not None and await self._vector_index() is not None:
            vector = (await self._embed([text]))[0]
        return await asyncio.to_thread(
            self._update, id, scope, text, new_tags, metadata_json, vector
        )

    async def delete(self, id: str, *, scope: str) -> bool:
        """Delete a memory; False when there was none with that id in ``scope``."""
        self._check_open()
        check_scope(scope)
        if not plausible_id(id):
            return False
        await self._vector_index()
        return await asyncio.to_thread(self._delete, id, scope)

    async def clear(self, *, scope: str) -> int:
        """Delete every memory of ``scope`` (a user who leaves); return how many."""
        self._check_open()
        check_scope(scope)
        await self._vector_index()
        return await asyncio.to_thread(self._clear, scope)

    async def get(self, id: str, *, scope: str) -> Memory | None:
        """The memory ``id`` if it belongs to ``scope``, else None."""
        self._check_open()
        check_scope(scope)
        if not plausible_id(id):
            return None
        await self._vector_index()
        return await asyncio.to_thread(self._get, id, scope)

    async def search(
        self,
        query: str,
        *,
        scope: str,
        limit: int = 5,
        tags: Iterable[str] | None = None,
    ) -> builtins.list[Memory]:
        """The memories of ``scope`` most relevant to ``query``, best first.

        By keywords, a memory matches when it shares at least one word (after
        stemming) with the query; more shared and rarer words rank higher. With
        vectors, the nearest memories are ranked too and both rankings are fused
        (:func:`fuse_rankings`), so a note phrased in other words can still be
        found. With ``tags``, only memories carrying every one of them count.
        """
        self._check_open()
        check_scope(scope)
        tokens = query_tokens(query)
        if not tokens or limit <= 0:
            return []
        wanted = None if tags is None else clean_tags_of(tags)
        vector = None
        if await self._vector_index() is not None:
            try:
                vector = (await self._embed([query]))[0]
            except EmbeddingError as exc:
                # Keyword results beat no results: recall runs at the start of every run.
                logger.warning("memory search by keywords only, embedding failed: %s", exc)
        return await asyncio.to_thread(self._search, tokens, scope, limit, wanted, vector)

    async def list(self, scope: str, limit: int = 50) -> builtins.list[Memory]:
        """The newest memories of ``scope`` (most recently updated first)."""
        self._check_open()
        check_scope(scope)
        if limit <= 0:
            return []
        await self._vector_index()
        return await asyncio.to_thread(self._list, scope, limit)

    # ------------------------------------------------------------ checks and setup

    def _check_open(self) -> None:
        if self._closed:
            raise UserError(f"{self!r} is closed; open a new MemoryStore to use it again")

    def _check_text(self, text: str) -> None:
        if not isinstance(text, str) or not text.strip():
            raise UserError("a memory needs non-empty text")
        if "\x00" in text:  # PostgreSQL text cannot hold NUL; refuse it everywhere alike
            raise UserError("a memory's text cannot contain NUL characters")
        if len(text) > self.max_text_chars:
            raise UserError(
                f"a memory's text is {len(text):,} characters, over the "
                f"{self.max_text_chars:,}-character limit; store a shorter note"
            )

    async def _vector_index(self) -> VectorIndex | None:
        """Make the tables and find the vector index, once per store."""
        if self._resolved is None:
            self._resolved = await asyncio.to_thread(self._resolve)
        return self._resolved[1]

    def _resolve(self) -> tuple[Engine, VectorIndex | None]:
        engine = engine_for(self.url)
        if self.embedder is None:
            return engine, None
        index = open_vector_index(self.url, engine)
        # On SQLite the vector index has its own engine (it loads sqlite-vec), and
        # every statement of this store goes through it, so that vectors change in
        # the same transaction as their memories.
        return (engine if index is None else index.engine), index

    def _engine(self) -> Engine:
        if self._resolved is None:
            self._resolved = self._resolve()
        return self._resolved[0]

    async def _embed(self, texts: builtins.list[str]) -> builtins.list[builtins.list[float]]:
        assert self.embedder is not None
        try:
            vectors = await self.embedder.embed(texts)
        except EmbeddingError:
            raise
        except Exception as exc:
            raise EmbeddingError(f"embedder {self.embedder.name!r} failed: {exc}") from exc
        if len(vectors) != len(texts):
            raise EmbeddingError(
                f"embedder {self.embedder.name!r} returned {len(vectors)} vectors "
                f"for {len(texts)} texts"
            )
        return [list(vector) for vector in vectors]

    # ------------------------------------------------------------ sync work

    def _insert(
        self,
        ids: builtins.list[str],
        scope: str,
        texts: builtins.list[str],
        tags: builtins.list[str],
        source_run: str | None,
        metadata_json: str,
        vectors: builtins.list[builtins.list[float]] | None,
    ) -> builtins.list[Memory]:
        memories, tag_table = schema()
        tags_json = json.dumps(tags, ensure_ascii=False)
        with write_transaction(self._engine()) as conn:
            now = time.time()
            conn.execute(
                memories.insert(),
                [
                    {
                        "id": memory_id,
                        "scope": scope,
                        "text": text,
                        "tags_json": tags_json,
                        "source_run": source_run,
                        "metadata_json": metadata_json,
                        "created_at": now,
                        "updated_at": now,
                    }
                    for memory_id, text in zip(ids, texts, strict=True)
                ],
            )
            if tags:
                conn.execute(
                    tag_table.insert(),
                    [
                        {"memory_id": memory_id, "tag": tag, "scope": scope}
                        for memory_id in ids
                        for tag in tags
                    ],
                )
            self._write_vectors(conn, ids, scope, vectors)
        when = _to_datetime(now)
        metadata = json.loads(metadata_json)
        return [
            Memory(
                id=memory_id,
                scope=scope,
                text=text,
                tags=list(tags),
                source_run=source_run,
                created_at=when,
                updated_at=when,
                metadata=dict(metadata),
            )
            for memory_id, text in zip(ids, texts, strict=True)
        ]

    def _write_vectors(
        self,
        conn: Connection,
        ids: builtins.list[str],
        scope: str,
        vectors: builtins.list[builtins.list[float]] | None,
    ) -> None:
        index = None if self._resolved is None else self._resolved[1]
        if index is None or vectors is None or self.embedder is None:
            return
        rows = [(i, scope, v) for i, v in zip(ids, vectors, strict=True)]
        index.write(conn, self.embedder.name, rows)

    def _update(
        self,
        memory_id: str,
        scope: str,
        text: str | None,
        tags: builtins.list[str] | None,
        metadata_json: str | None,
        vector: builtins.list[float] | None,
    ) -> Memory:
        from sqlalchemy import delete, select

        memories, tag_table = schema()
        mine = (memories.c.id == memory_id) & (memories.c.scope == scope)
        with write_transaction(self._engine()) as conn:
            values: dict[str, Any] = {"updated_at": time.time()}
            if text is not None:
                values["text"] = text
            if tags is not None:
                values["tags_json"] = json.dumps(tags, ensure_ascii=False)
            if metadata_json is not None:
                values["metadata_json"] = metadata_json
            changed = conn.execute(memories.update().where(mine).values(**values)).rowcount
            if not changed:
                raise MemoryNotFoundError(f"no memory {memory_id!r} in scope {scope!r}")
            if tags is not None:
                conn.execute(
                    delete(tag_table).where(
                        tag_table.c.memory_id == memory_id, tag_table.c.scope == scope
                    )
                )
                if tags:
                    conn.execute(
                        tag_table.insert(),
                        [{"memory_id": memory_id, "tag": tag, "scope": scope} for tag in tags],
                    )
            if vector is not None:
                self._write_vectors(conn, [memory_id], scope, [vector])
            row = conn.execute(select(memories).where(mine)).one()
        return _row_to_memory(row)

    def _delete(self, memory_id: str, scope: str) -> bool:
        from sqlalchemy import delete

        memories, tag_table = schema()
        with write_transaction(self._engine()) as conn:
            deleted = conn.execute(
                delete(memories).where(memories.c.id == memory_id, memories.c.scope == scope)
            ).rowcount
            if deleted:
                conn.execute(
                    delete(tag_table).where(
                        tag_table.c.memory_id == memory_id, tag_table.c.scope == scope
                    )
                )
                index = None if self._resolved is None else self._resolved[1]
                if index is not None and self.embedder is not None:
                    index.remove(conn, self.embedder.name, [memory_id])
        return bool(deleted)

    def _clear(self, scope: str) -> int:
        from sqlalchemy import delete, select

        memories, tag_table = schema()
        with write_transaction(self._engine()) as conn:
            ids = list(
                conn.execute(select(memories.c.id).where(memories.c.scope == scope)).scalars()
            )
            conn.execute(delete(tag_table).where(tag_table.c.scope == scope))
            conn.execute(delete(memories).where(memories.c.scope == scope))
            index = None if self._resolved is None else self._resolved[1]
            if index is not None and self.embedder is not None:
                index.remove(conn, self.embedder.name, ids)
        return len(ids)

    def _get(self, memory_id: str, scope: str) -> Memory | None:
        from sqlalchemy import select

        memories, _tags = schema()
        with self._engine().connect() as conn:
            row = conn.execute(
                select(memories).where(memories.c.id == memory_id, memories.c.scope == scope)
            ).first()
        return None if row is None else _row_to_memory(row)

    def _list(self, scope: str, limit: int) -> builtins.list[Memory]:
        from sqlalchemy import select

        memories, _tags = schema()
        with self._engine().connect() as conn:
            rows = conn.execute(
                select(memories)
                .where(memories.c.scope == scope)
                .order_by(memories.c.updated_at.desc(), memories.c.seq.desc())
                .limit(limit)
            ).all()
        return [_row_to_memory(row) for row in rows]

    def _search(
        self,
        tokens: builtins.list[str],
        scope: str,
        limit: int,
        tags: builtins.list[str] | None,
        vector: builtins.list[float] | None,
    ) -> builtins.list[Memory]:
        engine = self._engine()
        index = None if self._resolved is None else self._resolved[1]
        with engine.connect() as conn:
            if vector is None or index is None or self.embedder is None:
                return [_row_to_memory(r) for r in keyword_rows(conn, tokens, scope, limit, tags)]
            candidates = max(limit * CANDIDATES_PER_RESULT, MIN_CANDIDATES)
            keyword = keyword_rows(conn, tokens, scope, candidates, tags)
            nearest = [
                memory_id
                for memory_id, distance in index.nearest(
                    conn, self.embedder.name, scope, vector, candidates
                )
                if self.max_distance is None or distance <= self.max_distance
            ]
            rows = {row.id: row for row in keyword}
            rows.update(rows_by_id(conn, [i for i in nearest if i not in rows], scope))
        wanted = set(tags or ())
        fused = fuse_rankings([row.id for row in keyword], nearest)
        found = []
        for memory_id in fused:
            row = rows.get(memory_id)  # None: a vector whose memory is gone
            if row is not None and wanted <= set(json.loads(row.tags_json)):
                found.append(_row_to_memory(row))
                if len(found) == limit:
                    break
        return found
