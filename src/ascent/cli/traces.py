"""``ascent traces``: read the local trace store from the terminal.

``ascent traces`` lists recent traces; ``ascent traces show ID`` prints one as
a tree of spans. ``--json`` prints the same data for machines. Everything a
model or tool produced is printed as plain text, never as rich markup.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import datetime
from typing import TYPE_CHECKING, Annotated, Any

import typer
from rich import box
from rich.console import Console
from rich.table import Table
from rich.text import Text
from rich.tree import Tree

from ..errors import AscentError
from ..storage import database_url, display_url

if TYPE_CHECKING:  # the store (SQLAlchemy) loads when a command reads traces, not for --help
    from ..tracing.spans import SpanRecord, TraceRecord
    from ..tracing.store import TraceSummary
from ._common import FlagsCommand, fail

__all__ = ["render_trace", "render_traces", "trace_name", "traces_app"]

_CLIP = 200
_ERROR_CLIP = 80
_ID_PREFIX = "trace_"
_SHORT_ID = len(_ID_PREFIX) + 8
_KIND_STYLES = {
    "agent": "bold cyan",
    "model": "bold blue",
    "tool": "bold yellow",
    "handoff": "bold magenta",
    "guardrail": "bold green",
    "custom": "bold",
}

traces_app = typer.Typer(
    name="traces",
    help="List the traces of recent runs; 'ascent traces show ID' prints one as a tree.",
    invoke_without_command=True,
    subcommand_metavar="[show ID]",
    no_args_is_help=False,
    add_completion=False,
    pretty_exceptions_enable=False,
)

DatabaseUrlOption = Annotated[
    str | None,
    typer.Option(
        "--database-url",
        metavar="URL",
        help="Read this database (default: ASCENT_DATABASE_URL, else .ascent/ascent.db).",
    ),
]
JsonOption = Annotated[bool, typer.Option("--json", help="Print JSON instead of a table or tree.")]


@traces_app.callback()
def list_traces(
    context: typer.Context,
    limit: Annotated[
        int, typer.Option("--limit", "-n", min=1, help="How many traces, newest first.")
    ] = 20,
    as_json: JsonOption = False,
    database: DatabaseUrlOption = None,
) -> None:
    """List recent traces: time, id, name (or agents), turns, tokens, duration, error.

    'ascent traces show ID' prints one trace's spans (a prefix of the ID will do).
    """
    if context.invoked_subcommand is not None:
        return  # options given here reach the subcommand through context.parent
    from ..tracing.store import SQLTraceStore

    url = database or database_url()
    with _friendly_errors(url):
        summaries = SQLTraceStore(url).list_traces(limit)
    if as_json:
        _print_json([summary.model_dump() for summary in summaries])
    elif not summaries:
        _console().print(
            Text(
                f"No traces yet in {display_url(url)}. Run an agent (try 'ascent demo') "
                "and its trace appears here."
            )
        )
    else:
        console = _console()
        console.print(render_traces(summaries))
        console.print(Text("ascent traces show ID prints a trace's spans.", style="dim"))


@traces_app.command("show", cls=FlagsCommand)
def show_trace(
    context: typer.Context,
    trace_id: Annotated[str, typer.Argument(metavar="ID", help="A trace id, or its prefix.")],
    as_json: JsonOption = False,
    database: DatabaseUrlOption = None,
) -> None:
    """Print one trace as a tree of spans: timings, tokens, tool arguments and outputs."""
    from ..tracing.store import SQLTraceStore

    parent = context.parent.params if context.parent is not None else {}
    url = database or parent.get("database") or database_url()
    with _friendly_errors(url):
        found = SQLTraceStore(url).get_trace(trace_id)
    if found is None:
        fail(f"no trace with id {trace_id!r} in {display_url(url)} (see 'ascent traces')")
    trace, spans = found
    if as_json or parent.get("as_json"):
        _print_json(
            {
                "trace": {**trace.model_dump(), "duration": _duration(trace)},
                "spans": [{**span.model_dump(), "duration": span.duration} for span in spans],
            }
        )
    else:
        _console().print(render_trace(trace, spans))


# ----------------------------------------------------------------- rendering


def render_traces(summaries: list[TraceSummary]) -> Table:
    """The table ``ascent traces`` prints; it fits an 80-column terminal.

    Each trace is named after its ``trace()`` name, or, for a run's own trace
    (whose workflow is the default), after the agents that ran in it.
    """
    table = Table(box=box.SIMPLE_HEAD, header_style="bold", show_edge=False, padding=(0, 1, 0, 0))
    table.add_column("Time", no_wrap=True)
    table.add_column("ID", no_wrap=True, style="dim")
    table.add_column("Name", min_width=10, ratio=3, overflow="fold")
    table.add_column("Turns", justify="right", no_wrap=True)
    table.add_column("Tokens", justify="right", no_wrap=True)
    table.add_column("Duration", justify="right", no_wrap=True)
    table.add_column("Error", min_width=5, ratio=2, style="red", overflow="fold")
    for summary in summaries:
        table.add_row(
            _time(summary.started_at),
            Text(_short_id(summary.trace_id)),
            trace_name(summary),
            str(summary.turns),
            f"{summary.tokens:,}",
            _ms(summary.duration),
            Text(_clip(summary.error, _ERROR_CLIP) if summary.error else ""),
        )
    return table


def trace_name(summary: TraceSummary) -> Text:
    """``Support flow (Triage, Billing)`` for a named trace; ``Triage, Billing`` for a run's own."""
    agents = ", ".join(summary.agents)
    if summary.workflow == _default_workflow() and agents:
        return Text(agents)
    name = Text(summary.workflow)
    if agents and agents != summary.workflow:
        name.append(f" ({agents})", style="dim")
    return name


def render_trace(trace: TraceRecord, spans: list[SpanRecord]) -> Tree:
    """The tree ``ascent traces show`` prints: the trace, then its spans nested by parent."""
    tokens = sum(_usage(span)[0] for span in spans if span.kind == "model")
    label = Text.assemble(
        (trace.workflow, "bold"),
        ("  " + trace.trace_id, "dim"),
        "  ",
        _ms(_duration(trace)),
        (f"  {tokens:,} tokens" if tokens else "", "dim"),
    )
    if trace.group_id:
        label.append(f"  group {trace.group_id}", style="dim")
    if trace.error:
        label.append(f"  error: {_clip(trace.error)}", style="bold red")
    root = Tree(label)
    known = {span.span_id for span in spans}
    children: dict[str | None, list[SpanRecord]] = {}
    for span in spans:  # spans whose parent never arrived hang from the trace
        parent = span.parent_id if span.parent_id in known else None
        children.setdefault(parent, []).append(span)
    pending: list[tuple[Tree, str | None]] = [(root, None)]
    seen: set[str] = set()
    while pending:
        node, parent_id = pending.pop()
        for span in children.get(parent_id, []):
            if span.span_id in seen:  # a malformed store must not loop forever
                continue
            seen.add(span.span_id)
            branch = node.add(_span_label(span))
            for detail in _span_details(span):
                branch.add(detail)
            pending.append((branch, span.span_id))
    return root


def _span_label(span: SpanRecord) -> Text:
    attributes = span.attributes
    label = Text.assemble((span.kind, _KIND_STYLES.get(span.kind, "bold")), " ")
    if span.kind == "handoff" and ("from_agent" in attributes or "to_agent" in attributes):
        source = attributes.get("from_agent", "?")
        target = attributes.get("to_agent", "?")
        label.append(f"{source} -> {target}")
    else:
        label.append(span.name)
    label.append(f"  {_ms(span.duration)}", style="dim")
    if span.kind == "model":
        total, prompt, completion = _usage(span)
        if total:
            label.append(f"  {total:,} tokens ({prompt:,} in, {completion:,} out)", style="dim")
    elif span.kind == "guardrail":
        stage = attributes.get("stage")
        if stage:
            label.append(f"  {stage}", style="dim")
        if attributes.get("triggered"):
            label.append("  triggered", style="bold red")
        elif "triggered" in attributes:
            label.append("  passed", style="green")
    if span.error:
        label.append(f"  error: {_clip(span.error)}", style="bold red")
    return label


def _span_details(span: SpanRecord) -> Iterator[Text]:
    attributes = span.attributes
    if span.kind == "tool":
        if "arguments" in attributes:
            yield _detail("arguments", attributes["arguments"])
        if "output" in attributes:
            style = "red" if attributes.get("is_error") else ""
            yield _detail("output", attributes["output"], style)
    elif span.kind == "custom":
        for key, value in attributes.items():
            yield _detail(str(key), value)


def _detail(name: str, value: Any, style: str = "") -> Text:
    shown = value if isinstance(value, str) else json.dumps(value, ensure_ascii=False, default=str)
    return Text.assemble((f"{name}: ", "dim"), (_clip(shown), style))


# ------------------------------------------------------------------- helpers


def _usage(span: SpanRecord) -> tuple[int, int, int]:
    usage = span.attributes.get("usage")
    if not isinstance(usage, dict):
        return 0, 0, 0
    prompt = usage.get("input_tokens") or 0
    completion = usage.get("output_tokens") or 0
    if not isinstance(prompt, int) or not isinstance(completion, int):
        return 0, 0, 0
    return prompt + completion, prompt, completion


def _duration(trace: TraceRecord) -> float | None:
    return None if trace.ended_at is None else max(trace.ended_at - trace.started_at, 0.0)


def _ms(seconds: float | None) -> str:
    if seconds is None:
        return "-"
    ms = seconds * 1000
    return f"{ms:,.1f} ms" if ms < 10 else f"{ms:,.0f} ms"


def _time(timestamp: float) -> str:
    """Local time without the year: recent traces are what this command lists."""
    return datetime.fromtimestamp(timestamp).strftime("%m-%d %H:%M:%S")


def _short_id(trace_id: str) -> str:
    """``1a2b3c4d`` for ``trace_1a2b3c4d...``: ``show`` takes it, as it takes any prefix."""
    if trace_id.startswith(_ID_PREFIX) and len(trace_id) > _SHORT_ID:
        return trace_id[len(_ID_PREFIX) : _SHORT_ID]
    return trace_id


def _clip(text: str, limit: int = _CLIP) -> str:
    text = " ".join(text.split())
    return text if len(text) <= limit else text[: limit - 1] + "…"


def _console() -> Console:
    return Console(highlight=False)


def _default_workflow() -> str:
    """The name of a run's own trace, named by no one (RunConfig's default)."""
    from ..run import RunConfig

    return RunConfig.workflow_name


def _print_json(data: Any) -> None:
    typer.echo(json.dumps(data, indent=2, ensure_ascii=False, default=str))


@contextmanager
def _friendly_errors(url: str) -> Iterator[None]:
    """A database that cannot be read is one red line, not a traceback."""
    from sqlalchemy.exc import SQLAlchemyError

    try:
        yield
    except AscentError as exc:
        fail(str(exc))
    except SQLAlchemyError as exc:
        reason = str(getattr(exc, "orig", None) or exc).strip().splitlines()[0]
        fail(f"cannot read traces from {display_url(url)}: {reason}")
