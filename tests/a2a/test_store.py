"""The A2A task store in the project database: SQLite and a real PostgreSQL."""

from __future__ import annotations

import uuid
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
from a2a.auth.user import User
from a2a.helpers import new_text_part
from a2a.server.context import ServerCallContext
from a2a.types import (
    GetTaskRequest,
    ListTasksRequest,
    Task,
    TaskState,
    TaskStatus,
)
from a2a.utils.errors import InvalidParamsError

from ascent import Agent
from ascent.a2a import SQLTaskStore, create_a2a_app
from ascent.storage import dispose_engines
from ascent.testing import ScriptedModel
from ascent.testing.postgres import PostgresServer

from .test_server import final_task, sdk_client, send

Serve = Callable[[Any], str]


class Named(User):
    def __init__(self, name: str) -> None:
        self._name = name

    @property
    def is_authenticated(self) -> bool:
        return True

    @property
    def user_name(self) -> str:
        return self._name


def as_user(name: str) -> ServerCallContext:
    return ServerCallContext(user=Named(name))


@pytest.fixture(params=["sqlite", "postgresql"])
def database_url(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[str]:
    if request.param == "sqlite":
        yield f"sqlite:///{tmp_path / 'tasks.db'}"
    else:
        server: PostgresServer = request.getfixturevalue("postgres_server")
        yield server.create_database(f"a2a_{uuid.uuid4().hex[:12]}")
    dispose_engines()


def task(
    task_id: str, *, context: str = "c1", state: int = TaskState.TASK_STATE_WORKING, at: int = 0
) -> Task:
    status = TaskStatus(state=state)
    if at:
        status.timestamp.FromNanoseconds(at)
    return Task(id=task_id, context_id=context, status=status)


async def test_save_get_update_delete(database_url: str) -> None:
    store = SQLTaskStore(database_url)
    alice = as_user("alice")
    await store.save(task("t1"), alice)
    assert (await store.get("t1", alice)) == task("t1")

    done = task("t1", state=TaskState.TASK_STATE_COMPLETED, at=5)
    done.artifacts.add(artifact_id="answer", parts=[new_text_part("hi")])
    await store.save(done, alice)
    assert (await store.get("t1", alice)) == done
    assert (await store.get("t1", as_user("bob"))) is None  # tasks are scoped to their owner

    await store.save_run_state("t1", '{"paused": true}')
    assert await store.load_run_state("t1") == '{"paused": true}'
    await store.save_run_state("t1", '{"paused": 2}')
    assert await store.load_run_state("t1") == '{"paused": 2}'
    await store.delete("t1", alice)
    assert (await store.get("t1", alice)) is None
    assert await store.load_run_state("t1") is None  # deleting a task drops its paused run
    await store.delete("t1", alice)  # deleting twice is harmless


async def test_list_filters_orders_and_pages(database_url: str) -> None:
    store = SQLTaskStore(database_url)
    me = as_user("me")
    for number in range(5):
        await store.save(task(f"t{number}", at=(number + 1) * 1000), me)
    await store.save(task("other-context", context="c2", at=10_000), me)
    await store.save(task("no-time"), me)
    await store.save(task("done", state=TaskState.TASK_STATE_COMPLETED, at=20_000), me)
    await store.save(task("not-mine", at=30_000), as_user("someone else"))

    everything = await store.list(ListTasksRequest(), me)
    assert [t.id for t in everything.tasks] == [
        "done",
        "other-context",
        "t4",
        "t3",
        "t2",
        "t1",
        "t0",
        "no-time",
    ]
    assert everything.total_size == 8

    seen: list[str] = []
    token = ""
    while True:
        page = await store.list(
            ListTasksRequest(context_id="c1", page_size=2, page_token=token), me
        )
        assert page.total_size == 7
        seen += [t.id for t in page.tasks]
        token = page.next_page_token
        if not token:
            break
    assert seen == ["done", "t4", "t3", "t2", "t1", "t0", "no-time"]

    completed = await store.list(ListTasksRequest(status=TaskState.TASK_STATE_COMPLETED), me)
    assert [t.id for t in completed.tasks] == ["done"]
    with pytest.raises(InvalidParamsError):
        await store.list(ListTasksRequest(page_token="garbage"), me)


async def test_a_served_agent_keeps_its_tasks_in_the_database(
    serve: Serve, database_url: str
) -> None:
    agent = Agent(name="Keeper", model=ScriptedModel(["kept"]))
    client = await sdk_client(
        serve(create_a2a_app(agent, database_url=database_url)), streaming=False
    )
    done = final_task(await send(client, new_text_part("remember this")))

    # a replica on the same database, with a different agent object, answers GetTask
    other = create_a2a_app(Agent(name="Keeper"), database_url=database_url)
    replica = await sdk_client(serve(other), streaming=False)
    stored = await replica.get_task(GetTaskRequest(id=done.id))
    assert stored.status.state == TaskState.TASK_STATE_COMPLETED
    assert stored.artifacts[0].parts[0].text == "kept"
    assert stored.history[0].parts[0].text == "remember this"
    await client.close()
    await replica.close()
