"""The OpenAI Responses API provider (``openai:<model>``).

Ascent's items already have the Responses API's shapes, so requests send
``item.wire()`` as it is and responses are read straight into items. Bodies go
out as they are and come back as raw bytes decoded with ``json``, never through
the SDK's typed request transform or response objects (see
:func:`~ascent.models._openai_common.post_raw`): that skips building a second
object tree on every call and keeps unknown items (hosted tool calls) intact.
"""

from __future__ import annotations

import re
from collections.abc import AsyncIterator
from dataclasses import asdict
from typing import Any

import openai
from pydantic import ValidationError

from ..errors import ModelAPIError, UserError
from ..items import Reasoning, input_to_items
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
    ModelStreamEvent,
    ReasoningDelta,
    ResponseCompleted,
    TextDelta,
    ToolCallArgumentsDelta,
    ToolSpec,
)

__all__ = ["OpenAIResponsesModel", "build_params", "create", "parse_response"]

_REASONING_DELTAS = frozenset(
    {"response.reasoning_summary_text.delta", "response.reasoning_text.delta"}
)
# Models that reason (and accept the encrypted-reasoning include; others refuse it).
_REASONING_MODEL = re.compile(r"(o\d|gpt-5(?!-chat)|codex)")
_TEXT_DELTAS = frozenset({"response.output_text.delta", "response.refusal.delta"})


def create(name: str) -> Model:
    """The registry's factory for ``openai:<name>``."""
    return OpenAIResponsesModel(model=name or DEFAULT_OPENAI_MODEL)


class OpenAIResponsesModel(OpenAIHTTPModel):
    """A model served by the OpenAI Responses API, hosted tools included.

    ``client`` defaults to one built from ``OPENAI_API_KEY`` / ``OPENAI_BASE_URL``
    on first use. The SDK's own retries are turned off (on a given client too,
    via a copy) because ``retry`` governs them, for every provider alike.
    """

    supports_hosted_tools = True
    # it can chain previous_response_id / continue a conversation on the server
    supports_server_state = True
    prefix = "openai"
    path = "/responses"

    def __init__(
        self,
        *,
        model: str = DEFAULT_OPENAI_MODEL,
        client: openai.AsyncOpenAI | None = None,
        retry: RetryPolicy | None = None,
    ) -> None:
        super().__init__(model=model, client=client, retry=retry)

    def _body(self, request: ModelRequest, *, stream: bool) -> dict[str, Any]:
        body = build_params(self.model, request, provider=self.name)
        if stream:
            body["stream"] = True
        return body

    def _parse(self, data: dict[str, Any]) -> ModelResponse:
        return parse_response(data, provider=self.name)

    async def _events(self, lines: AsyncIterator[str]) -> AsyncIterator[ModelStreamEvent]:
        calls: dict[str, tuple[str, str]] = {}  # item id -> (call_id, name)
        async for data in lines:
            event = load_json(data, provider=self.name)
            kind = event.get("type")
            if kind in _TEXT_DELTAS:
                yield TextDelta(event.get("delta") or "", event.get("item_id"))
            elif kind == "response.function_call_arguments.delta":
                item_id = event.get("item_id") or ""
                call_id, name = calls.get(item_id, (item_id, ""))
                yield ToolCallArgumentsDelta(event.get("delta") or "", call_id, name)
            elif kind in _REASONING_DELTAS:
                yield ReasoningDelta(event.get("delta") or "", event.get("item_id"))
            elif kind == "response.output_item.added":
                item = event.get("item") or {}
                if item.get("type") == "function_call":
                    calls[item.get("id") or ""] = (
                        item.get("call_id", ""),
                        item.get("name", ""),
                    )
            elif kind in ("response.completed", "response.incomplete", "response.failed"):
                response = event.get("response") or {}
                yield ResponseCompleted(parse_response(response, provider=self.name))
                return
            elif kind == "error":
                raise error_from_body(event, provider=self.name, default="stream error")
        raise ModelAPIError(
            "the stream ended before response.completed", provider=self.name, retryable=True
        )


# ------------------------------------------------------------------ conversion


def _tool_param(tool: ToolSpec) -> dict[str, Any]:
    if isinstance(tool, FunctionToolSpec):
        return {
            "type": "function",
            "name": tool.name,
            "description": tool.description,
            "parameters": tool.parameters,
            "strict": tool.strict,
        }
    return {"type": tool.kind, **tool.config}


def _tool_choice(choice: str, tools: list[ToolSpec]) -> str | dict[str, Any]:
    if choice in ("auto", "required", "none"):
        return choice
    if any(not isinstance(t, FunctionToolSpec) and t.kind == choice for t in tools):
        return {"type": choice}  # a hosted tool, e.g. "web_search"
    return {"type": "function", "name": choice}


# Settings the Responses API has no field for, and what to do instead.
_UNSUPPORTED = {
    "seed": "the Responses API has no seed; use openai-chat:... for seeded sampling",
    "frequency_penalty": "the Responses API has no frequency penalty; use openai-chat:...",
    "presence_penalty": "the Responses API has no presence penalty; use openai-chat:...",
}


def build_params(model: str, request: ModelRequest, *, provider: str = "openai") -> dict[str, Any]:
    """The JSON body of a Responses API request (``extra_body``/``extra_headers`` aside).

    ``store`` is off unless asked for (or the run keeps its conversation on the
    server, which needs it): the conversation lives in Ascent's items, not on
    OpenAI's side. So reasoning models are asked for encrypted reasoning, which
    is what lets their reasoning items go back in later turns; a reasoning item
    without it (from another provider, or an older run) would only be refused
    as "not found", and is left out. ``include_usage`` changes nothing here:
    this API always reports usage. Settings the API lacks (``seed``, the
    penalties) are refused, not dropped.
    """
    settings = request.settings
    settings.refuse(provider, _UNSUPPORTED)
    server_state = request.previous_response_id is not None or request.conversation_id is not None
    if server_state and request.previous_response_id and request.conversation_id:
        raise UserError("give previous_response_id or conversation_id, not both")
    if server_state and settings.store is False:
        raise UserError(
            "ModelSettings.store=False cannot be combined with previous_response_id or "
            "conversation_id: the server must store the responses it chains"
        )
    store = settings.store if settings.store is not None else server_state
    params: dict[str, Any] = {
        "model": model,
        "input": [
            item.wire()
            for item in request.input
            if not isinstance(item, Reasoning) or item.encrypted_content
        ],
        "store": store,
    }
    if request.previous_response_id is not None:
        params["previous_response_id"] = request.previous_response_id
    if request.conversation_id is not None:
        params["conversation"] = request.conversation_id
    if request.instructions:
        params["instructions"] = request.instructions
    if request.tools:
        params["tools"] = [_tool_param(tool) for tool in request.tools]
        if settings.parallel_tool_calls is not None:
            params["parallel_tool_calls"] = settings.parallel_tool_calls
    text: dict[str, Any] = {}
    if request.output is not None:
        text["format"] = {
            "type": "json_schema",
            "name": request.output.name,
            "schema": request.output.schema,
            "strict": request.output.strict,
        }
    if settings.verbosity is not None:
        text["verbosity"] = settings.verbosity
    if text:
        params["text"] = text
    for key, value in (
        ("temperature", settings.temperature),
        ("top_p", settings.top_p),
        ("max_output_tokens", settings.max_tokens),
        ("truncation", settings.truncation),
        ("metadata", settings.metadata),
        ("top_logprobs", settings.top_logprobs),
    ):
        if value is not None:
            params[key] = value
    if settings.tool_choice is not None:
        params["tool_choice"] = _tool_choice(settings.tool_choice, request.tools)
    reasoning = settings.reasoning_settings()
    if reasoning is not None:
        params["reasoning"] = {k: v for k, v in asdict(reasoning).items() if v is not None}
    include: list[str] = []
    if reasoning is not None or _REASONING_MODEL.match(model):
        include.append("reasoning.encrypted_content")
    if settings.top_logprobs:
        include.append("message.output_text.logprobs")
    if include:
        params["include"] = include
    return add_extra_args(params, settings, provider=provider)


def parse_response(data: dict[str, Any], *, provider: str = "openai") -> ModelResponse:
    """A decoded Responses API response as a :class:`ModelResponse`.

    A failed response raises; an incomplete one (e.g. out of tokens) is returned
    with what it holds, like the API does.
    """
    if data.get("status") == "failed":
        raise error_from_body(data.get("error"), provider=provider, default="the response failed")
    output = data.get("output")
    if not isinstance(output, list):
        raise ModelAPIError("malformed response: no output list", provider=provider, retryable=True)
    try:
        items = input_to_items(output)
    except ValidationError as exc:
        raise ModelAPIError(
            f"malformed response output: {exc}", provider=provider, retryable=True
        ) from exc
    return ModelResponse(
        output=items, usage=usage_from(data.get("usage"), chat=False), response_id=data.get("id")
    )
