"""Requests that race, through the service: one winner, one consistent end, whole turns.

See :func:`~tests.chaos._harness.races`: an approval and a rejection sent at
once, a cancellation and an approval sent at once, and runs started at once on
one session, each race repeated.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from ascent.durable import RunRecord
from ascent.durable._store import RunStore
from ascent.testing.mock_openai import MockOpenAIServer

from ._harness import Service, races

pytestmark = pytest.mark.chaos


@pytest.mark.asyncio
async def test_races_end_with_one_winner_and_whole_turns(
    service: Service, mock_openai: MockOpenAIServer, seed: int
) -> None:
    report = await races(service, mock_openai, reps=20, seed=seed)
    print(report)
    assert report.problems == []
    assert report.traffic.server_errors == 0 and report.traffic.errors == []
    assert sum(report.decisions.values()) == sum(report.cancels.values()) == 20
    assert report.sessions == {"3 of 3 completed, whole turns": 20}


@pytest.mark.parametrize("url", ["sqlite_url", "postgres_url"])
def test_a_run_on_a_session_comes_after_every_run_written_before_it(
    url: str, request: pytest.FixtureRequest
) -> None:
    """What the race of runs started at once on one session came down to: a run
    stamped earlier but written later was first in line, after a later run had
    looked for the runs before it and gone ahead: two runs at once on a session."""
    store = RunStore(request.getfixturevalue(url))
    now = datetime.now(UTC)

    def run(run_id: str, created_at: datetime) -> RunRecord:
        return RunRecord(
            id=run_id,
            agent="support",
            session_id="s",
            status="running",
            created_at=created_at,
            updated_at=created_at,
        )

    assert store.insert_run(run("later", now))
    assert store.run_before_on_session("later", "s") is None  # it goes ahead
    assert store.insert_run(run("earlier", now - timedelta(seconds=1)))  # written after it
    assert store.run_before_on_session("earlier", "s") == "later"
