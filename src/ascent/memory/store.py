"""Long-term memory: facts and notes an agent keeps across runs, searched by relevance.

A :class:`MemoryStore` lives in the project database (SQLite by default,
PostgreSQL for many replicas) through :func:`ascent.storage.get_engine`, so it
needs no extra service. Tables::

    ascent_memories(seq PK, id UNIQUE, scope, text, tags_json, source_run,
                    metadata_json, created_at, updated_at)
    ascent_memory_tags(memory_id, tag, scope)  PK (memory_id, tag)

Keyword relevance comes from the database's own full-text search: on SQLite an
FTS5 table (external content over ``ascent_memories``, kept in sync by triggers,
so no write path can forget it) ranked by ``bm25``; on PostgreSQL a GIN index on
``to_tsvector`` ranked by ``ts_rank``. The user's query is reduced to its word
tokens joined by OR, so quotes, colons, ``NEAR`` or ``*`` in it are plain words
and never a syntax error, and a question still finds a note that shares only
some of its words.

Every query filters on ``scope`` (a user, a tenant): one scope's memories are
never read, changed or deleted through another. Search returns one ranked list;
:func:`fuse_rankings` merges several (keyword and, later, vector similarity) by
reciprocal rank.

Times are stored as epoch seconds (portable, cheap to compare) and exposed as
UTC datetimes.
"""

from __future__ import annotations

import asyncio
import builtins
import json
import re
import threading
import time
import uuid
from collections.abc import Iterable
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any

from pydantic import BaseModel, Field

from ..errors import UserError
from ..storage import database_url, display_url, get_engine, normalize_url, write_transaction

if TYPE_CHECKING:
    from sqlalchemy import Table
    from sqlalchemy.engine import Engine, Row

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

MEMORIES_TABLE = "ascent_memories"
MEMORY_TAGS_TABLE = "ascent_memory_tags"
_FTS_TABLE = "ascent_memories_fts"
DEFAULT_MAX_TEXT_CHARS = 8_000
_MAX_TAG_CHARS = 100
_MAX_SCOPE_CHARS = 255
_MAX_QUERY_TOKENS = 32
# English stemming on PostgreSQL matches the porter tokenizer used on SQLite.
_PG_TS_CONFIG = "english"
# Letters and digits; "_" splits words as it does in both engines' tokenizers.
_WORD = re.compile(r"[^\W_]+", re.UNICODE)
# Words that websearch_to_tsquery would read as operators rather than text.
_PG_OPERATOR_WORDS = frozenset({"or", "and", "not"})

_tables: tuple[Table, Table] | None = None
_ready: set[str] = set()
_ready_lock = threading.Lock()


class MemoryNotFoundError(UserError):
    """No memory with that id in that scope (it may exist in another scope: we do not say)."""


class Memory(BaseModel):
    """One remembered fact or note, owned by exactly one scope."""

    id: str
    scope: str
    text: str
    tags: list[str] = Field(default_factory=list)
    source_run: str | None = None
    created_at: datetime
    updated_at: datetime
    metadata: dict[str, Any] = Field(default_factory=dict)


def fuse_rankings(*rankings: Iterable[str], k: int = 60) -> list[str]:
    """Merge ranked id lists by reciprocal rank fusion (best first).

    Each id scores ``sum(1 / (k + rank))`` over the lists it appears in (rank
    from 1). Ranks, not raw scores, are fused because bm25, ``ts_rank`` and
    cosine similarity are on incomparable scales. Ties keep first-seen order.
    """
    if k <= 0:
        raise UserError(f"k must be positive, not {k!r}")
    scores: dict[str, float] = {}
    for ranking in rankings:
        seen: set[str] = set()
        for rank, item in enumerate(ranking, start=1):
            if item in seen:  # a duplicate within one list must not count twice
                continue
            seen.add(item)
            scores[item] = scores.get(item, 0.0) + 1.0 / (k + rank)
    order = {item: index for index, item in enumerate(scores)}
    return sorted(scores, key=lambda item: (-scores[item], order[item]))


def query_tokens(query: str) -> builtins.list[str]:
    """The distinct word tokens of ``query`` (lower-cased, first ones kept, bounded).

    Searching on these alone is what makes any user text safe to pass to the
    full-text engines, whose query syntaxes treat quotes and keywords specially.
    """
    tokens: builtins.list[str] = []
    for match in _WORD.finditer(query.lower()):
        token = match.group()
        if token not in tokens:
            tokens.append(token)
            if len(tokens) >= _MAX_QUERY_TOKENS:
                break
    return tokens


def _schema() -> tuple[Table, Table]:
    """The two tables, built on first use so ``import ascent.memory`` stays light."""
    global _tables
    if _tables is None:
        from sqlalchemy import (
            BigInteger,
            Column,
            Double,
            Index,
            Integer,
            MetaData,
            String,
            Table,
            Text,
        )

        metadata = MetaData()
        memories = Table(
            MEMORIES_TABLE,
            metadata,
            # An integer key: on SQLite it is the rowid the FTS5 index points at
            # (a plain rowid could be renumbered by VACUUM).
            Column(
                "seq",
                BigInteger().with_variant(Integer, "sqlite"),
                primary_key=True,
                autoincrement=True,
            ),
            Column("id", String(64), nullable=False, unique=True),
            Column("scope", String(_MAX_SCOPE_CHARS), nullable=False),
            Column("text", Text, nullable=False),
            Column("tags_json", Text, nullable=False),
            Column("source_run", String(255), nullable=True),
            Column("metadata_json", Text, nullable=False),
            Column("created_at", Double, nullable=False),
            Column("updated_at", Double, nullable=False),
            Index("ix_ascent_memories_scope_updated", "scope", "updated_at"),
        )
        tags = Table(
            MEMORY_TAGS_TABLE,
            metadata,
            Column("memory_id", String(64), primary_key=True),
            Column("tag", String(_MAX_TAG_CHARS), primary_key=True),
            Column("scope", String(_MAX_SCOPE_CHARS), nullable=False),
            Index("ix_ascent_memory_tags_scope_tag", "scope", "tag"),
        )
        _tables = (memories, tags)
    return _tables


_SQLITE_DDL = (
    f"CREATE VIRTUAL TABLE IF NOT EXISTS {_FTS_TABLE} USING fts5("
    f"text, content='{MEMORIES_TABLE}', content_rowid='seq', "
    "tokenize='porter unicode61')",
    f"CREATE TRIGGER IF NOT EXISTS {MEMORIES_TABLE}_ai AFTER INSERT ON {MEMORIES_TABLE} BEGIN "
    f"INSERT INTO {_FTS_TABLE}(rowid, text) VALUES (new.seq, new.text); END",
    f"CREATE TRIGGER IF NOT EXISTS {MEMORIES_TABLE}_ad AFTER DELETE ON {MEMORIES_TABLE} BEGIN "
    f"INSERT INTO {_FTS_TABLE}({_FTS_TABLE}, rowid, text) VALUES ('delete', old.seq, old.text); "
    "END",
    f"CREATE TRIGGER IF NOT EXISTS {MEMORIES_TABLE}_au AFTER UPDATE OF text ON {MEMORIES_TABLE} "
    f"BEGIN INSERT INTO {_FTS_TABLE}({_FTS_TABLE}, rowid, text) "
    "VALUES ('delete', old.seq, old.text); "
    f"INSERT INTO {_FTS_TABLE}(rowid, text) VALUES (new.seq, new.text); END",
)

_POSTGRES_DDL = (
    f"CREATE INDEX IF NOT EXISTS ix_{MEMORIES_TABLE}_fts ON {MEMORIES_TABLE} "
    f"USING GIN (to_tsvector('{_PG_TS_CONFIG}', text))",
)


def _engine_for(url: str) -> Engine:
    """The shared engine for ``url``, with the memory tables and indexes made once."""
    engine = get_engine(url)
    key = normalize_url(url)
    if key not in _ready:
        with _ready_lock:
            if key not in _ready:
                _create_schema(engine, url)
                _ready.add(key)
    return engine


def _create_schema(engine: Engine, url: str) -> None:
    dialect = engine.dialect.name
    statements: tuple[str, ...]
    if dialect == "sqlite":
        statements = _SQLITE_DDL
    elif dialect == "postgresql":
        statements = _POSTGRES_DDL
    else:
        raise UserError(
            f"MemoryStore supports SQLite and PostgreSQL, not {dialect} ({display_url(url)})"
        )
    memories, _tags = _schema()
    memories.metadata.create_all(engine, checkfirst=True)
    with engine.begin() as conn:
        for statement in statements:
            try:
                conn.exec_driver_sql(statement)
            except Exception as exc:
                if dialect == "sqlite" and "fts5" in str(exc).lower():
                    raise UserError(
                        "this SQLite build has no FTS5, which MemoryStore needs for search"
                    ) from exc
                raise


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
    """

    def __init__(
        self, url: str | None = None, *, max_text_chars: int = DEFAULT_MAX_TEXT_CHARS
    ) -> None:
        if max_text_chars <= 0:
            raise UserError(f"max_text_chars must be positive, not {max_text_chars!r}")
        self.url = url or database_url()
        self.max_text_chars = max_text_chars

    def __repr__(self) -> str:
        return f"{type(self).__name__}({display_url(self.url)!r})"

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
        _check_scope(scope)
        self._check_text(text)
        if source_run is not None and ("\x00" in source_run or len(source_run) > 255):
            raise UserError("source_run must be a run id of at most 255 characters")
        clean_tags = _clean_tags(tags)
        metadata_json = _encode_metadata(metadata)
        memory_id = f"mem_{uuid.uuid4().hex}"
        return await asyncio.to_thread(
            self._add, memory_id, scope, text, clean_tags, source_run, metadata_json
        )

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
        _check_scope(scope)
        if not _plausible_id(id):
            raise MemoryNotFoundError(f"no memory {id!r} in scope {scope!r}")
        if text is not None:
            self._check_text(text)
        clean_tags = None if tags is None else _clean_tags(tags)
        metadata_json = None if metadata is None else _encode_metadata(metadata)
        return await asyncio.to_thread(self._update, id, scope, text, clean_tags, metadata_json)

    async def delete(self, id: str, *, scope: str) -> bool:
        """Delete a memory; False when there was none with that id in ``scope``."""
        _check_scope(scope)
        if not _plausible_id(id):
            return False
        return await asyncio.to_thread(self._delete, id, scope)

    async def get(self, id: str, *, scope: str) -> Memory | None:
        """The memory ``id`` if it belongs to ``scope``, else None."""
        _check_scope(scope)
        if not _plausible_id(id):
            return None
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

        A memory matches when it shares at least one word (after stemming) with
        the query; more shared and rarer words rank higher. With ``tags``, only
        memories carrying every one of them are considered.
        """
        _check_scope(scope)
        tokens = query_tokens(query)
        if not tokens or limit <= 0:
            return []
        wanted = None if tags is None else _clean_tags(tags)
        return await asyncio.to_thread(self._search, tokens, scope, limit, wanted)

    async def list(self, scope: str, limit: int = 50) -> builtins.list[Memory]:
        """The newest memories of ``scope`` (most recently updated first)."""
        _check_scope(scope)
        if limit <= 0:
            return []
        return await asyncio.to_thread(self._list, scope, limit)

    # ------------------------------------------------------------ validation

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

    # ------------------------------------------------------------ sync work

    def _add(
        self,
        memory_id: str,
        scope: str,
        text: str,
        tags: builtins.list[str],
        source_run: str | None,
        metadata_json: str,
    ) -> Memory:
        memories, tag_table = _schema()
        with write_transaction(_engine_for(self.url)) as conn:
            now = time.time()
            conn.execute(
                memories.insert().values(
                    id=memory_id,
                    scope=scope,
                    text=text,
                    tags_json=json.dumps(tags, ensure_ascii=False),
                    source_run=source_run,
                    metadata_json=metadata_json,
                    created_at=now,
                    updated_at=now,
                )
            )
            if tags:
                conn.execute(
                    tag_table.insert(),
                    [{"memory_id": memory_id, "tag": tag, "scope": scope} for tag in tags],
                )
        return Memory(
            id=memory_id,
            scope=scope,
            text=text,
            tags=tags,
            source_run=source_run,
            created_at=_to_datetime(now),
            updated_at=_to_datetime(now),
            metadata=json.loads(metadata_json),
        )

    def _update(
        self,
        memory_id: str,
        scope: str,
        text: str | None,
        tags: builtins.list[str] | None,
        metadata_json: str | None,
    ) -> Memory:
        from sqlalchemy import delete, select

        memories, tag_table = _schema()
        mine = (memories.c.id == memory_id) & (memories.c.scope == scope)
        with write_transaction(_engine_for(self.url)) as conn:
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
            row = conn.execute(select(memories).where(mine)).one()
        return _row_to_memory(row)

    def _delete(self, memory_id: str, scope: str) -> bool:
        from sqlalchemy import delete

        memories, tag_table = _schema()
        with write_transaction(_engine_for(self.url)) as conn:
            deleted = conn.execute(
                delete(memories).where(memories.c.id == memory_id, memories.c.scope == scope)
            ).rowcount
            if deleted:
                conn.execute(
                    delete(tag_table).where(
                        tag_table.c.memory_id == memory_id, tag_table.c.scope == scope
                    )
                )
        return bool(deleted)

    def _get(self, memory_id: str, scope: str) -> Memory | None:
        from sqlalchemy import select

        memories, _tags = _schema()
        with _engine_for(self.url).connect() as conn:
            row = conn.execute(
                select(memories).where(memories.c.id == memory_id, memories.c.scope == scope)
            ).first()
        return None if row is None else _row_to_memory(row)

    def _list(self, scope: str, limit: int) -> builtins.list[Memory]:
        from sqlalchemy import select

        memories, _tags = _schema()
        with _engine_for(self.url).connect() as conn:
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
    ) -> builtins.list[Memory]:
        from sqlalchemy import text as sql

        engine = _engine_for(self.url)
        params: dict[str, Any] = {"scope": scope, "limit": limit}
        tag_filter = ""
        if tags:
            names = []
            for index, tag in enumerate(tags):
                params[f"tag{index}"] = tag
                names.append(f":tag{index}")
            params["tag_count"] = len(tags)
            tag_filter = (
                f" AND m.id IN (SELECT t.memory_id FROM {MEMORY_TAGS_TABLE} t"
                f" WHERE t.scope = :scope AND t.tag IN ({', '.join(names)})"
                " GROUP BY t.memory_id HAVING COUNT(*) = :tag_count)"
            )
        if engine.dialect.name == "sqlite":
            # Each token quoted: FTS5 then reads it as a plain term, never an operator.
            params["match"] = " OR ".join(f'"{token}"' for token in tokens)
            statement = (
                f"SELECT m.* FROM {_FTS_TABLE} f JOIN {MEMORIES_TABLE} m ON m.seq = f.rowid"
                f" WHERE {_FTS_TABLE} MATCH :match AND m.scope = :scope{tag_filter}"
                f" ORDER BY bm25({_FTS_TABLE}), m.updated_at DESC LIMIT :limit"
            )
        else:
            words = [token for token in tokens if token not in _PG_OPERATOR_WORDS]
            if not words:
                return []
            params["query"] = " or ".join(words)
            vector = f"to_tsvector('{_PG_TS_CONFIG}', m.text)"
            statement = (
                f"SELECT m.* FROM {MEMORIES_TABLE} m,"
                f" websearch_to_tsquery('{_PG_TS_CONFIG}', :query) q"
                f" WHERE m.scope = :scope AND {vector} @@ q{tag_filter}"
                f" ORDER BY ts_rank({vector}, q) DESC, m.updated_at DESC LIMIT :limit"
            )
        with engine.connect() as conn:
            rows = conn.execute(sql(statement), params).all()
        return [_row_to_memory(row) for row in rows]


def _plausible_id(memory_id: str) -> bool:
    """Whether ``memory_id`` could name a memory; ids come from models, so never trust them.

    Anything else (too long, a NUL that PostgreSQL would reject) simply matches nothing.
    """
    return isinstance(memory_id, str) and 0 < len(memory_id) <= 64 and "\x00" not in memory_id


def _check_scope(scope: str) -> None:
    if not isinstance(scope, str) or not scope.strip():
        raise UserError("memory calls need a non-empty scope (the user or tenant it belongs to)")
    if len(scope) > _MAX_SCOPE_CHARS:
        raise UserError(f"a memory scope is at most {_MAX_SCOPE_CHARS} characters")
    if "\x00" in scope:
        raise UserError("a memory scope cannot contain NUL characters")


def _clean_tags(tags: Iterable[str]) -> builtins.list[str]:
    """Tags stripped and de-duplicated in order; a lone string is refused, not split."""
    if isinstance(tags, str):
        raise UserError("tags must be a list of strings, not one string")
    clean: builtins.list[str] = []
    for tag in tags:
        if not isinstance(tag, str) or not tag.strip() or "\x00" in tag:
            raise UserError(f"tags must be non-empty strings, not {tag!r}")
        tag = tag.strip()
        if len(tag) > _MAX_TAG_CHARS:
            raise UserError(f"a tag is at most {_MAX_TAG_CHARS} characters: {tag[:40]!r}...")
        if tag not in clean:
            clean.append(tag)
    return clean


def _encode_metadata(metadata: dict[str, Any] | None) -> str:
    try:
        return json.dumps(metadata or {}, ensure_ascii=False, separators=(",", ":"))
    except (TypeError, ValueError) as exc:
        raise UserError(f"memory metadata must be JSON-serializable: {exc}") from exc
