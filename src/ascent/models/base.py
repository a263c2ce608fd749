"""What every model provider speaks: a request, a response, stream deltas, settings.

A provider implements :class:`Model`: one call (``respond``) and one streamed call
(``stream``, whose last event is :class:`ResponseCompleted`). The agent loop never
sees the difference: streaming is the interpreter forwarding the deltas.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from dataclasses import dataclass, field, fields, replace
from typing import Any, Literal, Protocol, runtime_checkable

from pydantic import BaseModel, Field

from ..items import Item, Usage

__all__ = [
    "FunctionToolSpec",
    "HostedToolSpec",
    "Model",
    "ModelRequest",
    "ModelResponse",
    "ModelSettings",
    "ModelStreamEvent",
    "OutputSpec",
    "ReasoningDelta",
    "ResponseCompleted",
    "StreamRestarted",
    "TextDelta",
    "ToolCallArgumentsDelta",
    "ToolSpec",
]

ToolChoice = Literal["auto", "required", "none"] | str | None


@dataclass(kw_only=True, frozen=True)
class ModelSettings:
    """Sampling and tool-use settings. ``None`` means the provider's default.

    ``tool_choice`` is "auto", "required", "none" or the name of one tool.
    ``extra_body`` and ``extra_headers`` go to the provider as they are.
    ``timeout`` bounds each attempt of a call, in seconds: a model that does not
    answer (or stops sending a streamed answer) for that long fails the attempt,
    which is retried like any other transient failure.
    """

    temperature: float | None = None
    top_p: float | None = None
    max_tokens: int | None = None
    tool_choice: ToolChoice = None
    parallel_tool_calls: bool | None = None
    seed: int | None = None
    reasoning_effort: Literal["minimal", "low", "medium", "high"] | None = None
    extra_body: dict[str, Any] | None = None
    extra_headers: dict[str, str] | None = None
    timeout: float | None = None

    def merged(self, override: ModelSettings | None) -> ModelSettings:
        """These settings with every non-None value of ``override`` laid on top."""
        if override is None:
            return self
        changes = {
            f.name: getattr(override, f.name)
            for f in fields(override)
            if getattr(override, f.name) is not None
        }
        return replace(self, **changes) if changes else self


@dataclass(kw_only=True, frozen=True, slots=True)
class FunctionToolSpec:
    """A function the model may call: a name, a description, a JSON schema."""

    name: str
    description: str
    parameters: dict[str, Any]
    strict: bool = True


@dataclass(kw_only=True, frozen=True, slots=True)
class HostedToolSpec:
    """A tool the provider runs itself (web search, file search, code interpreter...).

    ``config`` is sent as it is, beside ``"type": kind``.
    """

    kind: str
    config: dict[str, Any] = field(default_factory=dict)


ToolSpec = FunctionToolSpec | HostedToolSpec


@dataclass(kw_only=True, frozen=True, slots=True)
class OutputSpec:
    """The JSON schema the final output must follow (structured output)."""

    name: str
    schema: dict[str, Any]
    strict: bool = True


@dataclass(kw_only=True, slots=True)
class ModelRequest:
    """Everything a provider needs for one call."""

    instructions: str | None
    input: list[Item]
    tools: list[ToolSpec] = field(default_factory=list)
    output: OutputSpec | None = None
    settings: ModelSettings = field(default_factory=ModelSettings)


class ModelResponse(BaseModel):
    """A provider's answer: output items (messages, tool calls, reasoning) and usage.

    A Pydantic model because it is the recorded result of a model-call step: a
    durable run stores it as JSON and replays it instead of calling again.
    ``model`` is filled in by the runner with the provider's model name.
    """

    output: list[Item]
    usage: Usage = Field(default_factory=Usage)
    response_id: str | None = None
    model: str = ""


# --------------------------------------------------------------- stream events


@dataclass(slots=True)
class TextDelta:
    delta: str
    item_id: str | None = None
    type: Literal["text_delta"] = "text_delta"


@dataclass(slots=True)
class ToolCallArgumentsDelta:
    delta: str
    call_id: str
    name: str = ""
    type: Literal["tool_call_arguments_delta"] = "tool_call_arguments_delta"


@dataclass(slots=True)
class ReasoningDelta:
    delta: str
    item_id: str | None = None
    type: Literal["reasoning_delta"] = "reasoning_delta"


@dataclass(slots=True)
class ResponseCompleted:
    """The last event of every stream: the assembled response."""

    response: ModelResponse
    type: Literal["response_completed"] = "response_completed"


@dataclass(slots=True)
class StreamRestarted:
    """The stream broke after some output and the call is made again: the deltas
    so far are void, and the next ones start the answer over."""

    reason: str
    type: Literal["stream_restarted"] = "stream_restarted"


ModelStreamEvent = (
    TextDelta | ToolCallArgumentsDelta | ReasoningDelta | StreamRestarted | ResponseCompleted
)


@runtime_checkable
class Model(Protocol):
    """A model provider. Implement it to bring any model to Ascent.

    ``name`` appears in usage, traces and errors. ``supports_hosted_tools`` says
    whether hosted tool specs may be sent; the runner refuses them otherwise.
    """

    name: str
    supports_hosted_tools: bool

    async def respond(self, request: ModelRequest) -> ModelResponse: ...

    def stream(self, request: ModelRequest) -> AsyncIterator[ModelStreamEvent]: ...
