"""Terminal rendering of a run's stream events, for the ``ascent`` command line.

Only :mod:`ascent.cli` imports this module, so ``import ascent`` never loads rich.
Model and user text is always printed as plain text: brackets in what a model
says must never be read as rich markup.
"""

from __future__ import annotations

import json
from typing import Any, Literal

from pydantic import BaseModel
from rich.console import Console
from rich.text import Text

from ..items import FunctionCall, FunctionCallOutput, Message, Reasoning, Usage
from ..run.commands import ApprovalRequest
from ..run.events import (
    AgentChangedEvent,
    ApprovalRequiredEvent,
    ItemEvent,
    ReasoningDeltaEvent,
    StreamEvent,
    TextDeltaEvent,
)
from ._common import make_console  # here too: where the terminal's printers are

__all__ = ["StreamPrinter", "ask_approval", "format_call", "format_usage", "make_console"]

_CLIP = 300
_UNICODE = {
    "call": "⚙",
    "result": "↳",
    "failed": "✗",
    "handoff": "⇢",
    "arrow": "→",
    "ok": "✓",
    "pause": "⏸",
}
_ASCII = {
    "call": "*",
    "result": "<-",
    "failed": "x",
    "handoff": ">>",
    "arrow": "->",
    "ok": "+",
    "pause": "||",
}
_YES = frozenset({"y", "yes"})

Streaming = Literal["text", "reasoning"] | None


def _clip(text: str, limit: int = _CLIP) -> str:
    text = " ".join(text.split())
    return text if len(text) <= limit else text[: limit - 1] + "…"


def format_call(name: str, arguments: str) -> str:
    """``lookup_order(order_id="A-1042")``: a tool call as a person reads it."""
    try:
        parsed = json.loads(arguments or "{}")
    except ValueError:
        return _clip(f"{name}({arguments})")
    if not isinstance(parsed, dict):
        return _clip(f"{name}({json.dumps(parsed, ensure_ascii=False)})")
    shown = ", ".join(
        f"{key}={json.dumps(value, ensure_ascii=False)}" for key, value in parsed.items()
    )
    return _clip(f"{name}({shown})")


def format_usage(usage: Usage) -> str:
    requests = f"{usage.requests} request{'' if usage.requests == 1 else 's'}"
    return (
        f"usage: {requests}, {usage.total_tokens:,} tokens "
        f"({usage.input_tokens:,} in, {usage.output_tokens:,} out)"
    )


class StreamPrinter:
    """Prints stream events as they arrive: text live, tools and handoffs on lines of their own.

    Events of an agent running as a tool (``parent_call_id`` set) are indented
    and their text is shown once complete, so concurrent tools cannot interleave
    half sentences.
    """

    def __init__(self, console: Console) -> None:
        self.console = console
        utf = (console.encoding or "").lower().replace("-", "").startswith("utf")
        self.symbols = _UNICODE if utf else _ASCII
        self.last_text: str | None = None
        self._streaming: Streaming = None
        self._last_handoff: tuple[str, str] | None = None

    # ----------------------------------------------------------------- output

    def line(self, *parts: str | tuple[str, str], indent: int = 0) -> None:
        self.close()
        self.console.print(Text.assemble(" " * indent, *parts))

    def close(self) -> None:
        """End a line of streamed text, if one is open."""
        if self._streaming is not None:
            self.console.print()
            self._streaming = None

    def user(self, text: str, *, label: str = "you") -> None:
        self.line((f"{label}: ", "bold green"), text)

    def note(self, text: str, *, style: str = "dim") -> None:
        self.line((text, style))

    def error(self, text: str) -> None:
        """One red line: what went wrong, when the command goes on regardless."""
        self.line((f"error: {text}", "bold red"))

    def usage(self, usage: Usage) -> None:
        self.note(format_usage(usage))

    def refused(self, guardrail: str, reason: Any = None) -> None:
        """An input guardrail turned the message away; its reason, when it gave one as text."""
        why = f": {_clip(reason)}" if isinstance(reason, str) and reason.strip() else ""
        self.line(
            (f"  {self.symbols['failed']} refused by the input guardrail ", "red"),
            (guardrail, "bold red"),
            why,
        )

    # ----------------------------------------------------------------- events

    def event(self, event: StreamEvent) -> None:
        if isinstance(event, TextDeltaEvent | ReasoningDeltaEvent):
            if event.parent_call_id is None:
                kind: Streaming = "text" if isinstance(event, TextDeltaEvent) else "reasoning"
                self._delta(event.agent, event.delta, kind)
        elif isinstance(event, ItemEvent):
            self._item(event)
        elif isinstance(event, AgentChangedEvent):
            self._agent_changed(event)
        elif isinstance(event, ApprovalRequiredEvent):
            for request in event.requests:
                self.line(
                    f"  {self.symbols['pause']} approval needed: ",
                    (request.tool_name, "bold yellow"),
                    f" (called by {request.agent})",
                )

    def _delta(self, agent: str, delta: str, kind: Streaming) -> None:
        if self._streaming != kind:
            self.close()
            if kind == "text":
                self.console.print(Text(f"{agent}: ", style="bold cyan"), end="")
            else:
                self.console.print(Text(f"{agent} (thinking): ", style="dim"), end="")
            self._streaming = kind
        style = "dim italic" if kind == "reasoning" else ""
        self.console.print(Text(delta, style=style), end="")

    def _item(self, event: ItemEvent) -> None:
        item = event.item
        nested = event.parent_call_id is not None
        indent = 4 if nested else 0
        if isinstance(item, Message):
            if nested:
                self.line((f"{event.agent}: ", "cyan"), _clip(item.text), indent=indent)
            elif self._streaming == "text":
                self.close()
            else:
                self.line((f"{event.agent}: ", "bold cyan"), item.text)
            if not nested:
                self.last_text = item.text
        elif isinstance(item, Reasoning):
            if self._streaming == "reasoning":
                self.close()
        elif isinstance(item, FunctionCall):
            if event.name == "tool_call":
                call = format_call(item.name, item.arguments)
                self.line(
                    f"  {self.symbols['call']} {event.agent} calls ",
                    (call, "yellow"),
                    indent=indent,
                )
            # a handoff call is shown once it is accepted (the "handoff" event)
        elif isinstance(item, FunctionCallOutput):
            self._output(event.name, item, indent)
        elif event.name == "hosted_tool_call":
            kind = getattr(item, "type", "hosted tool")
            self.line(f"  {self.symbols['call']} {event.agent} used ", (kind, "yellow"))
        else:
            self.close()

    def _output(self, name: str, item: FunctionCallOutput, indent: int) -> None:
        if name == "handoff" and item.handoff_to:
            source = item.agent or "?"
            self._last_handoff = (source, item.handoff_to)
            self.line(
                f"  {self.symbols['handoff']} handoff: ",
                (f"{source} {self.symbols['arrow']} {item.handoff_to}", "bold magenta"),
                indent=indent,
            )
        elif item.is_error:
            self.line(
                (f"    {self.symbols['failed']} ", "red"),
                (_clip(item.output), "red"),
                indent=indent,
            )
        else:
            self.line(f"    {self.symbols['result']} ", (_clip(item.output), "dim"), indent=indent)

    def _agent_changed(self, event: AgentChangedEvent) -> None:
        previous = event.previous
        if previous is None or event.parent_call_id is not None:
            return
        if self._last_handoff != (previous, event.agent):
            arrow = self.symbols["arrow"]
            self.line(
                f"  {self.symbols['handoff']} ", (f"{previous} {arrow} {event.agent}", "magenta")
            )
        self._last_handoff = None

    # ------------------------------------------------------------ final output

    def final_output(self, agent: str, output: Any) -> None:
        """Show a final output the stream did not already show as a message."""
        if output is None:
            return
        if isinstance(output, str):
            if output != self.last_text:
                self.line((f"{agent}: ", "bold cyan"), output)
            return
        if self.last_text is not None:
            return  # structured output arrives as the message's JSON text
        if isinstance(output, BaseModel):
            shown = output.model_dump_json(indent=2)
        else:
            shown = json.dumps(output, indent=2, ensure_ascii=False, default=str)
        self.line((f"{agent}: ", "bold cyan"), shown)


def ask_approval(
    printer: StreamPrinter,
    request: ApprovalRequest,
    *,
    approve_all: bool,
    interactive: bool,
) -> bool:
    """Decide one paused tool call: ``--yes`` approves; without a terminal, decline, never wait."""
    symbols = printer.symbols
    name = request.tool_name
    if approve_all:
        printer.line((f"    {symbols['ok']} approved {name}", "green"), " (--yes)")
        return True
    if not interactive:
        printer.line(
            (f"    {symbols['failed']} declined {name}", "red"),
            ": standard input is not a terminal (pass --yes to approve)",
        )
        return False
    printer.close()
    call = format_call(name, request.arguments)
    prompt = Text.assemble("    Approve ", (call, "bold yellow"), "? [y/N] ")
    try:
        answer = printer.console.input(prompt)
    except EOFError:  # Ctrl-D declines; Ctrl-C goes on up and stops the command
        printer.console.print()
        answer = ""
    approved = answer.strip().lower() in _YES
    if approved:
        printer.line((f"    {symbols['ok']} approved {name}", "green"))
    else:
        printer.line((f"    {symbols['failed']} declined {name}", "red"))
    return approved
