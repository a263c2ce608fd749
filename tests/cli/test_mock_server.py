"""``ascent mock-server``: started as a process, used by real OpenAI clients over HTTP."""

from __future__ import annotations

import json
import signal
import socket
import subprocess
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from ascent import Agent, Runner, function_tool

from .helpers import ascent_script, invoke, offline_env

RESPONDER_FILE = """
from ascent.testing.mock_openai import HTTPError, Reply


def respond(request):
    if request.body.get("model") == "forbidden":
        return HTTPError(status=403, message="not for you")
    return Reply(text=f"responder saw {request.api} for {request.body['model']}")
"""


@function_tool
def get_weather(city: str) -> str:
    """The weather in a city."""
    return f"sunny in {city}"


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


def wait_until_listening(process: subprocess.Popen[str], port: int) -> None:
    deadline = time.monotonic() + 60  # a guard against a hang, not a measurement
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise AssertionError(f"mock-server exited early:\n{process.communicate()}")
        try:
            with socket.create_connection(("127.0.0.1", port), timeout=0.5):
                return
        except OSError:
            time.sleep(0.05)
    raise AssertionError("mock-server did not start listening")


class MockProcess:
    def __init__(self, *args: str, cwd: Path) -> None:
        self.port = free_port()
        self.base_url = f"http://127.0.0.1:{self.port}/v1"
        self.process = subprocess.Popen(
            [ascent_script(), "mock-server", "--port", str(self.port), *args],
            cwd=cwd,
            env={**offline_env(), "PYTHONUNBUFFERED": "1"},
            stdin=subprocess.DEVNULL,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )
        wait_until_listening(self.process, self.port)

    def stop(self) -> tuple[int, str, str]:
        """SIGTERM, as a supervisor would stop it; returns its exit code and output."""
        if self.process.poll() is None:
            self.process.send_signal(signal.SIGTERM)
        try:
            out, err = self.process.communicate(timeout=30)
        except subprocess.TimeoutExpired:
            self.process.kill()
            out, err = self.process.communicate()
        return self.process.returncode, out, err


@pytest.fixture
def start_mock(tmp_path: Path) -> Iterator[type[MockProcess]]:
    started: list[MockProcess] = []

    class Started(MockProcess):
        def __init__(self, *args: str) -> None:
            super().__init__(*args, cwd=tmp_path)
            started.append(self)

    yield Started
    for mock in started:
        mock.stop()


def use(mock: MockProcess, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("OPENAI_BASE_URL", mock.base_url)
    monkeypatch.setenv("OPENAI_API_KEY", "not-a-real-key")


def test_a_scripted_mock_serves_a_chat_completions_agent_over_the_wire(
    start_mock: type[MockProcess], tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    script = tmp_path / "script.json"
    script.write_text(
        json.dumps(
            [
                {"tool_calls": [{"name": "get_weather", "arguments": {"city": "Paris"}}]},
                "It is sunny in Paris, says the mock.",
            ]
        )
    )
    mock = start_mock("--script", str(script))
    use(mock, monkeypatch)
    agent = Agent(name="Forecaster", model="openai-chat:gpt-4o-mini", tools=[get_weather])
    result = Runner.run_sync(agent, "Weather in Paris?")
    assert result.final_output == "It is sunny in Paris, says the mock."
    outputs = [item.output for item in result.new_items if item.type == "function_call_output"]
    assert outputs == ["sunny in Paris"]  # the scripted call really ran the tool
    code, out, err = mock.stop()
    assert code == 0, err
    assert f"mock OpenAI API at {mock.base_url}" in out
    assert "2 scripted steps" in out
    assert "#1 /v1/chat/completions model=gpt-4o-mini" in out
    assert "#2 /v1/chat/completions model=gpt-4o-mini" in out
    assert "stopped after 2 requests, 0 scripted steps left" in out


def test_an_exhausted_script_is_an_error_the_client_and_the_terminal_see(
    start_mock: type[MockProcess], tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    script = tmp_path / "script.yaml"
    script.write_text("- only one answer\n")
    mock = start_mock("--script", str(script))
    use(mock, monkeypatch)
    agent = Agent(name="Talker", model="openai:gpt-4.1-mini")
    assert Runner.run_sync(agent, "one").final_output == "only one answer"
    with pytest.raises(Exception, match="script exhausted"):
        Runner.run_sync(agent, "two")
    code, out, err = mock.stop()
    assert code == 0
    assert "#1 /v1/responses model=gpt-4.1-mini" in out
    assert "error: script exhausted: no step left" in err


def test_without_a_script_it_echoes_for_ascent_run_over_the_responses_api(
    start_mock: type[MockProcess], tmp_path: Path
) -> None:
    mock = start_mock()
    agent_file = tmp_path / "remote_agent.py"
    agent_file.write_text(
        'from ascent import Agent\nagent = Agent(name="Remote", model="openai:gpt-4.1")\n'
    )
    env = {**offline_env(), "OPENAI_BASE_URL": mock.base_url, "OPENAI_API_KEY": "x"}
    env["ASCENT_DATABASE_URL"] = f"sqlite:///{tmp_path / 'ascent.db'}"
    done = subprocess.run(
        [ascent_script(), "run", f"{agent_file}:agent", "Hello over the wire"],
        cwd=tmp_path,
        env=env,
        stdin=subprocess.DEVNULL,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert done.returncode == 0, done.stderr
    assert "Remote: You said: Hello over the wire" in done.stdout
    _, out, _ = mock.stop()
    assert "model=gpt-4.1, streamed" in out  # ascent run streams


def test_a_responder_function_answers_each_request(
    start_mock: type[MockProcess], tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    (tmp_path / "my_mock.py").write_text(RESPONDER_FILE)
    mock = start_mock("--responder", "my_mock:respond")
    use(mock, monkeypatch)
    result = Runner.run_sync(Agent(name="A", model="openai-chat:llama3.1"), "hi")
    assert result.final_output == "responder saw chat for llama3.1"
    with pytest.raises(Exception, match="not for you"):
        Runner.run_sync(Agent(name="B", model="openai:forbidden"), "hi")


# --------------------------------------------------------- refused at once


@pytest.mark.parametrize(
    ("script", "message"),
    [
        ("[{not json", "is not valid JSON"),
        ('{"text": "hi"}', "expected a list of steps, got dict"),
        ('["ok", {"error": {"status": 200}}]', "step 1.error.status: Input should be greater than"),
        ('[{"txt": "typo"}]', "step 0.txt: Extra inputs are not permitted"),
        ('[{"tool_calls": [{"arguments": {}}]}]', "step 0.tool_calls.0.name: Field required"),
        (
            '[{"delay": 1, "then": {"delay": 2}}]',
            "step 0: a delay's 'then' cannot be another delay",
        ),
        ("[42]", "step 0: a step is a string (a text reply) or an object"),
    ],
)
def test_a_bad_script_is_one_clear_line_before_anything_listens(
    tmp_path: Path, script: str, message: str
) -> None:
    path = tmp_path / "script.json"
    path.write_text(script)
    code, out, err = invoke("mock-server", "--port", "0", "--script", str(path))
    assert code == 1
    assert message in err and str(path) in err
    assert len(err.strip().splitlines()) == 1
    assert "mock OpenAI API at" not in out


def test_options_that_cannot_work_are_refused(tmp_path: Path) -> None:
    code, _, err = invoke("mock-server", "--script", "a.json", "--responder", "m:f")
    assert code == 1 and "give --script or --responder, not both" in err
    code, _, err = invoke("mock-server", "--script", str(tmp_path / "absent.json"))
    assert code == 1 and "cannot read the script" in err
    (tmp_path / "not_callable.py").write_text("respond = 3\n")
    code, _, err = invoke("mock-server", "--responder", f"{tmp_path / 'not_callable.py'}:respond")
    assert code == 1 and "is a int, not a function" in err
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        code, _, err = invoke("mock-server", "--port", str(port))
    assert code == 1 and f"error: cannot listen on 127.0.0.1:{port}" in err
