"""A served run's CPU, a change against its baseline in one run; or a profile of where it goes.

Two replicas on one PostgreSQL, the mock model at 50 ms (as ``bench/service.py``):
"after" is this checkout served as ``ascent serve`` serves it; "before" is the
same replica with ``--before-src DIR`` (another checkout's ``src``, put first on
its ``PYTHONPATH``) and/or ``--before-loop asyncio`` (uvicorn's own asyncio
loop and h11 parser instead of uvloop and httptools). The rounds alternate, so
both sides see the same machine: each round sends ``--clients`` clients (each
one run after another) to "before" alone, then to "after" alone. Figures per
side: runs/s, p50, and CPU per run of the replica and of PostgreSQL, read from
``/proc`` (medians over rounds), and after ÷ before.

``--profile`` instead profiles one replica ("after") under the same load with
yappi (every thread, CPU clock) and prints its CPU by layer (request handling,
the durable engine, DBOS, the database driver, SSE, ...), by thread, and the
functions with the most own time. The profiler slows the replica down about
2x; the shares, not the totals, are the point.

    uv run --group bench python bench/service_ab.py --before-src ../base/src [--rounds 3]
    uv run --group bench python bench/service_ab.py --profile
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import signal
import tempfile
import time
import uuid
from contextlib import ExitStack
from pathlib import Path

from _common import median, mock_server, table
from _profile import AUTOCOMMIT, ROUND_TRIP
from service import MODEL_LATENCY, Figures, Meter, load, replica

from ascent.testing.postgres import PostgresServer


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n", 1)[0])
    parser.add_argument("--clients", type=int, default=50)
    parser.add_argument("--runs", type=int, default=200, help="runs per side per round")
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--durability", default="steps", help="the runs' durability")
    parser.add_argument("--before-src", type=Path, help="the baseline checkout's src folder")
    parser.add_argument("--before-loop", choices=["asyncio"], help="the baseline's event loop")
    parser.add_argument("--profile", action="store_true", help="profile one replica instead")
    parser.add_argument(
        "--statements", action="store_true", help="count one replica's SQL statements per run"
    )
    parser.add_argument("--quick", action="store_true", help="a tiny run (the smoke test)")
    args = parser.parse_args(argv)
    if args.quick:
        args.clients, args.runs, args.rounds = 4, 8, 1
    meter = Meter()
    with ExitStack() as stack:
        postgres = stack.enter_context(PostgresServer())
        meter.postmaster = postgres.data_dir / "postmaster.pid"
        database_url = postgres.create_database(f"bench_{uuid.uuid4().hex[:8]}")
        model_url = stack.enter_context(
            mock_server(latency=MODEL_LATENCY, started=lambda pid: meter.add("mock model", pid))
        )
        pids: dict[str, int] = {}
        before_env = {}
        if args.before_src is not None:
            path = [str(args.before_src.resolve()), os.environ.get("PYTHONPATH", "")]
            before_env["PYTHONPATH"] = os.pathsep.join(p for p in path if p)
        if args.profile or args.statements:
            # with --statements --before-src: the baseline's counts first, then this checkout's
            sides = [("before", before_env)] if args.statements and before_env else []
            for name, side_env in [*sides, ("after", {})]:
                out = Path(tempfile.mkdtemp(prefix="ascent-profile-")) / "profile.json"
                env = {**side_env, "ASCENT_BENCH_PROFILE": str(out)}
                if args.statements:
                    env["ASCENT_BENCH_PROFILE_SQL"] = "1"
                with replica(
                    database_url, model_url, name, meter, extra_env=env, pids=pids
                ) as base:
                    if sides:
                        print(f"-- {name}")
                    profile(base, pids[name], out, args, meter)
            return
        uvicorn_args = ["--loop", "asyncio", "--http", "h11"] if args.before_loop else []
        before = stack.enter_context(
            replica(
                database_url,
                model_url,
                "before",
                meter,
                extra_env=before_env,
                uvicorn_args=uvicorn_args,
            )
        )
        after = stack.enter_context(replica(database_url, model_url, "after", meter))
        sides: dict[str, list[Figures]] = {"before": [], "after": []}
        for _ in range(args.rounds):
            for name, base in (("before", before), ("after", after)):
                sides[name].append(_point(base, args, meter))
    report(sides, args)


def _point(base: str, args: argparse.Namespace, meter: Meter) -> Figures:
    per_client = max(1, -(-args.runs // args.clients))
    return asyncio.run(
        load(
            [base],
            clients=args.clients,
            runs_per_client=per_client,
            meter=meter,
            durability=args.durability,
        )
    )


def report(sides: dict[str, list[Figures]], args: argparse.Namespace) -> None:
    what = " and ".join(
        text
        for text, given in (
            (f"code from {args.before_src}", args.before_src),
            ("uvicorn's asyncio loop and h11", args.before_loop),
        )
        if given
    )
    print(
        f"served runs ({args.durability} durability), before ({what or 'the same'}) "
        f"against after, {args.rounds} rounds"
    )
    rows = [["side", "runs/s", "p50", "replica CPU/run", "PostgreSQL CPU/run"]]
    summary: dict[str, list[float]] = {}
    for name, points in sides.items():
        rate = median([p.per_second for p in points])
        p50 = median([median(p.latencies) for p in points])
        cpu = median([p.cpu.get(name, 0.0) / p.runs for p in points])
        pg = median([p.cpu.get("postgresql", 0.0) / p.runs for p in points])
        summary[name] = [rate, p50, cpu, pg]
        rows.append(
            [
                name,
                f"{rate:.1f}",
                f"{p50 * 1000:.0f} ms",
                f"{cpu * 1000:.1f} ms",
                f"{pg * 1000:.1f} ms",
            ]
        )
    b, a = summary["before"], summary["after"]
    rows.append(
        ["after / before", *[f"{x / y:.2f}x" if y else "-" for x, y in zip(a, b, strict=True)]]
    )
    print(table(rows))


def profile(base: str, pid: int, out: Path, args: argparse.Namespace, meter: Meter) -> None:
    _point(base, argparse.Namespace(**{**vars(args), "runs": args.clients}), meter)  # warm up
    os.kill(pid, signal.SIGUSR1)
    time.sleep(0.2)
    figures = _point(base, args, meter)
    os.kill(pid, signal.SIGUSR2)
    for _ in range(100):
        if out.exists():
            break
        time.sleep(0.1)
    data = json.loads(out.read_text())
    runs = figures.runs
    if "statements" in data:
        counted = data["statements"]
        trips = counted.pop(ROUND_TRIP, 0) / runs
        rows = [["per run", "statement (thread)"]]
        for text, n in sorted(counted.items(), key=lambda kv: -kv[1]):
            rows.append([f"{n / runs:.2f}", text])
        total = sum(n for text, n in counted.items() if "]" in text) / runs
        ends = ("COMMIT", "ROLLBACK", AUTOCOMMIT)
        txns = sum(n for text, n in counted.items() if text in ends) / runs
        print(
            f"per run on one replica ({args.durability}, {args.clients} clients): "
            f"{total:.1f} SQL statements, {txns:.1f} transactions, {trips:.1f} round trips"
        )
        print(table(rows))
        return
    total = sum(data["layers"].values())
    print(
        f"replica profile (yappi, CPU clock, every thread), {args.clients} clients, {runs} runs: "
        f"{figures.cpu.get('after', 0.0) / runs * 1000:.1f} ms of replica CPU per run "
        f"while profiled, {total / runs * 1000:.1f} ms of it seen by the profiler"
    )
    rows = [["layer", "own CPU per run", "share"]]
    for layer, seconds in sorted(data["layers"].items(), key=lambda kv: -kv[1]):
        rows.append([layer, f"{seconds / runs * 1000:.2f} ms", f"{seconds / total:.0%}"])
    print(table(rows))
    threads: dict[str, float] = {}
    for name, seconds in data["threads"].items():
        group = name.split("#")[0].rstrip("0123456789_-").removesuffix("ThreadPoolExecutor")
        threads[group or "pool"] = threads.get(group or "pool", 0.0) + seconds
    rows = [["thread", "CPU per run"]]
    for name, seconds in sorted(threads.items(), key=lambda kv: -kv[1]):
        rows.append([name, f"{seconds / runs * 1000:.2f} ms"])
    print(table(rows))
    for title, key in (("most own time", "functions"), ("Ascent and DBOS, inclusive", "inclusive")):
        print(f"functions, {title}:")
        rows = [["own ms/run", "total ms/run", "calls/run", "function"]]
        for tsub, ttot, calls, where in data[key][:40]:
            rows.append(
                [
                    f"{tsub / runs * 1000:.3f}",
                    f"{ttot / runs * 1000:.3f}",
                    f"{calls / runs:.1f}",
                    where,
                ]
            )
        print(table(rows))


if __name__ == "__main__":
    main()
