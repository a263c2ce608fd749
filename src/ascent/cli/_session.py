"""What the run commands share: one run streamed to the terminal with its approvals
answered there, and a conversation of such runs.

Kept apart from the commands (:mod:`.app`) so that building the command line, and
``ascent --help``, loads none of the run machinery.
"""

from __future__ import annotations

import asyncio
import sys
from dataclasses import dataclass, field
from typing import Any

from rich.text import Text

from ..agent import Agent
from ..errors import AscentError, InputGuardrailTripwireTriggered, UserError
from ..items import Item, Message, RunUsage
from ..models import default_model_name, resolve_model
from ..run import RunConfig, Runner, RunResult, RunState
from ._common import USAGE_EXIT, fail, make_console
from .console import StreamPrinter, ask_approval
from .context_option import context_from_json

__all__ = ["Session", "chat_loop", "describe", "model_label", "open_session", "run_context"]

_EXIT_WORDS = frozenset({"exit", "quit", ":q"})


@dataclass
class Session:
    """What every run of one command shares: the terminal, the settings, the usage so far."""

    printer: StreamPrinter
    config: RunConfig
    max_turns: int
    approve_all: bool
    interactive: bool
    context: Any = None
    usage: RunUsage = field(default_factory=RunUsage)

    def turn(self, loop: asyncio.Runner, agent: Agent[Any], input: str | list[Item]) -> RunResult:
        """One run to its end: stream it, and answer approval pauses until it completes."""
        result = loop.run(self._stream(agent, input))
        while result.interruptions:
            state = result.state
            for request in result.interruptions:
                if ask_approval(
                    self.printer,
                    request,
                    approve_all=self.approve_all,
                    interactive=self.interactive,
                ):
                    state.approve(request)
                else:
                    state.reject(request, reason="declined at the terminal")
            result = loop.run(self._stream(agent, state))
        self.printer.close()
        self.printer.final_output(result.last_agent.name, result.final_output)
        self.usage.merge(result.usage)
        return result

    def reply(
        self, loop: asyncio.Runner, agent: Agent[Any], input: str | list[Item]
    ) -> RunResult | None:
        """A conversation's turn: a tripped input guardrail refuses the message (None), and the
        conversation goes on rather than ending on an error."""
        try:
            return self.turn(loop, agent, input)
        except InputGuardrailTripwireTriggered as exc:
            self.printer.refused(exc.result.name, exc.result.output_info)
            return None

    async def _stream(self, agent: Agent[Any], input: str | list[Item] | RunState) -> RunResult:
        self.printer.last_text = None
        streaming = Runner.run_streamed(
            agent, input, context=self.context, max_turns=self.max_turns, run_config=self.config
        )
        async for event in streaming.stream_events():
            self.printer.event(event)
        return streaming.result


def open_session(*, model: str | None, max_turns: int, yes: bool, context: Any = None) -> Session:
    if model is not None:
        resolve_model(model)  # an unknown provider fails now, before any output
    return Session(
        printer=StreamPrinter(make_console()),
        config=RunConfig(model=model),
        max_turns=max_turns,
        approve_all=yes,
        interactive=_stdin_is_terminal(),
        context=context,
    )


def run_context(text: str | None, agent: Agent[Any]) -> Any:
    """``--context`` for ``agent``; a bad one is a usage error (exit 2), like a bad option."""
    try:
        return context_from_json(text, agent)
    except UserError as exc:
        fail(str(exc), USAGE_EXIT)


def _stdin_is_terminal() -> bool:
    try:
        return sys.stdin is not None and sys.stdin.isatty()
    except (ValueError, OSError):  # closed or detached
        return False


def chat_loop(
    session: Session, loop: asyncio.Runner, agent: Agent[Any], history: list[Item]
) -> list[Item]:
    """Read a line, run it with the conversation so far; the last agent answers next.

    Returns the conversation at the end.
    """
    console = session.printer.console
    while True:
        try:
            line = console.input("[bold green]you[/]: ")
        except (EOFError, KeyboardInterrupt):
            console.print()
            break
        if not session.interactive:
            console.print(Text(line))  # piped input is not echoed by a terminal
        text = line.strip()
        if not text:
            continue
        if text.lower() in _EXIT_WORDS:
            break
        try:
            result = session.reply(loop, agent, [*history, Message(role="user", content=text)])
        except KeyboardInterrupt:
            session.printer.close()
            break
        except Exception as exc:  # one turn failed; the conversation (without it) goes on
            session.printer.error(describe(exc))
            continue
        if result is not None:
            history = result.to_input_list()
            agent = result.last_agent
    return history


def model_label(model: str | None, agent: Agent[Any]) -> str:
    name = model or (agent.model if isinstance(agent.model, str) else None)
    if name is None and agent.model is not None:
        return str(getattr(agent.model, "name", type(agent.model).__name__))
    name = name or default_model_name()
    if name.split(":", 1)[0] == "offline":
        return (
            "offline (deterministic and not intelligent: it needs no key and no network; "
            "set OPENAI_API_KEY or pass --model to use a real model)"
        )
    return name


def describe(exc: BaseException) -> str:
    """One line for a failed turn: Ascent's errors say enough; others need their type too."""
    text = " ".join(str(exc).split())
    if isinstance(exc, AscentError):
        return text or type(exc).__name__
    return f"{type(exc).__name__}: {text}" if text else type(exc).__name__
