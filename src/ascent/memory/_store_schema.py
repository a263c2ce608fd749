"""The memory store's tables, their full-text indexes, and the checks on what goes in.

Kept apart from :mod:`ascent.memory.store` so that module holds only the
store's behaviour. See there for the layout and why it is so.
"""

from __future__ import annotations

import builtins
import json
from collections.abc import Iterable
from typing import TYPE_CHECKING, Any

from ..errors import UserError
from ..storage import LazyTables

if TYPE_CHECKING:
    from sqlalchemy import Table
    from sqlalchemy.engine import Engine

MEMORIES_TABLE = "ascent_memories"
MEMORY_TAGS_TABLE = "ascent_memory_tags"
FTS_TABLE = "ascent_memories_fts"
MAX_TAG_CHARS = 100
MAX_SCOPE_CHARS = 255
# English stemming on PostgreSQL matches the porter tokenizer used on SQLite.
PG_TS_CONFIG = "english"
TEXT_SEARCH_COLUMN = "text_search"  # PostgreSQL only, outside the SQLAlchemy table


def _declare() -> tuple[Table, Table]:
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
        Column("scope", String(MAX_SCOPE_CHARS), nullable=False),
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
        Column("tag", String(MAX_TAG_CHARS), primary_key=True),
        Column("scope", String(MAX_SCOPE_CHARS), nullable=False),
        Index("ix_ascent_memory_tags_scope_tag", "scope", "tag"),
    )
    return memories, tags


_SQLITE_DDL = (
    f"CREATE VIRTUAL TABLE IF NOT EXISTS {FTS_TABLE} USING fts5("
    f"text, content='{MEMORIES_TABLE}', content_rowid='seq', "
    "tokenize='porter unicode61')",
    f"CREATE TRIGGER IF NOT EXISTS {MEMORIES_TABLE}_ai AFTER INSERT ON {MEMORIES_TABLE} BEGIN "
    f"INSERT INTO {FTS_TABLE}(rowid, text) VALUES (new.seq, new.text); END",
    f"CREATE TRIGGER IF NOT EXISTS {MEMORIES_TABLE}_ad AFTER DELETE ON {MEMORIES_TABLE} BEGIN "
    f"INSERT INTO {FTS_TABLE}({FTS_TABLE}, rowid, text) VALUES ('delete', old.seq, old.text); "
    "END",
    f"CREATE TRIGGER IF NOT EXISTS {MEMORIES_TABLE}_au AFTER UPDATE OF text ON {MEMORIES_TABLE} "
    f"BEGIN INSERT INTO {FTS_TABLE}({FTS_TABLE}, rowid, text) "
    "VALUES ('delete', old.seq, old.text); "
    f"INSERT INTO {FTS_TABLE}(rowid, text) VALUES (new.seq, new.text); END",
)

# A stored tsvector: ranking reads it instead of re-parsing every matching text.
# Checked first, because ALTER TABLE takes the table's strongest lock even when
# IF NOT EXISTS finds nothing to do.
_POSTGRES_DDL = (
    "DO $$ BEGIN IF NOT EXISTS (SELECT 1 FROM information_schema.columns"
    f" WHERE table_schema = current_schema() AND table_name = '{MEMORIES_TABLE}'"
    f" AND column_name = '{TEXT_SEARCH_COLUMN}') THEN"
    f" ALTER TABLE {MEMORIES_TABLE} ADD COLUMN IF NOT EXISTS {TEXT_SEARCH_COLUMN} tsvector"
    f" GENERATED ALWAYS AS (to_tsvector('{PG_TS_CONFIG}', text)) STORED;"
    " END IF; END $$",
    f"CREATE INDEX IF NOT EXISTS ix_{MEMORIES_TABLE}_{TEXT_SEARCH_COLUMN} ON {MEMORIES_TABLE} "
    f"USING GIN ({TEXT_SEARCH_COLUMN})",
    # the expression index of earlier versions, which the column replaces
    f"DROP INDEX IF EXISTS ix_{MEMORIES_TABLE}_fts",
)


def _create(engine: Engine, tables: tuple[Table, Table]) -> None:
    dialect = engine.dialect.name
    statements: tuple[str, ...]
    if dialect == "sqlite":
        statements = _SQLITE_DDL
    elif dialect == "postgresql":
        statements = _POSTGRES_DDL
    else:
        raise UserError(
            f"MemoryStore supports SQLite and PostgreSQL, not {dialect} "
            f"({engine.url.render_as_string(hide_password=True)})"
        )
    tables[0].metadata.create_all(engine, checkfirst=True)
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


# The two tables, built on first use so ``import ascent.memory`` stays light.
schema = LazyTables(_declare, create=_create)
engine_for = schema.engine


def plausible_id(memory_id: str) -> bool:
    """Whether ``memory_id`` could name a memory; ids come from models, so never trust them.

    Anything else (too long, a NUL that PostgreSQL would reject) simply matches nothing.
    """
    return isinstance(memory_id, str) and 0 < len(memory_id) <= 64 and "\x00" not in memory_id


def check_scope(scope: str) -> None:
    if not isinstance(scope, str) or not scope.strip():
        raise UserError("memory calls need a non-empty scope (the user or tenant it belongs to)")
    if len(scope) > MAX_SCOPE_CHARS:
        raise UserError(f"a memory scope is at most {MAX_SCOPE_CHARS} characters")
    if "\x00" in scope:
        raise UserError("a memory scope cannot contain NUL characters")


def clean_tags(tags: Iterable[str]) -> builtins.list[str]:
    """Tags stripped and de-duplicated in order; a lone string is refused, not split."""
    if isinstance(tags, str):
        raise UserError("tags must be a list of strings, not one string")
    clean: builtins.list[str] = []
    for tag in tags:
        if not isinstance(tag, str) or not tag.strip() or "\x00" in tag:
            raise UserError(f"tags must be non-empty strings, not {tag!r}")
        tag = tag.strip()
        if len(tag) > MAX_TAG_CHARS:
            raise UserError(f"a tag is at most {MAX_TAG_CHARS} characters: {tag[:40]!r}...")
        if tag not in clean:
            clean.append(tag)
    return clean


def encode_metadata(metadata: dict[str, Any] | None) -> str:
    try:
        return json.dumps(metadata or {}, ensure_ascii=False, separators=(",", ":"))
    except (TypeError, ValueError) as exc:
        raise UserError(f"memory metadata must be JSON-serializable: {exc}") from exc
