"""The Chainlit chat (``ui/chainlit``) in a real browser against a real service.

The service serves the demo team (offline model, so the turns are deterministic)
on loopback; the chat runs from its own environment (``uv run --project
ui/chainlit``, synced beforehand, nothing downloaded here) and reaches the team
only over the service's HTTP API; Debian's Chromium, driven by Playwright, types
into the chat. Screenshots land in ``test-artifacts/screenshots/``.
"""

from __future__ import annotations

import json
import os
import re
import shutil
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx
import pytest

from tests.conftest import _in_ci

ROOT = Path(__file__).resolve().parents[2]
UI = ROOT / "ui" / "chainlit"
SCREENSHOTS = ROOT / "test-artifacts" / "screenshots"
CHROMIUM = Path(os.environ.get("ASCENT_TEST_CHROMIUM", "/usr/bin/chromium"))
API_KEY = "chat-test-key"
DEMO = "ascent.demo:create_team"
CHAINLIT = ("chainlit", "run", "app.py", "--headless", "--host", "127.0.0.1")
# Chainlit's page asks CDNs for fonts and KaTeX's CSS: answered empty, offline and fast.
CDN = re.compile(r"^https?://(fonts\.googleapis\.com|fonts\.gstatic\.com|cdn\.jsdelivr\.net)/")


def _missing(what: str) -> None:
    if _in_ci():
        pytest.fail(f"{what} (CI must provide it: see .ci/run)")
    pytest.skip(what)


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def _wait_for(url: str, process: subprocess.Popen[bytes], name: str, timeout: float) -> None:
    deadline = time.monotonic() + timeout
    while True:
        if process.poll() is not None:
            said = process.stderr.read().decode(errors="replace") if process.stderr else ""
            raise AssertionError(f"{name} exited with {process.returncode}:\n{said}")
        try:
            if httpx.get(url, headers={"Authorization": f"Bearer {API_KEY}"}).status_code == 200:
                return
        except httpx.HTTPError:
            pass
        assert time.monotonic() < deadline, f"{name} did not start in {timeout} s"
        time.sleep(0.1)


def _stop(process: subprocess.Popen[bytes]) -> None:
    process.terminate()
    try:
        process.wait(timeout=10)
    except subprocess.TimeoutExpired:
        process.kill()
        process.wait()
    if process.stderr is not None:
        process.stderr.close()


@pytest.fixture(scope="module")
def service(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """``ascent serve ascent.demo:create_team`` on loopback, with one API key; its URL."""
    home = tmp_path_factory.mktemp("chat-service")
    port = _free_port()
    env = {
        **os.environ,
        "ASCENT_DATABASE_URL": f"sqlite:///{home / 'ascent.db'}",
        "ASCENT_API_KEYS": f"{API_KEY}:shop",
        "ASCENT_MODEL": "offline",
    }
    process = subprocess.Popen(
        [sys.executable, "-m", "ascent.cli", "serve", DEMO, "--port", f"{port}"],
        cwd=home,
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
    )
    url = f"http://127.0.0.1:{port}"
    try:
        _wait_for(f"{url}/v1/agents", process, "ascent serve", timeout=60)
        yield url
    finally:
        _stop(process)


@pytest.fixture(scope="module")
def chat(service: str) -> Iterator[str]:
    """The Chainlit app, from ui/chainlit's own environment, talking to ``service``."""
    uv = shutil.which("uv")
    if uv is None:
        _missing("uv is not on PATH")
    if not (UI / ".venv").is_dir():
        _missing("ui/chainlit has no environment: run `uv sync --locked --project ui/chainlit`")
    port = _free_port()
    env = {
        key: value
        for key, value in os.environ.items()
        # the main project's environment, and settings that would turn on Chainlit's storage
        if key not in {"VIRTUAL_ENV", "UV_PROJECT_ENVIRONMENT", "DATABASE_URL", "LITERAL_API_KEY"}
    }
    env.update(ASCENT_URL=service, ASCENT_API_KEY=API_KEY)
    env.pop("ASCENT_AGENT", None)  # the chat picks the service's first agent
    process = subprocess.Popen(
        [uv, "run", "--locked", "--offline", "--project", str(UI), *CHAINLIT, "--port", f"{port}"],
        cwd=UI,
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
    )
    url = f"http://127.0.0.1:{port}"
    try:
        _wait_for(url, process, "chainlit", timeout=90)
        yield url
    finally:
        _stop(process)


@pytest.fixture(scope="module")
def browser() -> Iterator[Any]:
    if not CHROMIUM.exists():
        _missing(f"no Chromium at {CHROMIUM} (CI installs Debian's chromium package)")
    from playwright.sync_api import sync_playwright

    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=str(CHROMIUM), headless=True)
        try:
            yield browser
        finally:
            browser.close()


@dataclass
class Chat:
    """One browser tab on the chat, and what its socket received."""

    page: Any
    frames: list[str] = field(default_factory=list)

    @property
    def ready(self) -> bool:
        """The socket is connected and on_chat_start has run (its step ended, then the task)."""
        started = [
            index
            for index, frame in enumerate(self.frames)
            if '"update_message"' in frame and '"on_chat_start"' in frame
        ]
        return bool(started) and any('"task_end"' in f for f in self.frames[started[0] :])

    @property
    def thread_id(self) -> str:
        for frame in self.frames:
            found = re.search(r'"threadId":"([0-9a-f-]{36})"', frame)
            if found:
                return found.group(1)
        raise AssertionError("no thread id in the socket's messages")

    def send(self, text: str) -> None:
        self.page.fill("#chat-input", text)
        self.page.click("#chat-submit")

    def shot(self, name: str) -> None:
        SCREENSHOTS.mkdir(parents=True, exist_ok=True)
        self.page.screenshot(path=str(SCREENSHOTS / f"chainlit-{name}.png"))


@pytest.fixture
def tab(browser: Any, chat: str) -> Iterator[Chat]:
    page = browser.new_page(viewport={"width": 1280, "height": 900})
    page.set_default_timeout(30_000)
    page.route(CDN, lambda route: route.fulfill(status=200, body="", content_type="text/css"))
    opened = Chat(page)

    def on_socket(socket: Any) -> None:
        socket.on("framereceived", lambda frame: opened.frames.append(str(frame)))

    page.on("websocket", on_socket)
    page.goto(chat)
    page.wait_for_selector("#chat-input")
    deadline = time.monotonic() + 30
    while not opened.ready:  # a message sent before the socket is up is dropped
        assert time.monotonic() < deadline, f"the chat's socket never connected: {opened.frames}"
        page.wait_for_timeout(100)
    try:
        yield opened
    finally:
        page.close()


def _items(service: str, session_id: str) -> list[dict[str, Any]]:
    response = httpx.get(
        f"{service}/v1/sessions/{session_id}/items",
        headers={"Authorization": f"Bearer {API_KEY}"},
    )
    response.raise_for_status()
    return list(response.json()["items"])


def _said(items: list[dict[str, Any]]) -> list[str]:
    return [item["content"] for item in items if item.get("role") == "user"]


def test_a_question_streams_its_answer_with_the_tool_steps(tab: Chat, service: str) -> None:
    page = tab.page
    tab.send("Where is my order A-1042? It still hasn't arrived.")
    page.get_by_text("Here is what I found").first.wait_for()
    page.get_by_text(re.compile(r"Used Handoff to Billing")).wait_for()
    page.get_by_text(re.compile(r"Used lookup_order")).wait_for()
    page.get_by_text(re.compile(r"trail running shoes")).first.wait_for()
    tab.shot("answer")

    # The answer came token by token, and the chat is one service session.
    assert any('"stream_start"' in frame for frame in tab.frames)
    assert sum('"stream_token"' in frame for frame in tab.frames) > 3
    assert _said(_items(service, tab.thread_id)) == [
        "Where is my order A-1042? It still hasn't arrived."
    ]

    # A tool step opens onto the call's arguments and output.
    page.get_by_text(re.compile(r"Used lookup_order")).click()
    page.get_by_text('"order_id": "A-1042"').first.wait_for()
    tab.shot("tool-step")


def test_a_refund_waits_for_approval_then_the_run_completes(tab: Chat, service: str) -> None:
    page = tab.page
    tab.send("Where is my order A-1042? It still hasn't arrived.")
    page.get_by_text("Here is what I found").first.wait_for()
    tab.send("Good. Then please refund order A-1042, the shoes are damaged.")
    approve = page.get_by_role("button", name="Approve")
    approve.wait_for()
    page.get_by_text(re.compile(r"Billing wants to call refund_order")).wait_for()
    page.get_by_text(re.compile(r"Used refund_order")).wait_for()
    tab.shot("approval")

    approve.click()
    page.get_by_text("refund_order approved.").wait_for()
    page.get_by_text(re.compile(r"Refunded 89\.90 EUR for A-1042")).wait_for()
    tab.shot("approved")

    # Both turns went into the chat's one session, the refund's output with them.
    items = _items(service, tab.thread_id)
    assert _said(items) == [
        "Where is my order A-1042? It still hasn't arrived.",
        "Good. Then please refund order A-1042, the shoes are damaged.",
    ]
    outputs = [item for item in items if item.get("tool_name") == "refund_order"]
    assert outputs and "A-1042" in outputs[0]["output"]
    assert not page.get_by_role("button", name="Approve").is_visible()


def test_a_rejected_refund_is_not_made(tab: Chat, service: str) -> None:
    page = tab.page
    tab.send("Please refund order A-1001, the rain jacket is damaged.")
    reject = page.get_by_role("button", name="Reject")
    reject.wait_for()
    reject.click()
    page.get_by_text("refund_order rejected.").wait_for()
    page.get_by_text(re.compile(r"rejected this tool call; it did not run")).first.wait_for()
    tab.shot("rejected")
    items = _items(service, tab.thread_id)
    outputs = [item for item in items if item.get("tool_name") == "refund_order"]
    assert outputs and "Refunded" not in outputs[0]["output"]


def test_a_chat_continues_an_existing_session(tab: Chat, service: str) -> None:
    headers = {"Authorization": f"Bearer {API_KEY}"}
    started = httpx.post(
        f"{service}/v1/agents/Triage/runs",
        json={"input": "Where is my order A-1042?", "session_id": "course-chat-1"},
        headers=headers,
        timeout=60,
    )
    assert started.status_code < 300, started.text
    page = tab.page
    tab.send("/session course-chat-1")
    page.get_by_text("This chat now continues session").wait_for()
    page.get_by_text("Where is my order A-1042?").first.wait_for()
    tab.send("What does the refund policy say for order A-1042?")
    page.get_by_text(re.compile(r"Used check_refund_policy")).wait_for()
    page.get_by_text(re.compile(r"Here is what I found: check_refund_policy")).wait_for()
    tab.shot("session")
    assert _said(_items(service, "course-chat-1")) == [
        "Where is my order A-1042?",
        "What does the refund policy say for order A-1042?",
    ]


def test_the_chat_reaches_the_agents_only_over_http() -> None:
    """ui/chainlit never imports ascent (its environment has no ascent at all)."""
    for path in UI.glob("*.py"):
        source = path.read_text()
        assert not re.search(r"^\s*(from|import)\s+ascent\b(?!_client)", source, re.M), path
    project = (UI / "pyproject.toml").read_text()
    assert "ascent-agents" not in project
    assert json.dumps("chainlit==2.12.0")[1:-1] in project


def test_the_chat_client_resumes_a_cut_stream(service: str) -> None:
    """ui/chainlit's client, in its own environment: a stream cut short goes on where it
    stopped (``GET /v1/runs/{id}/events?after=N``), no event lost or repeated."""
    uv = shutil.which("uv")
    if uv is None or not (UI / ".venv").is_dir():
        _missing("uv and ui/chainlit's environment (uv sync --locked --project ui/chainlit)")
    check = Path(__file__).with_name("chainlit_client_check.py")
    argv = (service, API_KEY)
    env = {
        k: v for k, v in os.environ.items() if k not in {"VIRTUAL_ENV", "UV_PROJECT_ENVIRONMENT"}
    }
    done = subprocess.run(
        [uv, "run", "--locked", "--offline", "--project", str(UI), "python", str(check), *argv],
        cwd=UI,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert done.returncode == 0, done.stderr
    result = json.loads(done.stdout.strip().splitlines()[-1])
    assert result["agent"] == "Triage"
    assert result["status"] == "completed"
    assert result["seqs"] == list(range(1, len(result["seqs"]) + 1))
    assert any("/events?after=" in path for path in result["paths"]), result["paths"]
