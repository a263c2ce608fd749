"""One database URL from which sessions, memory, traces and durable runs get their connection.

``ASCENT_DATABASE_URL`` names it; without it, a SQLite file under ``.ascent/`` in
the working directory is used, so nothing needs setting up. ``postgresql://`` URLs
run on psycopg 3 (the ``postgres`` extra).

SQLAlchemy is imported only when an engine is made: ``import ascent`` stays light,
and code that never stores anything never pays for it.
"""

from __future__ import annotations

import logging
import os
import threading
from collections.abc import Callable, Iterable, Iterator, Sequence
from contextlib import ExitStack, contextmanager, suppress
from pathlib import Path
from typing import TYPE_CHECKING, Any, Generic, TypeVar

from ..errors import UserError
from ._loop import LoopEngine

if TYPE_CHECKING:
    from sqlalchemy import Table
    from sqlalchemy.engine import Connection, Engine

__all__ = [
    "DATABASE_URL_ENV",
    "IDLE_PING_SECONDS",
    "LazyTables",
    "LoopEngine",
    "after_commit",
    "configure_sqlite",
    "database_url",
    "display_url",
    "dispose_engines",
    "get_engine",
    "insert_rows",
    "normalize_url",
    "ping_when_idle",
    "pipeline",
    "sqlite_path",
    "write_transaction",
]

DATABASE_URL_ENV = "ASCENT_DATABASE_URL"
_SQLITE_BUSY_TIMEOUT_MS = 10_000

_engines: dict[str, Engine] = {}
_lock = threading.Lock()

T = TypeVar("T")


def database_url() -> str:
    """``ASCENT_DATABASE_URL``, else ``sqlite:///<cwd>/.ascent/ascent.db``."""
    url = os.environ.get(DATABASE_URL_ENV, "").strip()
    if url:
        return url
    return f"sqlite:///{Path.cwd() / '.ascent' / 'ascent.db'}"


def normalize_url(url: str) -> str:
    """The URL SQLAlchemy should open: plain PostgreSQL URLs use the psycopg 3 driver.

    Without this, ``postgresql://`` would mean psycopg2, which Ascent does not install.
    """
    for scheme in ("postgresql://", "postgres://"):
        if url.startswith(scheme):
            return "postgresql+psycopg://" + url[len(scheme) :]
    return url


def sqlite_path(url: str) -> Path | None:
    """The file a SQLite URL points at; ``None`` for other databases and in-memory ones."""
    if not url.startswith("sqlite"):
        return None
    from sqlalchemy.engine import make_url

    database = make_url(url).database
    if not database or database == ":memory:" or database.startswith("file:"):
        return None
    return Path(database)


def display_url(url: str) -> str:
    """``url`` with any password masked, for messages."""
    try:
        from sqlalchemy.engine import make_url

        return make_url(url).render_as_string(hide_password=True)
    except Exception:  # not a URL at all: say what was given
        return url


def get_engine(url: str | None = None) -> Engine:
    """The shared engine for ``url`` (default: :func:`database_url`), made on first use.

    One engine per URL per process, so every store shares one connection pool.
    """
    resolved = normalize_url(url or database_url())
    engine = _engines.get(resolved)
    if engine is not None:
        return engine
    with _lock:
        engine = _engines.get(resolved)
        if engine is None:
            engine = _create_engine(resolved)
            _engines[resolved] = engine
    return engine


def dispose_engines() -> None:
    """Close every pooled connection and forget the engines (tests, forks, shutdown)."""
    with _lock:
        engines = list(_engines.values())
        _engines.clear()
    for engine in engines:
        engine.dispose()


def _create_engine(url: str) -> Engine:
    from sqlalchemy import create_engine, event
    from sqlalchemy.exc import ArgumentError, NoSuchModuleError

    path = sqlite_path(url)
    if path is not None:
        path.parent.mkdir(parents=True, exist_ok=True)
    try:
        if url.startswith("sqlite"):
            engine = create_engine(url)
            event.listen(engine, "connect", configure_sqlite)
        else:
            # Ten kept open, none beyond. A run's own writes go through the event
            # loop's pool (LoopEngine, ten more); what is left here is the blocking
            # work of threads (the trace exporter, the relay, sessions, sync tools).
            # None beyond: with ten kept and ten more allowed, the extra ones were
            # opened and closed again all the time, and a new connection costs
            # PostgreSQL a process: 45% of its CPU per served run (bench/README.md).
            # Past ten, a query waits for a connection (pool_timeout, 30 s).
            engine = create_engine(url, pool_size=10, max_overflow=0)
            ping_when_idle(engine)
    except ModuleNotFoundError as exc:
        hint = ""
        if url.startswith("postgresql"):
            hint = " (install PostgreSQL support: pip install 'ascent-agents[postgres]')"
        raise UserError(f"no driver for {display_url(url)}: {exc}{hint}") from exc
    except (ArgumentError, NoSuchModuleError) as exc:
        raise UserError(f"not a usable database URL: {display_url(url)}: {exc}") from exc
    return engine


IDLE_PING_SECONDS = 5.0


def ping_when_idle(engine: Engine, *, idle: float | None = None) -> None:
    """Check a pooled connection before use only if it sat unused ``idle`` seconds
    or more (default :data:`IDLE_PING_SECONDS`).

    A connection that dies (a database restart, a failover, an idle timeout in a
    proxy) mostly dies while it waits in the pool, so one back in use within
    seconds is alive. SQLAlchemy's ``pool_pre_ping`` pings on every checkout
    instead: under load, one round trip more for every transaction of the run
    store. A failed ping makes the pool replace the connection; a query that
    finds its connection dead fails, and makes SQLAlchemy replace every pooled
    connection opened before it, so a restart costs the transactions in flight.
    """
    import time

    if idle is None:
        idle = IDLE_PING_SECONDS

    from sqlalchemy import event
    from sqlalchemy.exc import DisconnectionError

    def checkin(_dbapi: Any, record: Any) -> None:
        record.info["ascent_idle_since"] = time.monotonic()

    def checkout(dbapi: Any, record: Any, _proxy: Any) -> None:
        since = record.info.get("ascent_idle_since")
        if since is None or time.monotonic() - since < idle:
            return  # new, or back in use soon after its last use
        try:
            cursor = dbapi.cursor()
            try:
                cursor.execute("SELECT 1")
            finally:
                cursor.close()
            dbapi.rollback()
        except Exception as exc:
            raise DisconnectionError(f"a pooled connection was dead: {exc}") from exc

    event.listen(engine, "checkin", checkin)
    event.listen(engine, "checkout", checkout)


def configure_sqlite(dbapi_connection: Any, _record: Any = None, *, busy_ms: int = 0) -> None:
    """How every SQLite connection of the project is set up (a ``connect`` listener).

    WAL lets readers (``ascent traces``) work while a run writes; NORMAL sync is
    still safe against a killed process and keeps commits from waiting on fsync;
    a writer that finds the file locked waits up to ``busy_ms`` (10 s by default).
    """
    cursor = dbapi_connection.cursor()
    try:
        cursor.execute(f"PRAGMA busy_timeout = {busy_ms or _SQLITE_BUSY_TIMEOUT_MS}")
        cursor.execute("PRAGMA journal_mode = WAL")
        cursor.execute("PRAGMA synchronous = NORMAL")
    finally:
        cursor.close()


@contextmanager
def write_transaction(
    engine: Engine, *, pipelined: bool = False, driver: bool = False
) -> Iterator[Connection]:
    """A transaction that holds the database's write lock on SQLite from its first statement.

    pysqlite would otherwise start a deferred transaction, and two writers that
    both read before writing would deadlock, then fail on the lock upgrade.
    ``pipelined`` sends the whole transaction in one round trip on PostgreSQL
    (see :func:`pipeline`): only for writes that read nothing back. ``driver``
    runs the statements on the driver's own connection (psycopg's, or
    ``sqlite3``'s), compiled once, skipping SQLAlchemy's execution layer
    (several times the cost of a small write; see ``storage/_driver.py`` for
    what such statements may use).
    """
    if driver and engine.dialect.driver in _DRIVERS:
        with _driver_transaction(engine, pipelined=pipelined) as conn:
            yield conn
        return
    with engine.connect() as conn:
        if engine.dialect.name == "sqlite":
            conn.exec_driver_sql("BEGIN IMMEDIATE")
        piped = ExitStack()
        conn.info[_PIPELINE] = piped
        try:
            if pipelined:
                pipeline(conn)
            yield conn
            callbacks = conn.info.pop(_AFTER_COMMIT, ())
            conn.commit()
            piped.close()  # the pipeline's end: the commit's answer
        except BaseException:
            conn.info.pop(_AFTER_COMMIT, None)
            _roll_back(conn, piped)
            raise
        finally:
            conn.info.pop(_PIPELINE, None)
    _committed(callbacks)


@contextmanager
def _driver_transaction(engine: Engine, *, pipelined: bool) -> Iterator[Any]:
    from ._driver import DriverConnection

    conn = DriverConnection(engine, engine.raw_connection())
    conn.info[_DRIVER] = conn
    if pipelined:
        conn.defer()
    try:
        conn.begin()
        yield conn
        callbacks = conn.info.pop(_AFTER_COMMIT, ())
        conn.commit()
    except BaseException:
        conn.info.pop(_AFTER_COMMIT, None)
        with suppress(Exception):  # the error that got here is the one to raise
            conn.pooled.rollback()
        if conn.broken:
            conn.pooled.invalidate()
        raise
    finally:
        conn.pooled.close()  # back to the pool (or discarded, if invalidated)
    _committed(callbacks)


def _committed(callbacks: Iterable[Callable[[], None]]) -> None:
    for callback in callbacks:
        try:
            callback()
        except Exception:  # the data is committed: a listener's failure is its own
            logging.getLogger("ascent.storage").exception("an after-commit callback failed")


def insert_rows(conn: Connection, table: Table, rows: Sequence[dict[str, Any]]) -> None:
    """Insert ``rows`` into ``table``, in one statement on PostgreSQL.

    Every row has the same keys, its values as the driver takes them (no column
    type converts them). On PostgreSQL several rows go as an ``INSERT ... SELECT``
    of ``unnest`` over one array per column, a statement made once per table and
    columns: psycopg's ``executemany`` sends one statement per row, and a multi-row
    ``VALUES`` would be compiled anew for each count of rows. Elsewhere (or for one
    row) the driver's own execution; nothing is read back either way.
    """
    if not rows:
        return
    if conn.dialect.name != "postgresql" or len(rows) == 1:
        insert = _INSERTS.get(table)
        if insert is None:  # built once: its compiled form is reused
            insert = _INSERTS[table] = table.insert().inline()
        conn.execute(insert, list(rows))
        return
    columns = tuple(rows[0])
    key = (table.name, columns)
    statement = _UNNEST_INSERTS.get(key)
    if statement is None:
        quote = conn.dialect.identifier_preparer.quote
        types = [table.c[name].type.compile(dialect=conn.dialect) for name in columns]
        statement = _UNNEST_INSERTS[key] = (
            f"INSERT INTO {conn.dialect.identifier_preparer.format_table(table)} "
            f"({', '.join(quote(name) for name in columns)}) "
            f"SELECT * FROM unnest({', '.join(f'%b::{kind}[]' for kind in types)})"
        )
    conn.exec_driver_sql(statement, tuple([row[name] for row in rows] for name in columns))


_UNNEST_INSERTS: dict[tuple[str, tuple[str, ...]], str] = {}
_INSERTS: dict[Table, Any] = {}


def pipeline(conn: Connection) -> None:
    """Send the rest of this :func:`write_transaction` (its statements and its
    commit) without waiting for each answer: psycopg's pipeline mode on PostgreSQL,
    where it makes the rest one round trip instead of one per statement; on
    psycopg's own connection (``driver=True``), the writes wait for the commit and
    go as one statement where that is safe. Nothing elsewhere. The statements
    after it must not read their results (a ``RETURNING`` or ``SELECT`` whose rows
    are used goes before it); an error surfaces at the commit, where the
    transaction is rolled back as usual."""
    driver = conn.info.get(_DRIVER)
    if driver is not None:  # on the driver's own connection (see DriverConnection.defer)
        driver.defer()
        return
    piped = conn.info.get(_PIPELINE)
    if piped is None or conn.info.get(_PIPELINED) or not _pipelines(conn):
        return
    raw: Any = conn.connection.driver_connection
    piped.enter_context(raw.pipeline())
    conn.info[_PIPELINED] = True
    piped.callback(conn.info.pop, _PIPELINED, None)


def _pipelines(conn: Connection) -> bool:
    # psycopg's async connections (a LoopEngine's) have an async pipeline: not here
    if conn.dialect.driver != "psycopg" or conn.dialect.is_async:
        return False
    global _PIPELINE_SUPPORTED
    if _PIPELINE_SUPPORTED is None:
        import psycopg

        _PIPELINE_SUPPORTED = psycopg.Pipeline.is_supported()
    return _PIPELINE_SUPPORTED


def _roll_back(conn: Connection, piped: ExitStack) -> None:
    """Roll back a failed write; after a pipeline, on the driver's connection too
    (SQLAlchemy counts a failed commit as the transaction's end, psycopg does not)."""
    was_piped = bool(conn.info.get(_PIPELINED))
    with suppress(Exception):  # the pipeline's error is the one already raised
        piped.close()
    conn.rollback()
    if was_piped and not conn.invalidated:
        try:
            conn.connection.driver_connection.rollback()  # type: ignore[union-attr]
        except Exception:  # a broken connection: the pool discards it
            conn.invalidate()


_DRIVER = "ascent.driver"
# the drivers whose own connection write_transaction(driver=True) uses
_DRIVERS = ("psycopg", "pysqlite")
_PIPELINE = "ascent.pipeline"
_PIPELINED = "ascent.pipelined"
_PIPELINE_SUPPORTED: bool | None = None
_AFTER_COMMIT = "ascent.after_commit"


def after_commit(conn: Connection, callback: Callable[[], None]) -> None:
    """Call ``callback`` once the :func:`write_transaction` holding ``conn`` commits
    (in the writing thread; not at all if it rolls back): how a write tells
    in-process listeners that what it wrote is there to be read."""
    conn.info.setdefault(_AFTER_COMMIT, []).append(callback)


class LazyTables(Generic[T]):
    """A store's tables: declared on first use, so importing the store does not
    import SQLAlchemy, and created once per database and process.

    Call it for the tables; :meth:`engine` gives the shared engine of a URL with
    the tables in place. ``create`` replaces the plain ``create_all`` when a store
    needs more (indexes, triggers, upgrades).
    """

    def __init__(
        self, declare: Callable[[], T], *, create: Callable[[Engine, T], None] | None = None
    ) -> None:
        self._declare = declare
        self._create = create
        self._tables: T | None = None
        self._ready: set[str] = set()
        self._lock = threading.Lock()

    def __call__(self) -> T:
        if self._tables is None:
            self._tables = self._declare()
        return self._tables

    def engine(self, url: str) -> Engine:
        engine = get_engine(url)
        key = normalize_url(url)
        if key not in self._ready:
            with self._lock:
                if key not in self._ready:
                    tables = self()
                    if self._create is not None:
                        self._create(engine, tables)
                    else:
                        first: Any = tables[0] if isinstance(tables, tuple) else tables
                        first.metadata.create_all(engine, checkfirst=True)
                    self._ready.add(key)
        return engine

    def forget(self) -> None:
        """Check the tables again on next use, as a new process would."""
        self._ready.clear()
