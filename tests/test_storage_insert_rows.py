"""``insert_rows``: many rows with one statement on PostgreSQL, the driver's own
execution elsewhere; every value, NULLs included, lands where it belongs."""

from __future__ import annotations

import uuid
from pathlib import Path

import pytest
from sqlalchemy import Column, Double, Integer, MetaData, String, Table, Text, create_engine, select
from sqlalchemy.exc import IntegrityError

from ascent.storage import insert_rows, write_transaction


@pytest.fixture(params=["sqlite", "postgresql"])
def url(request: pytest.FixtureRequest, tmp_path: Path) -> str:
    if request.param == "sqlite":
        return f"sqlite:///{tmp_path / 'rows.db'}"
    server = request.getfixturevalue("postgres_server")
    return str(server.create_database(f"rows_{uuid.uuid4().hex[:12]}"))


def test_rows_of_every_type_and_nulls_are_inserted_as_given(url: str) -> None:
    metadata = MetaData()
    table = Table(
        "insert_rows_probe",
        metadata,
        Column("id", String(255), primary_key=True),
        Column("note", Text),
        Column("count", Integer),
        Column("at", Double, nullable=False),
    )
    engine = create_engine(url)
    metadata.create_all(engine)
    rows = [
        {"id": "a", "note": 'it\'s {1,2} "quoted", back\\slash', "count": 1, "at": 1.5},
        {"id": "b", "note": None, "count": None, "at": 2.0},
        {"id": "c", "note": "NULL", "count": 2**31 - 1, "at": 0.0},
    ]
    nulls = [{"id": "d", "note": None, "count": None, "at": 3.25}]  # one row: a plain insert
    with write_transaction(engine) as conn:
        insert_rows(conn, table, rows)
        insert_rows(conn, table, nulls)
        insert_rows(conn, table, [])
    only_nulls = [{"id": f"n{i}", "note": None, "count": None, "at": 4.0} for i in range(3)]
    with write_transaction(engine) as conn:
        insert_rows(conn, table, only_nulls)
    with engine.connect() as conn:
        found = [dict(row) for row in conn.execute(select(table).order_by(table.c.id)).mappings()]
    assert found == sorted([*rows, *nulls, *only_nulls], key=lambda row: str(row["id"]))
    engine.dispose()


def test_a_failed_row_inserts_none_of_them(url: str) -> None:
    metadata = MetaData()
    table = Table("insert_rows_unique", metadata, Column("id", String(255), primary_key=True))
    engine = create_engine(url)
    metadata.create_all(engine)
    with (
        pytest.raises(IntegrityError, match=r"(?i)unique|duplicate"),
        write_transaction(engine) as conn,
    ):
        insert_rows(conn, table, [{"id": "x"}, {"id": "y"}, {"id": "x"}])
    with engine.connect() as conn:
        assert conn.execute(select(table)).all() == []
    engine.dispose()
