"""A2A tasks in the project database, so any replica can answer ``GetTask``.

:class:`SQLTaskStore` implements the SDK's ``TaskStore`` over the shared engine
of :func:`ascent.storage.get_engine` (SQLite by default, PostgreSQL by URL). The
SDK's own ``DatabaseTaskStore`` needs an async driver (aiosqlite, asyncpg); this
one runs the project's synchronous engine in a worker thread, like sessions do.

Beside the tasks, the store keeps the :class:`ascent.RunState` of each task
paused for approval: it is what the task resumes from when the client answers,
on whichever replica receives the answer. It is kept apart from the task
because a task is shown to clients and a run state holds the agent's internals.

Two tables::

    ascent_a2a_tasks(owner, task_id, context_id, state, updated_ns, task_json)  PK (owner, task_id)
    ascent_a2a_run_states(task_id PK, state_json, updated_at)
"""

from __future__ import annotations

import asyncio
import time
from typing import TYPE_CHECKING, Any

from a2a.server.context import ServerCallContext
from a2a.server.owner_resolver import OwnerResolver, resolve_user_scope
from a2a.server.tasks import TaskStore
from a2a.types import ListTasksRequest, ListTasksResponse, Task
from a2a.utils.constants import DEFAULT_LIST_TASKS_PAGE_SIZE, MAX_LIST_TASKS_PAGE_SIZE
from a2a.utils.errors import InvalidParamsError
from a2a.utils.task import ListTasksCursor, decode_list_tasks_cursor, encode_list_tasks_cursor
from google.protobuf.json_format import MessageToJson, Parse

from ..storage import LazyTables, database_url, write_transaction

if TYPE_CHECKING:
    from sqlalchemy import Table
    from sqlalchemy.engine import Connection, Engine

__all__ = ["RUN_STATES_TABLE", "TASKS_TABLE", "SQLTaskStore"]

TASKS_TABLE = "ascent_a2a_tasks"
RUN_STATES_TABLE = "ascent_a2a_run_states"
_NO_TIMESTAMP = -1  # sorts after every real timestamp, as the SDK's own stores order them


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
    tasks = Table(
        TASKS_TABLE,
        metadata,
        Column("owner", String(255), primary_key=True),
        Column("task_id", String(255), primary_key=True),
        Column("context_id", String(255), nullable=False),
        Column("state", Integer, nullable=False),
        Column("updated_ns", BigInteger, nullable=False),
        Column("task_json", Text, nullable=False),
        Index(f"ix_{TASKS_TABLE}_owner_updated", "owner", "updated_ns", "task_id"),
    )
    run_states = Table(
        RUN_STATES_TABLE,
        metadata,
        Column("task_id", String(255), primary_key=True),
        Column("state_json", Text, nullable=False),
        Column("updated_at", Double, nullable=False),
    )
    return tasks, run_states


_schema = LazyTables(_declare)


class SQLTaskStore(TaskStore):
    """The SDK's ``TaskStore`` over the project database (any SQLAlchemy URL).

    ``url`` defaults to :func:`ascent.storage.database_url`. Tasks are scoped by
    owner (the SDK's ``owner_resolver``: the authenticated user's name by
    default), as the SDK's own stores are.
    """

    def __init__(
        self, url: str | None = None, *, owner_resolver: OwnerResolver = resolve_user_scope
    ) -> None:
        self.url = url or database_url()
        self._owner = owner_resolver

    @property
    def engine(self) -> Engine:
        return _schema.engine(self.url)

    # ------------------------------------------------------------ TaskStore

    async def save(self, task: Task, context: ServerCallContext) -> None:
        owner = self._owner(context)
        row = {
            "context_id": task.context_id,
            "state": int(task.status.state),
            "updated_ns": _timestamp_ns(task),
            "task_json": MessageToJson(task, indent=None),
        }
        await asyncio.to_thread(self._save, owner, task.id, row)

    def _save(self, owner: str, task_id: str, row: dict[str, Any]) -> None:
        tasks, _ = _schema()
        with write_transaction(self.engine) as conn:
            where = (tasks.c.owner == owner) & (tasks.c.task_id == task_id)
            if conn.execute(tasks.update().where(where).values(**row)).rowcount == 0:
                conn.execute(tasks.insert().values(owner=owner, task_id=task_id, **row))

    async def get(self, task_id: str, context: ServerCallContext) -> Task | None:
        return await asyncio.to_thread(self._get, self._owner(context), task_id)

    def _get(self, owner: str, task_id: str) -> Task | None:
        from sqlalchemy import select

        tasks, _ = _schema()
        query = select(tasks.c.task_json).where(
            (tasks.c.owner == owner) & (tasks.c.task_id == task_id)
        )
        with self.engine.connect() as conn:
            text = conn.execute(query).scalar_one_or_none()
        return None if text is None else Parse(text, Task())

    async def list(self, params: ListTasksRequest, context: ServerCallContext) -> ListTasksResponse:
        return await asyncio.to_thread(self._list, self._owner(context), params)

    def _list(self, owner: str, params: ListTasksRequest) -> ListTasksResponse:
        from sqlalchemy import and_, func, or_, select

        tasks, _ = _schema()
        conditions = [tasks.c.owner == owner]
        if params.context_id:
            conditions.append(tasks.c.context_id == params.context_id)
        if params.status:
            conditions.append(tasks.c.state == int(params.status))
        if params.HasField("status_timestamp_after"):
            conditions.append(tasks.c.updated_ns >= params.status_timestamp_after.ToNanoseconds())
        page_size = params.page_size or DEFAULT_LIST_TASKS_PAGE_SIZE
        if not 1 <= page_size <= MAX_LIST_TASKS_PAGE_SIZE:
            raise InvalidParamsError(f"page_size must be between 1 and {MAX_LIST_TASKS_PAGE_SIZE}")
        page = list(conditions)
        if params.page_token:
            cursor = decode_list_tasks_cursor(params.page_token)
            if cursor is None:
                raise InvalidParamsError(f"invalid page token: {params.page_token}")
            after = _NO_TIMESTAMP if cursor.timestamp_ns is None else cursor.timestamp_ns
            page.append(
                or_(
                    tasks.c.updated_ns < after,
                    and_(tasks.c.updated_ns == after, tasks.c.task_id < cursor.task_id),
                )
            )
        query = (
            select(tasks.c.task_json, tasks.c.updated_ns, tasks.c.task_id)
            .where(and_(*page))
            .order_by(tasks.c.updated_ns.desc(), tasks.c.task_id.desc())
            .limit(page_size + 1)
        )
        with self.engine.connect() as conn:
            rows = conn.execute(query).all()
            total = conn.execute(select(func.count()).where(and_(*conditions))).scalar_one()
        next_token = ""
        if len(rows) > page_size:
            rows = rows[:page_size]
            last = rows[-1]
            stamp = None if last.updated_ns == _NO_TIMESTAMP else last.updated_ns
            next_token = encode_list_tasks_cursor(ListTasksCursor(stamp, last.task_id))
        return ListTasksResponse(
            tasks=[Parse(row.task_json, Task()) for row in rows],
            next_page_token=next_token,
            total_size=total,
            page_size=page_size,
        )

    async def delete(self, task_id: str, context: ServerCallContext) -> None:
        owner = self._owner(context)
        await asyncio.to_thread(self._delete, owner, task_id)

    def _delete(self, owner: str, task_id: str) -> None:
        tasks, run_states = _schema()
        with write_transaction(self.engine) as conn:
            where = (tasks.c.owner == owner) & (tasks.c.task_id == task_id)
            if conn.execute(tasks.delete().where(where)).rowcount:
                conn.execute(run_states.delete().where(run_states.c.task_id == task_id))

    # ------------------------------------------------------ paused run states

    async def save_run_state(self, task_id: str, state_json: str) -> None:
        """Keep the state of a run paused for approval, to resume when the client answers."""
        await asyncio.to_thread(self._save_run_state, task_id, state_json)

    def _save_run_state(self, task_id: str, state_json: str) -> None:
        _, run_states = _schema()
        with write_transaction(self.engine) as conn:
            _upsert_run_state(conn, run_states, task_id, state_json)

    async def load_run_state(self, task_id: str) -> str | None:
        return await asyncio.to_thread(self._load_run_state, task_id)

    def _load_run_state(self, task_id: str) -> str | None:
        from sqlalchemy import select

        _, run_states = _schema()
        query = select(run_states.c.state_json).where(run_states.c.task_id == task_id)
        with self.engine.connect() as conn:
            value: str | None = conn.execute(query).scalar_one_or_none()
        return value

    async def delete_run_state(self, task_id: str) -> None:
        await asyncio.to_thread(self._delete_run_state, task_id)

    def _delete_run_state(self, task_id: str) -> None:
        _, run_states = _schema()
        with write_transaction(self.engine) as conn:
            conn.execute(run_states.delete().where(run_states.c.task_id == task_id))


def _upsert_run_state(conn: Connection, table: Table, task_id: str, state_json: str) -> None:
    values = {"state_json": state_json, "updated_at": time.time()}
    updated = conn.execute(table.update().where(table.c.task_id == task_id).values(**values))
    if updated.rowcount == 0:
        conn.execute(table.insert().values(task_id=task_id, **values))


def _timestamp_ns(task: Task) -> int:
    if task.HasField("status") and task.status.HasField("timestamp"):
        return int(task.status.timestamp.ToNanoseconds())
    return _NO_TIMESTAMP
