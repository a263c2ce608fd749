"""Framework overhead: the two-step scenario with a zero-latency fake model.

The model calls ``add``, then answers. Ascent runs it with
``ascent.testing.ScriptedModel`` (a fresh script per run); the OpenAI Agents SDK
runs it with an equivalent fake implementing its ``Model`` interface. Both with a
sync tool (run in a worker thread by both frameworks) and an async one. All runs
are sequential, in one process and one event loop, after a warm-up.

    uv run --group bench python bench/overhead.py [-n 2000] [--profile]

Targets: Ascent's median under 0.6 ms per run, at least 4x below the peer's
(both with tracing off, like for like); and with tracing on (the default: the
local trace store, a SQLite file here), Ascent's CPU time per run within 1.15x
of tracing off, the background writer's CPU and a final flush included (off and
on alternate in chunks of runs, each side timed on its own thread's clock). It
also measures the floor under that target: tracing on with the store replaced by
processors that keep nothing, so the cost of making the spans and of turning
their payloads into JSON shows apart from the cost of storing them.
"""

from __future__ import annotations

import argparse
import asyncio
import cProfile
import os
import pstats
import tempfile
import threading
import time
from collections.abc import Awaitable, Callable
from typing import Any

from _common import (
    ANSWER,
    ARGUMENTS,
    INSTRUCTIONS,
    QUESTION,
    add_async,
    add_sync,
    have_agents_sdk,
    median,
    ms,
    percentile,
    table,
    verdict,
)
from pydantic_core import to_json

from ascent import Agent, RunConfig, Runner, function_tool
from ascent.testing import ScriptedModel, ToolCall
from ascent.tracing import Span, Trace, flush_traces, get_trace_provider, set_trace_processors
from ascent.tracing._encoding import encode
from ascent.tracing.redaction import secret_values

Run = Callable[[], Awaitable[None]]

TARGET_MEDIAN = 0.6e-3
TARGET_RATIO = 4.0
TARGET_TRACING = 1.15
TRACING_CHUNK = 50  # runs per side before switching between tracing off and on


def ascent_run(sync_tool: bool, *, tracing: bool = False) -> Run:
    tool = function_tool(add_sync if sync_tool else add_async)
    agent = Agent(name="calc", instructions=INSTRUCTIONS, tools=[tool])

    async def run() -> None:
        model = ScriptedModel(
            [ToolCall("add_sync" if sync_tool else "add_async", ARGUMENTS), ANSWER]
        )
        config = RunConfig(model=model, tracing_disabled=not tracing)
        result = await Runner.run(agent, QUESTION, run_config=config)
        assert result.final_output == ANSWER, result.final_output

    return run


def writer_cpu() -> float:
    """CPU seconds the trace writer's thread has used so far (0 before it starts)."""
    return sum(
        time.clock_gettime(time.pthread_getcpuclockid(thread.ident))
        for thread in threading.enumerate()
        if thread.name == "ascent-trace-export" and thread.ident is not None
    )


async def interleaved_cpu(off: Run, on: Run, n: int) -> tuple[float, float]:
    """CPU seconds per run with tracing off and on, in alternating chunks of runs.

    Alternating keeps both sides under the same conditions on a busy machine.
    Each side's runs are timed on the run thread's own clock; tracing on is
    also charged everything the trace writer's thread used meanwhile, and a
    final flush of the queued traces.
    """
    chunk = min(TRACING_CHUNK, n)
    cpu_off = cpu_on = 0.0
    writer_start = writer_cpu()
    for _ in range(n // chunk):
        start = time.thread_time()
        for _ in range(chunk):
            await off()
        middle = time.thread_time()
        for _ in range(chunk):
            await on()
        cpu_off += middle - start
        cpu_on += time.thread_time() - middle
    start = time.thread_time()
    flush_traces()
    cpu_on += time.thread_time() - start + writer_cpu() - writer_start
    runs = n // chunk * chunk
    return cpu_off / runs, cpu_on / runs


async def tracing_cost(n: int, warmup: int) -> tuple[float, float]:
    """Async-tool runs with tracing off and on; best of three rounds each."""
    off, on = ascent_run(False, tracing=False), ascent_run(False, tracing=True)
    for _ in range(warmup):  # the writer starts here: its imports and tables are not timed
        await off()
        await on()
    flush_traces()
    rounds = [await interleaved_cpu(off, on, n) for _ in range(3)]
    return min(r[0] for r in rounds), min(r[1] for r in rounds)


class _Discard:
    """A trace processor that drops everything: what making the spans costs a run."""

    def on_trace_start(self, trace: Trace) -> None:
        pass

    def on_trace_end(self, trace: Trace) -> None:
        pass

    def on_span_start(self, span: Span) -> None:
        pass

    def on_span_end(self, span: Span) -> None:
        pass

    def force_flush(self) -> None:
        pass

    def shutdown(self) -> None:
        pass


class _Serialize(_Discard):
    """Turns the spans' attributes (items, tool arguments and outputs, settings) into
    JSON with pydantic-core, in C, in the run's own thread, then drops them: what any
    store that records the payloads pays before it checks or writes a byte."""

    def on_span_end(self, span: Span) -> None:
        to_json(span.attributes, fallback=str, exclude_none=True)

    def on_trace_end(self, trace: Trace) -> None:
        to_json(trace.metadata, fallback=str, exclude_none=True)


class _EncodeOnly(_Discard):
    """Encodes each finished trace as the trace store's writer does (JSON, then the
    check for secrets), in the run's own thread, then drops it."""

    def __init__(self) -> None:
        self.items: list[Trace | Span] = []
        self.secrets = secret_values()

    def on_span_end(self, span: Span) -> None:
        self.items.append(span)

    def on_trace_end(self, trace: Trace) -> None:
        self.items.append(trace)
        encode(self.items, self.secrets)
        self.items = []


async def tracing_floor(n: int) -> dict[str, float]:
    """Tracing on with the store replaced by each processor above in turn: on / off
    CPU for each, best of three rounds (no writer thread: the run pays it all)."""
    off, on = ascent_run(False, tracing=False), ascent_run(False, tracing=True)
    ratios: dict[str, float] = {}
    store = get_trace_provider().processors
    try:
        floors = (("discard", _Discard()), ("json", _Serialize()), ("encode", _EncodeOnly()))
        for label, processor in floors:
            set_trace_processors([processor])
            rounds = [await interleaved_cpu(off, on, n) for _ in range(3)]
            ratios[label] = min(r[1] for r in rounds) / min(r[0] for r in rounds)
    finally:
        set_trace_processors(store)
    return ratios


def agents_run(sync_tool: bool) -> Run:
    """The same scenario through the OpenAI Agents SDK, with a fake model of its own."""
    import agents
    from agents.models.interface import Model
    from openai.types.responses import (
        ResponseFunctionToolCall,
        ResponseOutputMessage,
        ResponseOutputText,
    )

    agents.set_tracing_disabled(True)  # Ascent runs here with tracing off too: like for like
    name = "add_sync" if sync_tool else "add_async"
    arguments = '{"a": 2, "b": 3}'

    class FakeModel(Model):
        """Calls the tool first, answers once the tool's output is in the input."""

        async def get_response(
            self, system_instructions: Any, input: Any, *args: Any, **kw: Any
        ) -> Any:
            last = input[-1] if isinstance(input, list) and input else {}
            kind = last.get("type") if isinstance(last, dict) else getattr(last, "type", None)
            item: Any
            if kind == "function_call_output":
                text = ResponseOutputText(type="output_text", text=ANSWER, annotations=[])
                item = ResponseOutputMessage(
                    id="msg_2", type="message", role="assistant", status="completed", content=[text]
                )
            else:
                item = ResponseFunctionToolCall(
                    id="fc_1",
                    call_id="call_1",
                    type="function_call",
                    name=name,
                    arguments=arguments,
                )
            usage = agents.Usage(requests=1, input_tokens=10, output_tokens=5, total_tokens=15)
            return agents.ModelResponse(output=[item], usage=usage, response_id=None)

        def stream_response(self, *args: Any, **kw: Any) -> Any:
            raise NotImplementedError

    tool = agents.function_tool(add_sync if sync_tool else add_async)
    agent = agents.Agent(name="calc", instructions=INSTRUCTIONS, model=FakeModel(), tools=[tool])

    async def run() -> None:
        result = await agents.Runner.run(agent, QUESTION)
        assert result.final_output == ANSWER, result.final_output

    return run


async def timed(run: Run, n: int, warmup: int) -> list[float]:
    for _ in range(warmup):
        await run()
    times: list[float] = []
    clock = time.perf_counter
    for _ in range(n):
        start = clock()
        await run()
        times.append(clock() - start)
    return times


async def measure(n: int, warmup: int) -> list[tuple[str, str, list[float]]]:
    results: list[tuple[str, str, list[float]]] = []
    for sync_tool in (True, False):
        kind = "sync tool" if sync_tool else "async tool"
        results.append(("ascent", kind, await timed(ascent_run(sync_tool), n, warmup)))
        if have_agents_sdk():
            results.append(("openai-agents", kind, await timed(agents_run(sync_tool), n, warmup)))
    return results


def report(results: list[tuple[str, str, list[float]]], n: int) -> None:
    rows = [["framework", "tool", "median", "p95"]]
    rows += [[who, kind, ms(median(t)), ms(percentile(t, 95))] for who, kind, t in results]
    print(f"Two-step run (tool call, then answer), zero-latency fake model, {n} runs each\n")
    print(table(rows))
    print()
    by = {(who, kind): median(t) for who, kind, t in results}
    for kind in ("sync tool", "async tool"):
        ours = by[("ascent", kind)]
        line = f"{kind}: ascent median {ms(ours)} (target < {ms(TARGET_MEDIAN)}: "
        line += f"{verdict(ours < TARGET_MEDIAN)})"
        peer = by.get(("openai-agents", kind))
        if peer is not None:
            ratio = peer / ours
            line += f"; ratio openai-agents / ascent = {ratio:.2f}x "
            line += f"(target >= {TARGET_RATIO:g}x: {verdict(ratio >= TARGET_RATIO)})"
        print(line)
    if not have_agents_sdk():
        print("openai-agents is not installed (uv sync --group bench): peer skipped")


def report_tracing(off: float, on: float) -> None:
    ratio = on / off
    print()
    print(
        "Tracing (async tool, off and on alternating; CPU per run incl. the trace writer"
        " thread and a final flush)"
    )
    print(f"  off {ms(off)}, on {ms(on)}: on / off = {ratio:.2f}x")
    print(f"  target <= {TARGET_TRACING:g}x: {verdict(ratio <= TARGET_TRACING)}")


def report_floor(ratios: dict[str, float]) -> None:
    print("Floor, with nothing stored (on / off, the same alternation, all in the run's thread):")
    print(f"  the spans made, then dropped:                  {ratios['discard']:.2f}x")
    print(f"  the spans made, their payloads made JSON:      {ratios['json']:.2f}x")
    print(f"  the spans made and encoded as the store does:  {ratios['encode']:.2f}x")


def profile(n: int) -> None:
    """cProfile of Ascent's sync-tool runs: where the per-run time goes."""
    run = ascent_run(sync_tool=True)

    async def many() -> None:
        for _ in range(n):
            await run()

    asyncio.run(many())  # warm up
    profiler = cProfile.Profile()
    profiler.enable()
    asyncio.run(many())
    profiler.disable()
    pstats.Stats(profiler).sort_stats("tottime").print_stats(25)


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("-n", type=int, default=2000, help="timed runs per case")
    parser.add_argument("--warmup", type=int, default=200)
    parser.add_argument("--quick", action="store_true", help="tiny counts (smoke test)")
    parser.add_argument("--profile", action="store_true", help="cProfile Ascent instead")
    args = parser.parse_args(argv)
    if args.quick:
        args.n, args.warmup = 5, 2
    if args.profile:
        profile(args.n)
        return
    with tempfile.TemporaryDirectory() as folder:
        # the local trace store, in a throwaway SQLite file rather than ./.ascent
        os.environ.setdefault("ASCENT_DATABASE_URL", f"sqlite:///{folder}/bench.db")
        report(asyncio.run(measure(args.n, args.warmup)), args.n)
        report_tracing(*asyncio.run(tracing_cost(args.n, args.warmup)))
        report_floor(asyncio.run(tracing_floor(args.n)))


if __name__ == "__main__":
    main()
