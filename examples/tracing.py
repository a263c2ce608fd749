"""Tracing: every run is recorded as a tree of spans, with any model.

Agents, model calls (with token usage), tool calls, handoffs and guardrails
become spans, written in the background to the project database.
``with trace("name"):`` groups several runs into one trace, and
``custom_span`` adds your own steps. ``uv run ascent traces`` lists traces and
``uv run ascent traces show ID`` prints one; ``ASCENT_TRACING=off`` turns it off.

    uv run python examples/tracing.py
"""

from ascent import Agent, Runner, custom_span, function_tool, trace
from ascent.tracing import flush_traces
from ascent.tracing.store import SQLTraceStore


@function_tool
def order_status(order_id: str) -> str:
    """Look up where an order is, by its id (such as A-1042)."""
    with custom_span("warehouse query", order_id=order_id):  # a span inside the tool's span
        return "shipped Monday"


agent = Agent(name="Support", instructions="Help with orders.", tools=[order_status])


def depth(span_id: str | None, parents: dict[str, str | None]) -> int:
    """How deep a span sits in its trace's tree."""
    parent = parents.get(span_id) if span_id is not None else None
    return 0 if parent is None else 1 + depth(parent, parents)


def main() -> None:
    with trace("Morning shift", metadata={"shift": "morning"}) as shift:
        with custom_span("load customer profile"):
            pass  # your own work, timed in the same trace
        Runner.run_sync(agent, "Where is order A-1042?")
        Runner.run_sync(agent, "Is order A-1077 on its way?")

    flush_traces()  # the writer works in the background; make sure all is written
    record, spans = SQLTraceStore().get_trace(shift.trace_id)
    print(f"trace {record.workflow!r} with {len(spans)} spans:")
    parents = {span.span_id: span.parent_id for span in spans}
    for span in spans:
        usage = span.attributes.get("usage")
        tokens = f" ({usage['input_tokens']}+{usage['output_tokens']} tokens)" if usage else ""
        print(f"{'  ' * depth(span.span_id, parents)}{span.kind}: {span.name}{tokens}")
    print(f"see it again with: uv run ascent traces show {record.trace_id[:14]}")


if __name__ == "__main__":
    main()
