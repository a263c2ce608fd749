"""What the benchmarks share: the scenario's tool, statistics, RSS, printing.

Every benchmark runs the same two-step scenario: the model calls the ``add``
tool, then answers with text.
"""

from __future__ import annotations

import asyncio
import importlib.util
import os
import resource
import statistics
import subprocess
import sys
import tempfile
from collections.abc import AsyncIterator, Callable, Iterator, Sequence
from contextlib import asynccontextmanager, contextmanager
from dataclasses import dataclass

# Runs are traced by default into the project database: keep the benchmarks'
# traces in a throwaway SQLite file, never in the working tree.
os.environ.setdefault(
    "ASCENT_DATABASE_URL", f"sqlite:///{tempfile.mkdtemp(prefix='ascent-bench-')}/traces.db"
)

QUESTION = "What is 2 + 3?"
INSTRUCTIONS = "You are a calculator. Use the add tool."
ANSWER = "It is 5."
ARGUMENTS = {"a": 2, "b": 3}


# The mock model, in a process of its own (its CPU is not the client's): the scenario's
# two replies, after ``latency`` seconds (argv[1]) or the delay a model name asks for
# (``mock@0.1``). Prints its base URL, serves until stdin closes.
_MOCK_SERVER = f"""
import sys

from ascent.testing.mock_openai import Delay, MockOpenAIServer, Reply, ToolCall

latency = float(sys.argv[1])

def respond(request):
    if request.last_is_tool_output:
        reply = Reply(text={ANSWER!r})
    else:
        reply = Reply(tool_calls=[ToolCall(name="add", arguments={ARGUMENTS!r})])
    delay = float(str(request.body.get("model", "")).partition("@")[2] or latency)
    return Delay(seconds=delay, then=reply) if delay else reply

with MockOpenAIServer(responder=respond) as server:
    print(server.base_url, flush=True)
    sys.stdin.read()
"""


@contextmanager
def mock_server(
    *, latency: float = 0.0, started: Callable[[int], None] | None = None
) -> Iterator[str]:
    """Start the mock model in a subprocess; yields its base URL. ``started`` gets
    the process id (to meter its CPU)."""
    process = subprocess.Popen(
        [sys.executable, "-c", _MOCK_SERVER, str(latency)],
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        text=True,
    )
    if started is not None:
        started(process.pid)
    try:
        assert process.stdout is not None
        base_url = process.stdout.readline().strip()
        if not base_url.startswith("http"):
            raise RuntimeError("the mock server did not start")
        yield base_url
    finally:
        assert process.stdin is not None
        process.stdin.close()
        process.wait(timeout=10)


def add_sync(a: int, b: int) -> int:
    """Add two numbers."""
    return a + b


async def add_async(a: int, b: int) -> int:
    """Add two numbers."""
    return a + b


def have_agents_sdk() -> bool:
    """Whether the OpenAI Agents SDK (the ``bench`` dependency group) is installed."""
    return importlib.util.find_spec("agents") is not None


# ------------------------------------------------------------------- statistics


def percentile(values: Sequence[float], q: float) -> float:
    """The ``q``-th percentile (0-100), nearest rank."""
    ordered = sorted(values)
    index = max(0, min(len(ordered) - 1, round(q / 100 * len(ordered)) - 1))
    return ordered[index]


def median(values: Sequence[float]) -> float:
    return statistics.median(values)


def ms(seconds: float) -> str:
    return f"{seconds * 1000:.3f} ms"


def verdict(ok: bool) -> str:
    return "met" if ok else "MISSED"


def table(rows: Sequence[Sequence[str]]) -> str:
    """Left-aligned columns, the first row a header."""
    widths = [max(len(row[i]) for row in rows) for i in range(len(rows[0]))]
    lines = ["  ".join(cell.ljust(w) for cell, w in zip(row, widths, strict=True)) for row in rows]
    lines.insert(1, "  ".join("-" * w for w in widths))
    return "\n".join(line.rstrip() for line in lines)


# -------------------------------------------------------------------- memory

_PAGE = os.sysconf("SC_PAGE_SIZE") if hasattr(os, "sysconf") else 4096


def rss_bytes() -> int:
    """The resident set size of this process now (peak so far where /proc is missing)."""
    try:
        with open("/proc/self/statm") as f:
            return int(f.read().split()[1]) * _PAGE
    except OSError:
        return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024


@dataclass
class PeakRSS:
    start: int
    peak: int

    @property
    def growth(self) -> int:
        return self.peak - self.start


@asynccontextmanager
async def peak_rss(interval: float = 0.005) -> AsyncIterator[PeakRSS]:
    """Sample the RSS while the block runs; ``.peak`` is the highest seen."""
    seen = PeakRSS(start=rss_bytes(), peak=rss_bytes())

    async def sample() -> None:
        while True:
            seen.peak = max(seen.peak, rss_bytes())
            await asyncio.sleep(interval)

    sampler = asyncio.create_task(sample())
    try:
        yield seen
    finally:
        sampler.cancel()
        seen.peak = max(seen.peak, rss_bytes())


def mb(n: float) -> str:
    return f"{n / 2**20:.1f} MB"


def kb(n: float) -> str:
    return f"{n / 1024:.1f} KB"
