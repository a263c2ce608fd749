"""Durable overhead per step: the same run through the durable engine and in process.

The two-step scenario (the model calls ``add``, then answers) over HTTP against
the mock OpenAI server (in a subprocess, answering at once), with the
``openai-chat:`` provider, tracing off on both sides. The in-process side is
``Runner.run_streamed`` with its events consumed (a durable run streams too:
its deltas go to the event log); the durable side is
``DurableEngine.start_run`` then ``wait_run`` until the run's record says
completed. A run has three steps (model call, tool call, model call); the
overhead per step is the difference of the medians divided by three. For
scale, the floor: a bare DBOS workflow of three empty steps on the same
database. On SQLite, and on PostgreSQL when its binaries are installed
(started on loopback).

    uv run python bench/durable.py [-n 200]

Target: under 5 ms per step on SQLite.
"""

from __future__ import annotations

import argparse
import asyncio
import tempfile
import time
from collections.abc import Awaitable, Callable
from pathlib import Path

import openai
from _common import ANSWER, INSTRUCTIONS, QUESTION, add_async, median, ms, percentile, table
from _common import verdict as _verdict
from dbos import DBOS
from wire import mock_server

from ascent import Agent, RunConfig, Runner, function_tool
from ascent.durable import DurableEngine
from ascent.models.openai_chat import OpenAIChatModel
from ascent.storage import dispose_engines

TARGET_PER_STEP = 0.005
STEPS = 3  # model call, tool call, model call


async def _nothing() -> None:
    return None


@DBOS.workflow(name="bench.durable.empty_steps")
async def empty_steps(steps: int) -> str:
    """DBOS alone: a workflow of ``steps`` steps that do nothing."""
    for _ in range(steps):
        await DBOS.run_step_async({"name": "nothing"}, _nothing)
    return ANSWER


def agent_for(client: openai.AsyncOpenAI) -> Agent[None]:
    return Agent(
        name="calc",
        instructions=INSTRUCTIONS,
        model=OpenAIChatModel(model="mock", client=client),
        tools=[function_tool(name="add")(add_async)],
    )


Times = tuple[list[float], list[float]]  # wall and CPU seconds per run


async def timed(run: Callable[[], Awaitable[str]], n: int, warmup: int) -> Times:
    for _ in range(warmup):
        assert await run() == ANSWER
    wall, cpu = [], []
    for _ in range(n):
        start, start_cpu = time.perf_counter(), time.process_time()
        output = await run()
        wall.append(time.perf_counter() - start)
        cpu.append(time.process_time() - start_cpu)
        assert output == ANSWER, output
    return wall, cpu


async def in_process(base_url: str, n: int, warmup: int) -> Times:
    async with openai.AsyncOpenAI(base_url=base_url, api_key="x", max_retries=0) as client:
        agent = agent_for(client)
        config = RunConfig(tracing_disabled=True)

        async def run() -> str:
            streamed = Runner.run_streamed(agent, QUESTION, run_config=config)
            async for _ in streamed.stream_events():
                pass
            return str(streamed.final_output)

        return await timed(run, n, warmup)


async def durable(base_url: str, database_url: str, n: int, warmup: int) -> tuple[Times, Times]:
    """The durable runs' times, and the floor's (bare DBOS workflows)."""
    async with openai.AsyncOpenAI(base_url=base_url, api_key="x", max_retries=0) as client:
        engine = DurableEngine(
            agents=[agent_for(client)],
            database_url=database_url,
            run_config=RunConfig(tracing_disabled=True),
            executor_id="bench",
        )
        async with engine:

            async def run() -> str:
                record = await engine.start_run("calc", QUESTION)
                record = await engine.wait_run(record.id)
                assert record.status == "completed", record.error
                return str(record.output)

            async def floor() -> str:
                handle = await DBOS.start_workflow_async(empty_steps, STEPS)
                return await handle.get_result()

            return await timed(run, n, warmup), await timed(floor, n, warmup)


def postgres_url(stack: list[object]) -> str | None:
    from ascent.testing.postgres import PostgresServer, find_postgres_bin

    if find_postgres_bin() is None:
        return None
    server = PostgresServer().__enter__()
    stack.append(server)
    return server.create_database("bench_durable")


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("-n", type=int, default=200, help="sequential runs per side")
    parser.add_argument("--quick", action="store_true", help="tiny counts (smoke test)")
    parser.add_argument("--no-postgres", action="store_true", help="SQLite only")
    args = parser.parse_args(argv)
    n, warmup = (3, 1) if args.quick else (args.n, 20)
    folder = Path(tempfile.mkdtemp(prefix="ascent-bench-durable-"))
    servers: list[object] = []
    try:
        with mock_server() as base_url:
            baseline = asyncio.run(in_process(base_url, n, warmup))
            databases = {"sqlite": f"sqlite:///{folder / 'durable.db'}"}
            pg = None if args.quick or args.no_postgres else postgres_url(servers)
            if pg is not None:
                databases["postgresql"] = pg
            results = {
                name: asyncio.run(durable(base_url, url, n, warmup))
                for name, url in databases.items()
            }
            dispose_engines()
    finally:
        for server in servers:
            server.__exit__(None, None, None)  # type: ignore[attr-defined]
    report(baseline, results, n)


def report(baseline: Times, results: dict[str, tuple[Times, Times]], n: int) -> None:
    header = ["run", "median", "p95", "CPU median", "per step (wall)", "per step (CPU)"]
    rows = [header]
    wall, cpu = baseline
    rows.append(
        [
            "in process (streamed)",
            ms(median(wall)),
            ms(percentile(wall, 95)),
            ms(median(cpu)),
            "",
            "",
        ]
    )
    per_step: dict[str, float] = {}
    for name, ((times, cpu_times), (floor, floor_cpu)) in results.items():
        per_step[name] = (median(times) - median(wall)) / STEPS
        rows.append(
            [
                f"durable, {name}",
                ms(median(times)),
                ms(percentile(times, 95)),
                ms(median(cpu_times)),
                ms(per_step[name]),
                ms((median(cpu_times) - median(cpu)) / STEPS),
            ]
        )
        rows.append(
            [
                f"  floor: DBOS alone, {name}",
                ms(median(floor)),
                ms(percentile(floor, 95)),
                ms(median(floor_cpu)),
                ms(median(floor) / STEPS),
                ms(median(floor_cpu) / STEPS),
            ]
        )
    print(f"durable overhead: {n} sequential runs per side, {STEPS} steps per run")
    print(table(rows))
    sqlite = per_step["sqlite"]
    ratio = median(results["sqlite"][0][0]) / median(wall)
    print(f"durable ÷ in-process (sqlite, wall): {ratio:.2f}x")
    print(
        f"durable overhead per step on SQLite: {ms(sqlite)} "
        f"(target < {ms(TARGET_PER_STEP)}: {_verdict(sqlite < TARGET_PER_STEP)})"
    )


if __name__ == "__main__":
    main()
