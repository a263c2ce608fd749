"""Vector indexes for :class:`~ascent.memory.store.MemoryStore`: sqlite-vec and pgvector.

One table per vector space (embedder name and dimension), so vectors of two
models are never compared; each row is keyed by the memory's id and carries its
scope, and every nearest-neighbour query filters on that scope.

- SQLite: a ``vec0`` virtual table (sqlite-vec) with the scope as partition key.
  The standard ``sqlite3`` module of many Python builds cannot load extensions,
  so the store then works through ``sqlean.py``'s DB-API module (same file,
  same SQL, FTS5 included), on an engine of its own.
- PostgreSQL: a ``vector(n)`` column (pgvector) with an HNSW index for cosine
  distance, and a foreign key that deletes a memory's vectors with it.

When neither is available, :func:`open_vector_index` logs why once per
database and returns None: search then uses keywords only, as it would with
no embedder.
"""

from __future__ import annotations

import hashlib
import json
import logging
import threading
from collections.abc import Sequence
from typing import TYPE_CHECKING, Any, Protocol

from ..storage import configure_sqlite, display_url, normalize_url, sqlite_path
from ._store_schema import MEMORIES_TABLE
from .embedders import EmbeddingError

if TYPE_CHECKING:
    from sqlalchemy.engine import Connection, Engine

__all__ = ["VectorIndex", "dispose_vector_engines", "open_vector_index", "vector_table"]

logger = logging.getLogger("ascent.memory")

_lock = threading.Lock()
_sqlite_engines: dict[str, Engine | None] = {}
_pg_available: dict[str, bool] = {}


def _table_prefix(embedder_name: str) -> str:
    # a short digest, since embedder names hold any characters
    return f"ascent_memory_vec_{hashlib.sha1(embedder_name.encode()).hexdigest()[:12]}_"


def vector_table(embedder_name: str, dimensions: int) -> str:
    """The table holding one vector space: the embedder and the vectors' size."""
    return f"{_table_prefix(embedder_name)}{dimensions}"


class VectorIndex(Protocol):
    """What the store asks of a vector index; all sync, run in worker threads."""

    engine: Engine

    def write(
        self, conn: Connection, embedder_name: str, rows: Sequence[tuple[str, str, list[float]]]
    ) -> None:
        """Store ``(memory_id, scope, vector)`` rows, replacing any older vector of those ids."""
        ...

    def remove(self, conn: Connection, embedder_name: str, ids: list[str]) -> None:
        """Drop the vectors of ``ids`` (PostgreSQL's foreign key needs no help)."""
        ...

    def nearest(
        self, conn: Connection, embedder_name: str, scope: str, vector: list[float], k: int
    ) -> list[tuple[str, float]]:
        """``(id, cosine distance)`` of ``scope``'s ``k`` memories nearest ``vector``, nearest
        first."""
        ...


def _ensure(conn: Connection, table: str, statements: Sequence[str], *, create: bool) -> bool:
    """Whether ``table`` exists, making it first when ``create``.

    Checked on every call rather than remembered: a table made inside a
    transaction that then rolls back is gone, and a cache would not know.
    """
    if conn.dialect.name == "sqlite":
        probe = "SELECT 1 FROM sqlite_master WHERE name = ?"
        found = conn.exec_driver_sql(probe, (table,)).first()
    else:
        found = conn.exec_driver_sql("SELECT to_regclass(%s)", (table,)).scalar()
    if found:
        return True
    if not create:
        return False
    for statement in statements:
        conn.exec_driver_sql(statement)
    return True


def _check_vectors(rows: Sequence[tuple[str, str, list[float]]]) -> int:
    dimensions = {len(vector) for _id, _scope, vector in rows}
    if len(dimensions) != 1 or 0 in dimensions:
        raise EmbeddingError(f"the embedder returned vectors of sizes {sorted(dimensions)}")
    return dimensions.pop()


class SQLiteVectorIndex:
    """sqlite-vec's ``vec0`` tables, through an engine whose connections load it."""

    def __init__(self, url: str, engine: Engine) -> None:
        self.url = url
        self.engine = engine

    def _table(
        self, conn: Connection, embedder_name: str, dimensions: int, *, create: bool = True
    ) -> str | None:
        table = vector_table(embedder_name, dimensions)
        ddl = (
            f"CREATE VIRTUAL TABLE IF NOT EXISTS {table} USING vec0("
            "memory_id text primary key, scope text partition key, "
            f"embedding float[{dimensions}] distance_metric=cosine)"
        )
        return table if _ensure(conn, table, [ddl], create=create) else None

    def write(
        self, conn: Connection, embedder_name: str, rows: Sequence[tuple[str, str, list[float]]]
    ) -> None:
        if not rows:
            return
        table = self._table(conn, embedder_name, _check_vectors(rows))
        assert table is not None
        # vec0 has no upsert: delete then insert, inside the caller's transaction.
        conn.exec_driver_sql(
            f"DELETE FROM {table} WHERE memory_id = ?", [(row[0],) for row in rows]
        )
        conn.exec_driver_sql(
            f"INSERT INTO {table}(memory_id, scope, embedding) VALUES (?, ?, ?)",
            [(memory_id, scope, _pack(vector)) for memory_id, scope, vector in rows],
        )

    def remove(self, conn: Connection, embedder_name: str, ids: list[str]) -> None:
        if not ids:
            return
        prefix = _table_prefix(embedder_name)
        names = conn.exec_driver_sql(
            "SELECT name FROM sqlite_master WHERE type = 'table' AND substr(name, 1, ?) = ?",
            (len(prefix), prefix),
        ).scalars()
        # vec0 keeps shadow tables under the same prefix ("..._384_chunks"): skip them
        tables = [name for name in names if name[len(prefix) :].isdigit()]
        for table in tables:
            conn.exec_driver_sql(f"DELETE FROM {table} WHERE memory_id = ?", [(i,) for i in ids])

    def nearest(
        self, conn: Connection, embedder_name: str, scope: str, vector: list[float], k: int
    ) -> list[tuple[str, float]]:
        table = self._table(conn, embedder_name, len(vector), create=False)
        if table is None:
            return []
        rows = conn.exec_driver_sql(
            f"SELECT memory_id, distance FROM {table}"
            " WHERE embedding MATCH ? AND k = ? AND scope = ?"
            " ORDER BY distance",
            (_pack(vector), k, scope),
        ).all()
        return [(row[0], float(row[1])) for row in rows]


def _pack(vector: list[float]) -> bytes:
    import struct

    return struct.pack(f"<{len(vector)}f", *vector)


class PostgresVectorIndex:
    """pgvector tables with an HNSW cosine index. Written to pgvector's documented SQL;
    not exercised by this project's tests (pgvector is not installed where they run)."""

    def __init__(self, url: str, engine: Engine) -> None:
        self.url = url
        self.engine = engine

    def _table(
        self, conn: Connection, embedder_name: str, dimensions: int, *, create: bool = True
    ) -> str | None:
        table = vector_table(embedder_name, dimensions)
        made = _ensure(
            conn,
            table,
            [
                f"CREATE TABLE IF NOT EXISTS {table} ("
                f"memory_id varchar(64) PRIMARY KEY REFERENCES {MEMORIES_TABLE}(id) "
                "ON DELETE CASCADE, scope varchar(255) NOT NULL, "
                f"embedding vector({dimensions}) NOT NULL)",
                f"CREATE INDEX IF NOT EXISTS {table}_hnsw ON {table} "
                "USING hnsw (embedding vector_cosine_ops)",
                f"CREATE INDEX IF NOT EXISTS {table}_scope ON {table} (scope)",
            ],
            create=create,
        )
        return table if made else None

    def write(
        self, conn: Connection, embedder_name: str, rows: Sequence[tuple[str, str, list[float]]]
    ) -> None:
        from sqlalchemy import text

        if not rows:
            return
        table = self._table(conn, embedder_name, _check_vectors(rows))
        assert table is not None
        conn.execute(
            text(
                f"INSERT INTO {table} (memory_id, scope, embedding) "
                "VALUES (:id, :scope, CAST(:embedding AS vector)) "
                "ON CONFLICT (memory_id) DO UPDATE SET embedding = EXCLUDED.embedding"
            ),
            [
                {"id": memory_id, "scope": scope, "embedding": json.dumps(vector)}
                for memory_id, scope, vector in rows
            ],
        )

    def remove(self, conn: Connection, embedder_name: str, ids: list[str]) -> None:
        """Nothing to do: the foreign key's ``ON DELETE CASCADE`` already removed them."""

    def nearest(
        self, conn: Connection, embedder_name: str, scope: str, vector: list[float], k: int
    ) -> list[tuple[str, float]]:
        from sqlalchemy import text

        table = self._table(conn, embedder_name, len(vector), create=False)
        if table is None:
            return []
        try:
            # pgvector >= 0.8: keep scanning the HNSW graph until k rows pass the
            # scope filter (older versions stop after ef_search candidates).
            with conn.begin_nested():
                conn.exec_driver_sql("SET LOCAL hnsw.iterative_scan = 'relaxed_order'")
        except Exception:
            pass
        rows = conn.execute(
            text(
                "SELECT memory_id, embedding <=> CAST(:query AS vector) AS distance "
                f"FROM {table} WHERE scope = :scope ORDER BY distance LIMIT :k"
            ),
            {"scope": scope, "query": json.dumps(vector), "k": k},
        ).all()
        return [(row[0], float(row[1])) for row in rows]


def open_vector_index(url: str, plain_engine: Engine) -> VectorIndex | None:
    """The vector index for the database at ``url``, or None (logged once) without one."""
    dialect = plain_engine.dialect.name
    if dialect == "sqlite":
        engine = _sqlite_vector_engine(url)
        return None if engine is None else SQLiteVectorIndex(url, engine)
    if dialect == "postgresql" and _pgvector_ready(url, plain_engine):
        return PostgresVectorIndex(url, plain_engine)
    return None


def _fallback(url: str, reason: str) -> None:
    logger.warning(
        "memory vector search is off for %s: %s; searching by keywords only",
        display_url(url),
        reason,
    )


def _sqlite_vector_engine(url: str) -> Engine | None:
    key = normalize_url(url)
    with _lock:
        if key in _sqlite_engines:
            return _sqlite_engines[key]
        engine = _make_sqlite_engine(url)
        _sqlite_engines[key] = engine
        return engine


def _make_sqlite_engine(url: str) -> Engine | None:
    try:
        import sqlean
        import sqlite_vec
    except ImportError as exc:
        _fallback(
            url,
            f"{exc.name or 'a module'} is not installed "
            "(pip install 'ascent-agents[vector]' for sqlite-vec and sqlean.py)",
        )
        return None
    from sqlalchemy import create_engine, event

    path = sqlite_path(url)
    if path is not None:
        path.parent.mkdir(parents=True, exist_ok=True)

    def load_vec(dbapi_connection: Any, _record: Any) -> None:
        configure_sqlite(dbapi_connection)
        dbapi_connection.enable_load_extension(True)
        try:
            sqlite_vec.load(dbapi_connection)
        finally:
            dbapi_connection.enable_load_extension(False)

    engine = create_engine(normalize_url(url), module=sqlean)
    event.listen(engine, "connect", load_vec)
    try:
        with engine.connect() as conn:
            conn.exec_driver_sql("SELECT vec_version()")
    except Exception as exc:
        engine.dispose()
        _fallback(url, f"sqlite-vec could not be loaded ({exc})")
        return None
    return engine


def _pgvector_ready(url: str, engine: Engine) -> bool:
    key = normalize_url(url)
    with _lock:
        if key in _pg_available:
            return _pg_available[key]
        ready = _enable_pgvector(url, engine)
        _pg_available[key] = ready
        return ready


def _enable_pgvector(url: str, engine: Engine) -> bool:
    with engine.connect() as conn:
        installed = conn.exec_driver_sql(
            "SELECT 1 FROM pg_extension WHERE extname = 'vector'"
        ).first()
        if installed is not None:
            return True
        available = conn.exec_driver_sql(
            "SELECT 1 FROM pg_available_extensions WHERE name = 'vector'"
        ).first()
    if available is None:
        _fallback(url, "the pgvector extension is not installed on this PostgreSQL server")
        return False
    try:
        with engine.begin() as conn:
            conn.exec_driver_sql("CREATE EXTENSION IF NOT EXISTS vector")
    except Exception as exc:
        _fallback(url, f"CREATE EXTENSION vector failed ({exc})")
        return False
    return True


def dispose_vector_engines() -> None:
    """Close the sqlite-vec engines and forget what was learned about each database."""
    with _lock:
        engines = [engine for engine in _sqlite_engines.values() if engine is not None]
        _sqlite_engines.clear()
        _pg_available.clear()
    for engine in engines:
        engine.dispose()
