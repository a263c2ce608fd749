"""A run's events reach a stream on another replica without polling (PostgreSQL NOTIFY).

The replicas look at the database for news only every 30 seconds here: a stream on
replica B that follows a run executing on replica A gets each event within a few
seconds only if A's writes wake it.
"""

from __future__ import annotations

import time
import uuid
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from ascent.testing.postgres import PostgresServer

from .conftest import replicas as serving_replicas
from .conftest import sse_events

HEADERS = {"Authorization": "Bearer key-acme"}
SLOW_POLL = 30.0
WITHIN = 5.0  # far below SLOW_POLL


@pytest.fixture(scope="module")
def gates(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return tmp_path_factory.mktemp("gates")


@pytest.fixture(scope="module")
def slow_polling_replicas(
    postgres_server: PostgresServer, gates: Path
) -> Iterator[tuple[str, str]]:
    url = postgres_server.create_database(f"news_{uuid.uuid4().hex[:12]}")
    env = {"SERVED_POLL_INTERVAL": str(SLOW_POLL), "SERVED_GATES": str(gates)}
    with serving_replicas(url, "news-a", "news-b", env=env) as (a, b):
        yield a, b


def test_a_stream_on_b_follows_a_run_on_a_as_it_happens(
    slow_polling_replicas: tuple[str, str], gates: Path
) -> None:
    a, b = slow_polling_replicas
    item = f"gated-{uuid.uuid4().hex[:8]}"
    with httpx.Client(headers=HEADERS, timeout=SLOW_POLL * 2) as client:
        run = client.post(
            f"{a}/v1/agents/Warehouse/runs",
            json={"input": f'Count the inventory of "{item}"', "wait": False},
        ).json()
        started = time.monotonic()
        seen: list[dict[str, object]] = []
        opened_at = None
        with client.stream("GET", f"{b}/v1/runs/{run['id']}/events") as stream:
            buffer = ""
            for chunk in stream.iter_text():
                buffer += chunk
                seen = sse_events(buffer.rsplit("\n\n", 1)[0] + "\n\n") if "\n\n" in buffer else []
                calls = [e for e in seen if e["event"] == "item"]
                if opened_at is None and any(
                    e["data"]["data"]["name"] == "tool_call"  # type: ignore[index]
                    for e in calls
                ):
                    # the tool call reached B while the tool waits on A: now let it finish
                    assert time.monotonic() - started < WITHIN
                    (gates / item).touch()
                    opened_at = time.monotonic()
            finished_at = time.monotonic()
    assert opened_at is not None, "the tool call never reached the stream on B"
    assert finished_at - opened_at < WITHIN  # the result, the answer and the end: all woken
    assert seen[-1]["event"] == "run"
    assert seen[-1]["data"]["status"] == "completed"  # type: ignore[index]
    ids = [int(str(e["id"])) for e in seen[:-1]]
    assert ids == list(range(1, len(ids) + 1))  # nothing missed, nothing twice
