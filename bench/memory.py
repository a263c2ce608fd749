"""Memory: RSS growth over many sequential runs, and peak RSS of concurrent runs.

The two-step scenario with ``ascent.testing.ScriptedModel`` (a fresh model per
run). First 10,000 runs one after another: the RSS after them, less the RSS
before (both after a warm-up and a garbage collection), shows what a run leaves
behind. Then 1,000 runs at once whose model takes 100 ms per call: the peak RSS
growth while they are all in flight, per run.

    uv run python bench/memory.py [-n 10000] [--concurrent 1000]
"""

from __future__ import annotations

import argparse
import asyncio
import gc
from collections.abc import Callable

from _common import (
    ANSWER,
    ARGUMENTS,
    INSTRUCTIONS,
    QUESTION,
    add_async,
    kb,
    mb,
    peak_rss,
    rss_bytes,
)

from ascent import Agent, FunctionCallOutput, RunConfig, Runner, function_tool
from ascent.models.base import ModelRequest
from ascent.testing import ScriptedModel, Step, ToolCall

AGENT = Agent(name="calc", instructions=INSTRUCTIONS, tools=[function_tool(add_async)])


def step_factory(delay: float) -> Callable[[ModelRequest], Step]:
    """Call the tool, or answer once its output is in; after ``delay`` seconds."""

    def answer(request: ModelRequest) -> Step:
        if request.input and isinstance(request.input[-1], FunctionCallOutput):
            return Step(text=ANSWER, delay=delay)
        return Step(calls=[ToolCall("add_async", ARGUMENTS)], delay=delay)

    return answer


async def one_run(delay: float = 0.0) -> None:
    model = ScriptedModel([step_factory(delay), step_factory(delay)])
    result = await Runner.run(AGENT, QUESTION, run_config=RunConfig(model=model))
    assert result.final_output == ANSWER, result.final_output


async def sequential(n: int, warmup: int) -> tuple[int, int]:
    for _ in range(warmup):
        await one_run()
    gc.collect()
    before = rss_bytes()
    for _ in range(n):
        await one_run()
    gc.collect()
    return before, rss_bytes()


async def concurrent(n: int, delay: float) -> int:
    gc.collect()
    async with peak_rss() as rss:
        await asyncio.gather(*(one_run(delay) for _ in range(n)))
    return rss.growth


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("-n", type=int, default=10_000, help="sequential runs")
    parser.add_argument("--concurrent", type=int, default=1_000, help="concurrent runs")
    parser.add_argument("--delay", type=float, default=0.1, help="model latency, concurrent runs")
    parser.add_argument("--quick", action="store_true", help="tiny counts (smoke test)")
    args = parser.parse_args(argv)
    warmup = 200
    if args.quick:
        args.n, args.concurrent, args.delay, warmup = 20, 20, 0.01, 2
    before, after = asyncio.run(sequential(args.n, warmup))
    growth = after - before
    print(f"{args.n} sequential runs (scripted model, fresh per run):")
    print(
        f"  RSS {mb(before)} -> {mb(after)}: growth {mb(growth)}, {growth / args.n:.0f} B per run"
    )
    peak = asyncio.run(concurrent(args.concurrent, args.delay))
    print(f"{args.concurrent} concurrent runs, model latency {args.delay * 1000:g} ms per call:")
    print(f"  peak RSS growth {mb(peak)}, {kb(peak / args.concurrent)} per run")


if __name__ == "__main__":
    main()
