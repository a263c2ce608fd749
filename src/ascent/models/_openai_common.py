"""What the OpenAI-speaking providers share: the client, error mapping, JSON and SSE.

Only provider modules import this one (lazily, through the model registry), so
``import ascent`` never loads the ``openai`` client.
"""

from __future__ import annotations

import asyncio
import json
import os
import sys
import weakref
from collections.abc import AsyncGenerator, AsyncIterator
from contextlib import asynccontextmanager, suppress
from typing import Any, cast

import httpx2
import openai

from ..errors import ModelAPIError, UserError
from ..items import Usage
from ._retry import (
    RetryPolicy,
    call_with_retries,
    is_retryable_status,
    parse_retry_after,
    stream_with_retries,
)
from .base import ModelRequest, ModelResponse, ModelSettings, ModelStreamEvent

__all__ = [
    "add_extra_args",
    "classify_openai_error",
    "default_client",
    "error_from_body",
    "load_json",
    "post_raw",
    "sse_data",
    "usage_from",
]

_DRAIN_SECONDS = 1.0

_RETRYABLE_CODES = frozenset({"server_error", "rate_limit_exceeded", "overloaded", "timeout"})


_default_clients: weakref.WeakKeyDictionary[asyncio.AbstractEventLoop, openai.AsyncOpenAI] = (
    weakref.WeakKeyDictionary()
)
# loops inside serving_client(), with how many blocks deep, and the client each had before
_serving_depth: weakref.WeakKeyDictionary[asyncio.AbstractEventLoop, int] = (
    weakref.WeakKeyDictionary()
)
_outside_clients: weakref.WeakKeyDictionary[asyncio.AbstractEventLoop, openai.AsyncOpenAI] = (
    weakref.WeakKeyDictionary()
)


def default_client() -> openai.AsyncOpenAI:
    """The client for this event loop, configured from the environment.

    One per loop: an HTTP connection pool belongs to the loop that opened it, and
    ``Runner.run_sync`` (like ``asyncio.run``) starts a new loop each time. The
    SDK's own retries are off (we retry ourselves). A local server behind
    ``OPENAI_BASE_URL`` (Ollama, vLLM, llama.cpp) needs no key, so a placeholder
    is sent when none is set.
    """
    loop = asyncio.get_running_loop()
    client = _default_clients.get(loop)
    if client is None:
        http = _aiohttp_client() if loop in _serving_depth else None
        client = _default_clients[loop] = _client_from_environment(http)
    return client


def _client_from_environment(http_client: httpx2.AsyncClient | None = None) -> openai.AsyncOpenAI:
    api_key = os.environ.get("OPENAI_API_KEY")
    if not api_key and os.environ.get("OPENAI_BASE_URL"):
        api_key = "not-needed"
    try:
        return openai.AsyncOpenAI(api_key=api_key, max_retries=0, http_client=http_client)
    except openai.OpenAIError as exc:
        raise UserError(
            f"cannot create an OpenAI client: {exc} (set OPENAI_API_KEY, or OPENAI_BASE_URL "
            "for a compatible server, or pass client=...)"
        ) from exc


@asynccontextmanager
async def serving_client() -> AsyncIterator[None]:
    """Inside the block, this loop's default client is one for a process serving many runs.

    Its connections are pooled by aiohttp (``openai.DefaultAioHttpClient``) when
    that is installed (the ``service`` extra): httpx's pool checks every idle
    connection's socket on each request, so its cost grows with the connections
    open, about 1.3 ms of CPU a run at 50 runs at once (bench/README.md). An
    aiohttp session must be closed before its loop ends, hence a block, closed
    when the last block of the loop ends. The client is still made on first use
    (a service on the offline model needs no key).
    """
    loop = asyncio.get_running_loop()
    depth = _serving_depth.get(loop, 0)
    if depth == 0:
        outside = _default_clients.pop(loop, None)
        if outside is not None:
            _outside_clients[loop] = outside
    _serving_depth[loop] = depth + 1
    try:
        yield
    finally:
        _serving_depth[loop] -= 1
        if _serving_depth[loop] == 0:
            del _serving_depth[loop]
            client = _default_clients.pop(loop, None)
            outside = _outside_clients.pop(loop, None)
            if outside is not None:
                _default_clients[loop] = outside
            if client is not None:
                await client.close()


def _aiohttp_client() -> httpx2.AsyncClient | None:
    try:
        return openai.DefaultAioHttpClient()
    except RuntimeError:  # aiohttp is not installed: httpx it is
        return None


async def post_raw(
    client: openai.AsyncOpenAI,
    path: str,
    body: dict[str, Any],
    *,
    stream: bool = False,
    headers: dict[str, str] | None = None,
    extra_body: dict[str, Any] | None = None,
    extra_query: dict[str, Any] | None = None,
    timeout: float | None = None,
) -> httpx2.Response:
    """POST ``body`` as it is and return the raw HTTP response (unread when streaming).

    The SDK's typed ``create`` methods walk every request body through their
    TypedDict transform first: measured at ~2 ms for a one-message Responses
    request and ~40 ms for a 40-item history, on every call. Our bodies are
    already wire-ready, so this takes the SDK's own custom-request path: same
    auth, base URL, headers, timeout and exception types, no transform and no
    typed parsing. Failed statuses still raise ``openai.APIStatusError``.
    """
    options: dict[str, Any] = {"security": {"bearer_auth": True}}
    if headers:
        options["headers"] = headers
    if extra_body:
        options["extra_json"] = extra_body
    if extra_query:
        options["params"] = extra_query
    if timeout is not None:
        options["timeout"] = timeout
    response = await client.post(
        path, cast_to=httpx2.Response, body=body, options=cast(Any, options), stream=stream
    )
    return cast(httpx2.Response, response)


def add_extra_args(
    params: dict[str, Any], settings: ModelSettings, *, provider: str
) -> dict[str, Any]:
    """``params`` with ``settings.extra_args`` added as top-level fields.

    A key Ascent already sets is refused rather than silently overwritten: the
    setting that owns it is the one to use (``extra_body`` still overrides
    anything, for the rare case that must).
    """
    extra = settings.extra_args
    if not extra:
        return params
    taken = sorted(set(extra) & set(params))
    if taken:
        raise UserError(
            f"ModelSettings.extra_args sets {', '.join(taken)}, which {provider} already "
            "sends from its own settings or request; use those (or extra_body to override)"
        )
    return {**params, **extra}


def _status_message(exc: openai.APIError) -> str:
    """The provider's own message, not the SDK's "Error code: 429 - ..." wrapper."""
    body = exc.body
    if isinstance(body, dict):
        error = body.get("error", body)
        message = error.get("message") if isinstance(error, dict) else error
        if isinstance(message, str) and message:
            return message
    if isinstance(body, str) and body.strip():
        return body.strip()[:500]
    return exc.message


def _transport_errors() -> tuple[tuple[type[Exception], ...], tuple[type[Exception], ...]]:
    """(timeout, other transport) exception types of httpx2 and, if loaded, httpx."""
    timeouts: list[type[Exception]] = [httpx2.TimeoutException]
    transport: list[type[Exception]] = [httpx2.TransportError]
    legacy = sys.modules.get("httpx")
    if legacy is not None:
        timeouts.append(legacy.TimeoutException)
        transport.append(legacy.TransportError)
    return tuple(timeouts), tuple(transport)


def classify_openai_error(exc: BaseException, *, provider: str = "") -> ModelAPIError | None:
    """Map an ``openai`` (or LiteLLM, whose errors subclass them) or transport error.

    Rate limits, server errors, timeouts and dropped connections are retryable;
    other statuses (400, 401, 403, 404, 422) are not. ``None`` for anything else.
    """
    if isinstance(exc, ModelAPIError):
        return exc
    if isinstance(exc, openai.APIStatusError):
        status = exc.status_code
        response = getattr(exc, "response", None)
        headers = getattr(response, "headers", None)
        # OpenAI may say a 5xx is not worth repeating; it never makes a 4xx retryable.
        retryable = is_retryable_status(status) and not (
            headers is not None and headers.get("x-should-retry") == "false"
        )
        return ModelAPIError(
            _status_message(exc),
            provider=provider,
            status_code=status,
            retryable=retryable,
            retry_after=parse_retry_after(headers),
        )
    if isinstance(exc, openai.APITimeoutError):
        return ModelAPIError("request timed out", provider=provider, retryable=True)
    if isinstance(exc, openai.APIConnectionError):
        cause = f": {exc.__cause__}" if exc.__cause__ else ""
        return ModelAPIError(f"{exc.message}{cause}", provider=provider, retryable=True)
    if isinstance(exc, openai.APIError):
        code = getattr(exc, "status_code", None)
        status_code = code if isinstance(code, int) else None
        retryable = status_code is not None and is_retryable_status(status_code)
        return ModelAPIError(
            _status_message(exc), provider=provider, status_code=status_code, retryable=retryable
        )
    timeouts, transport = _transport_errors()
    if isinstance(exc, timeouts):
        return ModelAPIError("timed out reading the response", provider=provider, retryable=True)
    if isinstance(exc, transport):
        return ModelAPIError(f"connection failed: {exc}", provider=provider, retryable=True)
    return None


def error_from_body(error: Any, *, provider: str, default: str) -> ModelAPIError:
    """A ``ModelAPIError`` from an ``{"message", "code"}`` object inside a 200 response."""
    if not isinstance(error, dict):
        return ModelAPIError(default, provider=provider, retryable=True)
    code = error.get("code") or error.get("type")
    message = error.get("message") or default
    retryable = code is None or code in _RETRYABLE_CODES
    return ModelAPIError(str(message), provider=provider, retryable=retryable)


def load_json(data: bytes | str, *, provider: str) -> dict[str, Any]:
    """Decode a response body; a malformed one is a (retryable) provider failure."""
    try:
        value = json.loads(data)
    except ValueError as exc:
        raise ModelAPIError(
            f"malformed JSON in the response: {exc}", provider=provider, retryable=True
        ) from exc
    if not isinstance(value, dict):
        raise ModelAPIError(
            "malformed response: expected a JSON object", provider=provider, retryable=True
        )
    return value


async def sse_data(chunks: AsyncIterator[bytes]) -> AsyncIterator[str]:
    """The ``data`` of each server-sent event, in order, from the body's bytes.

    Event names, ids and comments are skipped: both OpenAI APIs repeat the event
    type inside the JSON data. Lines end in LF, CRLF or CR (the SSE grammar). Split
    here from the bytes rather than through the HTTP client's text and line
    iterators: two layers of generators fewer for every event of every stream.
    """
    pending = b""
    data: list[bytes] = []
    async for chunk in chunks:
        buffer = pending + chunk if pending else chunk
        carried_cr = False
        if b"\r" in buffer:
            if buffer.endswith(b"\r"):  # maybe the first half of a CRLF
                buffer, carried_cr = buffer[:-1], True
            buffer = buffer.replace(b"\r\n", b"\n").replace(b"\r", b"\n")
        *lines, pending = buffer.split(b"\n")
        if carried_cr:
            pending += b"\r"
        for line in lines:
            if not line:
                if data:
                    yield b"\n".join(data).decode("utf-8", "replace")
                    data = []
            elif line.startswith(b"data:"):
                data.append(_field_value(line))
    line = pending.rstrip(b"\r")
    if line.startswith(b"data:"):  # the last line had no line end
        data.append(_field_value(line))
    if data:
        yield b"\n".join(data).decode("utf-8", "replace")


def _field_value(line: bytes) -> bytes:
    """A ``data:`` line's value: after the colon, less one leading space."""
    value = line[5:]
    return value[1:] if value.startswith(b" ") else value


async def _drain(lines: AsyncIterator[Any]) -> None:
    """Read what follows a complete answer (a blank line, the chunked ending).

    Closing a response with unread bytes drops its connection instead of returning
    it to the pool, and the next call would connect again. A server that keeps
    talking after its answer is not waited for long, and nothing it does then can
    fail the answer already received.
    """
    with suppress(Exception):
        async with asyncio.timeout(_DRAIN_SECONDS):
            async for _ in lines:
                pass


def _int(value: Any) -> int:
    return value if isinstance(value, int) else 0


def usage_from(raw: Any, *, chat: bool) -> Usage:
    """Token counts from a Responses ``usage`` (or, ``chat=True``, a Chat Completions one)."""
    if not isinstance(raw, dict):
        return Usage(requests=1)
    if chat:
        inputs, outputs = raw.get("prompt_tokens"), raw.get("completion_tokens")
        input_details = raw.get("prompt_tokens_details") or {}
        output_details = raw.get("completion_tokens_details") or {}
    else:
        inputs, outputs = raw.get("input_tokens"), raw.get("output_tokens")
        input_details = raw.get("input_tokens_details") or {}
        output_details = raw.get("output_tokens_details") or {}
    return Usage(
        requests=1,
        input_tokens=_int(inputs),
        output_tokens=_int(outputs),
        cached_input_tokens=_int(input_details.get("cached_tokens")),
        reasoning_tokens=_int(output_details.get("reasoning_tokens")),
    )


class OpenAIHTTPModel:
    """What the Responses and Chat Completions providers share: the client, the
    retries, and the request/stream plumbing. A subclass names its endpoint,
    builds the body, parses a response, and turns a stream's SSE data into events.
    """

    supports_hosted_tools: bool = False
    prefix: str = ""
    path: str = ""

    def __init__(
        self,
        *,
        model: str,
        client: openai.AsyncOpenAI | None = None,
        retry: RetryPolicy | None = None,
    ) -> None:
        self.model = model
        self.name = f"{self.prefix}:{model}"
        self.retry = retry or RetryPolicy()
        if client is not None and client.max_retries:
            # one retry policy for every provider: ours, not the SDK's
            client = client.with_options(max_retries=0)
        self._client = client

    @property
    def client(self) -> openai.AsyncOpenAI:
        return self._client if self._client is not None else default_client()

    def _classify(self, exc: BaseException) -> ModelAPIError | None:
        return classify_openai_error(exc, provider=self.name)

    def _body(self, request: ModelRequest, *, stream: bool) -> dict[str, Any]:
        raise NotImplementedError  # abstract

    def _parse(self, data: dict[str, Any]) -> ModelResponse:
        raise NotImplementedError  # abstract

    def _events(self, lines: AsyncIterator[str]) -> AsyncIterator[ModelStreamEvent]:
        raise NotImplementedError  # abstract

    async def respond(self, request: ModelRequest) -> ModelResponse:
        body = self._body(request, stream=False)
        settings = request.settings

        async def call() -> ModelResponse:
            http = await post_raw(
                self.client,
                self.path,
                body,
                headers=settings.extra_headers,
                extra_body=settings.extra_body,
                extra_query=settings.extra_query,
                timeout=settings.timeout,
            )
            return self._parse(load_json(http.content, provider=self.name))

        return await call_with_retries(
            call, policy=self.retry, classify=self._classify, provider=self.name
        )

    def stream(self, request: ModelRequest) -> AsyncIterator[ModelStreamEvent]:
        body = self._body(request, stream=True)
        return stream_with_retries(
            lambda: self._stream_once(body, request.settings),
            policy=self.retry,
            classify=self._classify,
            provider=self.name,
        )

    async def _stream_once(
        self, body: dict[str, Any], settings: ModelSettings
    ) -> AsyncGenerator[ModelStreamEvent, None]:
        http = await post_raw(
            self.client,
            self.path,
            body,
            stream=True,
            headers=settings.extra_headers,
            extra_body=settings.extra_body,
            extra_query=settings.extra_query,
            timeout=settings.timeout,
        )
        lines = sse_data(http.aiter_bytes())
        try:
            async for event in self._events(lines):
                yield event
            await _drain(lines)
        finally:
            await http.aclose()
