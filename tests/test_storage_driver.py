"""Writes on psycopg's own connection (``write_transaction(driver=True)``) behave as
SQLAlchemy's: the same statements, results, errors, rollback and after-commit calls."""

from __future__ import annotations

import uuid
from collections.abc import Iterator

import pytest
from sqlalchemy import (
    Column,
    Double,
    Integer,
    MetaData,
    String,
    Table,
    UniqueConstraint,
    bindparam,
    create_engine,
    literal_column,
    select,
    text,
)
from sqlalchemy.engine import Engine
from sqlalchemy.exc import IntegrityError, OperationalError

from ascent.storage import after_commit, normalize_url, write_transaction
from ascent.testing.postgres import PostgresServer

metadata = MetaData()
items = Table(
    "driver_items",
    metadata,
    Column("id", String(64), primary_key=True),
    Column("status", String(16), nullable=False),
    Column("count", Integer, nullable=False),
    Column("at", Double),
)
by_id = items.c.id == bindparam("b_id")
insert = items.insert()
update_open = (
    items.update()
    .where(by_id, items.c.status.in_([literal_column("'open'"), literal_column("'held'")]))
    .returning(*items.c)
)
first_open = select(items.c.id).where(items.c.status == "open").order_by(items.c.id).limit(1)


@pytest.fixture(params=["postgresql", "sqlite"])
def engine(request: pytest.FixtureRequest, tmp_path) -> Iterator[Engine]:
    if request.param == "postgresql":
        server: PostgresServer = request.getfixturevalue("postgres_server")
        url = normalize_url(server.create_database(f"driver_{uuid.uuid4().hex[:8]}"))
    else:
        url = f"sqlite:///{tmp_path / 'driver.db'}"
    engine = create_engine(url, pool_size=1, max_overflow=0)
    metadata.create_all(engine)
    yield engine
    engine.dispose()


def _rows(engine: Engine) -> list[tuple[str, str, int]]:
    with engine.connect() as conn:
        query = select(items.c.id, items.c.status, items.c.count).order_by(items.c.id)
        return [tuple(row) for row in conn.execute(query)]  # type: ignore[misc]


def test_statements_rows_and_results_as_through_sqlalchemy(engine: Engine):
    with write_transaction(engine, driver=True) as conn:
        conn.execute(insert, [{"id": "a", "status": "open", "count": 1, "at": 1.5}])
        conn.execute(
            insert,
            [
                {"id": "b", "status": "held", "count": 2, "at": None},
                {"id": "c", "status": "shut", "count": 3, "at": None},
            ],
        )
        assert conn.execute(first_open).scalar() == "a"
        row = conn.execute(update_open, {"count": 10, "b_id": "b"}).mappings().first()
        assert row is not None
        assert dict(row) == {"id": "b", "status": "held", "count": 10, "at": None}
        missed = conn.execute(update_open, {"count": 99, "b_id": "c"})  # shut: not updated
        assert missed.mappings().first() is None
        found = conn.execute(select(items.c.id).where(items.c.count > 1).order_by(items.c.id))
        assert list(found.scalars()) == ["b", "c"]
    assert _rows(engine) == [("a", "open", 1), ("b", "held", 10), ("c", "shut", 3)]


def test_a_failed_write_rolls_back_raises_sqlalchemys_error_and_calls_nobody(engine: Engine):
    committed: list[str] = []
    with write_transaction(engine, driver=True) as conn:
        conn.execute(insert, {"id": "a", "status": "open", "count": 1})
        after_commit(conn, lambda: committed.append("first"))
    assert committed == ["first"]
    with pytest.raises(IntegrityError), write_transaction(engine, driver=True) as conn:
        conn.execute(insert, {"id": "b", "status": "open", "count": 2})
        after_commit(conn, lambda: committed.append("second"))
        conn.execute(insert, {"id": "a", "status": "open", "count": 3})  # taken
    assert committed == ["first"]
    assert _rows(engine) == [("a", "open", 1)]
    # the pooled connection is usable again (rolled back, not left in a failed transaction)
    with write_transaction(engine, driver=True) as conn:
        conn.execute(insert, {"id": "b", "status": "open", "count": 2})
    assert [row[0] for row in _rows(engine)] == ["a", "b"]


def test_a_connection_that_died_is_dropped_from_the_pool(postgres_server: PostgresServer):
    url = normalize_url(postgres_server.create_database(f"driver_{uuid.uuid4().hex[:8]}"))
    engine = create_engine(url, pool_size=1, max_overflow=0)
    metadata.create_all(engine)
    try:
        with engine.connect() as conn:
            pid = conn.execute(text("SELECT pg_backend_pid()")).scalar_one()
        with pytest.raises(OperationalError), write_transaction(engine, driver=True) as conn:
            conn.exec_driver_sql("SELECT pg_terminate_backend(%(pid)s)", {"pid": pid})
            conn.execute(insert, {"id": "a", "status": "open", "count": 1})
        with write_transaction(engine, driver=True) as conn:  # a new connection
            conn.execute(insert, {"id": "a", "status": "open", "count": 1})
        assert _rows(engine) == [("a", "open", 1)]
    finally:
        engine.dispose()


def test_writes_after_pipeline_wait_for_the_commit_and_keep_their_order(engine: Engine):
    """A row deleted and inserted again (two writes to one table) and several inserts:
    what each transaction leaves is what it would one statement at a time."""
    with write_transaction(engine) as conn:
        conn.execute(insert, [{"id": k, "status": "open", "count": 0} for k in "abc"])
    delete = items.delete().where(items.c.id == bindparam("b_id"))
    with write_transaction(engine, pipelined=True, driver=True) as conn:
        conn.execute(delete, {"b_id": "a"})
        conn.execute(insert, {"id": "a", "status": "held", "count": 1})  # replaced
        conn.execute(insert, [{"id": "d", "status": "open", "count": 4}])
        # a read in between sends what waits first: it sees the writes before it
        assert conn.execute(select(items.c.count).where(by_id), {"b_id": "a"}).scalar() == 1
        conn.execute(insert, [{"id": k, "status": "open", "count": 5} for k in "ef"])
        conn.execute(delete, {"b_id": "b"})
    assert _rows(engine) == [
        ("a", "held", 1),
        ("c", "open", 0),
        ("d", "open", 4),
        ("e", "open", 5),
        ("f", "open", 5),
    ]


def test_a_failed_pipelined_write_fails_at_the_commit_and_leaves_nothing(engine: Engine):
    with write_transaction(engine) as conn:
        conn.execute(insert, {"id": "a", "status": "open", "count": 0})
    committed: list[str] = []
    with (
        pytest.raises(IntegrityError),
        write_transaction(engine, pipelined=True, driver=True) as conn,
    ):
        conn.execute(insert, {"id": "b", "status": "open", "count": 1})
        conn.execute(insert, {"id": "a", "status": "open", "count": 2})  # taken
        after_commit(conn, lambda: committed.append("no"))
    assert committed == []
    assert _rows(engine) == [("a", "open", 0)]
    with write_transaction(engine, driver=True) as conn:  # the connection is sound
        conn.execute(insert, {"id": "b", "status": "open", "count": 1})
        conn.execute(update_open, {"count": 7, "b_id": "a"})
    with pytest.raises(IntegrityError), write_transaction(engine, driver=True) as conn:
        conn.execute(insert, {"id": "c", "status": "open", "count": 3})
        conn.execute(insert, {"id": "b", "status": "open", "count": 3})  # taken
    assert _rows(engine) == [("a", "open", 7), ("b", "open", 1)]


@pytest.mark.parametrize("rows", [1, 2, 40])
def test_every_waiting_write_reaches_the_database(engine: Engine, rows: int):
    """Whether they go as one statement or not (two writes to one row; many rows)."""
    with write_transaction(engine) as conn:
        conn.execute(insert, {"id": "a", "status": "open", "count": 0})
    delete = items.delete().where(items.c.id == bindparam("b_id"))
    with write_transaction(engine, pipelined=True, driver=True) as conn:
        conn.execute(delete, {"b_id": "a"})
        conn.execute(insert, {"id": "a", "status": "held", "count": 1})
    with write_transaction(engine, pipelined=True, driver=True) as conn:
        conn.execute(
            insert, [{"id": f"r{n:02}", "status": "open", "count": n} for n in range(rows)]
        )
    assert _rows(engine) == [
        ("a", "held", 1),
        *((f"r{n:02}", "open", n) for n in range(rows)),
    ]


def test_a_constraint_checked_at_the_commit_fails_as_sqlalchemys_error(
    postgres_server: PostgresServer,
):
    """A deferred constraint fails at COMMIT, not at its statement: the same error."""
    url = normalize_url(postgres_server.create_database(f"driver_{uuid.uuid4().hex[:8]}"))
    engine = create_engine(url, pool_size=1, max_overflow=0)
    marks = Table(
        "driver_marks",
        MetaData(),
        Column("id", Integer, primary_key=True),
        Column("mark", String(8)),
        UniqueConstraint("mark", deferrable=True, initially="DEFERRED"),
    )
    marks.create(engine)
    try:
        committed: list[str] = []
        with pytest.raises(IntegrityError), write_transaction(engine, driver=True) as conn:
            conn.execute(marks.insert(), {"id": 1, "mark": "x"})
            conn.execute(marks.insert(), {"id": 2, "mark": "x"})  # fails at the commit
            after_commit(conn, lambda: committed.append("no"))
        assert committed == []
        with write_transaction(engine, driver=True) as conn:  # the connection is sound
            conn.execute(marks.insert(), {"id": 3, "mark": "y"})
        with engine.connect() as conn:
            assert list(conn.execute(select(marks.c.id)).scalars()) == [3]
    finally:
        engine.dispose()
