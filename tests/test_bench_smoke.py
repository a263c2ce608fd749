"""The benchmarks in bench/ run and print their figures (tiny counts; nothing is timed here).

The OpenAI Agents SDK part of a benchmark runs only when the ``bench`` group is
installed; the benchmarks skip it on their own otherwise.
"""

from __future__ import annotations

import importlib.util
import os
import re
import sys
from pathlib import Path
from types import ModuleType

import pytest

BENCH = Path(__file__).resolve().parents[1] / "bench"


def load(name: str, monkeypatch: pytest.MonkeyPatch) -> ModuleType:
    monkeypatch.setattr(sys, "path", [*sys.path, str(BENCH)])
    spec = importlib.util.spec_from_file_location(f"bench_{name}", BENCH / f"{name}.py")
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    monkeypatch.setitem(sys.modules, spec.name, module)
    spec.loader.exec_module(module)
    return module


@pytest.mark.parametrize(
    ("name", "expected"),
    [
        ("overhead", ["ascent", "sync tool", "async tool", "median", "p95", "Floor", "dropped"]),
        ("wire", ["ascent chat", "hand-written chat", "ascent responses", "CPU ratio"]),
        ("baseline", ["overhead.py scenario", "encode floor", "wire.py", "ascent chat"]),
        ("memory", ["sequential runs", "concurrent runs", "per run"]),
        ("importtime", ["import ascent", "pydantic", "heavy modules imported", "ascent --help"]),
        ("news", ["streams on B", "p99", "NOTIFY"]),
        ("sessions", ["sqlite", "last 20", "flat means"]),
        ("memory_search", ["sqlite keyword", "sqlite hybrid", "search (median)"]),
        ("service", ["replicas", "clients", "runs/s", "p99", "2 replicas / 1 replica"]),
        ("service_ab", ["before", "after", "replica CPU/run", "after / before"]),
        (
            "floors",
            ["DBOS floor", "hand-written", "sum of floors", "Ascent's own", "verdict", "/ total"],
        ),
        (
            "durable",
            [
                "durable overhead",
                "in process (streamed)",
                "durable (steps), sqlite",
                "per step",
                "temporal, test server",
            ],
        ),
        ("chaos", ["kill -9", "misbehaving model", "cut_stream", "RSS", "races", "problems: none"]),
        ("events", ["events/s", "relay lag p50", "backlog", "run completed event", "nats"]),
    ],
)
def test_benchmark_prints_figures(
    name: str,
    expected: list[str],
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    failed = load(name, monkeypatch).main(["--quick"])
    assert not failed  # a benchmark that checks something (chaos) says whether it held
    out = capsys.readouterr().out
    for text in expected:
        assert text in out
    assert re.search(r"\d+(\.\d+)? (ms|MB|KB|B)\b", out)
    if name in ("overhead", "wire") and importlib.util.find_spec("agents") is not None:
        assert "openai-agents" in out


def test_console_benchmark_prints_figures(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    """bench/console.py drives Debian's chromium (as the console's browser tests do)."""
    chromium = Path("/usr/bin/chromium")
    if not chromium.exists() or importlib.util.find_spec("playwright") is None:
        in_ci = os.environ.get("CI", "").strip().lower() not in {"", "0", "false", "no"}
        if in_ci:
            pytest.fail(f"{chromium} or playwright missing: CI installs both")
        pytest.skip(f"{chromium} or playwright missing")
    load("console", monkeypatch).main(["--quick"])
    out = capsys.readouterr().out
    for text in (
        "first paint",
        "transferred",
        "from the app (hash change)",
        "GET /v1/runs?limit=50&before=",
        "console Runs page (Older)",
        "import ascent loads no console module: met",
        "core dependencies unchanged",
    ):
        assert text in out
    assert re.search(r"\d+(\.\d+)? (ms|KB)\b", out)
