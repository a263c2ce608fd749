"""``ascent traces`` and ``ascent traces show``, read from a SQLite store the tests fill."""

from __future__ import annotations

import json
from datetime import datetime
from typing import Any

import pytest
from rich.console import Console
from typer.testing import CliRunner

from ascent.cli import app
from ascent.cli.traces import render_traces, trace_name
from ascent.tracing.spans import SpanRecord, TraceRecord
from ascent.tracing.store import SQLTraceStore

from .test_store import SUPPORT_ID, T0, span_record, support_run, trace_record

FAILED_ID = "trace_" + "f" * 32
PLAIN_ID = "trace_" + "b" * 32


@pytest.fixture
def filled(sqlite_url: str) -> str:
    """Two traces: the support run (oldest) and a failing refund run with a tripped guardrail."""
    run: list[TraceRecord | SpanRecord] = [
        trace_record(FAILED_ID, workflow="Refund flow", start=T0 + 60),
        span_record(FAILED_ID, "r:agent", "agent", "Refunds", start=T0 + 60, end=T0 + 60.25),
        span_record(FAILED_ID, "r:guard", "guardrail", "fraud_check", parent="r:agent",
                    start=T0 + 60.01, end=T0 + 60.02, stage="tool_input", triggered=True),
        span_record(FAILED_ID, "r:tool", "tool", "refund", parent="r:agent",
                    start=T0 + 60.05, end=T0 + 60.2, arguments='{"amount": 1200}',
                    output="[bold]refused[/bold]", is_error=True, error="ToolError: refused"),
        span_record(FAILED_ID, "r:custom", "custom", "audit", parent="r:tool",
                    start=T0 + 60.1, end=T0 + 60.11, reviewer="kim"),
        trace_record(FAILED_ID, workflow="Refund flow", start=T0 + 60, end=T0 + 60.25,
                     error="ToolGuardrailTripwireTriggered: fraud_check"),
    ]  # fmt: skip
    store = SQLTraceStore(sqlite_url)
    store.export(support_run())
    store.export(run)
    return sqlite_url


def invoke(*args: str, env: dict[str, str] | None = None) -> tuple[int, str, str]:
    result = CliRunner().invoke(app, list(args), env={"COLUMNS": "200", **(env or {})})
    return result.exit_code, result.stdout, result.stderr


def lines_with(output: str, needle: str) -> list[str]:
    return [line for line in output.splitlines() if needle in line]


def test_list_shows_recent_traces_newest_first(filled: str) -> None:
    code, out, err = invoke("traces", "--database-url", filled)
    assert code == 0, err
    for header in ("Time", "ID", "Name", "Turns", "Tokens", "Duration", "Error"):
        assert header in out
    (support,) = lines_with(out, "Support flow")
    assert support.startswith(datetime.fromtimestamp(T0).strftime("%m-%d %H:%M:%S"))
    assert " aaaaaaaa " in support  # a short id: 'show' takes it
    assert "Support flow (Triage, Billing)" in support  # the trace() name, then its agents
    assert support.split()[-3:] == ["682", "1,500", "ms"]  # tokens, duration; no error
    assert " 3 " in support  # turns
    (failed,) = lines_with(out, "Refund flow")
    assert "Refunds" in failed and "250 ms" in failed
    assert "ToolGuardrailTripwireTriggered: fraud_check" in failed
    assert out.index("Refund flow") < out.index("Support flow")
    assert "ascent traces show ID" in out


def test_a_runs_own_trace_is_named_after_its_agents_and_the_table_fits_80_columns(
    filled: str,
) -> None:
    """A run outside any ``trace()`` has the default workflow name: its agents name it."""
    long_agents = ["Returns and exchanges specialist", "Warehouse liaison"]
    run: list[TraceRecord | SpanRecord] = [
        trace_record(PLAIN_ID, workflow="Agent run", start=T0 + 120, end=T0 + 121),
        *(
            span_record(PLAIN_ID, f"p:{n}", "agent", name, start=T0 + 120, end=T0 + 121)
            for n, name in enumerate(long_agents)
        ),
    ]
    store = SQLTraceStore(filled)
    store.export(run)
    summaries = store.list_traces(10)
    assert [trace_name(s).plain for s in summaries] == [
        "Returns and exchanges specialist, Warehouse liaison",
        "Refund flow (Refunds)",
        "Support flow (Triage, Billing)",
    ]
    console = Console(width=80, record=True, highlight=False, color_system=None)
    console.print(render_traces(summaries))
    lines = console.export_text().splitlines()
    assert max(len(line) for line in lines) <= 80
    shown = " ".join(" ".join(line.split()) for line in lines)
    for word in ("Returns", "exchanges", "specialist", "Warehouse", "liaison", "Refund flow"):
        assert word in shown, f"{word!r} missing from:\n" + "\n".join(lines)
    assert "Agent run" not in shown
    assert "fraud_check" in shown  # the error, wrapped in its column
    # and through the command, at 80 columns
    code, out, err = invoke("traces", "--database-url", filled, env={"COLUMNS": "80"})
    assert code == 0, err
    assert max(len(line) for line in out.splitlines()) <= 80
    assert "Support flow" in out and "Refund flow" in out


def test_limit(filled: str) -> None:
    code, out, _ = invoke("traces", "--database-url", filled, "--limit", "1")
    assert code == 0
    assert "Refund flow" in out and "Support flow" not in out


def test_list_json(filled: str) -> None:
    code, out, _ = invoke("traces", "--json", "--database-url", filled)
    assert code == 0
    data = json.loads(out)
    assert [entry["trace_id"] for entry in data] == [FAILED_ID, SUPPORT_ID]
    support = data[1]
    assert (support["workflow"], support["agents"], support["turns"], support["tokens"]) == (
        "Support flow",
        ["Triage", "Billing"],
        3,
        682,
    )
    assert support["duration"] == pytest.approx(1.5)
    assert support["error"] is None
    assert data[0]["error"] == "ToolGuardrailTripwireTriggered: fraud_check"


def test_show_prints_the_span_tree(filled: str) -> None:
    code, out, err = invoke("traces", "show", SUPPORT_ID, "--database-url", filled)
    assert code == 0, err
    lines = out.splitlines()
    assert "Support flow" in lines[0] and SUPPORT_ID in lines[0]
    assert "1,500 ms" in lines[0] and "682 tokens" in lines[0]

    def line(needle: str) -> tuple[int, str]:
        (found,) = [(i, text) for i, text in enumerate(lines) if needle in text]
        return found

    def depth(text: str) -> int:  # where the label starts, after the tree guides
        return next(i for i, char in enumerate(text) if char.isalnum())

    triage_at, triage = line("agent Triage")
    billing_at, billing = line("agent Billing")
    tool_at, tool = line("tool lookup_order")
    _, model = line("150 tokens")
    assert "500 ms" in triage and "1,000 ms" in billing
    assert "model offline" in model and "(120 in, 30 out)" in model and "190 ms" in model
    assert "212 tokens (200 in, 12 out)" in out and "320 tokens (300 in, 20 out)" in out
    assert "handoff Triage -> Billing" in out
    assert "guardrail no_homework" in out and "input" in line("no_homework")[1]
    assert "passed" in line("no_homework")[1]
    assert "100 ms" in tool
    assert triage_at < billing_at < tool_at
    assert depth(triage) == depth(billing) < depth(tool)
    arguments_at, arguments = line("arguments:")
    output_at, output = line("output:")
    assert '{"order_id": "A-1042"}' in arguments and "A-1042 left on Monday" in output
    assert tool_at < arguments_at < output_at and depth(arguments) > depth(tool)


def test_show_errors_guardrails_and_custom_spans(filled: str) -> None:
    code, out, _ = invoke("traces", "show", FAILED_ID, "--database-url", filled)
    assert code == 0
    assert "error: ToolGuardrailTripwireTriggered: fraud_check" in out.splitlines()[0]
    assert lines_with(out, "guardrail fraud_check")[0].rstrip().endswith("triggered")
    assert "error: ToolError: refused" in lines_with(out, "tool refund")[0]
    assert "output: [bold]refused[/bold]" in out  # model text is never rich markup
    assert 'arguments: {"amount": 1200}' in out
    assert "custom audit" in out and "reviewer: kim" in out


def test_show_takes_a_prefix(filled: str) -> None:
    code, out, _ = invoke("traces", "--database-url", filled, "show", "ffffffff")  # as listed
    assert code == 0
    assert "Refund flow" in out.splitlines()[0]


def test_show_json(filled: str) -> None:
    code, out, _ = invoke("traces", "show", "trace_aaaa", "--json", "--database-url", filled)
    assert code == 0
    data: dict[str, Any] = json.loads(out)
    assert data["trace"]["trace_id"] == SUPPORT_ID
    assert data["trace"]["duration"] == pytest.approx(1.5)
    spans = {span["span_id"].split(":")[1]: span for span in data["spans"]}
    assert len(spans) == 8
    assert spans["tool"]["parent_id"] == f"{SUPPORT_ID}:billing"
    assert spans["tool"]["attributes"]["arguments"] == '{"order_id": "A-1042"}'
    assert spans["m1"]["attributes"]["usage"]["input_tokens"] == 120
    assert spans["m1"]["duration"] == pytest.approx(0.19)


def test_unknown_id_is_one_line_and_exit_code_1(filled: str) -> None:
    code, out, err = invoke("traces", "show", "nope", "--database-url", filled)
    assert code == 1
    assert out == ""
    assert err.strip().startswith("error: no trace with id 'nope'")
    assert len(err.strip().splitlines()) == 1


def test_ambiguous_prefix(filled: str) -> None:
    code, _, err = invoke("traces", "show", "trace_", "--database-url", filled)
    assert code == 1
    assert "ambiguous" in err and SUPPORT_ID in err and FAILED_ID in err


def test_empty_store(sqlite_url: str) -> None:
    code, out, _ = invoke("traces", "--database-url", sqlite_url)
    assert code == 0
    assert out.startswith("No traces yet")
    code, out, _ = invoke("traces", "--json", "--database-url", sqlite_url)
    assert (code, json.loads(out)) == (0, [])


def test_the_database_comes_from_the_environment(filled: str) -> None:
    code, out, _ = invoke("traces", env={"ASCENT_DATABASE_URL": filled})
    assert code == 0
    assert "Support flow" in out


def test_an_unreachable_database_is_one_red_line() -> None:
    url = "postgresql://postgres:hunter22@127.0.0.1:1/nothing"
    code, _, err = invoke("traces", "--database-url", url)
    assert code == 1
    assert err.startswith("error: cannot read traces from postgresql://postgres:***@127.0.0.1:1/")
    assert "Connection refused" in err
    assert "hunter22" not in err
    assert len(err.strip().splitlines()) == 1
