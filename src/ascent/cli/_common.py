"""What the ``ascent`` commands share: their options, and how an error ends a command."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from typing import TYPE_CHECKING, Annotated, Any, NoReturn

import typer
from rich.text import Text
from typer.core import TyperCommand, TyperGroup

from ..errors import AscentError

if TYPE_CHECKING:
    from rich.console import Console

__all__ = [
    "DEFAULT_MAX_TURNS",
    "ERROR_EXIT",
    "USAGE_EXIT",
    "AllowedHostOption",
    "ContextOption",
    "FlagsCommand",
    "FlagsGroup",
    "HostOption",
    "MaxTurnsOption",
    "ModelOption",
    "PortOption",
    "TargetArgument",
    "YesOption",
    "fail",
    "friendly_errors",
    "make_console",
    "note",
]

ERROR_EXIT = 1
USAGE_EXIT = 2  # what Click exits with on a bad option: a bad --context is one
INTERRUPTED_EXIT = 130
# The runner's default (ascent.run.config.DEFAULT_MAX_TURNS; tests/test_cli.py checks they
# agree), spelled here so that building the commands and their --help loads no run machinery.
DEFAULT_MAX_TURNS = 10

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
AllowedHostOption = Annotated[
    list[str] | None,
    typer.Option(
        "--allowed-host",
        metavar="HOST",
        help="A Host name requests may use besides the loopback names, such as "
        "api.example.com, *.example.com or * (repeatable; default: ASCENT_ALLOWED_HOSTS, "
        "else loopback names on loopback connections and any host on others).",
    ),
]
YesOption = Annotated[
    bool,
    typer.Option(
        "--yes",
        "-y",
        help="Approve every tool call that needs approval. Without it, you are asked; "
        "when standard input is not a terminal, such calls are declined.",
    ),
]
ContextOption = Annotated[
    str | None,
    typer.Option(
        "--context",
        metavar="JSON",
        help="The run's context, as JSON: validated into the agent's context type when it "
        "declares one (Agent[MyContext], or RunContext[MyContext] on its instructions), "
        "else given to tools as parsed.",
    ),
]
TargetArgument = Annotated[
    str,
    typer.Argument(
        metavar="MODULE:AGENT",
        help="Where the agent is: package.module:agent, or a file: path/to/file.py:agent. "
        "Loading a file or module runs its top level, as importing it does: keep a "
        "script's own run under 'if __name__ == \"__main__\":'.",
    ),
]


def _hide_flag_types(params: list[Any]) -> list[Any]:
    """A flag takes no value, so its help shows none: Typer's rich help would print
    ``<bool>`` beside every flag (``--help`` included) unless the metavar is empty."""
    for param in params:
        if getattr(param, "is_flag", False) and param.metavar is None:
            param.metavar = ""
    return params


class FlagsCommand(TyperCommand):
    """The class of every ``ascent`` command: flags without a ``<bool>`` placeholder."""

    def get_params(self, ctx: Any) -> list[Any]:
        return _hide_flag_types(super().get_params(ctx))


class FlagsGroup(TyperGroup):
    """The class of ``ascent`` and its command groups, for the same reason."""

    def get_params(self, ctx: Any) -> list[Any]:
        return _hide_flag_types(super().get_params(ctx))


def make_console(*, stderr: bool = False) -> Console:
    """A console that never hard-wraps: streamed text is cut at arbitrary points."""
    from rich.console import Console

    return Console(stderr=stderr, soft_wrap=True, highlight=False)


def fail(message: str, code: int = ERROR_EXIT) -> NoReturn:
    text = Text(f"error: {' '.join(message.split())}", style="bold red")
    make_console(stderr=True).print(text)  # a Text: brackets in the message are not markup
    raise typer.Exit(code)


@contextmanager
def friendly_errors() -> Iterator[None]:
    """Ascent's errors become one red line and a non-zero exit; bugs keep their traceback."""
    try:
        yield
    except AscentError as exc:
        fail(str(exc) or type(exc).__name__)
    except KeyboardInterrupt:
        make_console(stderr=True).print("\ninterrupted", style="red")
        raise typer.Exit(INTERRUPTED_EXIT) from None


def note(message: str) -> None:
    """A remark on standard error, in yellow (not an error)."""
    make_console(stderr=True).print(Text(message, style="yellow"))
