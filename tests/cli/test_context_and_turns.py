"""``--context JSON`` on run and chat, a failed chat turn, the run's trace id, and --help."""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

import pytest
from rich.console import Console
from typer.testing import CliRunner

from ascent import Agent, RunContext
from ascent.cli import app
from ascent.cli.console import StreamPrinter
from ascent.cli.context_option import context_type

from .helpers import clean, invoke

CONTEXT_FILE = '''
from dataclasses import dataclass

from pydantic import BaseModel

from ascent import Agent, RunContext, ToolContext, function_tool
from ascent.testing import ScriptedModel, Step


@dataclass
class Account:
    user_id: str
    plan: str = "free"


@function_tool
def whoami(ctx: ToolContext[Account]) -> str:
    """Say who is asking and their plan."""
    return f"{ctx.context.user_id} on the {ctx.context.plan} plan ({type(ctx.context).__name__})"


typed = Agent[Account](name="Typed", tools=[whoami])


@function_tool
def whoami_raw(ctx: ToolContext[dict]) -> str:
    """Say who is asking and their plan."""
    return f"raw {type(ctx.context).__name__}: {ctx.context['user_id']}"


untyped = Agent(name="Untyped", tools=[whoami_raw])


class Tenant(BaseModel):
    tenant: str
    seats: int


def tenant_instructions(context: RunContext[Tenant], agent: Agent) -> str:
    return f"Serve tenant {context.context.tenant}."


by_instructions = Agent(name="ByInstructions", instructions=tenant_instructions)


class Plain:
    def __init__(self, name: str) -> None:
        self.name = name


plain = Agent[Plain](name="Plain")

# The first turn's model call fails with a bug-like error, the second answers.
flaky = Agent(
    name="Flaky",
    model=ScriptedModel([Step(error=RuntimeError("the model fell over")), "second answer"]),
)
'''


@pytest.fixture
def context_file(tmp_path: Path) -> Path:
    path = tmp_path / "context_agents.py"
    path.write_text(CONTEXT_FILE)
    return path


# ------------------------------------------------------------------ --context


def test_run_validates_the_context_into_the_agents_declared_type(context_file: Path) -> None:
    code, out, err = invoke(
        "run",
        f"{context_file}:typed",
        "say who is asking and their plan",
        "--context",
        '{"user_id": "u-7", "plan": "pro"}',
    )
    assert code == 0, err
    assert "u-7 on the pro plan (Account)" in out  # a dataclass, not a dict


def test_without_a_declared_type_the_parsed_json_is_the_context(context_file: Path) -> None:
    code, out, err = invoke(
        "run",
        f"{context_file}:untyped",
        "say who is asking and their plan",
        "--context",
        '{"user_id": "u-9"}',
    )
    assert code == 0, err
    assert "raw dict: u-9" in out


@pytest.mark.parametrize(
    ("target", "context", "message"),
    [
        ("typed", "{user_id: 1}", "error: --context is not valid JSON: Expecting property name"),
        ("typed", '{"plan": "pro"}', "error: --context does not fit Account (Typed's context): "
         "user_id: Field required"),
        ("typed", "[1, 2]", "does not fit Account"),
        ("by_instructions", '{"tenant": "acme", "seats": "many"}',
         "error: --context does not fit Tenant (ByInstructions's context): seats: Input should be "
         "a valid integer"),
        ("plain", '["x"]', "error: --context must be a JSON object with the fields of Plain"),
        ("plain", '{"nome": "x"}', "error: --context does not fit Plain: TypeError:"),
    ],
)  # fmt: skip
def test_a_bad_context_is_one_line_and_exit_code_2(
    context_file: Path, target: str, context: str, message: str
) -> None:
    for command in (
        ["run", f"{context_file}:{target}", "hi"],
        ["chat", f"{context_file}:{target}"],
    ):
        code, out, err = invoke(*command, "--context", context, input="hi\n")
        assert code == 2, (command, out, err)
        assert message in err
        assert len(err.strip().splitlines()) == 1
        assert "you:" not in out  # refused before any turn


def test_context_types_are_found_from_generics_and_instructions(context_file: Path) -> None:
    from ascent.cli import load_agent

    assert context_type(load_agent(f"{context_file}:typed")).__name__ == "Account"
    assert context_type(load_agent(f"{context_file}:by_instructions")).__name__ == "Tenant"
    assert context_type(load_agent(f"{context_file}:untyped")) is Any

    def unannotated(context, agent):  # type: ignore[no-untyped-def]
        return "hi"

    def wrong_first(agent: Agent[Any], context: RunContext[int]) -> str:
        return "hi"

    assert context_type(Agent(name="a", instructions=unannotated)) is Any
    assert context_type(Agent(name="a", instructions=wrong_first)) is Any
    assert context_type(Agent[Any](name="a", instructions="static")) is Any


def test_chat_shares_the_context_across_turns(context_file: Path) -> None:
    code, out, err = invoke(
        "chat",
        f"{context_file}:typed",
        "--context",
        '{"user_id": "u-3"}',
        input="say who is asking\nand their plan?\n",
    )
    assert code == 0, err
    assert out.count("u-3 on the free plan (Account)") >= 2


# ----------------------------------------------------------------- chat turns


def test_a_failed_chat_turn_is_one_red_line_and_the_chat_goes_on(context_file: Path) -> None:
    runner = CliRunner()
    result = runner.invoke(app, ["chat", f"{context_file}:flaky"], input="first\nsecond\n")
    assert result.exit_code == 0, result.output
    out = clean(result.stdout)
    errors = [line for line in out.splitlines() if line.startswith("error:")]
    assert errors == ["error: RuntimeError: the model fell over"]
    assert "Traceback" not in result.output
    assert "Flaky: second answer" in out
    assert out.index("error: RuntimeError") < out.index("you: second") < out.index("second answer")


def test_the_failed_turns_line_is_red() -> None:
    console = Console(record=True, force_terminal=True, color_system="standard", width=80)
    StreamPrinter(console).error("the model fell over")
    assert "\x1b[1;31merror: the model fell over\x1b[0m" in console.export_text(styles=True)


def test_each_failed_turn_is_reported_and_the_chat_ends_normally(agent_file: Path) -> None:
    code, out, err = invoke(
        "chat", f"{agent_file}:scripted", input="status of order K-1?\nstatus of order K-2?\n"
    )
    assert code == 0, err
    # the scripted model fails once, then has no steps left: both turns fail, the chat ends normally
    errors = [line for line in out.splitlines() if line.startswith("error:")]
    assert len(errors) == 2 and errors[0] == "error: the scripted model is down"


# ------------------------------------------------------------------ trace ids


def test_run_prints_its_trace_id_last_and_traces_finds_it(agent_file: Path) -> None:
    code, out, err = invoke("run", f"{agent_file}:agent", "What is the status of order T-1?")
    assert code == 0, err
    last = out.strip().splitlines()[-1]
    match = re.fullmatch(r"trace (trace_[0-9a-f]{32}) \(ascent traces show ([0-9a-f]{8})\)", last)
    assert match, last
    trace_id, short = match.groups()
    assert trace_id.removeprefix("trace_").startswith(short)
    code, shown, err = invoke("traces", "show", short)
    assert code == 0, err
    assert shown.startswith(f"Support  {trace_id}")  # the trace is named after the agent
    assert "tool order_status" in shown
    code, listed, _ = invoke("traces", "--limit", "5")
    (row,) = [line for line in listed.splitlines() if short in line]
    assert "Support" in row


def test_run_prints_no_trace_id_with_tracing_off(
    agent_file: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("ASCENT_TRACING", "off")
    code, out, err = invoke("run", f"{agent_file}:agent", "hello")
    assert code == 0, err
    assert "trace" not in out
    assert out.strip().splitlines()[-1].startswith("usage:")


# ---------------------------------------------------------------------- help


def _help_pages() -> list[list[str]]:
    pages = [[], ["traces"], ["traces", "show"]]
    commands = ["run", "chat", "demo", "graph", "a2a", "mcp", "serve", "ui", "mock-server"]
    return pages + [[command] for command in commands]


@pytest.mark.parametrize("command", _help_pages(), ids=lambda c: " ".join(c) or "ascent")
def test_flags_show_no_bool_placeholder_in_help(command: list[str]) -> None:
    result = CliRunner().invoke(app, [*command, "--help"], env={"COLUMNS": "200"})
    assert result.exit_code == 0, result.output
    text = clean(result.stdout)
    assert "--help" in text
    assert "<bool>" not in text and "BOOLEAN" not in text
    help_line = next(line for line in text.splitlines() if "--help" in line)
    assert re.search(r"--help\s+Show this message", help_line), help_line


def test_help_of_run_and_chat_says_loading_runs_the_top_level() -> None:
    for command in ("run", "chat"):
        result = CliRunner().invoke(app, [command, "--help"], env={"COLUMNS": "200"})
        text = " ".join(clean(result.stdout).replace("│", " ").split())
        assert "runs its top level" in text
        assert "--context" in text and "JSON" in text
