"""Start-up cost: ``import ascent``, what a program's first line imports, and ``ascent --help``.

Each case runs in fresh interpreters, in turn with the references, round after
round, and keeps its fastest run (a shared machine only ever adds time): the wall
time of a whole process, from spawn to exit, with compiled bytecode cached outside
the tree (as after an install). An import's cost is its process's time less that of
``python -c pass`` (the interpreter's own start) measured in the same rounds; ratios
to ``pass`` and to ``import pydantic`` (and pydantic with one model defined: the
first model loads most of pydantic) make figures from a noisy machine comparable.
``openai``, ``typer``, ``rich``, ``sqlalchemy``, ``pydantic`` and the rest of
``HEAVY`` must not be imported by ``import ascent``: names load their module on first
use, the command line and the providers load their libraries when they run.

    uv run python bench/importtime.py [--runs 15] [--baseline OLD/src]

Targets: ``import ascent`` adds under 150 ms; ``ascent --help`` takes under 300 ms.
"""

from __future__ import annotations

import argparse
import os
import re
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path

from _common import verdict

IMPORT_TARGET = 0.15
HELP_TARGET = 0.30
FORBIDDEN = ("openai", "typer", "rich", "click", "sqlalchemy", "pydantic", "docstring_parser")
HEAVY = (*FORBIDDEN, "httpx", "anyio", "starlette", "fastapi", "uvicorn", "litellm", "agents")
PYDANTIC_MODEL = "from pydantic import BaseModel\nclass M(BaseModel):\n    x: int"
FIRST_LINE = "from ascent import Agent, Runner, function_tool"
_LINE = re.compile(r"import time:\s+(\d+) \|\s+(\d+) \|( *)(\S+)")


@dataclass(frozen=True)
class Case:
    label: str
    argv: list[str]
    source: str | None = None  # another version's src folder (a baseline), else this one


def _env(*, bytecode: bool = True) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if k != "PYTHONDONTWRITEBYTECODE"}
    env["PYTHONPYCACHEPREFIX"] = str(Path(tempfile.gettempdir()) / "ascent-bench-pycache")
    if not bytecode:
        env["PYTHONDONTWRITEBYTECODE"] = "1"
        env["PYTHONPYCACHEPREFIX"] = str(Path(tempfile.gettempdir()) / "ascent-bench-no-pycache")
    return env


def _python(statement: str) -> list[str]:
    return [sys.executable, "-c", statement]


def _cli() -> list[str]:
    """The installed console script, as a user runs it (else the module)."""
    script = Path(sys.executable).with_name("ascent")
    return [str(script)] if script.exists() else [sys.executable, "-m", "ascent.cli"]


def wall(case: Case, env: dict[str, str]) -> tuple[float, float]:
    """Seconds one process takes from spawn to exit, and the CPU seconds it used."""
    if case.source is not None:
        env = {**env, "PYTHONPATH": case.source}
    start = time.perf_counter()
    process = subprocess.Popen(
        case.argv, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, env=env
    )
    _, status, usage = os.wait4(process.pid, 0)
    elapsed = time.perf_counter() - start
    process.returncode = os.waitstatus_to_exitcode(status)
    if process.returncode:
        raise subprocess.CalledProcessError(process.returncode, case.argv)
    return elapsed, usage.ru_utime + usage.ru_stime


def fastest(cases: list[Case], runs: int, *, bytecode: bool = True) -> dict[str, float]:
    """Each case's fastest wall time of ``runs`` rounds, the cases taking turns within a
    round (and its least CPU time, under ``label + " cpu"``)."""
    env = _env(bytecode=bytecode)
    if bytecode:
        for case in cases:  # fills the bytecode cache
            wall(case, env)
    best = {case.label: float("inf") for case in cases}
    best |= {f"{case.label} cpu": float("inf") for case in cases}
    for _ in range(runs):
        for case in cases:
            elapsed, cpu = wall(case, env)
            best[case.label] = min(best[case.label], elapsed)
            best[f"{case.label} cpu"] = min(best[f"{case.label} cpu"], cpu)
    return best


def loaded_modules(statement: str) -> dict[str, float]:
    """Module -> seconds spent in its own body, for one interpreter running ``statement``."""
    err = subprocess.run(
        [sys.executable, "-X", "importtime", "-c", statement],
        capture_output=True,
        text=True,
        check=True,
        env=_env(),
    ).stderr
    return {m.group(4): int(m.group(1)) / 1e6 for m in _LINE.finditer(err)}


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=15)
    parser.add_argument("--quick", action="store_true", help="one round (smoke test)")
    parser.add_argument(
        "--baseline",
        metavar="SRC",
        help="another version's src folder (say, an exported commit): its import ascent, "
        "first line and --help take turns with this version's in the same rounds",
    )
    args = parser.parse_args(argv)
    runs = 1 if args.quick else args.runs
    ours = [
        Case("import ascent", _python("import ascent")),
        Case(FIRST_LINE, _python(FIRST_LINE)),
        Case("ascent --help", [*_cli(), "--help"]),
    ]
    theirs = [
        Case(f"{case.label} (baseline)", case.argv, source=str(Path(args.baseline).resolve()))
        for case in (ours if args.baseline else [])
    ]
    cases = [
        Case("python -c pass", _python("pass")),
        Case("import pydantic", _python("import pydantic")),
        Case("pydantic and one model", _python(PYDANTIC_MODEL)),
        *ours,
        *theirs,
    ]
    best = fastest(cases, runs)
    base, base_cpu = best["python -c pass"], best["python -c pass cpu"]
    pydantic = best["import pydantic"] - base
    cold = fastest(ours[:1], 1 if args.quick else 3, bytecode=False)["import ascent"]
    cold_base = fastest(cases[:1], 1 if args.quick else 3, bytecode=False)["python -c pass"]

    print(f"start-up, fastest of {runs} rounds of fresh processes taking turns")
    print(
        f"  {'':<59} {'wall':>8} {'added':>8} {'/ pass':>7} {'/ pydantic':>11} "
        f"{'CPU':>8} {'/ pass':>7}"
    )
    for case in cases:
        total, cpu = best[case.label], best[f"{case.label} cpu"]
        extra = total - base
        rel = f"{extra / pydantic:.2f}x" if case.label != "python -c pass" else ""
        print(
            f"  {case.label:<59} {total * 1000:>5.0f} ms {extra * 1000:>5.0f} ms "
            f"{total / base:>6.2f}x {rel:>11} {cpu * 1000:>5.0f} ms {cpu / base_cpu:>6.2f}x"
        )
    for case in theirs:
        now = case.label.removesuffix(" (baseline)")
        print(
            f"  {now}: {best[now] / best[case.label]:.2f}x the baseline's wall time, "
            f"{best[now + ' cpu'] / best[case.label + ' cpu']:.2f}x its CPU"
        )
    ascent = best["import ascent"] - base
    print(f"  import ascent, no bytecode: adds {(cold - cold_base) * 1000:.0f} ms (compiling)")
    print(
        f"  import ascent adds < {IMPORT_TARGET * 1000:.0f} ms: {verdict(ascent < IMPORT_TARGET)}"
    )
    help_time = best["ascent --help"]
    print(f"  ascent --help < {HELP_TARGET * 1000:.0f} ms: {verdict(help_time < HELP_TARGET)}")

    details = loaded_modules("import ascent")
    loaded = [m for m in HEAVY if m in details]
    bad = [m for m in FORBIDDEN if m in loaded]
    print(f"  heavy modules imported by import ascent: {', '.join(loaded) or 'none'}")
    print(f"  {', '.join(FORBIDDEN)} not imported: {verdict(not bad)}")
    first = loaded_modules(FIRST_LINE)
    print(f"  heavy modules imported by {FIRST_LINE}: ", end="")
    print(", ".join(m for m in HEAVY if m in first) or "none")
    ours = sorted(((t, m) for m, t in first.items() if m.split(".")[0] == "ascent"), reverse=True)
    print("  slowest ascent modules there (own time, one run): ", end="")
    print(", ".join(f"{m} {t * 1000:.0f} ms" for t, m in ours[:5]))


if __name__ == "__main__":
    main()
