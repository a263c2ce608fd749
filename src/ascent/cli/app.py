"""The ``ascent`` command: run an agent once, chat with it, or play the bundled demo.

Every terminal read (chat input, approval prompts) happens between runs, outside
the event loop, so Ctrl-C at a prompt behaves as it does in any program. One
event loop (``asyncio.Runner``) serves all runs of a command, because model
clients hold connections bound to the loop that opened them.
"""

from __future__ import annotations

import asyncio
import sys
from dataclasses import dataclass, field
from typing import Annotated, Any

import typer
from rich.text import Text

from .._version import __version__
from ..agent import Agent
from ..errors import AscentError, InputGuardrailTripwireTriggered, UserError
from ..graph_view import to_dot, to_mermaid
from ..items import Item, Message, RunUsage
from ..memory import MemoryStore
from ..models import default_model_name, resolve_model
from ..run import RunConfig, Runner, RunResult, RunState
from ..run.config import DEFAULT_MAX_TURNS
from ..tracing import flush_traces, trace
from ._common import (
    USAGE_EXIT,
    ContextOption,
    FlagsCommand,
    FlagsGroup,
    MaxTurnsOption,
    ModelOption,
    TargetArgument,
    YesOption,
    fail,
    friendly_errors,
)
from .console import StreamPrinter, ask_approval, make_console
from .context_option import context_from_json
from .events import events_app
from .loading import load_agent
from .mock_server import mock_server_command
from .serving import a2a_command, mcp_command, serve_command, ui_command
from .traces import traces_app
from .worker import worker_command

__all__ = ["app", "main"]

app = typer.Typer(
    name="ascent",
    help="Ascent: build, run and chat with AI agents. Works offline with no key.",
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
    cls=FlagsGroup,
)
app.add_typer(traces_app, name="traces", cls=FlagsGroup)
app.add_typer(events_app, name="events", cls=FlagsGroup)

_EXIT_WORDS = frozenset({"exit", "quit", ":q"})

# ---------------------------------------------------------------- options


def _show_version(value: bool) -> None:
    if value:
        typer.echo(f"ascent {__version__}")
        raise typer.Exit()


@app.callback()
def _root(
    version: Annotated[
        bool,
        typer.Option(
            "--version",
            callback=_show_version,
            is_eager=True,
            help="Show the version and exit.",
        ),
    ] = False,
) -> None:
    """Ascent: build, run and chat with AI agents. Works offline with no key."""


# ----------------------------------------------------------- loading agents


# ------------------------------------------------------------ running agents


@dataclass
class _Session:
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


def _session(*, model: str | None, max_turns: int, yes: bool, context: Any = None) -> _Session:
    if model is not None:
        resolve_model(model)  # an unknown provider fails now, before any output
    return _Session(
        printer=StreamPrinter(make_console()),
        config=RunConfig(model=model),
        max_turns=max_turns,
        approve_all=yes,
        interactive=_stdin_is_terminal(),
        context=context,
    )


def _context(text: str | None, agent: Agent[Any]) -> Any:
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


def _chat_loop(
    session: _Session, loop: asyncio.Runner, agent: Agent[Any], history: list[Item]
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
            session.printer.error(_describe(exc))
            continue
        if result is not None:
            history = result.to_input_list()
            agent = result.last_agent
    return history


# ----------------------------------------------------------------- commands


@app.command(cls=FlagsCommand)
def run(
    target: TargetArgument,
    input: Annotated[
        str, typer.Argument(metavar="INPUT", help="The request; '-' reads it from standard input.")
    ],
    model: ModelOption = None,
    max_turns: MaxTurnsOption = DEFAULT_MAX_TURNS,
    yes: YesOption = False,
    context: ContextOption = None,
) -> None:
    """Run an agent once on INPUT and stream what happens; the last line is its trace id.

    Loading a file or module runs its top level, as importing it does.
    """
    with friendly_errors():
        agent = load_agent(target)
        run_context = _context(context, agent)
        if input == "-":
            input = sys.stdin.read()
        if not input.strip():
            raise UserError("the input is empty")
        session = _session(model=model, max_turns=max_turns, yes=yes, context=run_context)
        # One trace named after the agent, approval pauses and all; the loop's
        # context is copied inside it.
        with trace(agent.name) as run_trace, asyncio.Runner() as loop:
            session.turn(loop, agent, input)
        session.printer.usage(session.usage)
        if run_trace.provider.enabled and run_trace.provider.processors:
            flush_traces()
            session.printer.note(
                f"trace {run_trace.trace_id} (ascent traces show "
                f"{run_trace.trace_id.removeprefix('trace_')[:8]})"
            )


@app.command(cls=FlagsCommand)
def chat(
    target: TargetArgument,
    model: ModelOption = None,
    max_turns: MaxTurnsOption = DEFAULT_MAX_TURNS,
    yes: YesOption = False,
    context: ContextOption = None,
) -> None:
    """Chat with an agent; 'exit', 'quit', Ctrl-D or Ctrl-C ends the chat.

    Every turn shares one context (--context). A turn that fails prints one red line and
    the chat goes on. Loading a file or module runs its top level, as importing it does.
    """
    with friendly_errors():
        agent = load_agent(target)
        run_context = _context(context, agent)
        session = _session(model=model, max_turns=max_turns, yes=yes, context=run_context)
        printer = session.printer
        printer.note(
            f"Chatting with {agent.name}; model: {_model_label(model, agent)}. "
            "Type 'exit' or press Ctrl-D to leave."
        )
        with asyncio.Runner() as loop:
            _chat_loop(session, loop, agent, [])
        if session.usage.requests:
            printer.usage(session.usage)


@app.command(cls=FlagsCommand)
def demo(
    model: ModelOption = None,
    max_turns: MaxTurnsOption = DEFAULT_MAX_TURNS,
    yes: YesOption = False,
    keep_chatting: Annotated[
        bool, typer.Option("--chat", help="After the scripted turns, keep talking to the team.")
    ] = False,
    forget: Annotated[
        bool,
        typer.Option("--forget", help="First forget what the team remembers of earlier runs."),
    ] = False,
) -> None:
    """Play the bundled demo: a support team (triage, billing, technical) helps a customer."""
    from .. import demo as support  # the demo team, loaded only for this command

    with friendly_errors():
        session = _session(model=model, max_turns=max_turns, yes=yes)
        printer = session.printer
        console = printer.console
        customer = support.CUSTOMER
        memory = MemoryStore()  # the project database: .ascent/ in this directory by default
        team = support.create_team(memory=memory, customer=customer)
        console.rule("Ascent demo: Northwind Outfitters customer support")
        printer.note(
            "Triage hands each customer to Billing (orders, refunds) or Technical (app problems); "
            "refunds wait for your approval; off-topic requests are refused."
        )
        printer.note(f"model: {_model_label(model, team)}")
        history: list[Item] = []
        agent = team
        # One trace for the whole conversation; the loop's context is copied inside it.
        with trace("Ascent demo") as demo_trace, asyncio.Runner() as loop:
            if forget:
                loop.run(memory.clear(scope=customer.id))
            known = len(loop.run(memory.list(customer.id)))
            printer.note(
                f"memory: {known} note{'' if known == 1 else 's'} from earlier conversations "
                f"with {customer.name}"
                if known
                else f"memory: nothing about {customer.name} yet; this conversation is saved, "
                "so the next run of the demo here remembers it"
            )
            for number, line in enumerate(support.SCRIPT, start=1):
                console.rule(f"turn {number}", style="dim")
                printer.user(line, label="customer")
                result = session.reply(loop, agent, [*history, Message(role="user", content=line)])
                if result is not None:
                    history, agent = result.to_input_list(), result.last_agent
            console.rule(style="dim")
            if keep_chatting:
                history = _chat_loop(session, loop, agent, history)
            note = loop.run(support.remember_conversation(memory, history, customer=customer))
        printer.usage(session.usage)
        if note is not None:
            printer.note(f"memory: saved for next time: {note}")
        if demo_trace.provider.enabled and demo_trace.provider.processors:
            flush_traces()
            printer.note(
                f"trace {demo_trace.trace_id}: see it with "
                f"ascent traces show {demo_trace.trace_id.removeprefix('trace_')[:8]}"
            )
        printer.note("Talk to the team yourself: ascent chat ascent.demo:triage")
        printer.note("See it as a diagram: ascent graph ascent.demo:triage")


@app.command(cls=FlagsCommand)
def graph(
    target: TargetArgument,
    dot: Annotated[
        bool, typer.Option("--dot", help="Print Graphviz DOT instead of Mermaid.")
    ] = False,
) -> None:
    """Print the agent network (agents, tools, handoffs, agents as tools): Mermaid or DOT."""
    with friendly_errors():
        agent = load_agent(target)
        typer.echo((to_dot if dot else to_mermaid)(agent), nl=False)


app.command("a2a", cls=FlagsCommand)(a2a_command)
app.command("mcp", cls=FlagsCommand)(mcp_command)
app.command("serve", cls=FlagsCommand)(serve_command)
app.command("ui", cls=FlagsCommand)(ui_command)
app.command("mock-server", cls=FlagsCommand)(mock_server_command)
app.command("worker", cls=FlagsCommand)(worker_command)


def _model_label(model: str | None, agent: Agent[Any]) -> str:
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


def _describe(exc: BaseException) -> str:
    """One line for a failed turn: Ascent's errors say enough; others need their type too."""
    text = " ".join(str(exc).split())
    if isinstance(exc, AscentError):
        return text or type(exc).__name__
    return f"{type(exc).__name__}: {text}" if text else type(exc).__name__


def main() -> None:
    """The console script's entry point."""
    app()
