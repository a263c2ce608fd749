"""The Chat Completions provider (``openai-chat:<model>``), and the conversions it needs.

Chat Completions is the API every OpenAI-compatible server speaks (Ollama, vLLM,
llama.cpp, Gemini's OpenAI endpoint), reached by pointing ``OPENAI_BASE_URL``
at it. Items are converted at this edge: consecutive function calls become one
assistant message with ``tool_calls``, tool outputs become ``tool`` messages,
and reasoning and hosted-tool items, which the API cannot carry, are dropped.
The conversions are module functions so the LiteLLM provider reuses them.
"""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from typing import Any

import openai

from ..errors import ModelAPIError, ProviderCapabilityError
from ..items import (
    FunctionCall,
    FunctionCallOutput,
    InputFile,
    InputImage,
    InputText,
    Item,
    Message,
    OutputText,
    Reasoning,
    Refusal,
)
from . import DEFAULT_OPENAI_MODEL
from ._openai_common import (
    OpenAIHTTPModel,
    add_extra_args,
    error_from_body,
    load_json,
    usage_from,
)
from ._retry import RetryPolicy
from .base import (
    FunctionToolSpec,
    Model,
    ModelRequest,
    ModelResponse,
    ModelSettings,
    ModelStreamEvent,
    ReasoningDelta,
    ResponseCompleted,
    TextDelta,
    ToolCallArgumentsDelta,
)

__all__ = [
    "ChatStreamAssembler",
    "OpenAIChatModel",
    "build_chat_params",
    "create",
    "parse_chat_completion",
    "stream_options",
    "to_chat_messages",
]


def create(name: str) -> Model:
    """The registry's factory for ``openai-chat:<name>``."""
    return OpenAIChatModel(model=name or DEFAULT_OPENAI_MODEL)


class OpenAIChatModel(OpenAIHTTPModel):
    """A model behind a Chat Completions endpoint (OpenAI or any compatible server).

    Hosted tools cannot be expressed here; a request with one raises
    :class:`~ascent.errors.ProviderCapabilityError`.
    """

    prefix = "openai-chat"
    path = "/chat/completions"

    def __init__(
        self,
        *,
        model: str = DEFAULT_OPENAI_MODEL,
        client: openai.AsyncOpenAI | None = None,
        retry: RetryPolicy | None = None,
    ) -> None:
        super().__init__(model=model, client=client, retry=retry)

    def _body(self, request: ModelRequest, *, stream: bool) -> dict[str, Any]:
        body = build_chat_params(self.model, request, provider=self.name)
        if stream:
            body.update(stream=True, stream_options=stream_options(request.settings))
        return body

    def _parse(self, data: dict[str, Any]) -> ModelResponse:
        return parse_chat_completion(data, provider=self.name)

    async def _events(self, lines: AsyncIterator[str]) -> AsyncIterator[ModelStreamEvent]:
        assembler = ChatStreamAssembler(provider=self.name)
        async for data in lines:
            if data == "[DONE]":
                break
            for event in assembler.feed(load_json(data, provider=self.name)):
                yield event
        if not assembler.chunks:
            raise ModelAPIError("the stream ended empty", provider=self.name, retryable=True)
        yield ResponseCompleted(assembler.response())


# ------------------------------------------------------------ request conversion


def _part(part: Any, *, provider: str) -> dict[str, Any]:
    if isinstance(part, InputText | OutputText):
        return {"type": "text", "text": part.text}
    if isinstance(part, Refusal):
        return {"type": "text", "text": part.refusal}
    if isinstance(part, InputImage):
        if part.image_url is None:
            raise ProviderCapabilityError(
                f"{provider}: images by file_id need the Responses API; send an image_url"
            )
        return {"type": "image_url", "image_url": {"url": part.image_url, "detail": part.detail}}
    if isinstance(part, InputFile):
        if part.file_url is not None and part.file_data is None and part.file_id is None:
            raise ProviderCapabilityError(
                f"{provider}: files by URL need the Responses API; send file_data or file_id"
            )
        file = {"file_data": part.file_data, "file_id": part.file_id, "filename": part.filename}
        return {"type": "file", "file": {k: v for k, v in file.items() if v is not None}}
    raise ProviderCapabilityError(f"{provider}: unsupported content part {part!r}")


def _content(message: Message, *, provider: str) -> str | list[dict[str, Any]]:
    """Plain text stays a string: the form every compatible server accepts."""
    if isinstance(message.content, str):
        return message.content
    if message.role == "assistant" or all(
        isinstance(p, InputText | OutputText | Refusal) for p in message.content
    ):
        return message.text
    return [_part(part, provider=provider) for part in message.content]


def to_chat_messages(
    instructions: str | None, items: list[Item], *, provider: str = "openai-chat"
) -> list[dict[str, Any]]:
    """Items as Chat Completions messages.

    ``developer`` messages are sent as ``system`` ones, which compatible servers
    understand and OpenAI treats the same way.
    """
    messages: list[dict[str, Any]] = []
    if instructions:
        messages.append({"role": "system", "content": instructions})
    for item in items:
        if isinstance(item, Message):
            role = "system" if item.role == "developer" else item.role
            messages.append({"role": role, "content": _content(item, provider=provider)})
        elif isinstance(item, FunctionCall):
            call = {
                "id": item.call_id,
                "type": "function",
                "function": {"name": item.name, "arguments": item.arguments},
            }
            last = messages[-1] if messages else None
            if last is not None and last["role"] == "assistant":
                last.setdefault("tool_calls", []).append(call)
                if last["content"] == "":
                    last["content"] = None
            else:
                messages.append({"role": "assistant", "content": None, "tool_calls": [call]})
        elif isinstance(item, FunctionCallOutput):
            messages.append({"role": "tool", "tool_call_id": item.call_id, "content": item.output})
        # Reasoning and provider items (hosted tool calls) have no Chat Completions form.
    return messages


# Settings only the Responses API has, and what to do instead.
_UNSUPPORTED = {
    "truncation": "only the Responses API truncates (openai:...); trim the input instead",
    "reasoning.summary": "only the Responses API returns reasoning summaries (openai:...)",
}


def build_chat_params(model: str, request: ModelRequest, *, provider: str) -> dict[str, Any]:
    """The JSON body of a Chat Completions request (``extra_body``/``extra_headers`` aside).

    It doubles as the keyword arguments of ``litellm.acompletion``. Settings
    only the Responses API has (``truncation``, ``reasoning.summary``,
    server-side conversation state) are refused, not dropped.
    """
    settings = request.settings
    settings.refuse(provider, _UNSUPPORTED)
    request.refuse_server_state(provider)
    tools: list[dict[str, Any]] = []
    for tool in request.tools:
        if not isinstance(tool, FunctionToolSpec):
            raise ProviderCapabilityError(
                f"{provider} cannot run the hosted tool {tool.kind!r}; use an OpenAI "
                "Responses model (openai:...) or a function tool"
            )
        function: dict[str, Any] = {
            "name": tool.name,
            "description": tool.description,
            "parameters": tool.parameters,
        }
        if tool.strict:
            function["strict"] = True
        tools.append({"type": "function", "function": function})
    params: dict[str, Any] = {
        "model": model,
        "messages": to_chat_messages(request.instructions, request.input, provider=provider),
    }
    if tools:
        params["tools"] = tools
        if settings.parallel_tool_calls is not None:
            params["parallel_tool_calls"] = settings.parallel_tool_calls
    if settings.tool_choice is not None:
        choice = settings.tool_choice
        if choice not in ("auto", "required", "none"):
            params["tool_choice"] = {"type": "function", "function": {"name": choice}}
        else:
            params["tool_choice"] = choice
    if request.output is not None:
        params["response_format"] = {
            "type": "json_schema",
            "json_schema": {
                "name": request.output.name,
                "schema": request.output.schema,
                "strict": request.output.strict,
            },
        }
    for key, value in (
        ("temperature", settings.temperature),
        ("top_p", settings.top_p),
        ("frequency_penalty", settings.frequency_penalty),
        ("presence_penalty", settings.presence_penalty),
        ("max_tokens", settings.max_tokens),
        ("seed", settings.seed),
        ("reasoning_effort", settings.reasoning_effort),
        ("verbosity", settings.verbosity),
        ("store", settings.store),
        ("metadata", settings.metadata),
    ):
        if value is not None:
            params[key] = value
    if settings.top_logprobs is not None:
        params.update(logprobs=True, top_logprobs=settings.top_logprobs)
    return add_extra_args(params, settings, provider=provider)


def stream_options(settings: ModelSettings) -> dict[str, Any]:
    """A streamed request's ``stream_options``: usage is asked for unless
    ``include_usage=False`` (a server that rejects the option needs that)."""
    include = settings.include_usage if settings.include_usage is not None else True
    return {"include_usage": include}


# ----------------------------------------------------------- response conversion


def _reasoning_text(message: dict[str, Any]) -> str | None:
    """Reasoning some servers return beside the answer (vLLM, DeepSeek, Ollama)."""
    text = message.get("reasoning_content") or message.get("reasoning")
    return text if isinstance(text, str) and text else None


def _output_items(
    content: str | None, refusal: str | None, reasoning: str | None, calls: list[dict[str, Any]]
) -> list[Item]:
    output: list[Item] = []
    if reasoning:
        output.append(Reasoning(summary=[{"type": "summary_text", "text": reasoning}]))
    if refusal:
        output.append(Message(role="assistant", content=[Refusal(refusal=refusal)]))
    elif content:
        output.append(Message.assistant(content))
    for call in calls:
        function = call.get("function") or {}
        output.append(
            FunctionCall(
                call_id=call.get("id") or f"call_{uuid.uuid4().hex[:24]}",
                name=function.get("name") or "",
                arguments=function.get("arguments") or "{}",
            )
        )
    return output


def parse_chat_completion(data: dict[str, Any], *, provider: str = "openai-chat") -> ModelResponse:
    """A decoded chat completion as a :class:`ModelResponse` (the first choice)."""
    if data.get("error"):
        raise error_from_body(data["error"], provider=provider, default="the completion failed")
    choices = data.get("choices")
    if not isinstance(choices, list) or not choices or not isinstance(choices[0], dict):
        raise ModelAPIError("malformed completion: no choices", provider=provider, retryable=True)
    message = choices[0].get("message") or {}
    content = message.get("content")
    if isinstance(content, list):  # a few servers answer with content parts
        content = "".join(p.get("text", "") for p in content if isinstance(p, dict))
    output = _output_items(
        content, message.get("refusal"), _reasoning_text(message), message.get("tool_calls") or []
    )
    return ModelResponse(
        output=output, usage=usage_from(data.get("usage"), chat=True), response_id=data.get("id")
    )


@dataclass
class ChatStreamAssembler:
    """Turns streamed chat chunks into deltas and, at the end, the whole response.

    Tool calls arrive in pieces keyed by ``index``: the first piece carries the id
    and name, later ones only argument fragments.
    """

    provider: str = "openai-chat"
    response_id: str | None = None
    text: list[str] = field(default_factory=list)
    refusal: list[str] = field(default_factory=list)
    reasoning: list[str] = field(default_factory=list)
    calls: dict[int, dict[str, Any]] = field(default_factory=dict)
    usage: Any = None
    chunks: int = 0

    def feed(self, chunk: dict[str, Any]) -> list[ModelStreamEvent]:
        self.chunks += 1
        if chunk.get("error"):
            raise error_from_body(chunk["error"], provider=self.provider, default="stream error")
        self.response_id = self.response_id or chunk.get("id")
        if chunk.get("usage"):
            self.usage = chunk["usage"]
        events: list[ModelStreamEvent] = []
        for choice in chunk.get("choices") or ():
            if choice.get("index", 0) != 0:
                continue
            delta = choice.get("delta") or {}
            reasoning = _reasoning_text(delta)
            if reasoning:
                self.reasoning.append(reasoning)
                events.append(ReasoningDelta(reasoning, self.response_id))
            if delta.get("content"):
                self.text.append(delta["content"])
                events.append(TextDelta(delta["content"], self.response_id))
            if delta.get("refusal"):
                self.refusal.append(delta["refusal"])
            for piece in delta.get("tool_calls") or ():
                events.extend(self._tool_piece(piece))
        return events

    def _tool_piece(self, piece: dict[str, Any]) -> list[ModelStreamEvent]:
        index = piece.get("index", len(self.calls))
        call = self.calls.get(index)
        if call is None:
            call = {"id": None, "name": "", "arguments": []}
            self.calls[index] = call
        call["id"] = call["id"] or piece.get("id") or f"call_{uuid.uuid4().hex[:24]}"
        function = piece.get("function") or {}
        if function.get("name"):
            call["name"] = function["name"]
        arguments = function.get("arguments")
        if not arguments:
            return []
        call["arguments"].append(arguments)
        return [ToolCallArgumentsDelta(arguments, call["id"], call["name"])]

    def response(self) -> ModelResponse:
        calls = [
            {
                "id": call["id"],
                "function": {"name": call["name"], "arguments": "".join(call["arguments"])},
            }
            for _, call in sorted(self.calls.items())
        ]
        output = _output_items(
            "".join(self.text) or None,
            "".join(self.refusal) or None,
            "".join(self.reasoning) or None,
            calls,
        )
        usage = usage_from(self.usage, chat=True)
        return ModelResponse(output=output, usage=usage, response_id=self.response_id)
