"""Sessions stored in a SQL database: SQLite by default, PostgreSQL for many replicas.

One implementation, :class:`SQLAlchemySession`, runs on any SQLAlchemy URL through
the shared engine of :func:`ascent.storage.get_engine`; :class:`SQLiteSession` only
picks the project's SQLite file. Two tables::

    ascent_sessions(session_id PK, created_at, updated_at, expires_at)
    ascent_session_items(session_id, seq, item_json, created_at)  PK (session_id, seq)
    ascent_session_writes(session_id, write_id, created_at)        PK (session_id, write_id)

The third remembers the ids of writes made with :meth:`SQLAlchemySession.add_items_once`,
so that a write repeated after a crash (a durable run's step that ran again) adds nothing.

The composite key makes "the last N items" an index range scan. Writes to one
session are serialized by the database itself (``BEGIN IMMEDIATE`` on SQLite, a
``FOR UPDATE`` lock on the session's row elsewhere), and the next ``seq`` is taken
inside that transaction, so concurrent writers in any number of processes never
lose items nor interleave one ``add_items`` call with another's.

Times are epoch seconds (floats): portable across databases and cheap to compare.
"""

from __future__ import annotations

import asyncio
import json
import time
from pathlib import Path
from typing import TYPE_CHECKING, Any

from pydantic import BaseModel, ConfigDict

from ..errors import UserError
from ..items import Item, input_to_items, items_to_json
from ..storage import LazyTables, database_url, display_url, write_transaction

if TYPE_CHECKING:
    from sqlalchemy import Table
    from sqlalchemy.engine import Connection, Engine

__all__ = [
    "DEFAULT_MAX_ITEM_BYTES",
    "SESSIONS_TABLE",
    "SESSION_ITEMS_TABLE",
    "SESSION_WRITES_TABLE",
    "SQLAlchemySession",
    "SQLiteSession",
    "SessionSummary",
    "encode_items",
    "list_sessions",
    "prune_expired",
]

SESSIONS_TABLE = "ascent_sessions"
SESSION_ITEMS_TABLE = "ascent_session_items"
SESSION_WRITES_TABLE = "ascent_session_writes"
DEFAULT_MAX_ITEM_BYTES = 1_000_000
_PRUNE_BATCH = 500


def _declare() -> tuple[Table, Table, Table]:
    from sqlalchemy import Column, Double, Index, Integer, MetaData, String, Table, Text

    metadata = MetaData()
    sessions = Table(
        SESSIONS_TABLE,
        metadata,
        Column("session_id", String(255), primary_key=True),
        Column("created_at", Double, nullable=False),
        Column("updated_at", Double, nullable=False),
        Column("expires_at", Double, nullable=True, index=True),
        Index(f"ix_{SESSIONS_TABLE}_updated", "updated_at"),
    )
    items = Table(
        SESSION_ITEMS_TABLE,
        metadata,
        Column("session_id", String(255), primary_key=True),
        Column("seq", Integer, primary_key=True, autoincrement=False),
        Column("item_json", Text, nullable=False),
        Column("created_at", Double, nullable=False),
    )
    writes = Table(
        SESSION_WRITES_TABLE,
        metadata,
        Column("session_id", String(255), primary_key=True),
        Column("write_id", String(255), primary_key=True),
        Column("created_at", Double, nullable=False),
    )
    return sessions, items, writes


def _create(engine: Engine, tables: tuple[Table, Table, Table]) -> None:
    from sqlalchemy.exc import DBAPIError

    sessions = tables[0]
    for attempt in range(3):
        try:
            sessions.metadata.create_all(engine, checkfirst=True)
            # a database made before the index existed gets it too (create_all
            # leaves the indexes of a table that exists alone)
            for index in sessions.indexes:
                index.create(engine, checkfirst=True)
            return
        except DBAPIError:
            if attempt == 2:  # another process created them at the same moment: look again
                raise


_schema = LazyTables(_declare, create=_create)
_engine_for = _schema.engine


def _is_expired(expires_at: float | None, now: float) -> bool:
    return expires_at is not None and expires_at <= now


def encode_items(session_id: str, items: list[Item], max_item_bytes: int) -> list[str]:
    """Items as compact JSON strings, refusing (before anything is written) any too large.

    A runaway tool output would otherwise be stored and resent to the model on
    every later turn.
    """
    payloads = []
    for index, data in enumerate(items_to_json(items)):
        text = json.dumps(data, ensure_ascii=False, separators=(",", ":"))
        size = len(text.encode())
        if size > max_item_bytes:
            raise UserError(
                f"session {session_id!r}: item #{index} ({data.get('type', '?')}) is "
                f"{size:,} bytes of JSON, over the {max_item_bytes:,}-byte limit; "
                "nothing was written (shorten the tool output or raise max_item_bytes)"
            )
        payloads.append(text)
    return payloads


class SQLAlchemySession:
    """A session in any SQL database SQLAlchemy opens (PostgreSQL, SQLite, ...).

    ``ttl`` (seconds) makes the session expire that long after its last write; an
    expired session reads as empty, and :func:`prune_expired` deletes it for good.
    Items whose JSON is larger than ``max_item_bytes`` are refused, because a
    runaway tool output would otherwise be resent to the model on every turn.
    """

    def __init__(
        self,
        session_id: str,
        url: str,
        *,
        ttl: float | None = None,
        max_item_bytes: int = DEFAULT_MAX_ITEM_BYTES,
    ) -> None:
        if not session_id:
            raise UserError("a session needs a non-empty session_id")
        if ttl is not None and ttl <= 0:
            raise UserError(f"ttl must be a positive number of seconds, not {ttl!r}")
        self.session_id = session_id
        self.url = url
        self.ttl = ttl
        self.max_item_bytes = max_item_bytes

    def __repr__(self) -> str:
        return f"{type(self).__name__}({self.session_id!r}, {display_url(self.url)!r})"

    # ------------------------------------------------------------ protocol

    async def get_items(self, limit: int | None = None) -> list[Item]:
        """All items, or the last ``limit`` ones, oldest first (empty once expired)."""
        if limit is not None and limit <= 0:
            return []
        return await asyncio.to_thread(self._get_items, limit)

    async def add_items(self, items: list[Item]) -> None:
        """Append ``items`` as one contiguous block (and refresh the expiry)."""
        if not items:
            return
        payloads = encode_items(self.session_id, items, self.max_item_bytes)
        await asyncio.to_thread(self._add_items, payloads, None)

    async def add_items_once(self, items: list[Item], write_id: str) -> bool:
        """Append ``items`` unless a write with ``write_id`` was made already; True if
        they were added. The id is recorded in the same transaction as the items."""
        payloads = encode_items(self.session_id, items, self.max_item_bytes)
        return await asyncio.to_thread(self._add_items, payloads, write_id)

    async def pop_item(self) -> Item | None:
        """Remove and return the newest item, or None when the session is empty."""
        return await asyncio.to_thread(self._pop_item)

    async def clear(self) -> None:
        """Remove every item; the session itself stays (with its expiry refreshed)."""
        await asyncio.to_thread(self._clear)

    async def replace_items(self, items: list[Item]) -> None:
        """Swap the whole history for ``items`` in one transaction (for compaction)."""
        payloads = encode_items(self.session_id, items, self.max_item_bytes)
        await asyncio.to_thread(self._replace_items, payloads)

    async def delete(self) -> None:
        """Remove the session and all its items."""
        await asyncio.to_thread(self._delete)

    # ------------------------------------------------------------ sync work

    def _get_items(self, limit: int | None) -> list[Item]:
        from sqlalchemy import select

        sessions, items, _writes = _schema()
        engine = _engine_for(self.url)
        with engine.connect() as conn:
            expires_at = conn.execute(
                select(sessions.c.expires_at).where(sessions.c.session_id == self.session_id)
            ).scalar_one_or_none()
            if _is_expired(expires_at, time.time()):
                return []
            query = select(items.c.item_json).where(items.c.session_id == self.session_id)
            if limit is None:
                rows = list(conn.execute(query.order_by(items.c.seq)).scalars())
            else:
                newest = query.order_by(items.c.seq.desc()).limit(limit)
                rows = list(conn.execute(newest).scalars())[::-1]
        return input_to_items([json.loads(row) for row in rows])

    def _lock_session(self, conn: Connection, now: float) -> None:
        """Create the session's row if needed, lock it, and forget it if it had expired.

        The row lock is what serializes writers on PostgreSQL (SQLite is already
        serialized by ``BEGIN IMMEDIATE``). An expired session starts over, so its
        old items never come back when a new write refreshes the expiry.
        """
        from sqlalchemy import delete, select

        sessions, items, _writes = _schema()
        row = {"session_id": self.session_id, "created_at": now, "updated_at": now}
        dialect = conn.dialect.name
        if dialect == "postgresql":
            from sqlalchemy.dialects import postgresql

            conn.execute(postgresql.insert(sessions).values(row).on_conflict_do_nothing())
        elif dialect == "sqlite":
            from sqlalchemy.dialects import sqlite

            conn.execute(sqlite.insert(sessions).values(row).on_conflict_do_nothing())
        else:
            exists = conn.execute(
                select(sessions.c.session_id).where(sessions.c.session_id == self.session_id)
            ).first()
            if exists is None:
                from sqlalchemy.exc import IntegrityError

                try:
                    with conn.begin_nested():
                        conn.execute(sessions.insert().values(row))
                except IntegrityError:
                    pass  # another writer made it first; we lock it below
        locking = select(sessions.c.expires_at).where(sessions.c.session_id == self.session_id)
        if dialect != "sqlite":
            locking = locking.with_for_update()
        expires_at = conn.execute(locking).scalar_one()
        if _is_expired(expires_at, now):
            conn.execute(delete(items).where(items.c.session_id == self.session_id))
            conn.execute(
                sessions.update()
                .where(sessions.c.session_id == self.session_id)
                .values(created_at=now)
            )

    def _touch(self, conn: Connection, now: float) -> None:
        sessions, _items, _writes = _schema()
        conn.execute(
            sessions.update()
            .where(sessions.c.session_id == self.session_id)
            .values(updated_at=now, expires_at=None if self.ttl is None else now + self.ttl)
        )

    def _add_items(self, payloads: list[str], write_id: str | None) -> bool:
        from sqlalchemy import func, select

        _sessions, items, writes = _schema()
        with write_transaction(_engine_for(self.url)) as conn:
            now = time.time()
            self._lock_session(conn, now)  # serializes writers: the check below is safe
            if write_id is not None:
                done = conn.execute(
                    select(writes.c.write_id).where(
                        writes.c.session_id == self.session_id, writes.c.write_id == write_id
                    )
                ).first()
                if done is not None:
                    return False
                conn.execute(
                    writes.insert(),
                    {"session_id": self.session_id, "write_id": write_id, "created_at": now},
                )
            if not payloads:
                self._touch(conn, now)
                return True
            last = conn.execute(
                select(func.max(items.c.seq)).where(items.c.session_id == self.session_id)
            ).scalar_one_or_none()
            first = 0 if last is None else int(last) + 1
            conn.execute(
                items.insert(),
                [
                    {
                        "session_id": self.session_id,
                        "seq": first + offset,
                        "item_json": payload,
                        "created_at": now,
                    }
                    for offset, payload in enumerate(payloads)
                ],
            )
            self._touch(conn, now)
        return True

    def _pop_item(self) -> Item | None:
        from sqlalchemy import delete, select

        _sessions, items, _writes = _schema()
        with write_transaction(_engine_for(self.url)) as conn:
            now = time.time()
            self._lock_session(conn, now)
            newest = conn.execute(
                select(items.c.seq, items.c.item_json)
                .where(items.c.session_id == self.session_id)
                .order_by(items.c.seq.desc())
                .limit(1)
            ).first()
            if newest is None:
                return None
            conn.execute(
                delete(items).where(
                    items.c.session_id == self.session_id, items.c.seq == newest.seq
                )
            )
            self._touch(conn, now)
        return input_to_items([json.loads(newest.item_json)])[0]

    def _clear(self) -> None:
        from sqlalchemy import delete

        _sessions, items, writes = _schema()
        with write_transaction(_engine_for(self.url)) as conn:
            now = time.time()
            self._lock_session(conn, now)
            conn.execute(delete(items).where(items.c.session_id == self.session_id))
            conn.execute(delete(writes).where(writes.c.session_id == self.session_id))
            self._touch(conn, now)

    def _replace_items(self, payloads: list[str]) -> None:
        from sqlalchemy import delete

        _sessions, items, _writes = _schema()
        with write_transaction(_engine_for(self.url)) as conn:
            now = time.time()
            self._lock_session(conn, now)
            conn.execute(delete(items).where(items.c.session_id == self.session_id))
            if payloads:
                conn.execute(
                    items.insert(),
                    [
                        {
                            "session_id": self.session_id,
                            "seq": seq,
                            "item_json": payload,
                            "created_at": now,
                        }
                        for seq, payload in enumerate(payloads)
                    ],
                )
            self._touch(conn, now)

    def _delete(self) -> None:
        from sqlalchemy import delete

        sessions, items, writes = _schema()
        with write_transaction(_engine_for(self.url)) as conn:
            conn.execute(delete(items).where(items.c.session_id == self.session_id))
            conn.execute(delete(writes).where(writes.c.session_id == self.session_id))
            conn.execute(delete(sessions).where(sessions.c.session_id == self.session_id))


class SQLiteSession(SQLAlchemySession):
    """A session in a SQLite file: by default the project database under ``.ascent/``.

    ``path_or_url`` is a file path or a ``sqlite:///`` URL. With none, the project
    database (:func:`ascent.storage.database_url`) is used when it is SQLite, else
    ``.ascent/ascent.db`` in the working directory.
    """

    def __init__(
        self,
        session_id: str,
        path_or_url: str | Path | None = None,
        *,
        ttl: float | None = None,
        max_item_bytes: int = DEFAULT_MAX_ITEM_BYTES,
    ) -> None:
        super().__init__(
            session_id, _sqlite_url(path_or_url), ttl=ttl, max_item_bytes=max_item_bytes
        )


def _sqlite_url(path_or_url: str | Path | None) -> str:
    if path_or_url is None:
        url = database_url()
        if url.startswith("sqlite"):
            return _check_sqlite_url(url)
        return f"sqlite:///{Path.cwd() / '.ascent' / 'ascent.db'}"
    text = str(path_or_url)
    if "://" not in text:
        return f"sqlite:///{Path(text).expanduser().resolve()}"
    if not text.startswith("sqlite"):
        raise UserError(f"SQLiteSession needs a SQLite path or URL, not {display_url(text)}")
    return _check_sqlite_url(text)


def _check_sqlite_url(url: str) -> str:
    # Each worker thread would see its own empty in-memory database.
    bare = url.split("?", 1)[0]
    if bare in ("sqlite://", "sqlite:///:memory:") or bare.endswith(":memory:"):
        raise UserError("an in-memory SQLite session would not persist; use memory:// instead")
    return url


def prune_expired(url: str | None = None) -> int:
    """Delete every expired session and its items in ``url``'s database; return how many.

    Sync on purpose: it is maintenance, run from a scheduler or the CLI. Expired
    rows are locked first, so a writer that revives a session at the same moment
    either wins (and the session stays) or waits and starts it afresh.
    """
    from sqlalchemy import delete, select

    sessions, items, writes = _schema()
    engine = _engine_for(url or database_url())
    with write_transaction(engine) as conn:
        expired = select(sessions.c.session_id).where(sessions.c.expires_at <= time.time())
        if engine.dialect.name != "sqlite":
            expired = expired.with_for_update()
        ids: list[Any] = list(conn.execute(expired).scalars())
        for start in range(0, len(ids), _PRUNE_BATCH):
            batch = ids[start : start + _PRUNE_BATCH]
            conn.execute(delete(items).where(items.c.session_id.in_(batch)))
            conn.execute(delete(writes).where(writes.c.session_id.in_(batch)))
            conn.execute(delete(sessions).where(sessions.c.session_id.in_(batch)))
    return len(ids)


class SessionSummary(BaseModel):
    """A stored session at a glance: its id, when it was last written, how many items."""

    model_config = ConfigDict(defer_build=True)

    session_id: str
    created_at: float
    updated_at: float
    items: int


def list_sessions(
    url: str | None = None,
    *,
    prefix: str = "",
    exclude_prefix: str | None = None,
    limit: int = 50,
    before: tuple[float, str] | None = None,
) -> tuple[list[SessionSummary], tuple[float, str] | None]:
    """A page of the sessions in ``url``'s database, most recently written first
    (``updated_at``, then the id), and the ``before`` of the next page (None after the last).

    Only ids that start with ``prefix`` (compared exactly, case included) and not
    with ``exclude_prefix``; expired sessions are left out. Keyset paging: pass the
    returned key as ``before`` for the next page. Sync, like :func:`prune_expired`.
    """
    from sqlalchemy import func, or_, select

    sessions, items, _writes = _schema()
    engine = _engine_for(url or database_url())
    column = sessions.c.session_id
    count = (
        select(func.count()).where(items.c.session_id == column).scalar_subquery().label("items")
    )
    now = time.time()
    query = select(column, sessions.c.created_at, sessions.c.updated_at, count).where(
        or_(sessions.c.expires_at.is_(None), sessions.c.expires_at > now)
    )
    if prefix:
        # LIKE may ignore case (SQLite's does): the exact comparison decides
        query = query.where(
            column.startswith(prefix, autoescape=True),
            func.substr(column, 1, len(prefix)) == prefix,
        )
    if exclude_prefix:
        query = query.where(func.substr(column, 1, len(exclude_prefix)) != exclude_prefix)
    if before is not None:
        at, last = before
        query = query.where(
            sessions.c.updated_at <= at, or_(sessions.c.updated_at < at, column < last)
        )
    query = query.order_by(sessions.c.updated_at.desc(), column.desc()).limit(max(limit, 0) + 1)
    with engine.connect() as conn:
        rows = conn.execute(query).all()
    page = [
        SessionSummary(
            session_id=row.session_id,
            created_at=row.created_at,
            updated_at=row.updated_at,
            items=row.items,
        )
        for row in rows[: max(limit, 0)]
    ]
    more = len(rows) > len(page) and page
    return page, (page[-1].updated_at, page[-1].session_id) if more else None
