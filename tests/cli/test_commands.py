"""The ``ascent`` command line: run, chat and demo, offline, as a person would use them."""

from __future__ import annotations

import io
import os
import re
import select
import subprocess
import sys
import textwrap
import time
from pathlib import Path

import pytest
from rich.console import Console

import ascent
from ascent.cli import load_agent
from ascent.cli.console import StreamPrinter, format_call
from ascent.errors import UserError
from ascent.items import FunctionCall, FunctionCallOutput, Message
from ascent.run.events import AgentChangedEvent, ItemEvent, StreamEvent, TextDeltaEvent

from .helpers import AGENT_FILE, ascent_script, clean, invoke, offline_env

# ------------------------------------------------------------------ basics


def test_version_and_help() -> None:
    code, out, _ = invoke("--version")
    assert code == 0 and out.strip() == f"ascent {ascent.__version__}"
    code, out, _ = invoke("--help")
    assert code == 0
    for command in ("run", "chat", "demo"):
        assert re.search(rf"\b{command}\b", out)


def test_real_entry_point_prints_the_version() -> None:
    done = subprocess.run(
        [ascent_script(), "--version"],
        capture_output=True,
        text=True,
        env=offline_env(),
        stdin=subprocess.DEVNULL,
        timeout=60,
    )
    assert done.returncode == 0 and done.stdout.strip() == f"ascent {ascent.__version__}"


def test_help_loads_no_run_machinery() -> None:
    """Building the commands and printing their help imports no agent, run loop,
    model, database or pydantic: every command loads what it runs when it runs."""
    code = (
        "import sys\n"
        "from ascent.cli import main\n"
        "sys.argv = ['ascent', '--help']\n"
        "try:\n"
        "    main()\n"
        "except SystemExit:\n"
        "    pass\n"
        "heavy = {'pydantic', 'sqlalchemy', 'openai', 'httpx'}\n"
        "ours = {'ascent.agent', 'ascent.run', 'ascent.models', 'ascent.tracing', 'ascent.items'}\n"
        "loaded = sorted({m.split('.')[0] for m in sys.modules} & heavy)\n"
        "loaded += sorted(ours & set(sys.modules))\n"
        "print(loaded, file=sys.stderr)\n"
    )
    done = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, env=offline_env(), timeout=60
    )
    assert done.returncode == 0, done.stderr
    assert "MODULE:AGENT" in done.stdout or "Commands" in done.stdout
    assert done.stderr.strip().splitlines()[-1] == "[]"


def test_command_line_default_max_turns_is_the_runners() -> None:
    from ascent.cli._common import DEFAULT_MAX_TURNS
    from ascent.run.config import DEFAULT_MAX_TURNS as RUNNER_DEFAULT

    assert DEFAULT_MAX_TURNS == RUNNER_DEFAULT


def test_import_ascent_loads_neither_typer_nor_rich() -> None:
    code = (
        "import sys, ascent, ascent.demo\n"
        "loaded = sorted({m.split('.')[0] for m in sys.modules} & {'typer', 'rich', 'click'})\n"
        "print(loaded)\n"
    )
    done = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, env=offline_env(), timeout=60
    )
    assert done.returncode == 0, done.stderr
    assert done.stdout.strip() == "[]"


# -------------------------------------------------------------------- demo


def test_demo_with_yes_approves_the_refund() -> None:
    code, out, err = invoke("demo", "--yes")
    assert code == 0, err
    assert "model: offline (deterministic and not intelligent" in out
    assert "customer: Where is my order A-1042?" in out
    assert "handoff: Triage → Billing" in out
    assert 'Billing calls lookup_order(order_id="A-1042")' in out
    assert "trail running shoes" in out
    assert 'Billing calls refund_order(order_id="A-1042", reason="damaged")' in out
    assert "approval needed: refund_order" in out
    assert "approved refund_order (--yes)" in out
    assert "Refunded 89.90 EUR for A-1042 (damaged)." in out
    assert "handoff: Billing → Technical" in out
    assert '"error_code": "E-502", "severity": "urgent"' in out
    assert "Technical: Here is what I found: open_ticket: Opened ticket T-1001" in out
    assert re.search(r"usage: \d+ requests, [\d,]+ tokens", out)


def test_demo_without_yes_declines_when_stdin_is_not_a_terminal() -> None:
    code, out, err = invoke("demo")
    assert code == 0, err
    assert "declined refund_order: standard input is not a terminal" in out
    assert "rejected this tool call" in out
    assert "Refunded" not in out
    assert "Opened ticket" in out  # the conversation went on after the refusal


def test_demo_can_go_on_as_a_chat() -> None:
    code, out, err = invoke("demo", "--yes", "--chat", input="And where is order A-1001?\n")
    assert code == 0, err
    after = out.split("you: And where is order A-1001?", 1)[1]
    # Technical answered last; the order question goes back to Billing
    assert "handoff: Technical → Billing" in after
    assert 'lookup_order(order_id="A-1001")' in after and "rain jacket" in after


def test_demo_never_waits_on_an_open_pipe(tmp_path: Path) -> None:
    """Standard input is a pipe left open: reading it would hang, so the refund must be declined."""
    out_path, err_path = tmp_path / "out.txt", tmp_path / "err.txt"
    with out_path.open("w") as out_file, err_path.open("w") as err_file:
        process = subprocess.Popen(
            [ascent_script(), "demo"],
            stdin=subprocess.PIPE,  # open, and never written to or closed while it runs
            stdout=out_file,
            stderr=err_file,
            env=offline_env(),
        )
        try:
            code = process.wait(timeout=120)
        finally:
            if process.poll() is None:
                process.kill()
            assert process.stdin is not None
            process.stdin.close()
    out = clean(out_path.read_text())
    assert code == 0, err_path.read_text()
    assert "declined refund_order: standard input is not a terminal" in out
    assert "Opened ticket" in out


@pytest.mark.skipif(not hasattr(os, "openpty"), reason="needs a pseudo-terminal (POSIX)")
def test_demo_asks_at_a_terminal_and_runs_the_approved_refund() -> None:
    import pty

    master, slave = pty.openpty()
    process = subprocess.Popen(
        [ascent_script(), "demo"],
        stdin=slave,
        stdout=slave,
        stderr=slave,
        env=offline_env(),
        close_fds=True,
    )
    os.close(slave)
    output = b""
    answered = False
    deadline = time.monotonic() + 120
    try:
        while time.monotonic() < deadline:
            ready, _, _ = select.select([master], [], [], 0.5)
            if ready:
                try:
                    chunk = os.read(master, 4096)
                except OSError:  # the child closed the terminal
                    break
                if not chunk:
                    break
                output += chunk
                if not answered and b"[y/N]" in output:
                    os.write(master, b"y\n")
                    answered = True
            elif process.poll() is not None:
                break
    finally:
        os.close(master)
        if process.poll() is None:
            process.kill()
    text = clean(output.decode(errors="replace"))
    assert process.wait(timeout=30) == 0, text
    assert answered, text
    assert 'Approve refund_order(order_id="A-1042", reason="damaged")? [y/N]' in text
    assert "approved refund_order" in text
    assert "Refunded 89.90 EUR for A-1042" in text


# --------------------------------------------------------------------- run


def test_run_streams_the_tool_call_and_the_answer(agent_file: Path) -> None:
    code, out, err = invoke("run", f"{agent_file}:agent", "What is the status of order B-77?")
    assert code == 0, err
    assert 'Support calls order_status(order_id="B-77")' in out
    assert "B-77 left the warehouse on Monday" in out
    assert "Support: Here is what I found: order_status: B-77 left the warehouse" in out
    assert "usage: 2 requests" in out


def test_run_imports_a_module_from_the_current_directory(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    package = tmp_path / "shopagents"
    package.mkdir()
    (package / "__init__.py").write_text("")
    (package / "support.py").write_text(AGENT_FILE)
    monkeypatch.chdir(tmp_path)
    code, out, err = invoke("run", "shopagents.support:agent", "status of order C-3?")
    assert code == 0, err
    assert 'order_status(order_id="C-3")' in out
    # a factory of no arguments works too
    code, out, err = invoke("run", "shopagents.support:make_agent", "status of order C-4?")
    assert code == 0, err
    assert "Made: Here is what I found: order_status: C-4 left the warehouse" in out


def test_run_reads_the_input_from_stdin(agent_file: Path) -> None:
    code, out, err = invoke("run", f"{agent_file}:agent", "-", input="Status of order D-9?\n")
    assert code == 0, err
    assert 'order_status(order_id="D-9")' in out


def test_run_asks_for_approval_and_declines_without_a_terminal(agent_file: Path) -> None:
    code, out, err = invoke("run", f"{agent_file}:agent", "Please cancel order E-5")
    assert code == 0, err
    assert 'Support calls cancel_order(order_id="E-5")' in out
    assert "declined cancel_order: standard input is not a terminal (pass --yes" in out
    assert "E-5 is cancelled" not in out
    code, out, err = invoke("run", f"{agent_file}:agent", "Please cancel order E-5", "--yes")
    assert code == 0, err
    assert "approved cancel_order (--yes)" in out
    assert "E-5 is cancelled" in out


def test_model_option_overrides_every_agents_model(agent_file: Path) -> None:
    # The agent's own scripted model fails when called...
    code, _, err = invoke("run", f"{agent_file}:scripted", "status of order F-1?")
    assert code == 1 and err.strip() == "error: the scripted model is down"
    # ...and --model replaces it for the whole run.
    code, out, err = invoke(
        "run", f"{agent_file}:scripted", "status of order F-1?", "--model", "offline"
    )
    assert code == 0, err
    assert "Scripted: Here is what I found: order_status: F-1 left the warehouse" in out


@pytest.mark.parametrize(
    ("target", "message"),
    [
        ("no_such_module_xyz:agent", "error: no module named 'no_such_module_xyz'"),
        ("{file}:missing", "has no attribute 'missing'; agents there: agent, scripted"),
        ("{file}:not_an_agent", "is a str, not an Agent"),
        ("{dir}/absent.py:agent", "error: no such file:"),
    ],
)
def test_bad_targets_fail_with_one_clear_line(agent_file: Path, target: str, message: str) -> None:
    target = target.format(file=agent_file, dir=agent_file.parent)
    code, out, err = invoke("run", target, "hello")
    assert code == 1
    assert message in err
    assert len(err.strip().splitlines()) == 1
    assert "Traceback" not in out + err


def test_ascent_errors_are_one_red_line(agent_file: Path) -> None:
    code, _, err = invoke("run", f"{agent_file}:agent", "status of order G-1?", "--max-turns", "1")
    assert code == 1
    assert err.strip() == "error: the run reached max_turns=1 without a final output"
    code, _, err = invoke("run", f"{agent_file}:agent", "hello", "--model", "nosuch:model")
    assert code == 1 and "error: unknown model provider 'nosuch'" in err


def test_load_agent_defaults_to_the_name_agent(agent_file: Path) -> None:
    assert load_agent(str(agent_file)).name == "Support"
    assert load_agent("ascent.demo:triage").name == "Triage"
    with pytest.raises(UserError, match="MODULE:AGENT"):
        load_agent(":agent")


# -------------------------------------------------------------------- chat


def test_chat_keeps_the_conversation_and_the_last_agent() -> None:
    lines = textwrap.dedent(
        """\
        Where is my order A-1042?

        The app shows error E-502 when I log in, please open a ticket.
        """
    )
    code, out, err = invoke("chat", "ascent.demo:triage", input=lines)  # then EOF
    assert code == 0, err
    assert "Chatting with Triage; model: offline" in out
    assert "you: Where is my order A-1042?" in out
    assert "handoff: Triage → Billing" in out
    assert 'lookup_order(order_id="A-1042")' in out
    # the second message starts with Billing, the agent that answered last
    assert "handoff: Billing → Technical" in out
    assert "Triage → Technical" not in out
    assert "Technical: Here is what I found: open_ticket" in out
    assert "usage: 6 requests" in out  # 3 model calls a message


def test_chat_ends_on_exit_words(agent_file: Path) -> None:
    code, out, err = invoke(
        "chat", f"{agent_file}:agent", input="status of order H-2?\nquit\nstatus of order H-3?\n"
    )
    assert code == 0, err
    assert "H-2 left the warehouse" in out
    assert "H-3" not in out.split("you: quit", 1)[1]
    assert "usage: 2 requests" in out


def test_chat_declines_approvals_on_piped_input_unless_yes(agent_file: Path) -> None:
    code, out, _ = invoke("chat", f"{agent_file}:agent", input="cancel order J-1\n")
    assert code == 0 and "declined cancel_order" in out
    code, out, _ = invoke("chat", f"{agent_file}:agent", "--yes", input="cancel order J-1\n")
    assert code == 0 and "J-1 is cancelled" in out


# ----------------------------------------------------------------- rendering


def render(*events: StreamEvent, encoding: str = "utf-8") -> tuple[StreamPrinter, io.BytesIO]:
    raw = io.BytesIO()
    stream = io.TextIOWrapper(raw, encoding=encoding, write_through=True)
    printer = StreamPrinter(Console(file=stream, soft_wrap=True, highlight=False, width=200))
    for event in events:
        printer.event(event)
    printer.close()
    return printer, raw


def test_streamed_text_is_printed_as_is_never_as_markup() -> None:
    deltas = [TextDeltaEvent(agent="A", delta=piece) for piece in ("Use ", "[bold]x[/] ", "now.")]
    message = Message.assistant("Use [bold]x[/] now.", agent="A")
    printer, raw = render(*deltas, ItemEvent(agent="A", name="message", item=message))
    assert raw.getvalue().decode() == "A: Use [bold]x[/] now.\n"
    assert printer.last_text == "Use [bold]x[/] now."


def test_items_without_deltas_nested_agents_and_ascii_terminals() -> None:
    call = FunctionCall(call_id="c1", name="search", arguments='{"q": "shoes", "n": 2}')
    inner = Message.assistant("Found two pairs.", agent="Inner")
    events: list[StreamEvent] = [
        ItemEvent(agent="A", name="message", item=Message.assistant("Let me look.", agent="A")),
        ItemEvent(agent="A", name="tool_call", item=call),
        TextDeltaEvent(agent="Inner", delta="Found ", parent_call_id="c1"),
        ItemEvent(agent="Inner", name="message", item=inner, parent_call_id="c1"),
        ItemEvent(
            agent="A",
            name="tool_output",
            item=FunctionCallOutput(call_id="c1", output="boom", is_error=True),
        ),
        AgentChangedEvent(agent="B", previous="A"),
    ]
    _, raw = render(*events, encoding="ascii")
    assert raw.getvalue().decode("ascii").splitlines() == [
        "A: Let me look.",
        '  * A calls search(q="shoes", n=2)',
        "    Inner: Found two pairs.",
        "    x boom",
        "  >> A -> B",
    ]


def test_final_output_is_shown_once() -> None:
    printer, raw = render()
    printer.final_output("A", {"answer": 42})
    printer.last_text = "same"
    printer.final_output("A", "same")  # already streamed: not repeated
    printer.final_output("A", "the first tool's output")  # e.g. stop_on_first_tool
    assert raw.getvalue().decode() == 'A: {\n  "answer": 42\n}\nA: the first tool\'s output\n'
    assert format_call("f", "{not json") == "f({not json)"


# ---------------------------------------------------------------------- ui


def test_ui_refuses_a_non_loopback_host() -> None:
    code, out, err = invoke("ui", "--host", "0.0.0.0", "--no-open")
    assert code != 0
    assert "loopback" in out + err


def test_ui_opens_a_browser_only_where_there_is_a_window(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    from ascent.cli import serving

    monkeypatch.setattr(sys, "platform", "linux")
    for name in ("DISPLAY", "WAYLAND_DISPLAY", "BROWSER"):
        monkeypatch.delenv(name, raising=False)
    assert serving._has_graphical_browser() is False
