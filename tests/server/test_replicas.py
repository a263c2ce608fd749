"""Two replicas (separate uvicorn processes) on one PostgreSQL serve the same runs.

A run started through one replica is read, approved and streamed through the
other: nothing a request needs lives in a replica's memory.
"""

from __future__ import annotations

import uuid
from collections.abc import Iterator

import httpx
import pytest

from ascent.testing.postgres import PostgresServer

from .conftest import refund_across, sse_events
from .conftest import replicas as serving_replicas

HEADERS = {"Authorization": "Bearer key-acme"}


@pytest.fixture(scope="module")
def replicas(postgres_server: PostgresServer) -> Iterator[tuple[str, str]]:
    """Two replicas for the module's tests (starting a Python process is the slow part)."""
    url = postgres_server.create_database(f"service_{uuid.uuid4().hex[:12]}")
    with serving_replicas(url, "replica-a", "replica-b") as (a, b):
        yield a, b


def test_a_run_started_on_one_replica_is_served_by_the_other(
    replicas: tuple[str, str],
) -> None:
    a, b = replicas
    with httpx.Client(headers=HEADERS, timeout=30) as client:
        run, decided = refund_across(client, a, b, {"input": "Refund order A-1042"})
        assert client.get(f"{a}/v1/runs/{run['id']}").json() == decided

        other = client.get(
            f"{b}/v1/runs/{run['id']}", headers={"Authorization": "Bearer key-globex"}
        )
        assert other.status_code == 404


def test_a_session_continues_across_replicas(replicas: tuple[str, str]) -> None:
    a, b = replicas
    with httpx.Client(headers=HEADERS, timeout=30) as client:
        first = client.post(
            f"{a}/v1/agents/Echo/runs", json={"input": "My name is Ada.", "session_id": "s-1"}
        ).json()
        second = client.post(
            f"{b}/v1/agents/Echo/runs",
            json={"input": "What is my name?", "session_id": "s-1", "stream": True},
        )
        assert first["status"] == "completed"
        assert sse_events(second.text)[-1]["data"]["status"] == "completed"
        items = client.get(f"{a}/v1/sessions/s-1/items").json()["items"]
        assert [item["content"] for item in items if item.get("role") == "user"] == [
            "My name is Ada.",
            "What is my name?",
        ]
