"""Throughput of the service: runs/s and latency through HTTP, 1 and 2 replicas on PostgreSQL.

Each replica is ``ascent serve`` in its own process (the durable engine, tracing
on), all on one PostgreSQL started on loopback; the model is the local mock
server answering every call after 50 ms (the two-step scenario: a tool call, then
the answer). Clients ``POST /v1/agents/Calculator/runs`` and wait for the run's
end, each client one run after another, spread over the replicas in turn; each
point runs at least ``--runs`` runs (at least one per client).

Figures: runs per second and p50/p99 latency of a run at 1, 50 and 500
concurrent clients, for one replica and for two; and the ratio of two
replicas' runs/s to one's. Then, on Linux, the CPU time per run of each party
(the replicas, PostgreSQL, the mock model, the clients) and how many of the
machine's cores they kept busy: what bounds the ratio on a small machine. The
durable overhead per step is in ``bench/durable.py``.

    uv run python bench/service.py [--clients 1,50,500] [--runs 40]
        [--durability steps,run] [--replicas 1,2] [--rounds 1]

``--pin`` (Linux, one replica, two cores or more) gives the replica a core of its
own and puts everything else (this process, PostgreSQL, the mock model) on the
others, as a replica has its own core in a deployment; without it they all take
turns on the same cores. Either way the table says how long the replica's
event loop was ready to run but waited for a core (the machine's share of its
latency, from ``/proc/<pid>/schedstat``).

``--durability`` names the durabilities to serve (each request's ``durability``
field; the same replicas serve all of them): with more than one, or more than one
``--rounds``, the modes take turns at each point, and the CPU per run of each is
set beside an in-process run's (``Runner.run`` in this process on the same mock
model over HTTP, measured between the rounds): the ratio ``run`` ÷ in process.

Target: two replicas give at least 1.6x one replica's runs per second (at the
highest client count). The replicas, the mock model and the clients share this
machine's CPUs, so on a small machine the ratio measures the machine too.
"""

from __future__ import annotations

import argparse
import asyncio
import itertools
import os
import socket
import subprocess
import sys
import time
import uuid
from collections.abc import Iterator, Sequence
from contextlib import ExitStack, contextmanager, suppress
from dataclasses import dataclass, field
from pathlib import Path

import httpx
from _common import ANSWER, QUESTION, median, mock_server, ms, percentile, table, verdict

from ascent.testing.loopback import wait_until_serving
from ascent.testing.postgres import PostgresServer

TARGET_RATIO = 1.6
MODEL_LATENCY = 0.05
APP = Path(__file__).with_name("_service_app.py")
KEY = "bench-key"


class Meter:
    """CPU seconds used so far by each party, read from ``/proc`` (Linux; elsewhere, none)."""

    def __init__(self) -> None:
        self.parties: dict[str, list[int]] = {}
        self.postmaster: Path | None = None  # PostgreSQL: its postmaster.pid file

    def add(self, party: str, pid: int) -> None:
        self.parties.setdefault(party, []).append(pid)

    def read(self) -> dict[str, float]:
        if not Path("/proc/self/stat").exists():
            return {}
        tick = os.sysconf("SC_CLK_TCK")
        used = {
            party: sum(_cpu_ticks(pid) for pid in pids) / tick
            for party, pids in self.parties.items()
        }
        used["clients"] = sum(os.times()[:2])
        if self.postmaster is not None and self.postmaster.exists():
            main = int(self.postmaster.read_text().split()[0])
            # the server, its live backends, and (in its children's time) the ended ones
            ticks = _cpu_ticks(main, children=True) + sum(map(_cpu_ticks, _children(main)))
            used["postgresql"] = ticks / tick
        return used

    def waited(self) -> dict[str, float]:
        """Seconds each replica's main thread (its event loop) was ready to run but
        waited for a core, so far (Linux's ``schedstat``; elsewhere, none)."""
        found = {}
        for party, pids in self.parties.items():
            if party.startswith("bench-"):
                path = Path(f"/proc/{pids[0]}/schedstat")
                with suppress(OSError):
                    found[party] = int(path.read_text().split()[1]) / 1e9
        return found


def pin_process(pid: int, core: int) -> None:
    """Pin every thread of ``pid`` (threads made later inherit it) to ``core``."""
    for task in Path(f"/proc/{pid}/task").iterdir():
        with suppress(ProcessLookupError):
            os.sched_setaffinity(int(task.name), {core})


def _stat(pid: int) -> list[str]:
    try:
        return Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    except (FileNotFoundError, ProcessLookupError):
        return []


def _cpu_ticks(pid: int, *, children: bool = False) -> int:
    fields = _stat(pid)  # fields[11:15]: utime, stime, cutime, cstime
    return sum(int(f) for f in fields[11 : 15 if children else 13]) if fields else 0


def _children(parent: int) -> list[int]:
    pids = (int(p.name) for p in Path("/proc").iterdir() if p.name.isdigit())
    return [pid for pid in pids if (fields := _stat(pid)) and int(fields[1]) == parent]


def process_tree(pids: list[int]) -> list[int]:
    """``pids`` and all their descendants (a broker's wrapper script runs the broker)."""
    found, todo = [], list(pids)
    while todo:
        pid = todo.pop()
        found.append(pid)
        todo.extend(_children(pid))
    return found


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


@contextmanager
def replica(
    database_url: str,
    model_url: str,
    name: str,
    meter: Meter,
    *,
    extra_env: dict[str, str] | None = None,
    pids: dict[str, int] | None = None,
    uvicorn_args: Sequence[str] = (),
) -> Iterator[str]:
    """``ascent serve`` in a child process; yields its base URL once it is ready.

    ``extra_env`` adds to its environment; ``pids`` gets its process id by name;
    ``uvicorn_args`` (``--loop asyncio``, say) serve the app with uvicorn's own
    command instead, as ``ascent serve`` does with its defaults."""
    port = _free_port()
    env = {
        **os.environ,
        **(extra_env or {}),
        "ASCENT_DATABASE_URL": database_url,
        "ASCENT_API_KEYS": f"{KEY}:bench",
        "ASCENT_EXECUTOR_ID": name,
        "ASCENT_APP_VERSION": "bench",
        "OPENAI_BASE_URL": model_url,
        "OPENAI_API_KEY": "not-needed",
    }
    command = [sys.executable, "-m", "ascent.cli", "serve", f"{APP}:create_app"]
    if uvicorn_args:
        factory = f"{APP.stem}:create_app"
        command = [sys.executable, "-m", "uvicorn", "--factory", "--app-dir", str(APP.parent)]
        command += [*uvicorn_args, "--log-level", "warning", factory]
    process = subprocess.Popen(
        [*command, "--port", str(port)],
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
        text=True,
    )
    base = f"http://127.0.0.1:{port}"
    meter.add(name, process.pid)
    if pids is not None:
        pids[name] = process.pid
    try:
        wait_until_serving(f"{base}/readyz", process=process, timeout=120)
        yield base
    finally:
        process.terminate()
        try:
            process.wait(timeout=20)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()


@dataclass
class Figures:
    replicas: int
    clients: int
    durability: str
    runs: int
    seconds: float
    latencies: list[float]
    cpu: dict[str, float]  # CPU seconds per party during the point
    waited: dict[str, float] = field(default_factory=dict)  # replica loop's wait for a core

    @property
    def per_second(self) -> float:
        return self.runs / self.seconds


async def load(
    bases: Sequence[str],
    *,
    clients: int,
    runs_per_client: int,
    meter: Meter,
    durability: str = "steps",
) -> Figures:
    """``clients`` concurrent clients, each running ``runs_per_client`` runs in turn."""
    # A fresh connection per request: a pooled one can sit idle past uvicorn's 5 s
    # keep-alive while the machine is busy, and the server closes it under the client.
    limits = httpx.Limits(max_connections=clients + 10, max_keepalive_connections=0)
    headers = {"Authorization": f"Bearer {KEY}"}
    turn = itertools.cycle(bases)
    latencies: list[float] = []
    async with httpx.AsyncClient(headers=headers, limits=limits, timeout=300) as http:

        async def client() -> None:
            for _ in range(runs_per_client):
                base = next(turn)
                started = time.perf_counter()
                response = await http.post(
                    f"{base}/v1/agents/Calculator/runs",
                    json={"input": QUESTION, "durability": durability},
                )
                run = response.json()
                if run.get("status") in ("queued", "running"):  # still going after the wait
                    run_url = f"{base}/v1/runs/{run['id']}"
                    await http.get(f"{run_url}/events")  # follows the run to its end
                    run = (await http.get(run_url)).json()
                if run.get("status") != "completed" or run.get("output") != ANSWER:
                    raise RuntimeError(f"unexpected run: {response.status_code} {run}")
                latencies.append(time.perf_counter() - started)

        await client()  # warm up (connections, the first run of each replica)
        latencies.clear()
        before, waited_before = meter.read(), meter.waited()
        started = time.perf_counter()
        await asyncio.gather(*(client() for _ in range(clients)))
        seconds = time.perf_counter() - started
        after, waited_after = meter.read(), meter.waited()
    cpu = {party: after[party] - before.get(party, 0.0) for party in after}
    waited = {party: waited_after[party] - waited_before.get(party, 0.0) for party in waited_after}
    return Figures(len(bases), clients, durability, len(latencies), seconds, latencies, cpu, waited)


async def in_process_cpu(model_url: str, runs: int) -> float:
    """CPU seconds per run of ``Runner.run`` in this process, on the same mock model
    over HTTP (tracing off, as a served run's own work is what it is set beside)."""
    import openai
    from _common import INSTRUCTIONS, add_async

    from ascent import Agent, RunConfig, Runner, function_tool
    from ascent.models.openai_chat import OpenAIChatModel

    async with openai.AsyncOpenAI(base_url=model_url, api_key="x", max_retries=0) as client:
        agent = Agent(
            name="Calculator",
            instructions=INSTRUCTIONS,
            model=OpenAIChatModel(model="mock", client=client),
            tools=[function_tool(name="add")(add_async)],
        )
        config = RunConfig(tracing_disabled=True)
        assert (await Runner.run(agent, QUESTION, run_config=config)).final_output == ANSWER
        started = time.process_time()
        for _ in range(runs):
            result = await Runner.run(agent, QUESTION, run_config=config)
            assert result.final_output == ANSWER
        return (time.process_time() - started) / runs


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n", 1)[0])
    parser.add_argument("--clients", default="1,50,500", help="client counts, comma-separated")
    parser.add_argument("--runs", type=int, default=40, help="least runs per point")
    parser.add_argument("--quick", action="store_true", help="a tiny run (the smoke test)")
    parser.add_argument("--durability", default="steps", help="durabilities, comma-separated")
    parser.add_argument("--replicas", default="1,2", help="replica counts, comma-separated")
    parser.add_argument("--rounds", type=int, default=1, help="turns of each durability")
    parser.add_argument("--pin", action="store_true", help="one replica on a core of its own")
    args = parser.parse_args(argv)
    counts = [int(c) for c in args.clients.split(",")]
    modes = args.durability.split(",")
    replica_counts = [int(r) for r in args.replicas.split(",")]
    least = args.runs
    if args.quick:
        counts, least = [1, 4], 4
    in_process: list[float] = []

    results: list[Figures] = []
    meter = Meter()
    cores = sorted(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else []
    if args.pin and (len(cores) < 2 or max(replica_counts) > 1):
        parser.error("--pin needs Linux, two cores or more, and one replica")
    with ExitStack() as stack:
        if args.pin:  # what starts from here inherits the other cores
            os.sched_setaffinity(0, cores[:-1])
            stack.callback(os.sched_setaffinity, 0, cores)
        postgres = stack.enter_context(PostgresServer())
        meter.postmaster = postgres.data_dir / "postmaster.pid"
        database_url = postgres.create_database(f"bench_{uuid.uuid4().hex[:8]}")
        model_url = stack.enter_context(
            mock_server(latency=MODEL_LATENCY, started=lambda pid: meter.add("mock model", pid))
        )
        pids: dict[str, int] = {}
        bases = [
            stack.enter_context(replica(database_url, model_url, f"bench-{n}", meter, pids=pids))
            for n in range(1, max(replica_counts) + 1)
        ]
        if args.pin:
            pin_process(pids["bench-1"], cores[-1])
        compare = len(modes) > 1 or args.rounds > 1
        for replicas in replica_counts:
            for clients in counts:
                per_client = max(1, -(-least // clients))
                for _ in range(args.rounds):
                    for mode in modes:
                        figures = asyncio.run(
                            load(
                                bases[:replicas],
                                clients=clients,
                                runs_per_client=per_client,
                                meter=meter,
                                durability=mode,
                            )
                        )
                        results.append(figures)
                    if compare:
                        in_process.append(asyncio.run(in_process_cpu(model_url, 50)))
        results = merge_rounds(results)

    rows = [["replicas", "clients", "durability", "runs", "runs/s", "p50", "p99"]]
    for f in results:
        rows.append(
            [
                str(f.replicas),
                str(f.clients),
                f.durability,
                str(f.runs),
                f"{f.per_second:.1f}",
                ms(median(f.latencies)),
                ms(percentile(f.latencies, 99)),
            ]
        )
    pinned = f", the replica pinned to core {cores[-1]}" if args.pin else ""
    print(
        f"service throughput: ascent serve on PostgreSQL, mock model at "
        f"{MODEL_LATENCY * 1000:.0f} ms per call (2 calls per run){pinned}"
    )
    print(table(rows))
    top = max(counts)
    if {1, 2} <= set(replica_counts):
        one = next(f for f in results if f.replicas == 1 and f.clients == top)
        two = next(f for f in results if f.replicas == 2 and f.clients == top)
        ratio = two.per_second / one.per_second
        print(
            f"2 replicas / 1 replica, runs/s at {top} clients: {ratio:.2f}x "
            f"(target >= {TARGET_RATIO}x: {verdict(ratio >= TARGET_RATIO)})"
        )
    if results[0].cpu:
        report_cpu(results)
    if in_process:
        report_modes(results, median(in_process))


def merge_rounds(results: Sequence[Figures]) -> list[Figures]:
    """One figure per point and durability: the rounds' runs, times and CPU summed."""
    merged: dict[tuple[int, int, str], Figures] = {}
    for f in results:
        key = (f.replicas, f.clients, f.durability)
        if key not in merged:
            merged[key] = Figures(*key, 0, 0.0, [], {})
        m = merged[key]
        m.runs += f.runs
        m.seconds += f.seconds
        m.latencies += f.latencies
        for party, used in f.cpu.items():
            m.cpu[party] = m.cpu.get(party, 0.0) + used
        for party, waited in f.waited.items():
            m.waited[party] = m.waited.get(party, 0.0) + waited
    return list(merged.values())


def report_modes(results: Sequence[Figures], in_process: float) -> None:
    """Replica CPU per served run of each durability, against an in-process run's CPU."""
    print(f"in-process run (Runner.run, model over HTTP): {in_process * 1000:.2f} ms CPU per run")
    rows = [["replicas", "clients", "durability", "replica CPU ms/run", "÷ in process"]]
    for f in results:
        replica_cpu = sum(v for k, v in f.cpu.items() if k.startswith("bench-")) / f.runs
        rows.append(
            [
                str(f.replicas),
                str(f.clients),
                f.durability,
                f"{replica_cpu * 1000:.1f}",
                f"{replica_cpu / in_process:.1f}x",
            ]
        )
    print(table(rows))


def report_cpu(results: Sequence[Figures]) -> None:
    """CPU per run of each party, and the cores they kept busy (out of os.cpu_count())."""
    parties = ["replicas", "postgresql", "mock model", "clients"]
    header = ["replicas", "clients", "durability", *[f"{p} ms/run" for p in parties]]
    rows = [[*header, "cores busy", "replica loop waited for a core"]]
    for f in results:
        waited = sum(f.waited.values()) / f.replicas / f.seconds if f.waited else 0.0
        cpu = dict(f.cpu)
        cpu["replicas"] = sum(v for k, v in f.cpu.items() if k.startswith("bench-"))
        rows.append(
            [
                str(f.replicas),
                str(f.clients),
                f.durability,
                *[f"{cpu.get(p, 0.0) / f.runs * 1000:.1f}" for p in parties],
                f"{sum(cpu.get(p, 0.0) for p in parties) / f.seconds:.2f} of {os.cpu_count()}",
                f"{waited:.0%} of the time",
            ]
        )
    print("CPU time per run, by party, while each point ran:")
    print(table(rows))


if __name__ == "__main__":
    main()
