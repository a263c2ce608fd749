"""What bounds a served run: the floors under it, measured beside it in one run.

A served two-step run (model, tool, model) is set beside the cheapest thing each
of its parts could be, on the same machine, in the same run, CPU time (not wall):

1. **DBOS's floor**: a bare DBOS workflow with the steps a served ``steps`` run
   records (their names, and their results as the served run recorded them,
   read back from DBOS's tables), its input as the served run's, started the way
   the engine starts one (``SetWorkflowID`` and ``DBOS.start_workflow_async``,
   16 executor threads, JSON serialization), the model's steps waiting as long
   as the mock model, the garbage collector tuned as ``ascent serve`` tunes it;
   ``--clients`` at once, on the same PostgreSQL (a database of its own). CPU of
   its process (every thread) and of PostgreSQL, per workflow.
2. **The model client's floor**: the hand-written loop over the ``openai``
   client (``bench/wire.py``) against the same mock model, ``--clients`` at
   once; beside it, ``Runner.run`` in process (tracing off), at once (on that
   client, and on one pooling with aiohttp as the service's does) and one at a
   time: CPU per run. The floor counted is the cheapest of those at once.
3. **The serving floor**: uvicorn as ``ascent serve`` runs it (its default
   loop and parser: uvloop and httptools when installed; the same garbage
   collector tuning) and a FastAPI app answering the load of
   ``bench/service.py`` with the bytes a served run answered: the run's JSON
   (what most requests get), or ``running`` then its event stream (SSE, the
   same events) and its record. CPU per request-set in the server process.
4. **Ascent's served run**, ``steps`` and ``run``, as ``bench/service.py``
   serves it (one replica, tracing on); and ``run`` from a second replica with
   tracing off (``ASCENT_TRACING=off``), to split tracing out of the remainder.

The rounds alternate the four, so all see the same machine. Printed: the sum
of the floors against the served figure per mode, Ascent's own remainder, and
the verdict per target; then, for runs/s and p50 at ``--clients`` clients, the
CPU per run of every process (load generator, mock model, PostgreSQL, replica),
the bounds it sets (the machine's cores ÷ the total; one replica's core ÷ its
own), against 2.5x ``--old-rate`` and against the runs/s that a p50 under 3x
the model's time needs (Little's law: clients ÷ 0.3 s).

    uv run --group bench python bench/floors.py [--clients 50] [--runs 200] [--rounds 2]
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import subprocess
import sys
import tempfile
import time
import uuid
from contextlib import ExitStack
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx
from _common import ANSWER, QUESTION, median, mock_server, table
from fastapi import FastAPI, Request, Response  # module level: the routes' annotations
from fastapi.responses import StreamingResponse
from service import KEY, MODEL_LATENCY, Figures, Meter, _free_port, in_process_cpu, load, replica

from ascent.testing.loopback import wait_until_serving
from ascent.testing.postgres import PostgresServer

STEPS_TARGET = 0.010  # replica CPU per served steps run
RUN_TARGET_RATIO = 2.0  # served run ÷ an in-process run over HTTP
RATE_TARGET_RATIO = 2.5  # runs/s ÷ the old figure
P50_TARGET_MODEL_TIMES = 3.0  # p50 under 3x the model's own time
MODEL_CALLS = 2
OLD_RATE = 37.6  # issue 19's table: one replica, 50 clients, before any of its changes
THIS = Path(__file__).resolve()
UNTRACED = "replica, tracing off"


# ------------------------------------------------------------ what a served run is


@dataclass
class Sample:
    """A served ``steps`` run as recorded: the workflow's input and steps (DBOS's
    serialized text), the POST's answer and the run's event stream (bytes)."""

    workflow_inputs: str = ""
    steps: list[tuple[str, str]] = field(default_factory=list)  # (name, output text)
    answer: bytes = b""
    events: bytes = b""

    def to_json(self) -> str:
        return json.dumps(
            {
                "workflow_inputs": self.workflow_inputs,
                "steps": self.steps,
                "answer": self.answer.decode(),
                "events": self.events.decode(),
            }
        )

    @classmethod
    def from_json(cls, text: str) -> Sample:
        data = json.loads(text)
        return cls(
            workflow_inputs=data["workflow_inputs"],
            steps=[(name, output) for name, output in data["steps"]],
            answer=data["answer"].encode(),
            events=data["events"].encode(),
        )


def sample_run(base: str, database_url: str) -> Sample:
    """One served ``steps`` run, and what it left: DBOS's rows and the answers."""
    import sqlalchemy as sa

    headers = {"Authorization": f"Bearer {KEY}"}
    with httpx.Client(headers=headers, timeout=60) as http:
        response = http.post(
            f"{base}/v1/agents/Calculator/runs", json={"input": QUESTION, "durability": "steps"}
        )
        run = response.json()
        run_id = run["id"]
        for _ in range(600):
            if run.get("status") == "completed":
                break
            time.sleep(0.05)
            run = http.get(f"{base}/v1/runs/{run_id}").json()
        events = http.get(f"{base}/v1/runs/{run_id}/events").content
        answer = http.get(f"{base}/v1/runs/{run_id}").content
    engine = sa.create_engine(database_url.replace("postgresql://", "postgresql+psycopg://", 1))
    try:
        with engine.connect() as conn:
            inputs = conn.execute(  # where this DBOS keeps them: the status row, or a table
                sa.text(
                    "SELECT coalesce(s.inputs, i.inputs) FROM dbos.workflow_status s "
                    "LEFT JOIN dbos.workflow_input i USING (workflow_uuid) "
                    "WHERE s.workflow_uuid = :id"
                ),
                {"id": run_id},
            ).scalar_one()
            if inputs is None:
                raise RuntimeError(f"DBOS kept no input for the run {run_id}")
            steps = conn.execute(
                sa.text(
                    "SELECT function_name, output FROM dbos.operation_outputs "
                    "WHERE workflow_uuid = :id ORDER BY function_id"
                ),
                {"id": run_id},
            ).all()
    finally:
        engine.dispose()
    return Sample(
        workflow_inputs=inputs,
        steps=[(name, output or "null") for name, output in steps],
        answer=answer,
        events=events,
    )


# ------------------------------------------------------------------ 1. DBOS alone


def dbos_floor(args: argparse.Namespace) -> None:
    """In a process of its own: bare DBOS workflows; prints its CPU and PostgreSQL's."""
    from dbos import DBOS, DBOSConfig, DBOSPortableJSONSerializer, SetWorkflowID

    sample = Sample.from_json(Path(args.sample).read_text())
    serializer = DBOSPortableJSONSerializer()
    inputs = serializer.deserialize(sample.workflow_inputs)
    positional = inputs.get("positionalArgs", inputs.get("args", []))
    named = inputs.get("namedArgs", inputs.get("kwargs", {}))
    outputs = [(name, serializer.deserialize(text)) for name, text in sample.steps]

    class Serializer(DBOSPortableJSONSerializer):
        """Plain JSON in C first, as the engine's serializer does."""

        def serialize(self, value: Any) -> str:
            try:
                return json.dumps(value, separators=(",", ":"), ensure_ascii=False)
            except (TypeError, ValueError):
                return super().serialize(value)

    @DBOS.workflow(name="bench.floors.recorded_steps")
    async def recorded_steps(*_args: Any, **_kwargs: Any) -> str:
        for name, output in outputs:

            async def step(name: str = name, output: Any = output) -> Any:
                if name == "call_model":
                    await asyncio.sleep(args.model_latency)
                return output

            await DBOS.run_step_async({"name": name}, step)
        return ANSWER

    config: DBOSConfig = {
        "name": "ascent-floor",
        "system_database_url": args.database_url,
        "application_version": "floor",
        "executor_id": "floor",
        "serializer": Serializer(),
        "log_level": "WARNING",
        "max_executor_threads": 16,
        "db_engine_kwargs": {"pool_pre_ping": False},
    }
    DBOS(config=config)
    DBOS.launch()
    from ascent.server.serve import tune_gc

    tune_gc()  # the garbage collector as a served replica has it
    meter = Meter()
    meter.postmaster = Path(args.postmaster)

    async def client(n: int) -> None:
        for _ in range(n):
            with SetWorkflowID(str(uuid.uuid4())):
                handle = await DBOS.start_workflow_async(recorded_steps, *positional, **named)
            assert await handle.get_result() == ANSWER

    async def measure() -> dict[str, float]:
        await DBOS._configure_asyncio_thread_pool()  # as the engine does at its start
        await asyncio.gather(*(client(1) for _ in range(args.clients)))  # warm up
        per_client = max(1, -(-args.runs // args.clients))
        before, cpu = meter.read(), time.process_time()
        await asyncio.gather(*(client(per_client) for _ in range(args.clients)))
        runs = per_client * args.clients
        used = time.process_time() - cpu
        pg = meter.read()["postgresql"] - before["postgresql"]
        return {"process": used / runs, "postgresql": pg / runs, "steps": len(outputs)}

    try:
        print(json.dumps(asyncio.run(measure())), flush=True)
    finally:
        DBOS.destroy()


def run_dbos_floor(
    database_url: str, postmaster: Path, sample: Path, args: Any
) -> dict[str, float]:
    command = [sys.executable, str(THIS), "--child", "dbos", "--sample", str(sample)]
    command += ["--database-url", database_url, "--postmaster", str(postmaster)]
    command += ["--clients", str(args.clients), "--runs", str(args.runs)]
    out = subprocess.run(command, capture_output=True, text=True, timeout=600)
    if out.returncode:
        raise RuntimeError(f"the DBOS floor failed:\n{out.stderr[-3000:]}")
    figures: dict[str, float] = json.loads(out.stdout.strip().splitlines()[-1])
    return figures


# ---------------------------------------------------------- 2. the model client


async def model_floor(model_url: str, clients: int, runs: int) -> dict[str, float]:
    """CPU per run in this process: the hand-written ``openai`` loop, then
    ``Runner.run`` (tracing off), each with ``clients`` at once."""
    import openai
    from _common import INSTRUCTIONS, add_async
    from wire import client_for, hand_written_chat

    from ascent import Agent, RunConfig, Runner, function_tool
    from ascent.models.openai_chat import OpenAIChatModel

    client = client_for(model_url)
    # the client the service uses (ascent.models.serving_openai_client): aiohttp's pool
    pooled = openai.AsyncOpenAI(
        base_url=model_url, api_key="x", max_retries=0, http_client=openai.DefaultAioHttpClient()
    )
    hand = hand_written_chat(client)
    tools = [function_tool(name="add")(add_async)]
    agent, pooled_agent = (
        Agent(
            name="Calculator",
            instructions=INSTRUCTIONS,
            model=OpenAIChatModel(model="mock", client=each),
            tools=tools,
        )
        for each in (client, pooled)
    )
    config = RunConfig(tracing_disabled=True)

    async def ascent_run() -> str:
        return str((await Runner.run(agent, QUESTION, run_config=config)).final_output)

    async def pooled_run() -> str:
        return str((await Runner.run(pooled_agent, QUESTION, run_config=config)).final_output)

    async def hand_run() -> str:
        return await hand.run("mock")

    figures = {}
    per_client = max(1, -(-runs // clients))
    contestants = (
        ("hand-written", hand_run),
        ("in process", ascent_run),
        ("in process, aiohttp", pooled_run),
    )
    for name, run in contestants:

        async def each(n: int, run: Any = run) -> None:
            for _ in range(n):
                assert await run() == ANSWER

        await asyncio.gather(*(each(1) for _ in range(clients)))
        cpu = time.process_time()
        await asyncio.gather(*(each(per_client) for _ in range(clients)))
        figures[name] = (time.process_time() - cpu) / (per_client * clients)
    await client.close()
    await pooled.close()
    # the figure the `run` target was set against (bench/service.py): one run at a time
    figures["in process, one at a time"] = await in_process_cpu(model_url, min(runs, 50))
    return figures


# ------------------------------------------------------------ 3. serving alone


def serving_floor(args: argparse.Namespace) -> None:
    """In a process of its own: uvicorn and FastAPI answering with a served run's bytes."""
    import uvicorn

    from ascent.server.serve import tune_gc

    sample = Sample.from_json(Path(args.sample).read_text())
    record = json.loads(sample.answer)
    running = json.dumps({**record, "status": "running", "output": None}).encode()
    events = [chunk + b"\n\n" for chunk in sample.events.split(b"\n\n") if chunk.strip()]
    app = FastAPI()

    @app.get("/readyz")
    async def ready() -> dict[str, str]:
        return {"status": "ok"}

    @app.post("/v1/agents/{agent}/runs")
    async def start(agent: str, request: Request) -> Response:
        body = await request.json()
        assert body["input"] and agent
        answer = running if args.stream else sample.answer
        return Response(answer, media_type="application/json")

    @app.get("/v1/runs/{run_id}")
    async def get(run_id: str) -> Response:
        return Response(sample.answer, media_type="application/json")

    @app.get("/v1/runs/{run_id}/events")
    async def stream(run_id: str) -> StreamingResponse:
        async def chunks() -> Any:
            for chunk in events:
                yield chunk

        return StreamingResponse(chunks(), media_type="text/event-stream")

    tune_gc()  # as ascent serve does
    uvicorn.run(app, host="127.0.0.1", port=args.port, log_level="warning")


class ServingFloor:
    """The serving floor's process (``stream``: every request follows the event stream)."""

    def __init__(self, sample: Path, meter: Meter, *, stream: bool) -> None:
        self.port = _free_port()
        self.base = f"http://127.0.0.1:{self.port}"
        self.party = "serving (stream)" if stream else "serving"
        command = [sys.executable, str(THIS), "--child", "serve", "--sample", str(sample)]
        command += ["--port", str(self.port), *(["--stream"] if stream else [])]
        self.process = subprocess.Popen(command, stderr=subprocess.PIPE, text=True)
        meter.add(self.party, self.process.pid)
        wait_until_serving(f"{self.base}/readyz", process=self.process, timeout=60)

    def close(self) -> None:
        self.process.terminate()
        self.process.wait(timeout=20)


# --------------------------------------------------------------------- the run


@dataclass
class Round:
    served: dict[str, Figures]
    dbos: dict[str, float]
    model: dict[str, float]
    serving: dict[str, Figures]
    busy: dict[str, float]  # the machine's busy cores while each served mode ran (all work)


def busy_seconds() -> float:
    """CPU seconds every process on the machine has used (``/proc/stat``: all but idle
    and iowait), so that other work on a shared machine shows beside the parties'."""
    try:
        fields = [int(x) for x in Path("/proc/stat").read_text().split("\n", 1)[0].split()[1:]]
    except (OSError, ValueError):
        return 0.0
    idle = fields[3] + (fields[4] if len(fields) > 4 else 0)
    return (sum(fields[:8]) - idle) / os.sysconf("SC_CLK_TCK")


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n", 1)[0])
    parser.add_argument("--clients", type=int, default=50)
    parser.add_argument("--runs", type=int, default=200, help="runs per part per round")
    parser.add_argument("--rounds", type=int, default=2)
    parser.add_argument("--old-rate", type=float, default=OLD_RATE, help="the old runs/s")
    parser.add_argument("--quick", action="store_true", help="a tiny run (the smoke test)")
    parser.add_argument("--child", choices=["dbos", "serve"], help=argparse.SUPPRESS)
    parser.add_argument("--sample", help=argparse.SUPPRESS)
    parser.add_argument("--database-url", help=argparse.SUPPRESS)
    parser.add_argument("--postmaster", help=argparse.SUPPRESS)
    parser.add_argument("--port", type=int, help=argparse.SUPPRESS)
    parser.add_argument("--stream", action="store_true", help=argparse.SUPPRESS)
    parser.add_argument(
        "--model-latency", type=float, default=MODEL_LATENCY, help=argparse.SUPPRESS
    )
    args = parser.parse_args(argv)
    if args.child == "dbos":
        return dbos_floor(args)
    if args.child == "serve":
        return serving_floor(args)
    if args.quick:
        args.clients, args.runs, args.rounds = 4, 8, 1
    meter = Meter()
    rounds: list[Round] = []
    per_client = max(1, -(-args.runs // args.clients))
    with ExitStack() as stack:
        postgres = stack.enter_context(PostgresServer())
        meter.postmaster = postgres.data_dir / "postmaster.pid"
        database_url = postgres.create_database(f"bench_{uuid.uuid4().hex[:8]}")
        floor_url = postgres.create_database(f"floor_{uuid.uuid4().hex[:8]}")
        model_url = stack.enter_context(
            mock_server(latency=MODEL_LATENCY, started=lambda pid: meter.add("mock model", pid))
        )
        base = stack.enter_context(replica(database_url, model_url, "replica", meter))
        # the same replica with tracing off: how much of Ascent's own is tracing
        untraced = stack.enter_context(
            replica(database_url, model_url, UNTRACED, meter, extra_env={"ASCENT_TRACING": "off"})
        )
        sample = sample_run(base, database_url)
        sample_file = Path(tempfile.mkdtemp(prefix="ascent-floors-")) / "sample.json"
        sample_file.write_text(sample.to_json())
        servers = [ServingFloor(sample_file, meter, stream=stream) for stream in (False, True)]
        for server in servers:
            stack.callback(server.close)

        def serve(bases: list[str], mode: str = "steps") -> Figures:
            return asyncio.run(
                load(
                    bases,
                    clients=args.clients,
                    runs_per_client=per_client,
                    meter=meter,
                    durability=mode,
                )
            )

        for _ in range(args.rounds):
            served, busy = {}, {}
            for mode in ("steps", "run"):
                used, wall = busy_seconds(), time.perf_counter()
                served[mode] = serve([base], mode)
                busy[mode] = (busy_seconds() - used) / (time.perf_counter() - wall)
            served["run, untraced"] = serve([untraced], "run")
            dbos = run_dbos_floor(floor_url, meter.postmaster, sample_file, args)
            model = asyncio.run(model_floor(model_url, args.clients, args.runs))
            serving = {server.party: serve([server.base]) for server in servers}
            rounds.append(Round(served, dbos, model, serving, busy))
    report(rounds, sample, args)


# ------------------------------------------------------------------- the report


def _ms(seconds: float) -> str:
    return f"{seconds * 1000:.2f} ms"


def report(rounds: list[Round], sample: Sample, args: argparse.Namespace) -> None:
    def per_run(f: Figures, party: str) -> float:
        return f.cpu.get(party, 0.0) / f.runs

    def med(get: Any) -> float:
        return median([get(r) for r in rounds])

    names = ", ".join(name for name, _ in sample.steps)
    n_events = sample.events.count(b"\n\n")
    print(
        f"floors under a served run: {args.clients} clients, one replica on PostgreSQL, "
        f"mock model at {MODEL_LATENCY * 1000:.0f} ms per call, {args.rounds} rounds of "
        f"{max(1, -(-args.runs // args.clients)) * args.clients} runs per part, medians; "
        f"CPU time, not wall"
    )
    print(
        f"a served steps run recorded {len(sample.steps)} DBOS steps ({names}); "
        f"results {sum(len(o) for _, o in sample.steps)} B in all, input "
        f"{len(sample.workflow_inputs)} B; its answer {len(sample.answer)} B, its event "
        f"stream {n_events} events, {len(sample.events)} B"
    )
    parts: dict[str, tuple[Any, str]] = {
        "served steps, replica": (lambda r: per_run(r.served["steps"], "replica"), "ascent serve"),
        "served steps, PostgreSQL": (lambda r: per_run(r.served["steps"], "postgresql"), ""),
        "served run, replica": (lambda r: per_run(r.served["run"], "replica"), "ascent serve"),
        "served run, PostgreSQL": (lambda r: per_run(r.served["run"], "postgresql"), ""),
        "served run, tracing off, replica": (
            lambda r: per_run(r.served["run, untraced"], UNTRACED),
            "ASCENT_TRACING=off",
        ),
        "DBOS floor, its process": (
            lambda r: r.dbos["process"],
            "bare workflow, the served run's steps",
        ),
        "DBOS floor, PostgreSQL": (lambda r: r.dbos["postgresql"], "the same workflows"),
        "model client: hand-written openai loop": (
            lambda r: r.model["hand-written"],
            "2 calls, the tool run",
        ),
        "model client: Runner.run in process": (lambda r: r.model["in process"], "tracing off"),
        "  the same, aiohttp's pool": (
            lambda r: r.model["in process, aiohttp"],
            "the service's client",
        ),
        "  the same, one run at a time": (
            lambda r: r.model["in process, one at a time"],
            "the `run` target's base",
        ),
        "serving: POST answered with the run": (
            lambda r: per_run(r.serving["serving"], "serving"),
            "uvicorn + FastAPI",
        ),
        "serving: POST, SSE stream, GET": (
            lambda r: per_run(r.serving["serving (stream)"], "serving (stream)"),
            "when a run outlasts the wait",
        ),
    }
    got = {name: med(get) for name, (get, _) in parts.items()}
    rows = [["part", "CPU per run", "rounds: least-most", "what"]]
    for name, (get, what) in parts.items():
        each = [get(r) for r in rounds]
        spread = f"{min(each) * 1000:.2f}-{max(each) * 1000:.2f} ms"
        rows.append([name, _ms(got[name]), spread, what])
    replica = {m: got[f"served {m}, replica"] for m in ("steps", "run")}
    pg = {m: got[f"served {m}, PostgreSQL"] for m in ("steps", "run")}
    dbos, dbos_pg = got["DBOS floor, its process"], got["DBOS floor, PostgreSQL"]
    hand, in_process = (
        got["model client: hand-written openai loop"],
        got["model client: Runner.run in process"],
    )
    one_at_a_time = got["  the same, one run at a time"]
    model = min(hand, in_process, got["  the same, aiohttp's pool"])
    serving = got["serving: POST answered with the run"]
    print(table(rows))

    floors = {"steps": dbos + model + serving, "run": model + serving}
    rows = [["mode", "served (replica)", "sum of floors", "Ascent's own", "own per step", "target"]]
    for mode in ("steps", "run"):
        own = replica[mode] - floors[mode]
        if mode == "steps":
            target = f"<= {STEPS_TARGET * 1000:.0f} ms"
        else:
            target = (
                f"<= {RUN_TARGET_RATIO:.0f}x in process = {_ms(RUN_TARGET_RATIO * one_at_a_time)}"
            )
        per_step = _ms(own / 3) if mode == "steps" else "-"
        rows.append([mode, _ms(replica[mode]), _ms(floors[mode]), _ms(own), per_step, target])
    print("the sum of the floors (model client: the cheaper of the two) against the served run:")
    print(table(rows))
    steps_bound = floors["steps"] > STEPS_TARGET
    print(
        f"verdict, steps <= {STEPS_TARGET * 1000:.0f} ms: served {_ms(replica['steps'])}; "
        f"the floors alone {_ms(floors['steps'])} "
        + (
            f"exceed the target by {_ms(floors['steps'] - STEPS_TARGET)}: BOUNDED by the floors"
            if steps_bound
            else f"leave {_ms(STEPS_TARGET - floors['steps'])} under it: NOT bounded by the "
            f"floors; Ascent's own {_ms(replica['steps'] - floors['steps'])} is the gap"
        )
    )
    ratio, floor_ratio = replica["run"] / one_at_a_time, (model + serving) / one_at_a_time
    print(
        f"verdict, run <= {RUN_TARGET_RATIO:.0f}x an in-process run one at a time: served "
        f"{ratio:.2f}x ({replica['run'] / in_process:.2f}x of one among {args.clients}); the "
        f"floors (model client + serving) are {floor_ratio:.2f}x: "
        + ("BOUNDED by the floors" if floor_ratio > RUN_TARGET_RATIO else "NOT bounded by them")
    )
    tracing = replica["run"] - got["served run, tracing off, replica"]
    print(
        f"of Ascent's own {_ms(replica['run'] - floors['run'])} in run: tracing "
        f"{_ms(tracing)} (run - run with tracing off), the rest "
        f"{_ms(replica['run'] - floors['run'] - tracing)}"
    )
    extra = replica["steps"] - replica["run"]
    print(
        f"steps - run (what recording the steps adds to the replica): {_ms(extra)}, against "
        f"DBOS's floor {_ms(dbos)}: {_ms((extra - dbos) / 3)} per step above it on PostgreSQL "
        f"under load (the <= 1 ms target is on SQLite, one run at a time: bench/durable.py); "
        f"PostgreSQL: steps {_ms(pg['steps'])}, run {_ms(pg['run'])}, DBOS's floor {_ms(dbos_pg)}"
    )
    report_rate(rounds, replica, pg, floors, dbos_pg, args)


def report_rate(
    rounds: list[Round],
    replica: dict[str, float],
    pg: dict[str, float],
    floors: dict[str, float],
    dbos_pg: float,
    args: argparse.Namespace,
) -> None:
    cores = os.cpu_count() or 1

    def med(get: Any) -> float:
        return median([get(r) for r in rounds])

    rate_target = RATE_TARGET_RATIO * args.old_rate
    little = args.clients / (P50_TARGET_MODEL_TIMES * MODEL_CALLS * MODEL_LATENCY)
    print(
        f"runs/s at {args.clients} clients: CPU per run of every process, and the bounds "
        f"(targets: {RATE_TARGET_RATIO}x {args.old_rate:.1f} = {rate_target:.1f} runs/s; "
        f"p50 < {P50_TARGET_MODEL_TIMES:.0f}x {MODEL_CALLS * MODEL_LATENCY * 1000:.0f} ms "
        f"needs {args.clients} / {P50_TARGET_MODEL_TIMES * MODEL_CALLS * MODEL_LATENCY:.1f} s "
        f"= {little:.0f} runs/s)"
    )
    rows = [
        [
            "run",
            "load generator",
            "mock model",
            "PostgreSQL",
            "replica",
            "total",
            f"{cores} cores / total",
            "1 core / replica",
            "measured runs/s",
            "p50",
            "cores busy: replica / the four / machine",
        ]
    ]
    floor_clients = med(lambda r: r.serving["serving"].cpu["clients"] / r.serving["serving"].runs)
    for mode in ("steps", "run"):
        f = [r.served[mode] for r in rounds]
        clients = median([x.cpu["clients"] / x.runs for x in f])
        mock = median([x.cpu.get("mock model", 0.0) / x.runs for x in f])
        total = clients + mock + pg[mode] + replica[mode]
        rows.append(
            [
                f"served {mode}",
                _ms(clients),
                _ms(mock),
                _ms(pg[mode]),
                _ms(replica[mode]),
                _ms(total),
                f"{cores / total:.0f}/s",
                f"{1 / replica[mode]:.0f}/s",
                f"{median([x.per_second for x in f]):.1f}/s",
                f"{median([median(x.latencies) for x in f]) * 1000:.0f} ms",
                f"{med(lambda r, m=mode: r.served[m].cpu['replica'] / r.served[m].seconds):.2f}"
                f" / {total * median([x.per_second for x in f]):.2f}"
                f" / {med(lambda r, m=mode: r.busy[m]):.2f} of {cores}",
            ]
        )
        floor_pg = dbos_pg if mode == "steps" else 0.0
        total = floor_clients + mock + floor_pg + floors[mode]
        rows.append(
            [
                f"floors only, {mode}",
                _ms(floor_clients),
                _ms(mock),
                _ms(floor_pg),
                _ms(floors[mode]),
                _ms(total),
                f"{cores / total:.0f}/s",
                f"{1 / floors[mode]:.0f}/s",
                "-",
                "-",
                "-",
            ]
        )
    print(table(rows))
    print(
        "(floors only: the load generator's CPU per request against the serving floor, the "
        "mock model's as served, PostgreSQL's from DBOS's floor (none counted for run), the "
        "replica at the sum of its floors; a bound is the lower of the two columns; cores "
        "busy: the machine's is every process on it, over the point and its warm-up)"
    )
    for mode in ("steps", "run"):
        f = [r.served[mode] for r in rounds]
        clients = median([x.cpu["clients"] / x.runs for x in f])
        mock = median([x.cpu.get("mock model", 0.0) / x.runs for x in f])
        served_bound = min(cores / (clients + mock + pg[mode] + replica[mode]), 1 / replica[mode])
        floor_pg = dbos_pg if mode == "steps" else 0.0
        floor_total = (
            med(lambda r: r.serving["serving"].cpu["clients"] / r.serving["serving"].runs)
            + mock
            + floor_pg
            + floors[mode]
        )
        floor_bound = min(cores / floor_total, 1 / floors[mode])
        for name, target in (("2.5x runs/s", rate_target), ("p50 < 3x model", little)):
            print(
                f"verdict, {mode}, {name} (needs {target:.0f} runs/s): the served run's CPU "
                f"bounds it at {served_bound:.0f}/s, the floors at {floor_bound:.0f}/s: "
                + (
                    f"BOUNDED by the machine and the floors ({floor_bound / target:.2f}x)"
                    if floor_bound < target
                    else "NOT bounded by the floors"
                    + (
                        f"; bounded by the served run's own CPU ({served_bound / target:.2f}x)"
                        if served_bound < target
                        else ""
                    )
                )
            )


if __name__ == "__main__":
    main()
