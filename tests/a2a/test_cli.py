"""``ascent a2a MODULE:AGENT``: a separate process serving the demo team over A2A."""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
from typer.testing import CliRunner

from ascent import Agent, ModelAPIError, Runner
from ascent.a2a import RemoteAgent
from ascent.cli import app
from ascent.testing import ScriptedModel, ToolCall, wait_until_serving

from ..processes import ascent_command, ipv6_loopback_port

ROOT = Path(__file__).resolve().parents[2]


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@pytest.fixture
def demo_server() -> Iterator[str]:
    port = _free_port()
    env = {**os.environ, "ASCENT_A2A_TOKEN": "cli-token", "ASCENT_MODEL": "offline"}
    env.pop("OPENAI_API_KEY", None)
    env.pop("OPENAI_BASE_URL", None)
    process = subprocess.Popen(
        [sys.executable, "-m", "ascent.cli", "a2a", "ascent.demo:triage", "--port", str(port)],
        cwd=ROOT,
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
    )
    url = f"http://127.0.0.1:{port}"
    try:
        wait_until_serving(url + "/.well-known/agent-card.json", process=process)
        yield url
    finally:
        process.send_signal(signal.SIGINT)
        try:
            process.wait(timeout=10)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()


async def test_ascent_a2a_serves_an_agent_from_a_module(demo_server: str) -> None:
    remote = await RemoteAgent.from_card_url(demo_server, token="cli-token")
    assert remote.name == "Triage"
    assert {skill.name for skill in remote.card.skills} >= {"Billing", "Technical"}
    assert "bearer" in remote.card.security_schemes

    result = await Runner.run(remote.as_agent(), "What is the status of order A-1042?")
    assert "A-1042" in result.final_output

    intruder = await RemoteAgent.from_card_url(demo_server)
    with pytest.raises(ModelAPIError) as caught:
        await Runner.run(intruder.as_agent(), "hello")
    assert caught.value.status_code == 401


@pytest.mark.parametrize("streamed", [False, True])
async def test_a_local_agent_uses_the_other_process_as_a_tool_and_a_handoff(
    demo_server: str, streamed: bool
) -> None:
    remote = await RemoteAgent.from_card_url(demo_server, token="cli-token")
    question = "What is the status of order A-1042?"
    model = ScriptedModel(
        [ToolCall("triage", {"input": question}), ToolCall("transfer_to_triage", {})]
    )
    front = Agent(name="Front", model=model, tools=[remote.as_tool()], handoffs=[remote.as_agent()])
    if streamed:
        run = Runner.run_streamed(front, question)
        _ = [event async for event in run.stream_events()]
        result = run.result
    else:
        result = await Runner.run(front, question)

    # the tool call went to the other process and its answer came back as the output
    assert "A-1042" in model.requests[1].input[-1].output
    # then the handoff: the remote team answered the conversation itself
    assert result.last_agent.name == "Triage"
    assert "A-1042" in result.final_output
    model.assert_done()


def test_a_bad_target_fails_with_one_clear_line() -> None:
    done = subprocess.run(
        [sys.executable, "-m", "ascent.cli", "a2a", "no_such_module:agent", "--port", "0"],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert done.returncode == 1
    assert "no module named 'no_such_module'" in done.stderr


@pytest.mark.parametrize(("flags", "compat"), [([], False), (["--a2a-0.3"], True)])
def test_a2a_0_3_is_a_flag_off_by_default(
    monkeypatch: pytest.MonkeyPatch, flags: list[str], compat: bool
) -> None:
    import ascent.a2a.server

    served: dict[str, Any] = {}
    monkeypatch.setattr(ascent.a2a.server, "serve", lambda agent, **options: served.update(options))

    result = CliRunner().invoke(app, ["a2a", "ascent.demo:triage", *flags])

    assert result.exit_code == 0, result.output
    assert served["a2a_v03_compat"] is compat


def test_ascent_a2a_binds_ipv6_loopback_written_as_in_a_url() -> None:
    port = ipv6_loopback_port()
    arguments = ("a2a", "ascent.demo:triage", "--host", "[::1]", "--port", str(port))
    with ascent_command(*arguments, host="::1", port=port, env={"ASCENT_MODEL": "offline"}):
        card = httpx.get(f"http://[::1]:{port}/.well-known/agent-card.json", timeout=10)
        assert card.status_code == 200
        assert card.json()["name"] == "Triage"
        foreign = httpx.get(
            f"http://[::1]:{port}/.well-known/agent-card.json",
            headers={"Host": "attacker.example"},
            timeout=10,
        )
        assert foreign.status_code == 421
