"""Import time of ``import ascent``, and which heavy modules it pulls in.

Runs ``python -X importtime -c "import ascent"`` in fresh interpreters and takes
the median of the import time it adds over ``python -c pass`` (the interpreter's
own start-up imports), with compiled bytecode cached (kept in a temporary
folder), as after an install; once more without, for reference. ``pydantic``
with one model defined (its floor: the first model loads most of pydantic) is
measured the same way. ``openai``, ``typer`` and ``rich`` must not be imported:
the providers and the command line load them on first use.

    uv run python bench/importtime.py [--runs 7]

Target: under 0.15 s.
"""

from __future__ import annotations

import argparse
import os
import re
import subprocess
import sys
import tempfile
from dataclasses import dataclass
from pathlib import Path

from _common import median, verdict

TARGET = 0.15
FORBIDDEN = ("openai", "typer", "rich")
HEAVY = (*FORBIDDEN, "httpx", "httpx2", "anyio", "starlette", "uvicorn", "litellm", "agents")
# pydantic's floor: its first model loads most of pydantic lazily
PYDANTIC = "from pydantic import BaseModel\nclass M(BaseModel):\n    x: int"
_LINE = re.compile(r"import time:\s+(\d+) \|\s+(\d+) \|( *)(\S+)")


@dataclass
class Imports:
    total: float  # seconds, top-level imports summed
    self_times: dict[str, float]  # module -> seconds spent in its own body


def importtime(statement: str, *, bytecode: bool = True) -> Imports:
    """One fresh interpreter's imports; with ``bytecode``, from a warm cache of compiled
    modules kept outside the tree (as after an install), else compiling every module."""
    env = {k: v for k, v in os.environ.items() if k != "PYTHONDONTWRITEBYTECODE"}
    if bytecode:
        env["PYTHONPYCACHEPREFIX"] = str(Path(tempfile.gettempdir()) / "ascent-bench-pycache")
    else:
        env["PYTHONDONTWRITEBYTECODE"] = "1"
        env["PYTHONPYCACHEPREFIX"] = str(Path(tempfile.gettempdir()) / "ascent-bench-no-pycache")
    err = subprocess.run(
        [sys.executable, "-X", "importtime", "-c", statement],
        capture_output=True,
        text=True,
        check=True,
        env=env,
    ).stderr
    total, self_times = 0.0, {}
    for match in _LINE.finditer(err):
        own, cumulative, indent, name = match.groups()
        self_times[name] = int(own) / 1e6
        if len(indent) == 1:  # a top-level import: its cumulative time includes its children
            total += int(cumulative) / 1e6
    return Imports(total, self_times)


def added(statement: str, runs: int, *, bytecode: bool = True) -> tuple[float, Imports]:
    """Median seconds ``statement`` adds to an interpreter's start, and one run's details."""
    importtime(statement, bytecode=bytecode)  # fills the bytecode cache
    times, last = [], None
    for _ in range(runs):
        base = importtime("pass", bytecode=bytecode)
        last = importtime(statement, bytecode=bytecode)
        times.append(last.total - base.total)
    assert last is not None
    return median(times), last


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=7)
    parser.add_argument("--quick", action="store_true", help="one run (smoke test)")
    args = parser.parse_args(argv)
    runs = 1 if args.quick else args.runs
    ascent, details = added("import ascent", runs)
    pydantic, _ = added(PYDANTIC, runs)
    cold, _ = added("import ascent", 1 if args.quick else 3, bytecode=False)
    loaded = [m for m in HEAVY if m in details.self_times]
    bad = [m for m in FORBIDDEN if m in loaded]
    print(f"import time, median of {runs} fresh interpreters (python -X importtime)")
    print(f"  import ascent:              {ascent * 1000:.0f} ms")
    print(f"  pydantic and one model:     {pydantic * 1000:.0f} ms (reference)")
    print(f"  import ascent, no bytecode: {cold * 1000:.0f} ms (compiling every module)")
    print(f"  ascent / pydantic: {ascent / pydantic:.2f}x")
    print(f"  target < {TARGET * 1000:.0f} ms: {verdict(ascent < TARGET)}")
    print(f"  heavy modules imported: {', '.join(loaded) or 'none'}")
    print(f"  {', '.join(FORBIDDEN)} not imported: {verdict(not bad)}")
    ours = sorted(
        ((t, m) for m, t in details.self_times.items() if m.split(".")[0] == "ascent"),
        reverse=True,
    )
    print("  slowest ascent modules (own time, one run): ", end="")
    print(", ".join(f"{m} {t * 1000:.0f} ms" for t, m in ours[:5]))


if __name__ == "__main__":
    main()
