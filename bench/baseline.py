"""This checkout against another (an older commit's worktree): CPU per run, side by side.

Each round runs both checkouts' processes one after the other (the order
alternating between rounds), each in its own environment (``OLD/.venv`` when
there is one, else ``uv run --project OLD``), so both see the same machine. Two
measures:

- overhead: ``bench/overhead.py``'s scenario in process (the scripted model, an
  async tool; a sync tool, tracing off), CPU per run on the run thread's clock
  over alternating chunks of runs with tracing off and on (on: the trace
  writer's thread and a final flush included), then the encode floor (spans
  made and encoded as the store does, nothing stored; on / off);
- wire: ``bench/wire.py`` of each checkout, its sequential CPU per run.

Printed: each side's median and minimum over the rounds and the ratios this ÷
the other, per round and of the medians.

    uv run python bench/baseline.py --baseline ../old-checkout [--rounds 5] [-n 1000]
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import re
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path
from typing import Any

HERE = Path(__file__).resolve().parent
WIRE_ROW = re.compile(r"^((?:ascent|hand-written) [a-z, ]+?)\s{2,}[\d.]+ ms\s+([\d.]+) ms")


def _python(tree: Path) -> list[str]:
    if tree.resolve() == HERE.parent:
        return [sys.executable]
    venv = tree / ".venv" / "bin" / "python"
    return [str(venv)] if venv.exists() else ["uv", "run", "--project", str(tree), "python"]


async def _worker(n: int) -> dict[str, float]:
    """The overhead figures of the ``ascent`` this process imports."""
    sys.path.insert(0, str(HERE))
    os.environ["ASCENT_DATABASE_URL"] = f"sqlite:///{tempfile.mkdtemp()}/bench.db"
    from _common import ANSWER, ARGUMENTS, INSTRUCTIONS, QUESTION, add_async, add_sync

    from ascent import Agent, RunConfig, Runner, function_tool
    from ascent.testing import ScriptedModel, ToolCall
    from ascent.tracing import flush_traces, get_trace_provider, set_trace_processors
    from ascent.tracing._encoding import encode
    from ascent.tracing.redaction import secret_values

    def scenario(sync_tool: bool, tracing: bool) -> Any:
        tool = function_tool(add_sync if sync_tool else add_async)
        agent = Agent(name="calc", instructions=INSTRUCTIONS, tools=[tool])

        async def run() -> None:
            model = ScriptedModel([ToolCall(tool.name, ARGUMENTS), ANSWER])
            config = RunConfig(model=model, tracing_disabled=not tracing)
            result = await Runner.run(agent, QUESTION, run_config=config)
            assert result.final_output == ANSWER

        return run

    class Encode:  # the encode floor: bench/overhead.py's _EncodeOnly
        def __init__(self) -> None:
            self.items: list[Any] = []
            self.secrets = secret_values()

        def on_trace_start(self, trace: Any) -> None: ...
        def on_span_start(self, span: Any) -> None: ...
        def force_flush(self) -> None: ...
        def shutdown(self) -> None: ...

        def on_span_end(self, span: Any) -> None:
            self.items.append(span)

        def on_trace_end(self, trace: Any) -> None:
            self.items.append(trace)
            encode(self.items, self.secrets)
            self.items = []

    def writer_cpu() -> float:
        return sum(
            time.clock_gettime(time.pthread_getcpuclockid(t.ident))
            for t in threading.enumerate()
            if t.name == "ascent-trace-export" and t.ident is not None
        )

    async def chunks(runs: dict[str, Any], rounds: int, chunk: int) -> dict[str, float]:
        spent = dict.fromkeys(runs, 0.0)
        for _ in range(rounds):
            for name, run in runs.items():
                start = time.thread_time()
                for _ in range(chunk):
                    await run()
                spent[name] += time.thread_time() - start
        return spent

    off, on, sync_off = scenario(False, False), scenario(False, True), scenario(True, False)
    for _ in range(min(n, 200)):  # warm-up: the writer starts here
        await off()
        await on()
        await sync_off()
    flush_traces()
    chunk = min(50, n)
    rounds = max(1, n // chunk)
    written = writer_cpu()
    spent = await chunks({"off": off, "on": on, "sync_off": sync_off}, rounds, chunk)
    start = time.thread_time()
    flush_traces()
    spent["on"] += time.thread_time() - start + writer_cpu() - written
    store = get_trace_provider().processors
    set_trace_processors([Encode()])
    try:
        floor = await chunks({"encode_off": off, "encode_on": on}, rounds, chunk)
    finally:
        set_trace_processors(store)
    return {name: value / (rounds * chunk) for name, value in {**spent, **floor}.items()}


def _overhead(tree: Path, n: int) -> dict[str, float]:
    command = [*_python(tree), str(Path(__file__).resolve()), "--worker", "-n", str(n)]
    out = subprocess.run(command, cwd=tree, capture_output=True, text=True, check=True).stdout
    figures: dict[str, float] = json.loads(out.strip().splitlines()[-1])
    return figures


def _wire(tree: Path, args: list[str]) -> dict[str, float]:
    command = [*_python(tree), "bench/wire.py", *args]
    out = subprocess.run(command, cwd=tree, capture_output=True, text=True, check=True).stdout
    rows = (WIRE_ROW.match(line) for line in out.splitlines())
    return {m.group(1): float(m.group(2)) / 1000 for m in rows if m is not None}


def _print(title: str, ours: list[dict[str, float]], theirs: list[dict[str, float]]) -> None:
    print(f"\n{title}: CPU per run, this checkout / the baseline")
    for key in ours[0]:
        a = [r[key] for r in ours]
        b = [r[key] for r in theirs]
        rounds = " ".join(f"{x / y:.2f}" for x, y in zip(a, b, strict=True))
        print(
            f"  {key:28s} this {statistics.median(a) * 1e3:.3f} ms (min {min(a) * 1e3:.3f}), "
            f"baseline {statistics.median(b) * 1e3:.3f} ms (min {min(b) * 1e3:.3f}): "
            f"{statistics.median(a) / statistics.median(b):.2f}x (rounds: {rounds})"
        )
    if "on" in ours[0]:
        for label, side in (("this", ours), ("baseline", theirs)):
            tracing = " ".join(f"{r['on'] / r['off']:.2f}" for r in side)
            floor = " ".join(f"{r['encode_on'] / r['encode_off']:.2f}" for r in side)
            print(f"  {label}: tracing on / off {tracing}; encode floor {floor}")


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--baseline", type=Path, help="the other checkout (default: this one)")
    parser.add_argument("--rounds", type=int, default=5)
    parser.add_argument("-n", type=int, default=1000, help="in-process runs per side and round")
    parser.add_argument("--wire-rounds", type=int, default=3)
    parser.add_argument("--wire", default="-n 200 --concurrent 300 --streamed 20")
    parser.add_argument("--quick", action="store_true", help="tiny counts (smoke test)")
    parser.add_argument("--worker", action="store_true", help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.worker:
        print(json.dumps(asyncio.run(_worker(args.n))))
        return
    if args.quick:
        args.rounds, args.n, args.wire_rounds, args.wire = 1, 4, 1, "--quick"
    trees = {"this": HERE.parent, "baseline": (args.baseline or HERE.parent).resolve()}
    print(f"this checkout {trees['this']}, baseline {trees['baseline']}")
    results: dict[str, dict[str, list[dict[str, float]]]] = {
        side: {"overhead": [], "wire": []} for side in trees
    }
    for kind, rounds in (("overhead", args.rounds), ("wire", args.wire_rounds)):
        for at in range(rounds):
            order = list(trees) if at % 2 == 0 else list(reversed(trees))
            for side in order:
                tree = trees[side]
                figures = (
                    _overhead(tree, args.n)
                    if kind == "overhead"
                    else _wire(tree, args.wire.split())
                )
                results[side][kind].append(figures)
    _print(
        f"overhead.py scenario ({args.rounds} rounds of {args.n} runs a side)",
        results["this"]["overhead"],
        results["baseline"]["overhead"],
    )
    _print(
        f"wire.py ({args.wire_rounds} rounds, {args.wire})",
        results["this"]["wire"],
        results["baseline"]["wire"],
    )


if __name__ == "__main__":
    main()
