"""SQLAlchemy Core statements executed on the database driver's own connection.

For a write of a few small rows, SQLAlchemy's execution layer (the compiled
cache's key, the execution context, the result object) costs several times
what psycopg and PostgreSQL do: a served run's start and end took 1.5 ms of CPU
through it and 0.26 ms on the driver (bench/README.md). On SQLite (``sqlite3``)
it was most of a durable run's two writes beside SQLite's own work. The
statements stay SQLAlchemy's: each is compiled once per set of parameter names
by SQLAlchemy's own compiler for the engine's dialect, and its parameters are
laid out by SQLAlchemy (``Compiled.construct_params``, then in the order of
the placeholders where the driver takes them by position, as ``sqlite3``'s
``?``); the driver executes the text.

Only for statements whose column types the driver takes as they are (strings,
numbers; no type with a bind or result processor), and with no expanding
``IN`` (write the list as literals): what the hot writes of the durable store
use. Errors come out as SQLAlchemy's (``IntegrityError`` and the rest), as from
a SQLAlchemy connection.
"""

from __future__ import annotations

import functools
import re
import weakref
from collections.abc import Iterator, Mapping, Sequence
from typing import TYPE_CHECKING, Any, NamedTuple

if TYPE_CHECKING:
    from sqlalchemy.engine import Dialect, Engine
    from sqlalchemy.engine.interfaces import DBAPIConnection
    from sqlalchemy.pool import PoolProxiedConnection
    from sqlalchemy.sql.compiler import Compiled
    from sqlalchemy.sql.elements import ClauseElement

__all__ = ["DriverConnection", "DriverResult"]

Parameters = Mapping[str, Any]

# statement -> ((dialect, parameter names) -> its compiled form); a statement built
# for one call is compiled for that call and forgotten with it
_compiled: weakref.WeakKeyDictionary[ClauseElement, dict[tuple[Any, ...], Compiled]] = (
    weakref.WeakKeyDictionary()
)


def _compile(statement: ClauseElement, dialect: Dialect, keys: tuple[str, ...]) -> Compiled:
    forms = _compiled.get(statement)
    if forms is None:
        forms = _compiled[statement] = {}
    key = (dialect.name, dialect.driver, dialect.paramstyle, keys)
    compiled = forms.get(key)
    if compiled is None:
        compiled = forms[key] = statement.compile(dialect=dialect, column_keys=list(keys))
    return compiled


_IDLE = 0  # psycopg.pq.TransactionStatus.IDLE: no transaction open on the connection
_MOST_PARTS = 16  # more waiting writes than this go one by one (a statement per shape)
_PLACEHOLDER = re.compile(r"%\((\w+)\)s")


class _Write(NamedTuple):
    compiled: Compiled
    parameters: Any  # the statement's parameters, by name


def _laid_out(compiled: Compiled, values: Mapping[str, Any]) -> Any:
    """The statement's parameters as its driver takes them: by name (psycopg), or in
    the order of its placeholders (SQLite's ``?``)."""
    parameters: Any = compiled.construct_params(values)
    order: Any = getattr(compiled, "positiontup", None)  # SQLCompiler's, with ? placeholders
    return parameters if order is None else tuple([parameters[name] for name in order])


def _write_target(compiled: Compiled) -> tuple[str, str] | None:
    """(table, "insert" | "update" | "delete") of a write that returns nothing, else None."""
    sql: Any = compiled
    if sql.effective_returning:
        return None
    for kind in ("insert", "update", "delete"):
        if getattr(sql, f"is{kind}"):
            return str(sql.statement.table.name), kind
    return None


@functools.lru_cache(maxsize=256)
def _together(writes: tuple[Compiled, ...]) -> str | None:
    """These writes as one statement of data-modifying ``WITH`` parts (the parameters
    of part ``n`` prefixed ``wn_``), or None if they must go one by one. The parts
    of one statement see the same snapshot and run in no set order: they are put
    together only when no two touch one table, or all of those that do insert."""
    if len(writes) > _MOST_PARTS:
        return None
    kinds: dict[str, list[str]] = {}
    for compiled in writes:
        table, kind = _write_target(compiled) or ("", "")
        kinds.setdefault(table, []).append(kind)
    if any(len(found) > 1 and set(found) != {"insert"} for found in kinds.values()):
        return None
    parts = [
        _PLACEHOLDER.sub(rf"%(w{number}_\1)s", compiled.string)
        for number, compiled in enumerate(writes)
    ]
    *first, last = parts
    ctes = ", ".join(f"w{number} AS ({part})" for number, part in enumerate(first))
    return f"WITH {ctes} {last}"


class DriverResult:
    """What a statement returned: the parts of SQLAlchemy's result the store reads."""

    def __init__(self, rows: list[tuple[Any, ...]], columns: Sequence[str], rowcount: int) -> None:
        self._rows = rows
        self._columns = columns
        self.rowcount = rowcount

    def first(self) -> tuple[Any, ...] | None:
        return self._rows[0] if self._rows else None

    def all(self) -> list[tuple[Any, ...]]:
        return list(self._rows)

    def scalar(self) -> Any:
        return self._rows[0][0] if self._rows else None

    def scalars(self) -> Iterator[Any]:
        return (row[0] for row in self._rows)

    def mappings(self) -> DriverResult:
        columns = self._columns
        rows: list[Any] = [dict(zip(columns, row, strict=True)) for row in self._rows]
        return DriverResult(rows, columns, self.rowcount)


class DriverConnection:
    """A transaction on one pooled driver connection, with the face of SQLAlchemy's
    ``Connection`` that the store's writers use (``execute``, ``exec_driver_sql``,
    ``dialect``, ``engine``, ``info``). :func:`ascent.storage.write_transaction`
    makes one (``driver=True``) and commits it."""

    def __init__(self, engine: Engine, pooled: PoolProxiedConnection) -> None:
        self.engine = engine
        self.dialect = engine.dialect
        self.info: dict[str, Any] = {}
        self.pooled = pooled
        # psycopg's connection, or SQLAlchemy's synchronous face of its async one
        driver: Any = pooled.dbapi_connection
        self._driver: DBAPIConnection = driver
        self._psycopg = self.dialect.driver == "psycopg"
        self._deferring = False
        self._deferred: list[_Write] = []

    def begin(self) -> None:
        """Open the transaction where the driver does not open one by itself: on
        SQLite, holding the write lock from the first statement, as
        :func:`ascent.storage.write_transaction` does on SQLAlchemy's connection."""
        if self.dialect.name == "sqlite":
            self.exec_driver_sql("BEGIN IMMEDIATE")

    def defer(self) -> None:
        """From now on, writes that read nothing wait for the commit, where they go
        to the database as one statement when that is safe (see :meth:`_flush`):
        what ``storage.pipeline`` means on this connection. Anything that reads
        sends them first, in order. On psycopg only: SQLite has no round trip to
        save (and no writes inside ``WITH``)."""
        self._deferring = self._psycopg

    def execute(
        self, statement: ClauseElement, parameters: Parameters | Sequence[Parameters] | None = None
    ) -> DriverResult:
        if isinstance(parameters, Sequence):  # many rows: one statement, executemany
            if len(parameters) != 1:
                if not parameters:
                    return DriverResult([], (), 0)
                compiled = _compile(statement, self.dialect, tuple(parameters[0]))
                rows = [_laid_out(compiled, row) for row in parameters]
                if self._deferring and _write_target(compiled) is not None:
                    for row in rows:
                        self._deferred.append(_Write(compiled, row))
                    return DriverResult([], (), len(rows))
                self._flush()
                return self._run(compiled.string, rows, many=True)
            # one: psycopg's executemany enters its pipeline mode, which costs more
            # CPU than the plain round trip it saves on a near database
            parameters = parameters[0]
        values = parameters or {}
        compiled = _compile(statement, self.dialect, tuple(values))
        if self._deferring and _write_target(compiled) is not None:
            self._deferred.append(_Write(compiled, compiled.construct_params(values)))
            return DriverResult([], (), 1)
        self._flush()
        return self._run(compiled.string, _laid_out(compiled, values))

    def exec_driver_sql(
        self, sql: str, parameters: Parameters | Sequence[Any] | None = None
    ) -> DriverResult:
        """``sql`` as written, with parameters as the driver takes them (by name, or
        in order)."""
        self._flush()
        return self._run(sql, {} if parameters is None else parameters)

    def commit(self) -> None:
        driver: Any = self._driver
        writes = self._combined()
        if len(writes) == 1 and self._psycopg and driver.info.transaction_status == _IDLE:
            # nothing sent yet: a transaction of one statement needs no BEGIN nor COMMIT
            driver.autocommit = True
            try:
                self._send(writes)
            finally:
                try:
                    driver.autocommit = False
                except Exception:  # never back to the pool committing each statement
                    self.pooled.invalidate()
            return
        self._send(writes)
        try:
            self._driver.commit()
        except self.dialect.loaded_dbapi.Error as exc:
            raise self._wrapped("COMMIT", None, exc) from exc

    def _flush(self) -> None:
        if self._deferred:
            self._send(self._combined())

    def _combined(self) -> list[tuple[str, list[dict[str, Any]]]]:
        """The waiting writes, as one statement when :func:`_together` allows it,
        else a statement each, the rows of one statement in a row together
        (``executemany``): ``(sql, [parameters, ...])``."""
        writes, self._deferred = self._deferred, []
        sql = _together(tuple(write.compiled for write in writes)) if len(writes) > 1 else None
        if sql is not None:
            parameters: dict[str, Any] = {}
            for number, write in enumerate(writes):
                prefix = f"w{number}_"
                parameters.update(
                    (prefix + name, value) for name, value in write.parameters.items()
                )
            return [(sql, [parameters])]
        statements: list[tuple[str, list[dict[str, Any]]]] = []
        for write in writes:
            if statements and statements[-1][0] is write.compiled.string:
                statements[-1][1].append(write.parameters)
            else:
                statements.append((write.compiled.string, [write.parameters]))
        return statements

    def _send(self, statements: list[tuple[str, list[dict[str, Any]]]]) -> None:
        for sql, rows in statements:
            if len(rows) == 1:
                self._run(sql, rows[0])
            else:
                self._run(sql, rows, many=True)

    def _run(self, sql: str, parameters: Any, *, many: bool = False) -> DriverResult:
        cursor = self._driver.cursor()
        try:
            if many:
                cursor.executemany(sql, parameters)
            else:
                cursor.execute(sql, parameters)
            description = cursor.description
            if description is None:
                return DriverResult([], (), cursor.rowcount)
            rows = list(cursor.fetchall())
            return DriverResult(rows, [column[0] for column in description], cursor.rowcount)
        except self.dialect.loaded_dbapi.Error as exc:
            raise self._wrapped(sql, parameters, exc) from exc
        finally:
            cursor.close()

    def _wrapped(self, sql: str, parameters: Any, error: Exception) -> Exception:
        """The driver's ``error`` as SQLAlchemy's (``IntegrityError``, ``OperationalError``...)."""
        from sqlalchemy.exc import DBAPIError

        return DBAPIError.instance(sql, parameters, error, self.dialect.loaded_dbapi.Error)

    @property
    def broken(self) -> bool:
        """Whether the connection can no longer be used (the pool must not keep it)."""
        driver: Any = self._driver
        return bool(getattr(driver, "broken", False) or getattr(driver, "closed", False))
