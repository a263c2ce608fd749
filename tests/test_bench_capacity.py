"""bench/capacity.py: the capacity model's arithmetic, and the script runs and prints its table.

Nothing is timed here: the model is checked on fixed inputs, and the pinned
check runs with tiny counts (its verdict is not asserted).
"""

from __future__ import annotations

import math
import re

import pytest

from tests.test_bench_smoke import load


@pytest.fixture
def capacity(monkeypatch: pytest.MonkeyPatch):  # type: ignore[no-untyped-def]
    return load("capacity", monkeypatch)


def test_cores_follow_cpu_per_run(capacity) -> None:  # type: ignore[no-untyped-def]
    rung = capacity.LADDER[1]  # 10,000 requests a minute
    costs = capacity.Costs(
        mode="steps", replica_cpu_ms=10.0, db_cpu_ms=4.0, round_trips=50, commits=10
    )
    one = capacity.plan(rung, costs, utilization=0.5)
    assert math.isclose(one.replica_cores, rung.runs_per_second * 0.010 / 0.5)
    assert math.isclose(one.db_cores, rung.runs_per_second * 0.004 / 0.5)
    assert one.replicas == math.ceil(one.replica_cores / rung.replica_cores_each)
    assert math.isclose(one.commits_per_second, rung.runs_per_second * 10)
    doubled = capacity.plan(
        rung,
        capacity.Costs(
            mode="steps", replica_cpu_ms=20.0, db_cpu_ms=4.0, round_trips=50, commits=10
        ),
        utilization=0.5,
    )
    assert math.isclose(doubled.replica_cores, 2 * one.replica_cores)


def test_the_first_bottleneck_is_the_limit_most_used(capacity) -> None:  # type: ignore[no-untyped-def]
    rung = capacity.Rung(
        name="tiny",
        runs_per_second=100,
        replica_cores_each=1.0,
        replicas_max=100,
        db_cores_max=100,
        db_connections_max=100_000,
        db_commits_max=500,  # 100 runs/s x 10 commits: twice the limit
        model_rpm_max=1e9,
    )
    costs = capacity.Costs(
        mode="steps", replica_cpu_ms=1.0, db_cpu_ms=1.0, round_trips=10, commits=10
    )
    assert capacity.plan(rung, costs).bottleneck == "database writes"
    limited = capacity.Rung(**{**rung.__dict__, "db_commits_max": 1e9, "model_rpm_max": 6_000})
    assert capacity.plan(limited, costs).bottleneck == "model API rate limit"  # 12,000 RPM


def test_capacity_prints_the_ladder_and_the_check(
    capacity,  # type: ignore[no-untyped-def]
    capsys: pytest.CaptureFixture[str],
) -> None:
    assert capacity.main(["--quick", "--check"]) == 0
    out = capsys.readouterr().out
    for text in ("free container", "Azure Container Apps", "Kubernetes", "first bottleneck"):
        assert text in out
    assert "steps" in out and "run" in out
    assert re.search(r"\d+(\.\d+)? ms", out)
    assert "runs/s per replica core" in out or "skipped" in out
