"""``ascent mock-server``: the OpenAI-compatible mock Ascent's tests use, as a command.

Point any OpenAI client (an agent with an ``openai:`` or ``openai-chat:``
model, with ``OPENAI_BASE_URL``) at it to test over the real wire, without a
key or the network. It answers from a script file, from a function of yours,
or, given neither, by echoing the last user message.
"""

from __future__ import annotations

import signal
import threading
from pathlib import Path
from types import FrameType
from typing import TYPE_CHECKING, Annotated, Any

import typer
from rich.console import Console
from rich.text import Text

from ..errors import UserError
from ._common import friendly_errors, make_console
from .loading import load_object

if TYPE_CHECKING:
    from ..testing.mock_openai import MockOpenAIServer, MockRequest, Step

__all__ = ["echo_responder", "mock_server_command"]


def echo_responder(request: MockRequest) -> Step:
    """The answer when no script or responder is given: ``You said: <last user text>``."""
    from ..testing.mock_openai import Reply

    return Reply(text=f"You said: {_last_user_text(request.body)}")


def _last_user_text(body: dict[str, Any]) -> str:
    entries = body.get("messages") or body.get("input") or []
    if isinstance(entries, str):
        return entries
    for entry in reversed(entries if isinstance(entries, list) else []):
        if isinstance(entry, dict) and entry.get("role") == "user":
            content = entry.get("content")
            if isinstance(content, str):
                return content
            if isinstance(content, list):
                return " ".join(
                    part["text"]
                    for part in content
                    if isinstance(part, dict) and isinstance(part.get("text"), str)
                )
    return ""


def mock_server_command(
    port: Annotated[
        int,
        typer.Option(
            "--port", "-p", min=0, max=65535, help="Port on 127.0.0.1 (0: any free port)."
        ),
    ] = 8900,
    script: Annotated[
        Path | None,
        typer.Option(
            "--script",
            metavar="FILE",
            help="Answer each request with the next step of this JSON (or YAML) list: "
            '\'text\', {"text": ...}, {"tool_calls": [...]}, {"error": {"status": 429}}, '
            '{"delay": SECONDS, "then": ...}; see docs/testing.md.',
        ),
    ] = None,
    responder: Annotated[
        str | None,
        typer.Option(
            "--responder",
            metavar="MODULE:FUNC",
            help="Answer each request with FUNC(request), a function returning a step of "
            "ascent.testing.mock_openai (Reply, HTTPError...). Loading a file runs its top level.",
        ),
    ] = None,
) -> None:
    """Serve a mock OpenAI API (Responses and Chat Completions, streamed or not) for tests.

    Without --script or --responder it echoes the last user message. Point a client at it
    with OPENAI_BASE_URL=http://127.0.0.1:PORT/v1 (any API key). Ctrl-C stops it.
    """
    with friendly_errors():
        if script is not None and responder is not None:
            raise UserError("give --script or --responder, not both")
        server = _server(port=port, script=script, responder=responder)
        try:
            server.start()
        except OSError as exc:
            raise UserError(f"cannot listen on 127.0.0.1:{port}: {exc.strerror or exc}") from None
        try:
            _serve_until_stopped(server, scripted=script is not None)
        finally:
            server.stop()


def _server(*, port: int, script: Path | None, responder: str | None) -> MockOpenAIServer:
    try:
        from ..testing.mock_openai import MockOpenAIServer
        from ..testing.mock_script import load_script
    except ImportError as exc:
        raise UserError(
            f"ascent mock-server needs the testing extra ({exc.name} is missing): "
            "pip install 'ascent-agents[testing]'"
        ) from None
    if script is not None:
        return MockOpenAIServer(port=port).add(*load_script(script))
    if responder is not None:
        function = load_object(responder, default="respond")
        if not callable(function):
            raise UserError(f"{responder!r} is a {type(function).__name__}, not a function")
        return MockOpenAIServer(port=port, responder=function)
    return MockOpenAIServer(port=port, responder=echo_responder)


def _serve_until_stopped(server: MockOpenAIServer, *, scripted: bool) -> None:
    """Report each request as it arrives, until Ctrl-C or SIGTERM."""
    console = make_console()
    errors = make_console(stderr=True)
    console.print(Text(f"mock OpenAI API at {server.base_url}", style="bold"))
    console.print(
        Text(f"  OPENAI_BASE_URL={server.base_url} OPENAI_API_KEY=any", style="dim"), soft_wrap=True
    )
    if scripted:
        console.print(Text(f"  {server.pending} scripted steps; Ctrl-C stops", style="dim"))
    stop = threading.Event()

    def on_signal(signum: int, frame: FrameType | None) -> None:
        stop.set()

    previous = signal.signal(signal.SIGTERM, on_signal)
    reported = _Reported()
    try:
        while not stop.wait(0.1):
            reported.catch_up(server, console, errors)
    except KeyboardInterrupt:
        pass
    finally:
        signal.signal(signal.SIGTERM, previous)
    reported.catch_up(server, console, errors)  # what arrived since the last look
    left = f", {server.pending} scripted steps left" if scripted else ""
    console.print(Text(f"stopped after {reported.requests} requests{left}", style="dim"))


class _Reported:
    """How many requests and errors have been printed so far."""

    def __init__(self) -> None:
        self.requests = 0
        self.errors = 0

    def catch_up(self, server: MockOpenAIServer, console: Console, errors: Console) -> None:
        for request in server.requests[self.requests :]:
            self.requests += 1
            model = request.body.get("model", "?")
            streamed = ", streamed" if request.stream else ""
            console.print(Text(f"#{self.requests} {request.path} model={model}{streamed}"))
        for message in server.errors[self.errors :]:
            self.errors += 1
            errors.print(Text(f"  error: {message}", style="red"))
