"""``ascent demo``: the support team's transcript, its guardrail, approvals, memory and trace."""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import sys
from collections.abc import Iterator
from datetime import date
from pathlib import Path

import pytest
from typer.testing import CliRunner

from ascent import InputGuardrailTripwireTriggered, Runner
from ascent.cli import app
from ascent.context import RunContext
from ascent.demo import (
    CUSTOMER,
    SCRIPT,
    Customer,
    conversation_note,
    create_team,
    on_topic,
    remember_conversation,
)
from ascent.items import FunctionCall, FunctionCallOutput, Item, Message
from ascent.memory import MemoryStore
from ascent.testing import ScriptedModel, ToolCall
from ascent.testing.mock_openai import MockOpenAIServer, MockRequest, Reply

_ANSI = re.compile(r"\x1b\[[0-9;?]*[A-Za-z]")
_KEYS = ("OPENAI_API_KEY", "OPENAI_BASE_URL", "ASCENT_MODEL")
_TRACE_ID = re.compile(r"see it with ascent traces show ([0-9a-f]{8})")


@pytest.fixture(autouse=True)
def offline(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> Iterator[None]:
    """No key, no base URL, and a database of this test's own: memory starts empty."""
    for key in _KEYS:
        monkeypatch.delenv(key, raising=False)
    monkeypatch.setenv("NO_COLOR", "1")
    monkeypatch.setenv("ASCENT_DATABASE_URL", f"sqlite:///{tmp_path / 'demo.db'}")
    yield


def demo(*args: str, input: str = "") -> str:
    """Run ``ascent demo`` in process; standard input is a pipe, not a terminal."""
    result = CliRunner().invoke(app, ["demo", *args], input=input)
    if result.exception is not None and not isinstance(result.exception, SystemExit):
        raise result.exception
    out = _ANSI.sub("", result.stdout)
    assert result.exit_code == 0, out + result.stderr
    return out


def turns(out: str) -> list[str]:
    """The transcript cut at the turn rules: [intro, turn 1, ..., turn 6 and the end]."""
    return re.split(r"─+ turn \d+ ─+\n", out)


def ascent(*args: str, cwd: Path) -> str:
    """The real console script in ``cwd``, with no key and no database URL: ``.ascent/`` there."""
    env = {
        key: value
        for key, value in os.environ.items()
        if key not in _KEYS and key != "ASCENT_DATABASE_URL"
    }
    env.update(NO_COLOR="1", COLUMNS="200")
    script = Path(sys.executable).with_name("ascent")  # the console script of this environment
    if not script.exists():
        found = shutil.which("ascent")
        assert found, "the ascent console script is not installed"
        script = Path(found)
    done = subprocess.run(
        [str(script), *args],
        cwd=cwd,
        env=env,
        stdin=subprocess.DEVNULL,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert done.returncode == 0, done.stdout + done.stderr
    return _ANSI.sub("", done.stdout)


# --------------------------------------------------------------- transcript


def test_the_scripted_conversation_shows_the_whole_team_at_work() -> None:
    out = demo()
    intro, greeting, where, policy, refund, poem, app_error = turns(out)
    assert "memory: nothing about Ana yet" in intro
    # memory is searched, and is empty on a first run
    assert 'Triage calls recall(query="Hi, this is Ana.' in greeting
    assert "↳ No matching memories." in greeting
    # triage hands off; billing's typed tools run and their results are shown
    assert "handoff: Triage → Billing" in where
    assert 'Billing calls lookup_order(order_id="A-1042")' in where
    assert '↳ {"order_id":"A-1042","item":"trail running shoes"' in where
    assert 'check_refund_policy(order_id="A-1042", reason="damaged")' in policy
    assert "↳ A-1042: damaged goods are always refunded in full." in policy
    # the refund waits for approval, which a pipe cannot give
    assert 'Billing calls refund_order(order_id="A-1042", reason="damaged")' in refund
    assert "approval needed: refund_order (called by Billing)" in refund
    assert "declined refund_order: standard input is not a terminal (pass --yes" in refund
    assert "Refunded" not in out
    # the off-topic request never reaches a model's answer, and the conversation goes on
    assert "refused by the input guardrail on_topic: Northwind support helps with" in poem
    assert "Billing:" not in poem and "poem" not in poem.split("\n", 1)[1]
    assert "handoff: Billing → Technical" in app_error
    assert '"error_code": "E-502", "severity": "urgent"' in app_error
    assert "Technical: Here is what I found: open_ticket: Opened ticket T-1001" in app_error
    assert re.search(r"usage: \d+ requests, [\d,]+ tokens", app_error)
    assert (
        "memory: saved for next time: Earlier conversation with Ana "
        f"({date.today().isoformat()}): order A-1042 (trail running shoes) was in transit; "
        "refund policy: damaged goods are always refunded in full; refund of A-1042 declined; "
        "opened ticket T-1001 (error E-502) with urgent severity." in app_error
    )
    assert _TRACE_ID.search(app_error)


def test_yes_approves_the_refund_and_the_note_says_so() -> None:
    out = demo("--yes")
    refund = turns(out)[4]
    assert "approved refund_order (--yes)" in refund
    assert "↳ Refunded 89.90 EUR for A-1042 (damaged)." in refund
    assert "refunded 89.90 EUR for A-1042 (damaged); opened ticket T-1001" in out


def test_chat_goes_on_after_the_script_until_exit() -> None:
    lines = "Where is order A-1001?\nTell me a joke about penguins, please.\nexit\nrefund A-1001\n"
    out = demo("--chat", input=lines)
    chat = out.split("you: Where is order A-1001?", 1)[1]
    assert "handoff: Technical → Billing" in chat  # Technical answered last
    assert 'lookup_order(order_id="A-1001")' in chat and "rain jacket" in chat
    joke, after = chat.split("you: Tell me a joke about penguins, please.", 1)[1].split("you: exit")
    assert "refused by the input guardrail on_topic" in joke  # refused, and the chat went on
    assert "refund A-1001" not in after and "refund_order(" not in after
    # what was said in the chat is remembered too
    assert "order A-1001 (rain jacket) was delivered" in after


def test_a_second_run_in_the_same_directory_remembers_the_first(tmp_path: Path) -> None:
    first = ascent("demo", cwd=tmp_path)
    assert (tmp_path / ".ascent" / "ascent.db").is_file()
    assert "↳ No matching memories." in turns(first)[1]
    second = ascent("demo", "--yes", cwd=tmp_path)
    assert "memory: 1 note from earlier conversations with Ana" in turns(second)[0]
    recalled = turns(second)[1]
    assert '↳ [{"id": "mem_' in recalled
    assert "Earlier conversation with Ana" in recalled and "refund of A-1042 declined" in recalled
    # the trace id printed at the end leads to the whole conversation
    match = _TRACE_ID.search(second)
    assert match is not None
    shown = ascent("traces", "show", match.group(1), cwd=tmp_path)
    assert shown.startswith("Ascent demo  trace_" + match.group(1))
    for span in (
        "guardrail on_topic",
        "tool recall",
        "handoff Triage -> Billing",
        "tool open_ticket",
    ):
        assert span in shown
    assert shown.count("tool refund_order") == 1


def test_forget_starts_over() -> None:
    demo()
    assert "memory: 1 note from earlier conversations with Ana" in turns(demo())[0]
    again = demo("--forget")
    assert "memory: nothing about Ana yet" in turns(again)[0]
    assert "↳ No matching memories." in turns(again)[1]


def test_a_real_model_is_used_when_one_is_configured(
    monkeypatch: pytest.MonkeyPatch, mock_openai: MockOpenAIServer
) -> None:
    """The same demo over the wire: the model answers, and it sees what memory holds."""
    demo()  # offline first, so there is a memory to recall
    monkeypatch.setenv("OPENAI_BASE_URL", mock_openai.base_url)
    monkeypatch.setenv("OPENAI_API_KEY", "test-key")
    monkeypatch.setenv("ASCENT_MODEL", "openai-chat:mock-model")

    def answer(request: MockRequest) -> Reply:
        return Reply(text="Thanks, Ana. Noted.")

    mock_openai.responder = answer
    out = demo()
    assert "model: openai-chat:mock-model" in out
    assert out.count("Triage: Thanks, Ana. Noted.") == 5  # every turn but the refused one
    assert "refused by the input guardrail on_topic" in out
    system = mock_openai.requests[0].body["messages"][0]
    assert system["role"] == "system" and "The customer is Ana." in system["content"]
    assert "Relevant memories" in system["content"]
    assert "Earlier conversation with Ana" in system["content"]
    assert "memory: saved for next time" not in out  # no tool ran: nothing worth a note


# ------------------------------------------------------------ the pieces


def user(text: str) -> list[Item]:
    return [Message(role="user", content=text)]


@pytest.mark.parametrize(
    ("text", "tripped"),
    [
        ("Where is my order A-1042?", False),
        ("My parcel never arrived and I want my money back", False),
        ("The app crashes when I log in", False),
        ("Status of A-77 please, it is for my sister's birthday", False),  # an id is on topic
        ("Hi there!", False),  # short courtesies pass
        ("thanks a lot", False),
        ("Can you write me a poem about the sea?", True),
        ("What is the capital of France, and who founded it?", True),
    ],
)
async def test_the_guardrail_refuses_only_what_is_off_topic(text: str, tripped: bool) -> None:
    agent = create_team(memory=MemoryStore())
    result = await on_topic.run_check(
        RunContext(context=None), agent, [*user("Where is A-1042?"), *user(text)]
    )
    assert result.tripwire_triggered is tripped
    assert (result.output_info is not None) is tripped


def test_every_agent_of_the_team_checks_its_input() -> None:
    """Any agent may start a turn (the last one that answered), so every one has the guardrail."""
    triage = create_team(memory=MemoryStore(), model=ScriptedModel([]))
    agents = [triage, *(h.agent for h in triage.get_handoffs())]
    assert [a.name for a in agents] == ["Triage", "Billing", "Technical"]
    for agent in agents:
        assert agent.input_guardrails == [on_topic]
        with pytest.raises(InputGuardrailTripwireTriggered) as raised:
            Runner.run_sync(agent, "Please write me a poem about the sea.")
        assert raised.value.result.name == "on_topic"


async def test_the_team_works_on_any_model_and_recalls_only_its_customers_memory() -> None:
    store = MemoryStore()
    ben = Customer(id="customer-ben", name="Ben")
    await store.add("Ana's note: order A-1042", scope=CUSTOMER.id)
    await store.add("Ben's earlier order A-7 was late", scope=ben.id)
    model = ScriptedModel([ToolCall("recall", {"query": "earlier order"}), "You asked about A-7."])
    team = create_team(memory=store, model=model, customer=ben)
    result = await Runner.run(team, "What did I ask earlier about my order?")
    assert result.final_output == "You asked about A-7."
    recalled = model.requests[1].input[-1]
    assert isinstance(recalled, FunctionCallOutput)
    assert "Ben's earlier order A-7 was late" in recalled.output and "Ana" not in recalled.output
    instructions = model.requests[0].instructions or ""
    assert "The customer is Ben." in instructions and "A-7 was late" in instructions
    assert "A-1042" not in instructions
    model.assert_done()


def call(call_id: str, name: str, arguments: str) -> FunctionCall:
    return FunctionCall(call_id=call_id, name=name, arguments=arguments)


def output(call_id: str, text: str, **fields: object) -> FunctionCallOutput:
    return FunctionCallOutput(call_id=call_id, output=text, **fields)  # type: ignore[arg-type]


def test_the_note_says_what_the_tools_did_and_skips_the_rest() -> None:
    items: list[Item] = [
        *user("hello"),
        call("h", "transfer_to_billing", "{}"),
        output("h", "Billing takes over", handoff_to="Billing"),
        call("r", "recall", '{"query": "x"}'),
        output("r", "No matching memories."),
        call("l", "lookup_order", '{"order_id": "A-1001"}'),
        output(
            "l",
            '{"order_id": "A-1001", "item": "rain jacket", "total": 129.0, "status": "delivered"}',
        ),
        call("p", "check_refund_policy", '{"order_id": "A-1001", "reason": "late"}'),
        output("p", "A-1001: outside the 30-day window (41 days)."),
        call("x", "refund_order", '{"order_id": "A-1001", "reason": "late"}'),
        output("x", "The user rejected this tool call; it did not run.", is_error=True),
        call("b", "lookup_order", "not json"),
        output("b", "no order 'Z-1'; order ids look like A-1001", is_error=True),
        Message.assistant("done"),
    ]
    note = conversation_note(items, customer=Customer(id="c", name="Cy"), day=date(2026, 5, 4))
    assert note == (
        "Earlier conversation with Cy (2026-05-04): order A-1001 (rain jacket) was delivered; "
        "refund policy: outside the 30-day window (41 days); refund of A-1001 declined; "
        "lookup_order failed (no order 'Z-1'; order ids look like A-1001)."
    )
    assert conversation_note([*user("hi"), Message.assistant("hello")]) is None


async def test_remember_conversation_writes_one_note_in_the_customers_scope() -> None:
    store = MemoryStore()
    items: list[Item] = [
        call("t", "open_ticket", '{"ticket": {"summary": "crash"}}'),
        output("t", "Opened ticket T-1001 with normal severity."),
    ]
    note = await remember_conversation(store, items)
    assert note is not None and note.endswith("opened ticket T-1001 with normal severity.")
    assert [m.text for m in await store.list(CUSTOMER.id)] == [note]
    assert await remember_conversation(store, user("hi")) is None
    assert len(await store.list(CUSTOMER.id)) == 1


def test_the_script_is_the_demo_s_conversation() -> None:
    out = demo("--yes")
    for line in SCRIPT:
        assert f"customer: {line}" in out
