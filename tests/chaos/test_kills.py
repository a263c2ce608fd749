"""kill -9 at random points of replicas running durable runs: nothing lost, nothing twice.

The runs (refunds that wait for approval among them, some on shared sessions)
go to engine processes that are killed with SIGKILL at random times: on SQLite
the one replica, restarted; on PostgreSQL one of two, the other taking its runs
over and a new one started. Every run must then be over, its record and event
log whole, no model call it recorded made again, each session's turns whole
and in order (see :func:`~tests.chaos._harness.kill_chaos`).
"""

from __future__ import annotations

import signal
from collections.abc import Callable
from pathlib import Path

import pytest

from ascent.durable import RunRecord
from ascent.durable._store import RunStore
from ascent.testing.mock_openai import MockOpenAIServer
from tests.durable.conftest import DEADLINE, Workers, record_of, wait_for

from ._harness import ChaosModel, RunPlan, kill_chaos

pytestmark = pytest.mark.chaos


def test_a_replica_killed_again_and_again_on_sqlite_loses_no_run(
    sqlite_url: str, mock_openai: MockOpenAIServer, tmp_path: Path, seed: int
) -> None:
    report = kill_chaos(
        url=sqlite_url,
        postgres=False,
        mock=mock_openai,
        marks=tmp_path,
        runs=24,
        kills=5,
        seed=seed,
    )
    print(report)
    assert report.problems == []
    assert report.statuses == {"completed": 24}
    assert report.replicas == 6


def test_replicas_killed_on_postgres_take_each_others_runs_over(
    postgres_url: str, mock_openai: MockOpenAIServer, tmp_path: Path, seed: int
) -> None:
    report = kill_chaos(
        url=postgres_url,
        postgres=True,
        mock=mock_openai,
        marks=tmp_path,
        runs=24,
        kills=5,
        seed=seed,
    )
    print(report)
    assert report.problems == []
    assert report.statuses == {"completed": 24}
    assert report.replicas == 7


# The points where a kill lost runs before the chaos above found them: a start, a decision
# and a takeover each make two writes, and a crash between the two left runs stuck for ever.


def _status(url: str, run_id: str) -> str | None:
    record = record_of(url, run_id)
    return None if record is None else record.status


def test_a_start_cut_between_its_record_and_its_workflow_runs_when_asked_again(
    sqlite_url: str, workers: Callable[[str], Workers], mock_openai: MockOpenAIServer
) -> None:
    plan = RunPlan(key="cut-start")
    mock_openai.responder = ChaosModel({plan.key: plan}, lookup_tool="slow_lookup")
    group = workers(sqlite_url)
    crashed = group.spawn(
        "replica-1", start=plan.key, input=plan.input, crash_on="start_workflow_async"
    )
    crashed.join(DEADLINE)
    assert crashed.exitcode == -signal.SIGKILL
    assert _status(sqlite_url, plan.key) == "running"  # a record, but no workflow behind it

    # the client, which got no answer, asks again with the same run id (Idempotency-Key)
    again = group.spawn("replica-1", start=plan.key, input=plan.input, wait=plan.key)
    record = group.result(again)
    assert (record.status, record.output) == ("completed", plan.output)


def test_a_decision_whose_sender_died_before_sending_it_still_resumes_the_run(
    sqlite_url: str, workers: Callable[[str], Workers], mock_openai: MockOpenAIServer
) -> None:
    plan = RunPlan(key="cut-decision", kind="approval")
    mock_openai.responder = ChaosModel({plan.key: plan}, lookup_tool="slow_lookup")
    group = workers(sqlite_url)
    first = group.spawn("replica-1", start=plan.key, input=plan.input, approval_wait=0.5)
    wait_for(lambda: _status(sqlite_url, plan.key) == "awaiting_approval", "the pause")
    group.kill(first)
    decider = group.spawn("replica-1", approve=plan.key, crash_on="send_async", approval_wait=0.5)
    decider.join(DEADLINE)
    assert decider.exitcode == -signal.SIGKILL
    assert _status(sqlite_url, plan.key) == "running"  # decided: asking again gets a 409

    restarted = group.spawn("replica-1", wait=plan.key, approval_wait=0.5)
    record: RunRecord = group.result(restarted)
    assert (record.status, record.output) == ("completed", plan.output)
    types = [event.type for event in RunStore(sqlite_url).read_events(plan.key, after=0)]
    assert types.count("approval_required") == types.count("run_resumed") == 1


def test_a_takeover_cut_short_by_a_kill_is_taken_over_again(
    postgres_url: str, workers: Callable[[str], Workers], mock_openai: MockOpenAIServer
) -> None:
    plan = RunPlan(key="cut-takeover")
    mock_openai.responder = ChaosModel({plan.key: plan}, lookup_tool="slow_lookup")
    group = workers(postgres_url)
    doomed = group.spawn("replica-a", start=plan.key, input=plan.input, delay=60)
    wait_for(lambda: (group.marks / f"started-{doomed.pid}").exists(), "the tool to start")
    group.kill(doomed)
    # replica-b claims replica-a's runs, and is killed before it has recovered them
    claimer = group.spawn("replica-b", crash_on="_recover_pending_workflows")
    claimer.join(DEADLINE)
    assert claimer.exitcode == -signal.SIGKILL

    group.spawn("replica-c", delay=0)
    wait_for(lambda: _status(postgres_url, plan.key) == "completed", "replica-c to finish the run")
    record = record_of(postgres_url, plan.key)
    assert record is not None and record.output == plan.output
