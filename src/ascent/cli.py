"""The ``ascent`` command: run an agent once, chat with it, or play the bundled demo.

Every terminal read (chat input, approval prompts) happens between runs, outside
the event loop, so Ctrl-C at a prompt behaves as it does in any program. One
event loop (``asyncio.Runner``) serves all runs of a command, because model
clients hold connections bound to the loop that opened them.
"""

from __future__ import annotations

import asyncio
import importlib
import importlib.util
import os
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Annotated, Any, NoReturn

import typer
from rich.text import Text

from ._private.console import StreamPrinter, ask_approval, make_console
from ._private.traces_cli import traces_app
from ._version import __version__
from .agent import Agent
from .errors import AscentError, InputGuardrailTripwireTriggered, UserError
from .items import Item, Message, RunUsage
from .models import default_model_name, resolve_model
from .run import RunConfig, Runner, RunResult, RunState
from .run.config import DEFAULT_MAX_TURNS
from .tracing import flush_traces, trace

__all__ = ["app", "load_agent", "load_object", "main"]

app = typer.Typer(
    name="ascent",
    help="Ascent: build, run and chat with AI agents. Works offline with no key.",
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
)
app.add_typer(traces_app, name="traces")

_EXIT_WORDS = frozenset({"exit", "quit", ":q"})
_ERROR_EXIT = 1
_INTERRUPTED_EXIT = 130

# ---------------------------------------------------------------- options

ModelOption = Annotated[
    str | None,
    typer.Option(
        "--model",
        "-m",
        metavar="NAME",
        help="Use this model for every agent: offline, openai:gpt-4.1, openai-chat:llama3.1, "
        "litellm:provider/model.",
    ),
]
MaxTurnsOption = Annotated[
    int,
    typer.Option("--max-turns", min=1, help="Most model calls one run may make."),
]
PortOption = Annotated[int, typer.Option("--port", "-p", min=0, max=65535, help="Port.")]
HostOption = Annotated[str, typer.Option("--host", help="Interface to bind.")]
YesOption = Annotated[
    bool,
    typer.Option(
        "--yes",
        "-y",
        help="Approve every tool call that needs approval. Without it, you are asked; "
        "when standard input is not a terminal, such calls are declined.",
    ),
]
TargetArgument = Annotated[
    str,
    typer.Argument(
        metavar="MODULE:AGENT",
        help="Where the agent is: package.module:agent, or a file: path/to/file.py:agent.",
    ),
]


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


def load_agent(target: str) -> Agent[Any]:
    """The agent named by ``MODULE:AGENT`` (or ``path/to/file.py:AGENT``).

    ``AGENT`` defaults to ``agent``; it may be dotted, and it may name a function
    of no arguments that returns an agent.
    """
    value = load_object(target, default="agent")
    if callable(value) and not isinstance(value, Agent):
        try:
            value = value()
        except TypeError as exc:
            raise UserError(f"{target!r} is a callable that cannot be called alone: {exc}") from exc
    if not isinstance(value, Agent):
        raise UserError(f"{target!r} is a {type(value).__name__}, not an Agent")
    return value


def load_object(target: str, *, default: str) -> Any:
    """What ``MODULE:NAME`` or ``path/to/file.py:NAME`` names (``NAME`` defaults to ``default``)."""
    source, colon, attribute = target.rpartition(":")
    if not colon or _looks_like_path(attribute):  # no attribute (or a Windows drive's colon)
        source, attribute = target, default
    if not source or not attribute:
        raise UserError(f"expected MODULE:{default.upper()}, got {target!r}")
    module = _import(source)
    value: Any = module
    for part in attribute.split("."):
        if not hasattr(value, part):
            agents = sorted(name for name, obj in vars(module).items() if isinstance(obj, Agent))
            hint = f"; agents there: {', '.join(agents)}" if agents else ""
            raise UserError(f"{source!r} has no attribute {attribute!r}{hint}")
        value = getattr(value, part)
    return value


def _looks_like_path(text: str) -> bool:
    return text.endswith(".py") or "/" in text or "\\" in text


def _import(source: str) -> Any:
    cwd = os.getcwd()
    if cwd not in sys.path:
        sys.path.insert(0, cwd)  # so examples/foo.py is importable as examples.foo
    try:
        if _looks_like_path(source):
            return _import_file(Path(source))
        return importlib.import_module(source)
    except AscentError:
        raise
    except ModuleNotFoundError as exc:
        if exc.name and (source == exc.name or source.startswith(exc.name + ".")):
            raise UserError(
                f"no module named {source!r} (run from the directory that holds it, "
                "or give a file: path/to/file.py:agent)"
            ) from None
        raise UserError(f"importing {source!r} failed: {exc}") from exc
    except Exception as exc:
        raise UserError(f"importing {source!r} failed: {type(exc).__name__}: {exc}") from exc


def _import_file(path: Path) -> Any:
    path = path.expanduser().resolve()
    if not path.is_file():
        raise UserError(f"no such file: {path}")
    name = f"_ascent_cli_{path.stem}"
    spec = importlib.util.spec_from_file_location(name, path)
    if spec is None or spec.loader is None:
        raise UserError(f"cannot import {path} as Python")
    if str(path.parent) not in sys.path:
        sys.path.insert(0, str(path.parent))  # its sibling modules import as usual
    module = importlib.util.module_from_spec(spec)
    sys.modules[name] = module
    spec.loader.exec_module(module)
    return module


# ------------------------------------------------------------ running agents


@dataclass
class _Session:
    """What every run of one command shares: the terminal, the settings, the usage so far."""

    printer: StreamPrinter
    config: RunConfig
    max_turns: int
    approve_all: bool
    interactive: bool
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
            agent, input, max_turns=self.max_turns, run_config=self.config
        )
        async for event in streaming.stream_events():
            self.printer.event(event)
        return streaming.result


def _session(*, model: str | None, max_turns: int, yes: bool) -> _Session:
    if model is not None:
        resolve_model(model)  # an unknown provider fails now, before any output
    return _Session(
        printer=StreamPrinter(make_console()),
        config=RunConfig(model=model),
        max_turns=max_turns,
        approve_all=yes,
        interactive=_stdin_is_terminal(),
    )


def _stdin_is_terminal() -> bool:
    try:
        return sys.stdin is not None and sys.stdin.isatty()
    except (ValueError, OSError):  # closed or detached
        return False


def _fail(message: str, code: int = _ERROR_EXIT) -> NoReturn:
    text = Text(f"error: {' '.join(message.split())}", style="bold red")
    make_console(stderr=True).print(text)  # a Text: brackets in the message are not markup
    raise typer.Exit(code)


@contextmanager
def _friendly_errors() -> Iterator[None]:
    """Ascent's errors become one red line and a non-zero exit; bugs keep their traceback."""
    try:
        yield
    except AscentError as exc:
        _fail(str(exc) or type(exc).__name__)
    except KeyboardInterrupt:
        make_console(stderr=True).print("\ninterrupted", style="red")
        raise typer.Exit(_INTERRUPTED_EXIT) from None


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
        if result is not None:
            history = result.to_input_list()
            agent = result.last_agent
    return history


# ----------------------------------------------------------------- commands


@app.command()
def run(
    target: TargetArgument,
    input: Annotated[
        str, typer.Argument(metavar="INPUT", help="The request; '-' reads it from standard input.")
    ],
    model: ModelOption = None,
    max_turns: MaxTurnsOption = DEFAULT_MAX_TURNS,
    yes: YesOption = False,
) -> None:
    """Run an agent once on INPUT and stream what happens."""
    with _friendly_errors():
        agent = load_agent(target)
        if input == "-":
            input = sys.stdin.read()
        if not input.strip():
            raise UserError("the input is empty")
        session = _session(model=model, max_turns=max_turns, yes=yes)
        with asyncio.Runner() as loop:
            session.turn(loop, agent, input)
        session.printer.usage(session.usage)


@app.command()
def chat(
    target: TargetArgument,
    model: ModelOption = None,
    max_turns: MaxTurnsOption = DEFAULT_MAX_TURNS,
    yes: YesOption = False,
) -> None:
    """Chat with an agent; 'exit', 'quit', Ctrl-D or Ctrl-C ends the chat."""
    with _friendly_errors():
        agent = load_agent(target)
        session = _session(model=model, max_turns=max_turns, yes=yes)
        printer = session.printer
        printer.note(
            f"Chatting with {agent.name}; model: {_model_label(model, agent)}. "
            "Type 'exit' or press Ctrl-D to leave."
        )
        with asyncio.Runner() as loop:
            _chat_loop(session, loop, agent, [])
        if session.usage.requests:
            printer.usage(session.usage)


@app.command()
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
    from . import demo as support
    from .memory import MemoryStore

    with _friendly_errors():
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


@app.command()
def graph(
    target: TargetArgument,
    dot: Annotated[
        bool, typer.Option("--dot", help="Print Graphviz DOT instead of Mermaid.")
    ] = False,
) -> None:
    """Print the agent network (agents, tools, handoffs, agents as tools): Mermaid or DOT."""
    from .graph_view import to_dot, to_mermaid

    with _friendly_errors():
        agent = load_agent(target)
        typer.echo((to_dot if dot else to_mermaid)(agent), nl=False)


@app.command("a2a")
def a2a_command(
    target: TargetArgument,
    port: PortOption = 8000,
    host: HostOption = "127.0.0.1",
    token: Annotated[
        str | None,
        typer.Option(
            "--token",
            envvar="ASCENT_A2A_TOKEN",
            help="Require 'Authorization: Bearer TOKEN' on every call (the card stays public).",
        ),
    ] = None,
    model: ModelOption = None,
    max_turns: MaxTurnsOption = DEFAULT_MAX_TURNS,
) -> None:
    """Serve an agent over A2A: its card at /.well-known/agent-card.json, JSON-RPC at /."""
    with _friendly_errors():
        agent = load_agent(target)
        if model is not None:
            resolve_model(model)
        from .a2a.server import serve

        serve(
            agent,
            host=host,
            port=port,
            token=token,
            run_config=RunConfig(model=model),
            max_turns=max_turns,
        )


@app.command("mcp")
def mcp_command(
    targets: Annotated[
        list[str] | None,
        typer.Argument(
            metavar="MODULE:AGENT",
            help="Agents to serve, each as a tool (package.module:agent or path/to/file.py:agent).",
        ),
    ] = None,
    tool: Annotated[
        list[str] | None,
        typer.Option(
            "--tool", metavar="MODULE:TOOL", help="A function tool to serve too (repeatable)."
        ),
    ] = None,
    http: Annotated[
        bool, typer.Option("--http", help="Serve streamable HTTP at /mcp instead of stdio.")
    ] = False,
    port: PortOption = 8000,
    host: HostOption = "127.0.0.1",
    token: Annotated[
        str | None,
        typer.Option(
            "--token",
            envvar="ASCENT_MCP_TOKEN",
            help="With --http: require 'Authorization: Bearer TOKEN' on every request.",
        ),
    ] = None,
    model: ModelOption = None,
    max_turns: MaxTurnsOption = DEFAULT_MAX_TURNS,
) -> None:
    """Serve agents (and function tools) as an MCP server, over stdio by default."""
    with _friendly_errors():
        agents = [load_agent(target) for target in targets or []]
        tools = [_load_tool(target) for target in tool or []]
        if not agents and not tools:
            raise UserError("name at least one agent (MODULE:AGENT) or --tool MODULE:TOOL")
        if model is not None:
            resolve_model(model)
        from .mcp.servers import require_mcp

        require_mcp()
        from .mcp.expose import serve_mcp

        serve_mcp(
            agents=agents,
            tools=tools,
            transport="http" if http else "stdio",
            host=host,
            port=port,
            token=token if http else None,
            run_config=RunConfig(model=model),
            max_turns=max_turns,
        )


def _load_tool(target: str) -> Any:
    from .tools import FunctionTool

    value = load_object(target, default="tool")
    if not isinstance(value, FunctionTool):
        raise UserError(f"{target!r} is not a function tool ({type(value).__name__})")
    return value


@app.command("serve")
def serve_command(
    target: Annotated[
        str,
        typer.Argument(
            metavar="MODULE:APP",
            help="A FastAPI app, a factory of one, an agent or a list of agents "
            "(package.module:name or path/to/file.py:name; name defaults to 'app').",
        ),
    ],
    port: PortOption = 8000,
    host: HostOption = "127.0.0.1",
    insecure: Annotated[
        bool,
        typer.Option(
            "--insecure",
            help="Allow binding beyond loopback without API keys (ASCENT_API_KEYS).",
        ),
    ] = False,
    model: ModelOption = None,
    a2a: Annotated[
        bool, typer.Option("--a2a", help="Also serve each agent over A2A at /a2a/<agent>.")
    ] = False,
    mcp: Annotated[
        bool, typer.Option("--mcp", help="Also serve the agents as MCP tools at /mcp.")
    ] = False,
) -> None:
    """Serve agents over HTTP: durable runs, SSE streams, API keys per tenant."""
    with _friendly_errors():
        value = load_object(target, default="app")
        if model is not None:
            resolve_model(model)
        from .server import serve

        serve(
            value,
            host=host,
            port=port,
            insecure=insecure,
            model=model,
            a2a=a2a,
            mcp=mcp,
            note=_note,
        )


def _note(message: str) -> None:
    make_console(stderr=True).print(Text(message, style="yellow"))


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


def main() -> None:
    """The console script's entry point."""
    app()


if __name__ == "__main__":
    main()
