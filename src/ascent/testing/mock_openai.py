"""A real, local, OpenAI-compatible HTTP server for tests and benchmarks.

Tests of the OpenAI providers must go over the wire: the ``openai`` client sits
on ``httpx2``, which request-mocking libraries cannot intercept, and only a real
server exercises the client's own request building, SSE handling and errors.
This server speaks ``POST /v1/responses`` and ``POST /v1/chat/completions``,
streamed (in each API's own SSE event format) and not, and ``POST
/v1/embeddings`` (deterministic vectors, not scripted).

What it answers is scripted: a queue of steps (:class:`Reply`,
:class:`HTTPError`, :class:`Malformed`, :class:`Delay`, :class:`BrokenStream`),
or a ``responder`` callable that picks a step from each request. It runs uvicorn
in a background thread with its own event loop, so sync and async tests use it
alike::

    with MockOpenAIServer() as server:
        server.add_text("Hello!")
        client = openai.AsyncOpenAI(base_url=server.base_url, api_key="test")
        ...
        assert server.requests[0].body["model"] == "gpt-4.1-mini"
"""

from __future__ import annotations

import asyncio
import collections
import itertools
import json
import re
import time
from collections.abc import AsyncIterator, Callable, Iterator
from dataclasses import dataclass, field
from typing import Any, Self

from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import Response, StreamingResponse
from starlette.routing import Route

from .loopback import LoopbackServer

__all__ = [
    "BrokenStream",
    "Delay",
    "HTTPError",
    "Malformed",
    "MockOpenAIServer",
    "MockRequest",
    "Reply",
    "Step",
    "ToolCall",
]

# ---------------------------------------------------------------------- steps


@dataclass(kw_only=True)
class ToolCall:
    """A function call the mock model makes. ``arguments`` may be a dict or a JSON string."""

    name: str
    arguments: str | dict[str, Any] = "{}"
    call_id: str | None = None

    @property
    def arguments_json(self) -> str:
        if isinstance(self.arguments, str):
            return self.arguments
        return json.dumps(self.arguments)


@dataclass(kw_only=True)
class Reply:
    """A successful model answer: text, tool calls, reasoning, extra output items.

    ``items`` are raw Responses API output items (e.g. a ``web_search_call``),
    placed before the message; the Chat Completions endpoint ignores them.
    """

    text: str | None = None
    tool_calls: list[ToolCall] = field(default_factory=list)
    reasoning: str | None = None
    items: list[dict[str, Any]] = field(default_factory=list)
    input_tokens: int = 10
    output_tokens: int = 5
    cached_tokens: int = 0
    reasoning_tokens: int = 0


@dataclass(kw_only=True)
class HTTPError:
    """An HTTP error in OpenAI's error shape; ``body`` (dict or str) replaces that shape."""

    status: int
    message: str = "mock error"
    type: str = "mock_error"
    code: str | None = None
    body: dict[str, Any] | str | None = None
    retry_after: float | None = None
    retry_after_ms: float | None = None
    headers: dict[str, str] = field(default_factory=dict)


@dataclass(kw_only=True)
class Malformed:
    """A 200 response whose body (or, streamed, whose first event) is not valid JSON."""

    body: str = '{"id": "broken", "output": ['


@dataclass(kw_only=True)
class Delay:
    """Wait ``seconds`` (longer than the client's timeout, typically), then answer ``then``."""

    seconds: float
    then: Reply | HTTPError | Malformed | BrokenStream | None = None


@dataclass(kw_only=True)
class BrokenStream:
    """Send the first ``after`` chunks of ``reply`` and drop the connection."""

    reply: Reply = field(default_factory=lambda: Reply(text="This answer never ends"))
    after: int = 2


Step = Reply | HTTPError | Malformed | Delay | BrokenStream


@dataclass(slots=True)
class MockRequest:
    """One request the server received: which API, its JSON body, its headers, its query.

    ``client`` is the caller's address: two requests from one address came over
    one connection, which is how a test sees that a client reuses its connections.
    """

    path: str
    body: dict[str, Any]
    headers: dict[str, str]
    query: dict[str, str] = field(default_factory=dict)
    client: tuple[str, int] | None = None

    @property
    def api(self) -> str:
        """``"responses"`` or ``"chat"``."""
        return "chat" if self.path.endswith("/chat/completions") else "responses"

    @property
    def stream(self) -> bool:
        return bool(self.body.get("stream"))

    @property
    def last_is_tool_output(self) -> bool:
        """Whether the last input is a tool result (so the model should answer now)."""
        if self.api == "chat":
            messages = self.body.get("messages") or []
            return bool(messages) and messages[-1].get("role") == "tool"
        items = self.body.get("input")
        if not isinstance(items, list) or not items:
            return False
        return items[-1].get("type") == "function_call_output"


Responder = Callable[[MockRequest], Step]


class MockOpenAIServer:
    """A scripted OpenAI-compatible server on 127.0.0.1 (a free port, or ``port``), in a thread.

    ``responder`` (if given) decides every answer from the request; otherwise the
    queued steps are served in order, and an exhausted queue answers HTTP 500 with
    a clear message and records it in ``errors``. ``latency`` delays every answer.
    """

    def __init__(
        self,
        *,
        responder: Responder | None = None,
        latency: float = 0.0,
        model: str = "mock-model",
        keep_alive: int = 300,
        port: int = 0,
    ) -> None:
        self.responder = responder
        self.port = port  # 0: any free port
        self.latency = latency
        # Longer than uvicorn's 5 s default: under heavy load a client's pooled
        # connection can idle past it between two requests of one run.
        self.keep_alive = keep_alive
        self.model = model
        self.requests: list[MockRequest] = []
        self.errors: list[str] = []
        self._script: collections.deque[Step] = collections.deque()
        self._ids = itertools.count(1)
        self._loopback: LoopbackServer | None = None

    # ------------------------------------------------------------ scripting

    def add(self, *steps: Step) -> Self:
        """Queue steps, served one per request in order."""
        self._script.extend(steps)
        return self

    def add_text(self, text: str, **reply: Any) -> Self:
        return self.add(Reply(text=text, **reply))

    def add_tool_calls(
        self, *calls: ToolCall | tuple[str, str | dict[str, Any]], text: str | None = None
    ) -> Self:
        """Queue one answer with these tool calls (``("name", {"arg": 1})`` works too)."""
        tool_calls = [
            c if isinstance(c, ToolCall) else ToolCall(name=c[0], arguments=c[1]) for c in calls
        ]
        return self.add(Reply(text=text, tool_calls=tool_calls))

    def add_error(self, status: int, message: str = "mock error", **error: Any) -> Self:
        return self.add(HTTPError(status=status, message=message, **error))

    @property
    def pending(self) -> int:
        """How many scripted steps are still queued."""
        return len(self._script)

    def reset(self) -> None:
        """Forget the script, the recorded requests and errors, and the responder."""
        self._script.clear()
        self.requests.clear()
        self.errors.clear()
        self.responder = None
        self.latency = 0.0

    # ------------------------------------------------------------ lifecycle

    @property
    def base_url(self) -> str:
        if self._loopback is None:
            raise RuntimeError("MockOpenAIServer is not started")
        return f"{self._loopback.url}/v1"

    def start(self) -> Self:
        """Bind a free port and serve in a background thread; returns once it accepts."""
        if self._loopback is None:
            self._loopback = LoopbackServer(
                self._app(),
                lifespan="off",
                timeout_keep_alive=self.keep_alive,
                backlog=4096,
                port=self.port,
            ).start()
        return self

    def stop(self) -> None:
        if self._loopback is not None:
            self._loopback.stop(force=True)
            self._loopback = None

    def __enter__(self) -> Self:
        return self.start()

    def __exit__(self, *exc_info: object) -> None:
        self.stop()

    async def __aenter__(self) -> Self:
        return await asyncio.to_thread(self.start)

    async def __aexit__(self, *exc_info: object) -> None:
        await asyncio.to_thread(self.stop)

    # ------------------------------------------------------------ serving

    def _app(self) -> Starlette:
        routes = [
            Route("/v1/responses", self._handle, methods=["POST"]),
            Route("/v1/chat/completions", self._handle, methods=["POST"]),
            Route("/v1/embeddings", self._embeddings, methods=["POST"]),
        ]
        return Starlette(routes=routes)

    async def _embeddings(self, request: Request) -> Response:
        """Deterministic, unscripted embeddings: words hashed into buckets (see
        :func:`ascent.memory.embedders.hash_embedding`), so texts sharing words are near."""
        import base64
        import struct

        from ..memory.embedders import hash_embedding

        try:
            body = json.loads(await request.body())
        except ValueError:
            return self._fail("embeddings request body is not JSON", status=400)
        self.requests.append(MockRequest(request.url.path, body, dict(request.headers)))
        texts = body.get("input")
        texts = [texts] if isinstance(texts, str) else texts
        if not isinstance(texts, list) or not all(isinstance(t, str) for t in texts):
            return self._fail("embeddings input must be a string or a list of strings", status=400)
        dimensions = int(body.get("dimensions") or 64)
        data = []
        for index, text in enumerate(texts):
            vector: Any = hash_embedding(text, dimensions)
            if body.get("encoding_format") == "base64":
                vector = base64.b64encode(struct.pack(f"<{dimensions}f", *vector)).decode()
            data.append({"object": "embedding", "index": index, "embedding": vector})
        words = sum(len(text.split()) for text in texts)
        usage = {"prompt_tokens": words, "total_tokens": words}
        reply = {"object": "list", "data": data, "model": body.get("model"), "usage": usage}
        return Response(json.dumps(reply), media_type="application/json")

    async def _handle(self, request: Request) -> Response:
        try:
            body = json.loads(await request.body())
        except ValueError:
            return self._fail(f"request body is not JSON: {request.url.path}", status=400)
        peer = request.client
        received = MockRequest(
            request.url.path,
            body,
            dict(request.headers),
            dict(request.query_params),
            client=(peer.host, peer.port) if peer else None,
        )
        self.requests.append(received)
        try:
            step = self._next_step(received)
        except Exception as exc:
            return self._fail(f"responder raised {type(exc).__name__}: {exc}")
        if step is None:
            return self._fail(
                f"script exhausted: no step left for request #{len(self.requests)} "
                f"to {received.path}"
            )
        if self.latency:
            await asyncio.sleep(self.latency)
        return await self._render(step, received)

    def _next_step(self, request: MockRequest) -> Step | None:
        if self.responder is not None:
            return self.responder(request)
        return self._script.popleft() if self._script else None

    def _fail(self, message: str, *, status: int = 500) -> Response:
        self.errors.append(message)
        body = {"error": {"message": f"MockOpenAIServer: {message}", "type": "mock_error"}}
        return Response(json.dumps(body), status_code=status, media_type="application/json")

    async def _render(self, step: Step, request: MockRequest) -> Response:
        if isinstance(step, Delay):
            await asyncio.sleep(step.seconds)
            step = step.then or Reply(text="late answer")
        if isinstance(step, HTTPError):
            return _error_response(step)
        if isinstance(step, Malformed):
            if request.stream:
                return _sse(iter([f"data: {step.body}\n\n"]))
            return Response(step.body, media_type="application/json")
        chat = request.api == "chat"
        reply = step.reply if isinstance(step, BrokenStream) else step
        if request.stream:
            if chat:
                include_usage = bool(
                    (request.body.get("stream_options") or {}).get("include_usage")
                )
                chunks = self._chat_chunks(reply, include_usage)
            else:
                chunks = self._responses_events(reply)
        else:
            payload = self._chat_completion(reply) if chat else self._response(reply)
            text = json.dumps(payload)
            if not isinstance(step, BrokenStream):
                return Response(text, media_type="application/json")
            halves = iter([text[: len(text) // 2], text[len(text) // 2 :]])
            return _sse(_break_after(halves, 1))
        if isinstance(step, BrokenStream):
            return _sse(_break_after(chunks, step.after))
        return _sse(chunks)

    # ------------------------------------------------------ Responses API shapes

    def _output_items(self, reply: Reply) -> list[dict[str, Any]]:
        n = next(self._ids)
        items: list[dict[str, Any]] = []
        if reply.reasoning is not None:
            summary = [{"type": "summary_text", "text": reply.reasoning}]
            items.append({"type": "reasoning", "id": f"rs_{n}", "summary": summary})
        items.extend(reply.items)
        if reply.text is not None:
            part = {"type": "output_text", "text": reply.text, "annotations": []}
            items.append(
                {
                    "type": "message",
                    "id": f"msg_{n}",
                    "status": "completed",
                    "role": "assistant",
                    "content": [part],
                }
            )
        for i, call in enumerate(reply.tool_calls):
            items.append(
                {
                    "type": "function_call",
                    "id": f"fc_{n}_{i}",
                    "call_id": call.call_id or f"call_{n}_{i}",
                    "name": call.name,
                    "arguments": call.arguments_json,
                    "status": "completed",
                }
            )
        return items

    def _response(self, reply: Reply, output: list[dict[str, Any]] | None = None) -> dict[str, Any]:
        return {
            "id": f"resp_{next(self._ids)}",
            "object": "response",
            "created_at": int(time.time()),
            "status": "completed",
            "model": self.model,
            "output": self._output_items(reply) if output is None else output,
            "error": None,
            "incomplete_details": None,
            "usage": {
                "input_tokens": reply.input_tokens,
                "input_tokens_details": {"cached_tokens": reply.cached_tokens},
                "output_tokens": reply.output_tokens,
                "output_tokens_details": {"reasoning_tokens": reply.reasoning_tokens},
                "total_tokens": reply.input_tokens + reply.output_tokens,
            },
        }

    def _responses_events(self, reply: Reply) -> Iterator[str]:
        final = self._response(reply)
        seq = itertools.count()

        def event(kind: str, **data: Any) -> str:
            payload = {"type": kind, "sequence_number": next(seq), **data}
            return f"event: {kind}\ndata: {json.dumps(payload)}\n\n"

        started = {**final, "status": "in_progress", "output": [], "usage": None}
        yield event("response.created", response=started)
        yield event("response.in_progress", response=started)
        for index, item in enumerate(final["output"]):
            at = {"output_index": index, "item_id": item.get("id")}
            kind = item["type"]
            if kind == "message":
                text = item["content"][0]["text"]
                yield event(
                    "response.output_item.added",
                    output_index=index,
                    item={**item, "status": "in_progress", "content": []},
                )
                empty = {"type": "output_text", "text": "", "annotations": []}
                yield event("response.content_part.added", **at, content_index=0, part=empty)
                for piece in _pieces(text):
                    yield event("response.output_text.delta", **at, content_index=0, delta=piece)
                yield event("response.output_text.done", **at, content_index=0, text=text)
                part = item["content"][0]
                yield event("response.content_part.done", **at, content_index=0, part=part)
            elif kind == "function_call":
                args = item["arguments"]
                yield event(
                    "response.output_item.added",
                    output_index=index,
                    item={**item, "status": "in_progress", "arguments": ""},
                )
                for piece in _pieces(args, size=12):
                    yield event("response.function_call_arguments.delta", **at, delta=piece)
                yield event("response.function_call_arguments.done", **at, arguments=args)
            elif kind == "reasoning":
                text = item["summary"][0]["text"]
                yield event(
                    "response.output_item.added", output_index=index, item={**item, "summary": []}
                )
                for piece in _pieces(text):
                    yield event(
                        "response.reasoning_summary_text.delta", **at, summary_index=0, delta=piece
                    )
                yield event(
                    "response.reasoning_summary_text.done", **at, summary_index=0, text=text
                )
            else:
                yield event("response.output_item.added", output_index=index, item=item)
            yield event("response.output_item.done", output_index=index, item=item)
        yield event("response.completed", response=final)

    # ------------------------------------------------------ Chat Completions shapes

    def _tool_calls(self, reply: Reply) -> list[dict[str, Any]]:
        n = next(self._ids)
        return [
            {
                "id": call.call_id or f"call_{n}_{i}",
                "type": "function",
                "function": {"name": call.name, "arguments": call.arguments_json},
            }
            for i, call in enumerate(reply.tool_calls)
        ]

    @staticmethod
    def _chat_usage(reply: Reply) -> dict[str, Any]:
        return {
            "prompt_tokens": reply.input_tokens,
            "completion_tokens": reply.output_tokens,
            "total_tokens": reply.input_tokens + reply.output_tokens,
            "prompt_tokens_details": {"cached_tokens": reply.cached_tokens},
            "completion_tokens_details": {"reasoning_tokens": reply.reasoning_tokens},
        }

    def _chat_completion(self, reply: Reply) -> dict[str, Any]:
        message: dict[str, Any] = {"role": "assistant", "content": reply.text, "refusal": None}
        if reply.reasoning is not None:
            message["reasoning_content"] = reply.reasoning
        if reply.tool_calls:
            message["tool_calls"] = self._tool_calls(reply)
        return {
            "id": f"chatcmpl-{next(self._ids)}",
            "object": "chat.completion",
            "created": int(time.time()),
            "model": self.model,
            "choices": [
                {
                    "index": 0,
                    "message": message,
                    "finish_reason": "tool_calls" if reply.tool_calls else "stop",
                    "logprobs": None,
                }
            ],
            "usage": self._chat_usage(reply),
        }

    def _chat_chunks(self, reply: Reply, include_usage: bool) -> Iterator[str]:
        head = {
            "id": f"chatcmpl-{next(self._ids)}",
            "object": "chat.completion.chunk",
            "created": int(time.time()),
            "model": self.model,
        }

        def chunk(delta: dict[str, Any], finish: str | None = None) -> str:
            choice = {"index": 0, "delta": delta, "finish_reason": finish, "logprobs": None}
            extra = {"usage": None} if include_usage else {}
            return f"data: {json.dumps({**head, 'choices': [choice], **extra})}\n\n"

        yield chunk({"role": "assistant", "content": ""})
        for piece in _pieces(reply.reasoning or ""):
            yield chunk({"reasoning_content": piece})
        for piece in _pieces(reply.text or ""):
            yield chunk({"content": piece})
        for index, call in enumerate(self._tool_calls(reply)):
            function = call["function"]
            opening = {"name": function["name"], "arguments": ""}
            yield chunk(
                {
                    "tool_calls": [
                        {"index": index, "id": call["id"], "type": "function", "function": opening}
                    ]
                }
            )
            for piece in _pieces(function["arguments"], size=12):
                yield chunk({"tool_calls": [{"index": index, "function": {"arguments": piece}}]})
        yield chunk({}, "tool_calls" if reply.tool_calls else "stop")
        if include_usage:
            usage = {**head, "choices": [], "usage": self._chat_usage(reply)}
            yield f"data: {json.dumps(usage)}\n\n"
        yield "data: [DONE]\n\n"


# ---------------------------------------------------------------------- helpers

_WORDS = re.compile(r"\s*\S+\s*|\s+")


def _pieces(text: str, *, size: int = 0) -> list[str]:
    """Split text into stream deltas: words, or fixed-size slices when ``size`` is set."""
    if size:
        return [text[i : i + size] for i in range(0, len(text), size)]
    return _WORDS.findall(text)


class _ConnectionDropped(Exception):
    """Raised inside a streamed body so the server drops the connection mid-way."""


async def _break_after(chunks: Iterator[str], after: int) -> AsyncIterator[str]:
    for i, chunk in enumerate(chunks):
        if i >= after:
            raise _ConnectionDropped("mock stream broken on purpose")
        yield chunk
        await asyncio.sleep(0)


def _sse(chunks: Iterator[str] | AsyncIterator[str]) -> StreamingResponse:
    return StreamingResponse(chunks, media_type="text/event-stream")


def _error_response(step: HTTPError) -> Response:
    headers = dict(step.headers)
    if step.retry_after is not None:
        headers["retry-after"] = f"{step.retry_after:g}"
    if step.retry_after_ms is not None:
        headers["retry-after-ms"] = f"{step.retry_after_ms:g}"
    body = step.body
    if body is None:
        error = {"message": step.message, "type": step.type, "param": None, "code": step.code}
        body = {"error": error}
    content = body if isinstance(body, str) else json.dumps(body)
    return Response(
        content, status_code=step.status, headers=headers, media_type="application/json"
    )
