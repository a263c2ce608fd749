"""Every file in examples/ runs offline and prints what it is meant to show.

The examples run in separate processes, a few at once, each in its own empty
working directory and without any model key in the environment; each test then
checks the distinctive lines of one example.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import tempfile
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path

import pytest

EXAMPLES = Path(__file__).resolve().parents[1] / "examples"

# For each example, lines its output must contain, exactly (whole lines).
EXPECTED: dict[str, list[str]] = {
    "hello_agent": ["You said: Hello! I am Ada.", "1 model call, answered by Greeter"],
    "dynamic_instructions": [
        "You are Helper. The customer is Ada (pro plan). Be concise and technical.",
        "You are Helper. The customer is Grace (free plan). Explain simply.",
        "  -> You said: How do I export my data?",
    ],
    "streaming": [
        '[Editor calls count_words with {"text": "the quick brown fox"}]',
        "[tool returned 4]",
        "Here is what I found: count_words: 4",
        "done: 2 model calls",
    ],
    "function_tools": [
        '\'Convert 20 celsius please\' -> convert_temperature{"value": 20, "unit": "celsius"}',
        "  Here is what I found: convert_temperature: 20 °C is 68 °F",
        "'Set a reminder in 15 minutes: \"call Bob\"' -> set_reminder"
        '{"reminder": {"text": "call Bob", "minutes": 15}}',
    ],
    "agents_as_tools": [
        'Coordinator asked translator: {"input": "Good morning, friends"}',
        "it answered: You said: Good morning, friends",
        "final (Coordinator): Here is what I found: translator: You said: Good morning, friends",
    ],
    "handoffs": [
        "'I was charged twice on my invoice.': Triage -> Billing (via transfer_to_billing)",
        "'The app shows an error at login.': Triage -> Technical (via transfer_to_technical)",
    ],
    "guardrails": [
        "answered: You said: Where is my order A-1042?",
        "refused by on_topic: {'off_topic': True}",
        "answer withheld by no_card_numbers",
    ],
    "structured_output": [
        "Ticket(order_id='A-1042', category='damaged', quantity=2, summary='Broken handles')",
        "order A-1042, 2 item(s), category damaged",
    ],
    "context": [
        "Here is what I found: my_orders: A-1042, A-1077",
        "audit: my_orders for u-7",
        "user id sent to the model: False",
    ],
    "sessions": [
        '"Hi, I\'m Ada.": the model saw 1 item(s)',
        "'What did I order?': the model saw 5 item(s)",
        '6 items stored; the first: "Hi, I\'m Ada."',
    ],
    "long_term_memory": [
        "Monday: the agent called ['remember']",
        "stored for ada: ['Ada is vegetarian']",
        "Friday: the agent called ['recall']: ['Ada is vegetarian']",
        "- Ada is vegetarian",
        "Ben's memories: []",
    ],
    "human_approval": [
        'waiting for approval: refund {"order_id": "A-1042", "amount": 80}',
        "Here is what I found: refund: refunded 80 EUR on A-1042",
        "Here is what I found: refund: refunded 20 EUR on A-1077 (interrupted: False)",
    ],
    "tracing": [
        "trace 'Morning shift' with 11 spans:",
        "custom: load customer profile",
        "agent: Support",
        "  tool: order_status",
        "    custom: warehouse query",
    ],
    "pattern_chaining": [
        "topic 'Running shoes for beginners': Outliner -> Writer -> Editor",
        "  final: Cushioning protects your knees. Fit beats fashion. Spend on what you feel.",
        "topic 'Shoes': Outliner",
        "  stopped after Outliner: the outline has 1 point(s), 3 are needed",
    ],
    "pattern_routing": [
        "  -> billing (a double charge is a billing matter); Billing answers",
        "  -> technical (an app crash is a technical problem); Technical answers",
        "  -> general (shipping questions are general); General answers",
    ],
    "pattern_parallel": [
        "security: Here is what I found: find_sql_injection: "
        "SQL built from a formatted string: use query parameters",
        "tests failed: service unavailable (HTTP 503)",
        "safe to merge: False (67% agreement)",
    ],
    "pattern_orchestrator": [
        "plan: ['Flights', 'Hotel', 'Weather']",
        "  Flights (Researcher): AZ 101 leaves Paris at 9:05 and lands in Rome at 11:10 (120 EUR).",
        "  Hotel (Researcher): Hotel Forum: 2 nights, 340 EUR, a view of the Forum.",
        "  Weather (Researcher): Rome next weekend: sunny, 24 °C.",
        "itinerary: Fly AZ 101 at 9:05, stay 2 nights at Hotel Forum, pack for 24 °C sun.",
    ],
    "pattern_evaluator": [
        "round 1: 'Our shoes are good shoes for running in.' -> "
        "revise: Repetitive ('shoes' twice) and vague.",
        "round 3: 'Run further. Feel nothing but the road.' -> accepted",
        "accepted: True, after 3 rounds",
    ],
    "pattern_workspace": [
        "Here is what I found: list_notes: - flights (by Researcher): AZ 101 at 9:05, 120 EUR "
        "- hotel (by Researcher): Hotel Forum, 340 EUR - budget (by Accountant): 460 EUR so far",
        "budget note by Accountant: 460 EUR so far",
    ],
}

_UNSET = ("OPENAI_API_KEY", "OPENAI_BASE_URL", "ASCENT_MODEL", "ASCENT_DATABASE_URL")

# Starting Python and importing Ascent costs more than running an example, so
# each worker process runs several examples in turn, each with runpy as
# ``python examples/NAME.py`` would, in its own empty directory, and reports
# what each printed as JSON. The workers' databases are their own temporary files.
_WORKER = """
import contextlib, io, json, os, runpy, sys, tempfile, traceback
results = {}
for path in sys.argv[1:]:
    out = io.StringIO()
    with tempfile.TemporaryDirectory() as cwd:
        os.chdir(cwd)
        sys.argv = [path]
        try:
            with contextlib.redirect_stdout(out):
                runpy.run_path(path, run_name="__main__")
            error = None
        except BaseException:
            error = traceback.format_exc()
        os.chdir(os.path.dirname(path))
    results[os.path.basename(path)[:-3]] = {"stdout": out.getvalue(), "error": error}
print(json.dumps(results))
"""


@dataclass(frozen=True)
class Outcome:
    stdout: str
    error: str | None


def _run_worker(paths: list[Path]) -> dict[str, Outcome]:
    env = {key: value for key, value in os.environ.items() if key not in _UNSET}
    env["PYTHONIOENCODING"] = "utf-8"
    with tempfile.TemporaryDirectory(prefix="examples-") as home:
        env["ASCENT_DATABASE_URL"] = f"sqlite:///{Path(home) / 'ascent.db'}"
        done = subprocess.run(
            [sys.executable, "-c", _WORKER, *map(str, paths)],
            cwd=home,
            env=env,
            capture_output=True,
            text=True,
            encoding="utf-8",
            timeout=300,  # a guard against a hang, not a measurement
            check=False,
        )
    assert done.returncode == 0, f"the example runner crashed:\n{done.stderr}"
    reported = json.loads(done.stdout.splitlines()[-1])
    return {name: Outcome(**value) for name, value in reported.items()}


@pytest.fixture(scope="module")
def outputs() -> dict[str, Outcome]:
    paths = sorted(EXAMPLES.glob("*.py"))
    workers = max(2, min(4, os.cpu_count() or 2))
    shares = [paths[index::workers] for index in range(workers)]
    with ThreadPoolExecutor(max_workers=workers) as pool:
        results: dict[str, Outcome] = {}
        for part in pool.map(_run_worker, shares):
            results.update(part)
    return results


def test_an_example_runs_as_a_script_of_its_own(tmp_path: Path) -> None:
    env = {key: value for key, value in os.environ.items() if key not in _UNSET}
    done = subprocess.run(
        [sys.executable, str(EXAMPLES / "hello_agent.py")],
        cwd=tmp_path,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert done.returncode == 0, done.stderr
    assert done.stdout.splitlines() == EXPECTED["hello_agent"]


def test_ascent_run_on_an_example_prints_only_the_runs_output(tmp_path: Path) -> None:
    """Loading an example for ``ascent run`` does not run the example's own script."""
    env = {key: value for key, value in os.environ.items() if key not in _UNSET}
    env.update(NO_COLOR="1", COLUMNS="200", PYTHONIOENCODING="utf-8")
    env["ASCENT_DATABASE_URL"] = f"sqlite:///{tmp_path / 'ascent.db'}"
    done = subprocess.run(
        [
            sys.executable,
            "-m",
            "ascent.cli",
            "run",
            str(EXAMPLES / "hello_agent.py") + ":agent",
            "Good evening, I am Grace.",
        ],
        cwd=tmp_path,
        env=env,
        stdin=subprocess.DEVNULL,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert done.returncode == 0, done.stderr
    lines = done.stdout.splitlines()
    assert lines[0] == "Greeter: You said: Good evening, I am Grace."
    assert lines[1].startswith("usage: 1 request,")
    assert lines[2].startswith("trace trace_")
    assert len(lines) == 3
    assert "Ada" not in done.stdout  # the example's own run did not happen


_LOADER = """
import contextlib, io, json, os, runpy, sys, tempfile
printed = {}
for path in sys.argv[1:]:
    out = io.StringIO()
    with tempfile.TemporaryDirectory() as cwd:
        os.chdir(cwd)
        with contextlib.redirect_stdout(out):
            runpy.run_path(path, run_name="loaded_by_ascent")
        os.chdir(os.path.dirname(path))
    printed[os.path.basename(path)] = out.getvalue()
print(json.dumps(printed))
"""


def test_loading_an_example_runs_nothing(tmp_path: Path) -> None:
    """Every example keeps its own run under ``if __name__ == "__main__":``."""
    env = {key: value for key, value in os.environ.items() if key not in _UNSET}
    env["ASCENT_DATABASE_URL"] = f"sqlite:///{tmp_path / 'ascent.db'}"
    paths = sorted(EXAMPLES.glob("*.py"))
    done = subprocess.run(
        [sys.executable, "-c", _LOADER, *map(str, paths)],
        cwd=tmp_path,
        env=env,
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )
    assert done.returncode == 0, done.stderr
    printed = json.loads(done.stdout.splitlines()[-1])
    assert set(printed) == {path.name for path in paths}
    assert {name: text for name, text in printed.items() if text} == {}


def test_every_example_is_checked_and_listed_in_the_readme() -> None:
    found = {path.stem for path in EXAMPLES.glob("*.py")}
    assert found == set(EXPECTED)
    listing = (EXAMPLES / "README.md").read_text(encoding="utf-8")
    for name in found:
        assert f"`{name}.py`" in listing, f"examples/README.md does not list {name}.py"


@pytest.mark.parametrize("name", sorted(EXPECTED))
def test_example_runs_offline_and_prints_its_lines(name: str, outputs: dict[str, Outcome]) -> None:
    done = outputs[name]
    assert done.error is None, f"{name}.py failed:\n{done.error}"
    lines = done.stdout.splitlines()
    for expected in EXPECTED[name]:
        assert expected in lines, f"{name}.py did not print {expected!r}:\n{done.stdout}"
