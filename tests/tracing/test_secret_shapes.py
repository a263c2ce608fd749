"""Every secret shape is masked wherever a run leaves it behind: the stored trace's
tool and model spans, the log line of a failing tool, ``ascent traces show --json``.

The two tables are the contract. ``SECRETS``: what must never show (values of
sensitive fields, key and token formats, the service's own API keys). ``KEPT``:
look-alikes that must stay as they are, because traces are for reading. Prose is
not parsed for meaning: "token budget" or "the password rules" in a sentence
stay; a sensitive name followed by ``:`` or ``=`` (``password=...``,
``"token": "..."``) has its value masked, as in an exception message.
"""

from __future__ import annotations

import json
import logging
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import Any

import pytest

from ascent import Agent, Runner, trace
from ascent.context import ToolContext
from ascent.items import Usage
from ascent.server import create_app
from ascent.testing import ScriptedModel, Step, ToolCall
from ascent.tools import FunctionTool
from ascent.tracing import BatchTraceProcessor, SpanRecord, get_trace_provider
from ascent.tracing.redaction import REDACTED
from ascent.tracing.store import SQLTraceStore

from .test_traces_cli import invoke

CHARS = "A1b2C3d4E5f6G7h8I9j0K1l2M3n4O5p6Q7r8S9t0U1v2W3x4Y5z6" * 2
PEM_BODY = "MIIEowIBAAKCAQEAu1SU1LfVLPHCozMxH2Mo4lgOEePzNm0tRgeLezV6ffAt0gun"
CODE_KEY = "svc-key-given-in-code-7f3a9c"
ENV_KEY = "svc-key-from-the-environment-2b8d"


@dataclass(frozen=True)
class Shape:
    """A secret as a tool receives it: its JSON ``arguments`` hold ``secret``."""

    id: str
    secret: str
    arguments: str
    setup: Callable[[pytest.MonkeyPatch], None] | None = None


def field(name: str, value: str) -> Shape:
    """The secret as a field's value; the arguments start with whitespace (valid JSON)."""
    return Shape(f"field:{name}", value, "  " + json.dumps({"user": "ada", name: value}))


def token(id: str, value: str, secret: str | None = None) -> Shape:
    """The secret inside a sentence, where only its format gives it away."""
    return Shape(id, secret or value, json.dumps({"note": f"use {value} for the call"}))


def _service(api_keys: dict[str, str] | None) -> None:
    create_app([Agent(name="svc", model="offline")], api_keys=api_keys)


def _key_in_code(monkeypatch: pytest.MonkeyPatch) -> None:
    _service({CODE_KEY: "acme"})


def _key_in_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("ASCENT_API_KEYS", f"{ENV_KEY}:initech")
    _service(None)


SECRETS: list[Shape] = [
    field("password", "correct horse battery staple"),
    field("passwd", "hunter2-passwd"),
    field("pwd", "hunter2-pwd"),
    field("api-key", "plain-api-key-value"),
    field("apiKey", "plain-apikey-value"),
    field("X-Api-Key", "plain-x-api-key-value"),
    field("token", "plain-token-value"),
    field("access_token", "plain-access-token"),
    field("refresh_token", "plain-refresh-token"),
    field("client_secret", "plain-client-secret"),
    field("Authorization", "Basic dXNlcjpodW50ZXIy"),
    field("private_key", "plain-private-key"),
    token("stripe live", "sk_live_" + CHARS[:24]),
    token("stripe test", "sk_test_" + CHARS[1:25]),
    token("stripe restricted", "rk_live_" + CHARS[2:26]),
    token("github ghp", "ghp_" + CHARS[:36]),
    token("github gho", "gho_" + CHARS[3:39]),
    token("github ghs", "ghs_" + CHARS[4:40]),
    token("github fine-grained", "github_pat_11ABCDEFG0_" + CHARS[:59]),
    token("slack bot", "xoxb-123456789012-1234567890123-" + CHARS[:24]),
    token("slack user", "xoxp-123456789012-1234567890123-" + CHARS[5:29]),
    token("aws access key id", "AKIAIOSFODNN7EXAMPLE"),
    token("google api key", "AIza" + CHARS[:35]),
    token(
        "jwt",
        "eyJhbGciOiJIUzI1NiJ9.eyJzdWIiOiIxMjM0NTY3ODkwIn0."
        "dozjgNryP4J3jVmNHl0w5N_XgL0n3I9PlFUP0THsR8U",
    ),
    token(
        "pem private key",
        f"-----BEGIN RSA PRIVATE KEY-----\n{PEM_BODY}\n-----END RSA PRIVATE KEY-----",
        PEM_BODY,
    ),
    token("openai", "sk-" + CHARS[:48]),
    token("openai project", "sk-proj-" + CHARS[:56]),
    token("anthropic", "sk-ant-api03-" + CHARS[:60]),
    token("bearer", "Bearer " + CHARS[7:31], CHARS[7:31]),
    Shape("service key, in code", CODE_KEY, json.dumps({"note": f"key {CODE_KEY}"}), _key_in_code),
    Shape(
        "service key, from ASCENT_API_KEYS",
        ENV_KEY,
        json.dumps({"note": f"key {ENV_KEY}"}),
        _key_in_environment,
    ),
]

KEPT: dict[str, Any] = {
    "input_tokens": 3,
    "max_tokens": 100,
    "token_budget": 500,
    "token_count": 42,
    "token_type": "bearer",
    "note": "a token budget of 500 tokens; the password rules are in the wiki",
    "summary": "Token usage: 1,234 tokens",
    "task": "task-0123456789abcdefghijkl",
    "secretary": "Ann",
    "keyboard": "a monkey",
    "news": "Bearer of unexpectedly surprising news",
}


async def _echo(context: ToolContext[Any], arguments: str) -> str:
    return arguments.strip()


async def _login(context: ToolContext[Any], arguments: str) -> str:
    raise RuntimeError(f"login refused for {arguments.strip()}")


def _tool(name: str, on_invoke: Callable[[ToolContext[Any], str], Any]) -> FunctionTool:
    return FunctionTool(
        name=name,
        description=f"The {name} tool.",
        parameters={"type": "object", "properties": {}, "additionalProperties": True},
        on_invoke=on_invoke,
        strict=False,
    )


async def run_with(arguments: str) -> str:
    """A run that sends ``arguments`` to a tool that echoes them and to one that fails
    with them in its message, then answers with them; the trace's id."""
    model = ScriptedModel(
        [
            Step(
                calls=[ToolCall("echo", arguments)],
                usage=Usage(requests=1, input_tokens=120, output_tokens=7),
            ),
            ToolCall("login", arguments),
            f"Noted: {arguments.strip()}",
        ]
    )
    agent = Agent(name="clerk", model=model, tools=[_tool("echo", _echo), _tool("login", _login)])
    with trace("secret shapes") as active:
        await Runner.run(agent, "log me in")
    get_trace_provider().flush()
    return active.trace_id


@pytest.fixture
def store(sqlite_url: str) -> Iterator[SQLTraceStore]:
    """Runs' traces go through the batch processor (where redaction happens) to a store."""
    store = SQLTraceStore(sqlite_url)
    processor = BatchTraceProcessor(store, interval=60)
    provider = get_trace_provider()
    previous = provider.processors
    provider.set_processors([processor])
    yield store
    provider.set_processors(previous)
    processor.shutdown()


def stored_spans(store: SQLTraceStore, trace_id: str) -> list[SpanRecord]:
    found = store.get_trace(trace_id)
    assert found is not None
    return found[1]


def text(value: Any) -> str:
    return json.dumps(value, ensure_ascii=False)


@pytest.mark.parametrize("shape", SECRETS, ids=lambda shape: shape.id)
async def test_a_secret_is_masked_in_traces_logs_and_the_cli(
    shape: Shape,
    store: SQLTraceStore,
    sqlite_url: str,
    monkeypatch: pytest.MonkeyPatch,
    caplog: pytest.LogCaptureFixture,
) -> None:
    if shape.setup is not None:
        shape.setup(monkeypatch)
    with caplog.at_level(logging.WARNING, logger="ascent"):
        trace_id = await run_with(shape.arguments)

    spans = stored_spans(store, trace_id)
    assert shape.secret not in text([span.model_dump() for span in spans])
    tools = {span.name: span for span in spans if span.kind == "tool"}
    models = [span for span in spans if span.kind == "model"]
    masked = [
        tools["echo"].attributes["arguments"],
        tools["echo"].attributes["output"],
        tools["login"].attributes["arguments"],
        tools["login"].attributes["output"],
        tools["login"].error,
        models[0].attributes["output"],  # the model's tool call
        models[1].attributes["input"],  # the echo's output
        models[2].attributes["input"],  # the failure's message
        models[2].attributes["output"],  # the answer
    ]
    for where in masked:
        assert REDACTED in text(where)

    assert "tool 'login' failed" in caplog.text and "Traceback" in caplog.text
    assert shape.secret not in caplog.text
    assert REDACTED in caplog.text

    code, out, err = invoke("traces", "show", trace_id, "--json", "--database-url", sqlite_url)
    assert code == 0, err
    assert shape.secret not in out and REDACTED in out


async def test_look_alikes_and_usage_numbers_stay(store: SQLTraceStore, sqlite_url: str) -> None:
    trace_id = await run_with(json.dumps(KEPT))

    spans = stored_spans(store, trace_id)
    assert REDACTED not in text([span.model_dump() for span in spans])
    echo = next(span for span in spans if span.name == "echo")
    assert json.loads(echo.attributes["arguments"]) == KEPT
    assert json.loads(echo.attributes["output"]) == KEPT
    usage = next(span for span in spans if span.kind == "model").attributes["usage"]
    assert (usage["input_tokens"], usage["output_tokens"]) == (120, 7)

    code, out, _ = invoke("traces", "show", trace_id, "--json", "--database-url", sqlite_url)
    assert code == 0 and REDACTED not in out
    assert '\\"token_budget\\": 500' in out and "a token budget of 500 tokens" in out
