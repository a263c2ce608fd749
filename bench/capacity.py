"""A capacity model of the service: the cores and the database the course's ladder needs.

From what a served two-step run costs (measured: replica CPU, PostgreSQL CPU,
round trips and transactions per run; ``bench/service.py`` and
``bench/service_ab.py --statements`` measure them), it computes, for each step
of the ladder and each durability mode, how many replica cores and database
cores the step needs, how many connections and commits per second the database
must take, and how many model calls per minute, against what the step's
platform offers; the largest of those ratios is the step's first bottleneck.

A replica is one Python process, so one core at most (the GIL): a replica core
carries ``1000 / replica_cpu_ms`` runs per second at full use. The model plans
for ``--utilization`` of each core (headroom for bursts and the garbage collector).

``--check`` tests the model on this machine (Linux, two cores or more): the load
generator, PostgreSQL and the mock model pinned to core 0 and one replica to
core 1; it measures the replica's CPU per run at a light load, predicts from it
the runs per second one replica core carries, then saturates the replica and
compares. The prediction must be within 20% of what is measured.

    uv run python bench/capacity.py [--steps-replica-ms 19.6 --steps-db-ms 5.0]
        [--run-replica-ms 5.3 --run-db-ms 1.2] [--check]
"""

from __future__ import annotations

import argparse
import asyncio
import math
import os
import uuid
from contextlib import ExitStack
from dataclasses import dataclass, field

from _common import median, mock_server, table, verdict

TOLERANCE = 0.20


@dataclass(frozen=True, kw_only=True)
class Costs:
    """What one served run costs, in one durability mode."""

    mode: str
    replica_cpu_ms: float
    db_cpu_ms: float
    round_trips: float  # statements, BEGINs and COMMITs sent to the database per run
    commits: float  # write transactions per run
    model_calls: float = 2.0
    measured: bool = True  # False: a target or an estimate, not yet measured


@dataclass(frozen=True, kw_only=True)
class Rung:
    """A step of the ladder: the load, and what its platform offers."""

    name: str
    runs_per_second: float
    replica_cores_each: float  # CPU of one replica (a container's vCPU share, at most 1)
    replicas_max: int
    db_cores_max: float  # the largest single PostgreSQL the platform offers
    db_connections_max: int
    db_commits_max: float  # commits/s one primary sustains (an assumption)
    model_rpm_max: float  # the model API's requests per minute (the account's limit)


@dataclass(frozen=True, kw_only=True)
class Plan:
    rung: Rung
    costs: Costs
    replica_cores: float
    replicas: int
    db_cores: float
    connections: int
    commits_per_second: float
    round_trips_per_second: float
    model_rpm: float
    ratios: dict[str, float] = field(default_factory=dict)

    @property
    def bottleneck(self) -> str:
        return max(self.ratios, key=lambda name: self.ratios[name])


def plan(
    rung: Rung,
    costs: Costs,
    *,
    utilization: float = 0.7,
    pool_per_replica: int = 40,
    db_rtt_ms: float = 0.5,
) -> Plan:
    """What ``rung`` needs with ``costs`` per run.

    Connections: each replica keeps its pools open under load (``pool_per_replica``:
    DBOS's 20 and the run store's 20), or more if the round trips keep more busy
    (Little's law: runs/s x round trips x the round-trip time).
    """
    rate = rung.runs_per_second
    replica_cores = rate * costs.replica_cpu_ms / 1000 / utilization
    replicas = max(1, math.ceil(replica_cores / rung.replica_cores_each))
    db_cores = rate * costs.db_cpu_ms / 1000 / utilization
    trips = rate * costs.round_trips
    busy = trips * db_rtt_ms / 1000
    connections = max(replicas * pool_per_replica, math.ceil(busy / utilization))
    commits = rate * costs.commits
    model_rpm = rate * costs.model_calls * 60
    ratios = {
        "replica CPU": replica_cores / (rung.replicas_max * rung.replica_cores_each),
        "database CPU": db_cores / rung.db_cores_max,
        "database connections": connections / rung.db_connections_max,
        "database writes": commits / rung.db_commits_max,
        "model API rate limit": model_rpm / rung.model_rpm_max,
    }
    return Plan(
        rung=rung,
        costs=costs,
        replica_cores=replica_cores,
        replicas=replicas,
        db_cores=db_cores,
        connections=connections,
        commits_per_second=commits,
        round_trips_per_second=trips,
        model_rpm=model_rpm,
        ratios=ratios,
    )


# The course's ladder. The platforms' limits are assumptions, stated in docs/scaling.md.
LADDER = [
    Rung(
        name="100 users, a free container",
        runs_per_second=100 / 60,  # each user starts a run a minute
        replica_cores_each=1.0,
        replicas_max=1,
        db_cores_max=1.0,  # a burstable one-core PostgreSQL
        db_connections_max=50,
        db_commits_max=1_000,
        model_rpm_max=500,
    ),
    Rung(
        name="10,000 requests/min, Azure Container Apps",
        runs_per_second=10_000 / 60,
        replica_cores_each=0.5,  # deploy/azure/containerapp.yaml
        replicas_max=300,
        db_cores_max=96,  # Azure Database for PostgreSQL, flexible server
        db_connections_max=5_000,
        db_commits_max=20_000,
        model_rpm_max=30_000,
    ),
    Rung(
        name="10,000 runs/s, Kubernetes",
        runs_per_second=10_000,
        replica_cores_each=1.0,
        replicas_max=5_000,
        db_cores_max=128,
        db_connections_max=5_000,
        db_commits_max=50_000,
        model_rpm_max=1_000_000,
    ),
]


def costs_from(args: argparse.Namespace) -> list[Costs]:
    return [
        Costs(
            mode="steps",
            replica_cpu_ms=args.steps_replica_ms,
            db_cpu_ms=args.steps_db_ms,
            round_trips=args.steps_round_trips,
            commits=args.steps_commits,
        ),
        Costs(
            mode="run",
            replica_cpu_ms=args.run_replica_ms,
            db_cpu_ms=args.run_db_ms,
            round_trips=args.run_round_trips,
            commits=args.run_commits,
            measured=not args.run_estimated,
        ),
    ]


def report(plans: list[Plan]) -> None:
    rows = [
        [
            "step",
            "mode",
            "runs/s",
            "replica cores",
            "replicas",
            "DB cores",
            "DB conns",
            "commits/s",
            "model RPM",
            "first bottleneck",
        ]
    ]
    for p in plans:
        mode = p.costs.mode + ("" if p.costs.measured else " (est.)")
        worst = p.bottleneck
        rows.append(
            [
                p.rung.name,
                mode,
                f"{p.rung.runs_per_second:,.1f}",
                f"{p.replica_cores:,.2f}",
                f"{p.replicas:,}",
                f"{p.db_cores:,.2f}",
                f"{p.connections:,}",
                f"{p.commits_per_second:,.0f}",
                f"{p.model_rpm:,.0f}",
                f"{worst} ({p.ratios[worst]:.2f} of the limit)",
            ]
        )
    print(table(rows))


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n", 1)[0])
    # steps mode: bench/service.py at 50 clients, bench/service_ab.py --statements
    parser.add_argument("--steps-replica-ms", type=float, default=19.6)
    parser.add_argument("--steps-db-ms", type=float, default=5.0)
    parser.add_argument("--steps-round-trips", type=float, default=38.7)
    parser.add_argument("--steps-commits", type=float, default=11.0)
    # run mode: measured the same way (service_ab.py --durability run)
    parser.add_argument("--run-replica-ms", type=float, default=5.3)
    parser.add_argument("--run-db-ms", type=float, default=1.2)
    parser.add_argument("--run-round-trips", type=float, default=6.0)
    parser.add_argument("--run-commits", type=float, default=2.4)
    parser.add_argument(
        "--run-estimated", action="store_true", help="the run-mode figures are estimates"
    )
    parser.add_argument("--utilization", type=float, default=0.7)
    parser.add_argument("--check", action="store_true", help="check the model on this machine")
    parser.add_argument("--clients", type=int, default=50, help="clients that saturate (check)")
    parser.add_argument("--runs", type=int, default=300, help="runs per measurement (check)")
    parser.add_argument("--quick", action="store_true", help="a tiny run (the smoke test)")
    args = parser.parse_args(argv)
    if args.quick:
        args.clients, args.runs = 8, 16
    costs = costs_from(args)
    print(
        "capacity model: replica cores and database for the ladder, "
        f"each core planned at {args.utilization:.0%}"
    )
    report([plan(rung, c, utilization=args.utilization) for rung in LADDER for c in costs])
    if not args.check:
        return 0
    return 0 if check(args) else 1


def check(args: argparse.Namespace) -> bool:
    """Pinned to two cores: predicted runs/s of one replica core against measured."""
    from service import Meter, load, pin_process, replica

    from ascent.testing.postgres import PostgresServer

    if not hasattr(os, "sched_setaffinity") or len(os.sched_getaffinity(0)) < 2:
        print("check: needs Linux and two cores; skipped")
        return True
    cores = sorted(os.sched_getaffinity(0))
    load_core, replica_core = cores[0], cores[1]
    os.sched_setaffinity(0, {load_core})  # everything started from here inherits it
    meter = Meter()
    try:
        with ExitStack() as stack:
            postgres = stack.enter_context(PostgresServer())
            meter.postmaster = postgres.data_dir / "postmaster.pid"
            url = postgres.create_database(f"bench_{uuid.uuid4().hex[:8]}")
            model_url = stack.enter_context(
                mock_server(latency=0.05, started=lambda pid: meter.add("mock model", pid))
            )
            pids: dict[str, int] = {}
            base = stack.enter_context(replica(url, model_url, "replica", meter, pids=pids))
            pin_process(pids["replica"], replica_core)

            def point(clients: int) -> tuple[float, float, float]:
                per_client = max(1, -(-args.runs // clients))
                f = asyncio.run(
                    load([base], clients=clients, runs_per_client=per_client, meter=meter)
                )
                cpu = f.cpu.get("replica", 0.0)
                return f.per_second, cpu / f.runs * 1000, cpu / f.seconds

            light = max(1, args.clients // 5)
            lights, fulls = [], []
            for _ in range(1 if args.quick else 3):  # alternate, so both see the same machine
                lights.append(point(light))
                fulls.append(point(args.clients))
    finally:
        os.sched_setaffinity(0, set(cores))
    cpu_light = median([p[1] for p in lights])
    predicted = 1000 / cpu_light
    rate = median([p[0] for p in fulls])
    busy = median([p[2] for p in fulls])
    per_core = rate / busy if busy else 0.0
    error = abs(per_core - predicted) / predicted
    print(
        f"check, one replica pinned to core {replica_core}, the rest to core {load_core}:\n"
        f"  replica CPU per run at {light} clients: {cpu_light:.1f} ms -> model: "
        f"{predicted:.1f} runs/s per replica core\n"
        f"  at {args.clients} clients: {rate:.1f} runs/s with the replica using "
        f"{busy:.2f} of its core -> {per_core:.1f} runs/s per replica core, "
        f"{median([p[1] for p in fulls]):.1f} ms per run\n"
        f"  model vs measured: {error:.0%} apart (within {TOLERANCE:.0%}: "
        f"{verdict(error <= TOLERANCE)})"
    )
    return error <= TOLERANCE or args.quick


if __name__ == "__main__":
    raise SystemExit(main())
