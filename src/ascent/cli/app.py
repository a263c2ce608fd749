"""The ``ascent`` command: run an agent once, chat with it, or play the bundled demo.

Every terminal read (chat input, approval prompts) happens between runs, outside
the event loop, so Ctrl-C at a prompt behaves as it does in any program. One
event loop (``asyncio.Runner``) serves all runs of a command, because model
clients hold connections bound to the loop that opened them.
"""

from __future__ import annotations

import asyncio
import sys
from typing import Annotated

import typer

from .._version import __version__
from ..errors import UserError
from ._common import (
    DEFAULT_MAX_TURNS,
    ContextOption,
    FlagsCommand,
    FlagsGroup,
    MaxTurnsOption,
    ModelOption,
    TargetArgument,
    YesOption,
    friendly_errors,
)
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
    from ..tracing import flush_traces, trace
    from ._session import open_session, run_context

    with friendly_errors():
        agent = load_agent(target)
        given = run_context(context, agent)
        if input == "-":
            input = sys.stdin.read()
        if not input.strip():
            raise UserError("the input is empty")
        session = open_session(model=model, max_turns=max_turns, yes=yes, context=given)
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
    from ._session import chat_loop, model_label, open_session, run_context

    with friendly_errors():
        agent = load_agent(target)
        given = run_context(context, agent)
        session = open_session(model=model, max_turns=max_turns, yes=yes, context=given)
        printer = session.printer
        printer.note(
            f"Chatting with {agent.name}; model: {model_label(model, agent)}. "
            "Type 'exit' or press Ctrl-D to leave."
        )
        with asyncio.Runner() as loop:
            chat_loop(session, loop, agent, [])
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
    from ..items import Item, Message
    from ..memory import MemoryStore
    from ..tracing import flush_traces, trace
    from ._session import chat_loop, model_label, open_session

    with friendly_errors():
        session = open_session(model=model, max_turns=max_turns, yes=yes)
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
        printer.note(f"model: {model_label(model, team)}")
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
                history = chat_loop(session, loop, agent, history)
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
    from ..graph_view import to_dot, to_mermaid

    with friendly_errors():
        agent = load_agent(target)
        typer.echo((to_dot if dot else to_mermaid)(agent), nl=False)


app.command("a2a", cls=FlagsCommand)(a2a_command)
app.command("mcp", cls=FlagsCommand)(mcp_command)
app.command("serve", cls=FlagsCommand)(serve_command)
app.command("ui", cls=FlagsCommand)(ui_command)
app.command("mock-server", cls=FlagsCommand)(mock_server_command)
app.command("worker", cls=FlagsCommand)(worker_command)


def main() -> None:
    """The console script's entry point: the process is the command's own."""
    from . import serving

    serving.OWN_PROCESS = True
    app()
