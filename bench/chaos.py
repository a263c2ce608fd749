"""Chaos and load, long: what tests/chaos runs at CI size, at full size, with its figures.

Five parts, each the harness's scenario (``tests/chaos/_harness.py``), on
loopback only, the model the mock server in this process:

1. kill -9 of durable replicas at random points while runs (refunds awaiting
   approval among them, some on shared sessions) start and get approved: on
   SQLite (one replica, restarted) and on PostgreSQL (two, a new one started
   for each killed, the other taking the dead one's runs over). Every run must
   end; none lost or duplicated; no recorded model call made again; each
   session's turns whole and in order.
2. A misbehaving model (3 answers in 10 a fault: 429 with Retry-After, 500, a
   hang past the model timeout, malformed JSON, a cut stream, a dropped
   connection) through the service (``ascent serve``, PostgreSQL), runs
   streamed and plain: how each fault kind ended; no 5xx, no hung run, no cut
   stream, no unhandled exception in the log.
3. Clients following event streams for a while: errors, latency, and the
   service's RSS and open descriptors before, during and after.
4. Races (approve and reject at once, cancel and decide at once, runs at once
   on one session), repeated.
5. A stateful, authenticated schemathesis fuzz: no 5xx, no cut stream.

    uv run python bench/chaos.py [--seed N] [--runs 100] [--kills 20] [--fault-runs 1000]
        [--clients 200] [--seconds 30] [--races 100] [--fuzz 500] [--parts kills,faults,...]

The seed (printed) fixes the runs, their faults and the kill gaps; the
machine's timing does the rest. Exits 1 if any part found a problem.
"""

from __future__ import annotations

import argparse
import asyncio
import sys
import tempfile
import uuid
from contextlib import ExitStack
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))  # the tests' harness

from _common import mb, median, percentile, table

from ascent.testing.mock_openai import MockOpenAIServer
from ascent.testing.postgres import PostgresServer
from tests.chaos._harness import (
    FAULTS,
    LOAD_FD_SLACK,
    LOAD_RSS_SLACK,
    SEED_ENV,
    FaultReport,
    FuzzReport,
    KillReport,
    LoadReport,
    RaceReport,
    Service,
    chaos_seed,
    fault_chaos,
    kill_chaos,
    races,
    sse_load,
    stateful_fuzz,
)

PARTS = ("kills", "faults", "load", "races", "fuzz")


def seconds(value: float) -> str:
    return f"{value:.2f} s"


def problems(found: list[str], limit: int = 10) -> None:
    print(f"problems: {len(found) or 'none'}")
    for problem in found[:limit]:
        print(f"  - {problem}")


def print_kills(reports: list[KillReport]) -> None:
    print("\n1. kill -9 of durable replicas")
    rows = [
        [
            "database",
            "runs",
            "kills",
            "replicas started",
            "ended",
            "model calls",
            "made again after a kill",
            "steps run again",
            "approved during / after",
            "time",
        ]
    ]
    for r in reports:
        ended = ", ".join(f"{n} {status}" for status, n in sorted(r.statuses.items()))
        rows.append(
            [
                r.database,
                str(r.runs),
                str(r.kills),
                str(r.replicas),
                ended,
                str(r.model_calls),
                str(r.repeated_calls),
                str(r.discarded),
                f"{r.decided_during} / {r.decided_after}",
                seconds(r.seconds),
            ]
        )
    print(table(rows))
    problems([p for r in reports for p in r.problems])


def print_faults(r: FaultReport) -> None:
    print("\n2. a misbehaving model, through the service")
    hung = sum(1 for p in r.problems if " hung" in p)
    print(
        f"{r.runs} runs in {seconds(r.seconds)} ({r.runs / r.seconds:.1f} runs/s): "
        + ", ".join(f"{n} {status}" for status, n in sorted(r.statuses.items()))
        + f"; run latency p50 {seconds(median(r.latencies))}, "
        f"p99 {seconds(percentile(r.latencies, 99))}"
    )
    answers = dict(sorted(r.traffic.statuses.items()))
    print(
        f"answers: {sum(answers.values())} ({answers}), "
        f"5xx: {r.traffic.server_errors}, hung runs: {hung}, cut streams: "
        f"{r.traffic.cut_streams}, client errors: {len(r.traffic.errors)}, unhandled "
        f"exceptions in the log: {len(r.log_problems)}, response_discarded seen: {r.discarded}"
    )
    rows = [["fault", "answers", "runs that met it", "completed", "failed", "failures it ended"]]
    for fault in (*FAULTS, "none"):
        met = r.met.get(fault, {})
        ended = r.ended.get(fault, {})
        rows.append(
            [
                fault,
                str(r.faults.get(fault, 0)) if fault != "none" else "-",
                str(sum(met.values())),
                str(met.get("completed", 0)),
                str(sum(n for end, n in met.items() if end != "completed")),
                "; ".join(f"{n} {why}" for why, n in sorted(ended.items())) or "-",
            ]
        )
    print(table(rows))
    problems([*r.problems, *r.traffic.errors, *r.log_problems])


def print_load(r: LoadReport) -> None:
    print("\n3. clients following event streams")
    errors = [*r.traffic.errors, *r.problems]
    others = {status: n for status, n in r.traffic.statuses.items() if status != 200}
    print(
        f"{r.clients} clients for {seconds(r.seconds)}: {r.runs} runs followed to their end, "
        f"{sum(r.traffic.statuses.values())} requests, errors: {len(errors)}, "
        f"non-200 answers: {others or 0}"
    )
    print(
        f"first byte p50 {seconds(median(r.first_byte))}, p99 "
        f"{seconds(percentile(r.first_byte, 99))}; run start to its record p50 "
        f"{seconds(median(r.latencies))}, p99 {seconds(percentile(r.latencies, 99))}"
    )
    m = r.meter
    rows = [
        ["service process", "before", "during (peak)", "after", "allowed after"],
        ["RSS", *map(mb, m.rss), f"<= {mb(m.rss[0] + LOAD_RSS_SLACK)}"],
        ["open descriptors", *map(str, m.fds), f"<= {m.fds[0] + LOAD_FD_SLACK}"],
    ]
    print(table(rows))
    back = m.fds[2] <= m.fds[0] + LOAD_FD_SLACK and m.rss[2] <= m.rss[0] + LOAD_RSS_SLACK
    print(f"back near the baseline: {'yes' if back else 'NO'}")
    problems(errors)


def print_races(r: RaceReport) -> None:
    print("\n4. races")
    rows = [["race", "answers: end", "times"]]
    for race, outcomes in (
        ("approve + reject", r.decisions),
        ("cancel + decide", r.cancels),
        ("runs at once on a session", r.sessions),
    ):
        for outcome, n in sorted(outcomes.items()):
            rows.append([race, outcome, str(n)])
    print(table(rows))
    print(f"5xx: {r.traffic.server_errors}, client errors: {len(r.traffic.errors)}")
    problems([*r.problems, *r.traffic.errors])


def print_fuzz(r: FuzzReport) -> None:
    print("\n5. stateful fuzz (schemathesis, authenticated)")
    rows = [["operation", "answers"]]
    operations: dict[str, list[str]] = {}
    for call, n in sorted(r.calls.items()):
        operation, status = call.rsplit(" -> ", 1)
        operations.setdefault(operation, []).append(f"{status}: {n}")
    rows += [[operation, ", ".join(counts)] for operation, counts in operations.items()]
    print(table(rows))
    print(
        f"{r.scenarios} scenarios started ({r.restarts} restarts after Hypothesis found the "
        f"service's state changed under a replay), {sum(r.calls.values())} calls in "
        f"{seconds(r.seconds)}; "
        f"5xx: {r.server_errors}, cut streams: {r.cut_streams}, unhandled exceptions in the "
        f"log: {len(r.log_problems)}, waiting runs approved by the janitor: {r.approved}"
    )
    problems([*r.problems, *r.log_problems])


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n", 1)[0])
    parser.add_argument("--seed", type=int, help=f"the RNG seed (default: {SEED_ENV}, or new)")
    parser.add_argument("--parts", default=",".join(PARTS), help="parts to run, comma-separated")
    parser.add_argument("--runs", type=int, default=100, help="runs per database (part 1)")
    parser.add_argument("--kills", type=int, default=20, help="kills per database (part 1)")
    parser.add_argument("--fault-runs", type=int, default=1000, help="runs (part 2)")
    parser.add_argument("--fault-clients", type=int, default=50, help="clients (part 2)")
    parser.add_argument("--clients", type=int, default=200, help="SSE clients (part 3)")
    parser.add_argument("--seconds", type=float, default=30, help="load length (part 3)")
    parser.add_argument("--races", type=int, default=100, help="repeats of each race (part 4)")
    parser.add_argument("--fuzz", type=int, default=500, help="fuzz scenarios (part 5)")
    parser.add_argument("--quick", action="store_true", help="a tiny run (the smoke test)")
    args = parser.parse_args(argv)
    if args.quick:
        args.runs, args.kills, args.fault_runs, args.fault_clients = 6, 1, 12, 4
        args.clients, args.seconds, args.races, args.fuzz = 4, 1.0, 2, 5
    parts = [part.strip() for part in args.parts.split(",") if part.strip()]
    seed = chaos_seed(args.seed)
    print(f"chaos seed: {seed} (repeat with --seed {seed})")
    found = 0
    with ExitStack() as stack:
        work = Path(stack.enter_context(tempfile.TemporaryDirectory(prefix="ascent-chaos-")))
        mock = stack.enter_context(MockOpenAIServer())
        postgres = stack.enter_context(PostgresServer())
        if "kills" in parts:
            reports = []
            for name in ("sqlite", "postgresql"):
                marks = work / f"kills-{name}"
                marks.mkdir()
                url = (
                    f"sqlite:///{marks / 'durable.db'}"
                    if name == "sqlite"
                    else postgres.create_database(f"kills_{uuid.uuid4().hex[:8]}")
                )
                reports.append(
                    kill_chaos(
                        url=url,
                        postgres=name == "postgresql",
                        mock=mock,
                        marks=marks,
                        runs=args.runs,
                        kills=args.kills,
                        seed=seed,
                        deadline=300,
                    )
                )
            print_kills(reports)
            found += sum(len(r.problems) for r in reports)
        if not set(parts) & {"faults", "load", "races", "fuzz"}:
            return int(found > 0)
        service = stack.enter_context(
            Service(
                database_url=postgres.create_database(f"service_{uuid.uuid4().hex[:8]}"),
                model_url=mock.base_url,
                log=work / "service.log",
            )
        )
        if "faults" in parts:
            faults = asyncio.run(
                fault_chaos(
                    service, mock, runs=args.fault_runs, clients=args.fault_clients, seed=seed
                )
            )
            print_faults(faults)
            found += len(faults.problems) + len(faults.traffic.errors) + len(faults.log_problems)
        if "load" in parts:
            load = asyncio.run(
                sse_load(
                    service,
                    mock,
                    clients=args.clients,
                    seconds=args.seconds,
                    seed=seed,
                    warmup=min(5.0, args.seconds),
                    fd_slack=LOAD_FD_SLACK,
                )
            )
            print_load(load)
            found += len(load.problems) + len(load.traffic.errors)
        if "races" in parts:
            raced = asyncio.run(races(service, mock, reps=args.races, seed=seed))
            print_races(raced)
            found += len(raced.problems) + len(raced.traffic.errors)
        if "fuzz" in parts:
            fuzzed = stateful_fuzz(
                service,
                mock,
                scenarios=args.fuzz,
                steps=10,
                seed=seed,
                hypothesis_home=work / "hypothesis",
            )
            print_fuzz(fuzzed)
            found += len(fuzzed.problems) + len(fuzzed.log_problems)
    return int(found > 0)


if __name__ == "__main__":
    sys.exit(main())
