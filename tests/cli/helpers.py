"""What the command-line tests share: an agent file, running the CLI, a clean environment."""

from __future__ import annotations

import os
import re
import shutil
import sys
from pathlib import Path

from typer.testing import CliRunner

from ascent.cli import app

__all__ = ["AGENT_FILE", "KEYS", "ascent_script", "clean", "invoke", "offline_env"]

_ANSI = re.compile(r"\x1b\[[0-9;?]*[A-Za-z]")
KEYS = ("OPENAI_API_KEY", "OPENAI_BASE_URL", "ASCENT_MODEL")

AGENT_FILE = '''
from ascent import Agent, ModelAPIError, function_tool
from ascent.testing import ScriptedModel

shipped: list[str] = []


@function_tool
def order_status(order_id: str) -> str:
    """Look up where an order is, by its id."""
    return f"{order_id} left the warehouse on Monday"


@function_tool(needs_approval=True)
def cancel_order(order_id: str) -> str:
    """Cancel an order; a person must approve."""
    return f"{order_id} is cancelled"


agent = Agent(name="Support", tools=[order_status, cancel_order])

# Its own model fails on the first call: only --model can make it answer.
scripted = Agent(
    name="Scripted",
    model=ScriptedModel([ModelAPIError("the scripted model is down")]),
    tools=[order_status],
)


def make_agent() -> Agent:
    return Agent(name="Made", tools=[order_status])


not_an_agent = "hello"
'''


def clean(text: str) -> str:
    return _ANSI.sub("", text)


def invoke(*args: str, input: str = "") -> tuple[int, str, str]:
    """Run the CLI in process; standard input is a pipe (not a terminal)."""
    result = CliRunner().invoke(app, list(args), input=input)
    if result.exception is not None and not isinstance(result.exception, SystemExit):
        raise result.exception
    return result.exit_code, clean(result.stdout), clean(result.stderr)


def offline_env() -> dict[str, str]:
    env = {key: value for key, value in os.environ.items() if key not in KEYS}
    env.update(NO_COLOR="1", COLUMNS="200")
    return env


def ascent_script() -> str:
    """The installed console script, next to this interpreter."""
    found = Path(sys.executable).with_name("ascent")
    if found.exists():
        return str(found)
    which = shutil.which("ascent")
    assert which, "the ascent console script is not installed"
    return which
