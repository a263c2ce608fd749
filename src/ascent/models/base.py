"""What every model provider speaks: a request, a response, stream deltas, settings.

A provider implements :class:`Model`: one call (``respond``) and one streamed call
(``stream``, whose last event is :class:`ResponseCompleted`). The agent loop never
sees the difference: streaming is the interpreter forwarding the deltas.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Mapping
from dataclasses import dataclass, field, fields, replace
from typing import TYPE_CHECKING, Any, Literal, Protocol, cast, runtime_checkable

from pydantic import BaseModel, ConfigDict, Field

from ..errors import ProviderCapabilityError, UserError
from ..items import Item, Usage

if TYPE_CHECKING:
    from openai.types.shared import Reasoning as OpenAIReasoning

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
    "ReasoningSettings",
    "ResponseCompleted",
    "StreamRestarted",
    "TextDelta",
    "ToolCallArgumentsDelta",
    "ToolSpec",
]

ToolChoice = Literal["auto", "required", "none"] | str | None
ReasoningEffort = Literal["minimal", "low", "medium", "high"]


@dataclass(kw_only=True, frozen=True)
class ReasoningSettings:
    """How a reasoning model reasons: ``effort``, and whether (and how fully) it
    returns a ``summary`` of its reasoning ("auto", "concise" or "detailed").

    ``ModelSettings(reasoning=...)`` also takes the OpenAI SDK's
    ``openai.types.shared.Reasoning`` or a plain dict with these keys.
    """

    effort: ReasoningEffort | None = None
    summary: Literal["auto", "concise", "detailed"] | None = None

    def merged(self, override: ReasoningSettings | None) -> ReasoningSettings:
        if override is None:
            return self
        return ReasoningSettings(
            effort=override.effort or self.effort, summary=override.summary or self.summary
        )

    @classmethod
    def of(cls, value: object) -> ReasoningSettings:
        """``value`` (this class, the OpenAI SDK's ``Reasoning`` or a dict) as this class."""
        if isinstance(value, ReasoningSettings):
            return value
        dump = getattr(value, "model_dump", None)
        if dump is not None:  # openai.types.shared.Reasoning, without importing openai
            value = dump(exclude_none=True)
        if not isinstance(value, dict):
            raise UserError(
                "ModelSettings.reasoning takes ReasoningSettings(effort=..., summary=...), "
                f"openai.types.shared.Reasoning or a dict, not {type(value).__name__}"
            )
        data = dict(value)
        if "generate_summary" in data:  # the OpenAI SDK's deprecated spelling of summary
            data.setdefault("summary", data.pop("generate_summary"))
        unknown = sorted(set(data) - {"effort", "summary"})
        if unknown:
            raise UserError(
                f"ModelSettings.reasoning: unknown key(s) {', '.join(unknown)} "
                "(known: effort, summary; send others with extra_body)"
            )
        return cls(**data)


@dataclass(kw_only=True, frozen=True)
class ModelSettings:
    """Sampling and tool-use settings. ``None`` means the provider's default.

    Names and meanings follow the OpenAI Agents SDK's ``ModelSettings``. A
    provider that cannot honour a setting raises
    :class:`~ascent.errors.ProviderCapabilityError` naming it, before any
    network call, rather than dropping it (see docs/models.md for the table).

    ``tool_choice`` is "auto", "required", "none" or the name of one tool.
    ``reasoning`` (effort and summary) also takes the OpenAI SDK's ``Reasoning``
    or a dict; ``reasoning_effort`` is a shorthand for ``reasoning.effort``.
    ``timeout`` bounds each attempt of a call, in seconds: a model that does not
    answer (or stops sending a streamed answer) for that long fails the attempt,
    which is retried like any other transient failure.

    Escape hatches, for fields Ascent does not model: ``extra_body`` is merged
    into the JSON body by the HTTP client, ``extra_headers`` and
    ``extra_query`` go on the request as they are, and ``extra_args`` become
    top-level request fields (keyword arguments of ``litellm.acompletion`` for
    LiteLLM). ``extra_args`` dicts merge key by key when settings merge; every
    other setting is replaced whole.
    """

    temperature: float | None = None
    top_p: float | None = None
    frequency_penalty: float | None = None
    presence_penalty: float | None = None
    max_tokens: int | None = None
    tool_choice: ToolChoice = None
    parallel_tool_calls: bool | None = None
    truncation: Literal["auto", "disabled"] | None = None
    seed: int | None = None
    reasoning: ReasoningSettings | OpenAIReasoning | Mapping[str, Any] | None = None
    reasoning_effort: ReasoningEffort | None = None
    verbosity: Literal["low", "medium", "high"] | None = None
    metadata: dict[str, str] | None = None
    store: bool | None = None
    include_usage: bool | None = None
    top_logprobs: int | None = None
    extra_query: dict[str, Any] | None = None
    extra_body: dict[str, Any] | None = None
    extra_headers: dict[str, str] | None = None
    extra_args: dict[str, Any] | None = None
    timeout: float | None = None

    def __post_init__(self) -> None:
        # reasoning_effort and reasoning.effort are one setting: keep them equal
        reasoning = None if self.reasoning is None else ReasoningSettings.of(self.reasoning)
        effort = self.reasoning_effort
        if reasoning is not None and reasoning.effort is not None:
            if effort is not None and effort != reasoning.effort:
                raise UserError(
                    f"ModelSettings: reasoning_effort={effort!r} contradicts "
                    f"reasoning.effort={reasoning.effort!r}; give one of them"
                )
            effort = reasoning.effort
        elif effort is not None:
            reasoning = ReasoningSettings(
                effort=effort, summary=reasoning.summary if reasoning else None
            )
        object.__setattr__(self, "reasoning", reasoning)
        object.__setattr__(self, "reasoning_effort", effort)
        if self.top_logprobs is not None and not 0 <= self.top_logprobs <= 20:
            raise UserError("ModelSettings.top_logprobs must be between 0 and 20")
        if self.timeout is not None and not self.timeout > 0:
            raise UserError("ModelSettings.timeout must be a positive number of seconds")

    def merged(self, override: ModelSettings | None) -> ModelSettings:
        """These settings with every non-None value of ``override`` laid on top
        (``reasoning`` field by field, ``extra_args`` key by key)."""
        if override is None:
            return self
        changes = {
            f.name: getattr(override, f.name)
            for f in fields(override)
            if getattr(override, f.name) is not None
        }
        mine, theirs = self.reasoning_settings(), override.reasoning_settings()
        if mine is not None and theirs is not None:
            both = mine.merged(theirs)
            changes["reasoning"] = both
            changes["reasoning_effort"] = both.effort
        if self.extra_args and override.extra_args:
            changes["extra_args"] = {**self.extra_args, **override.extra_args}
        return replace(self, **changes) if changes else self

    def reasoning_settings(self) -> ReasoningSettings | None:
        """``reasoning`` as given, normalized to :class:`ReasoningSettings`."""
        return cast("ReasoningSettings | None", self.reasoning)

    def refuse(self, provider: str, unsupported: dict[str, str]) -> None:
        """Raise :class:`~ascent.errors.ProviderCapabilityError` if any setting
        named in ``unsupported`` (``"reasoning.summary"`` reaches into
        ``reasoning``) is set; its value says what to do instead."""
        for name, instead in unsupported.items():
            owner, _, attribute = name.partition(".")
            value = getattr(self, owner)
            if attribute and value is not None:
                value = getattr(ReasoningSettings.of(value), attribute)
            if value is not None:
                raise ProviderCapabilityError(
                    f"ModelSettings.{name} is not supported by {provider}"
                    + (f": {instead}" if instead else "")
                )


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
    previous_response_id: str | None = None
    conversation_id: str | None = None

    def refuse_server_state(self, provider: str) -> None:
        """Raise :class:`~ascent.errors.ProviderCapabilityError` when the request
        asks for server-side conversation state, which only the Responses API keeps."""
        for name in ("previous_response_id", "conversation_id"):
            if getattr(self, name) is not None:
                raise ProviderCapabilityError(
                    f"{name} is not supported by {provider}: only the OpenAI Responses API "
                    "(openai:...) keeps a conversation on the server; leave it out and "
                    "Ascent sends the whole conversation"
                )


class ModelResponse(BaseModel):
    """A provider's answer: output items (messages, tool calls, reasoning) and usage.

    A Pydantic model because it is the recorded result of a model-call step: a
    durable run stores it as JSON and replays it instead of calling again.
    ``model`` is filled in by the runner with the provider's model name.
    """

    model_config = ConfigDict(defer_build=True)

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
    whether hosted tool specs may be sent; the runner refuses them otherwise. A
    provider that keeps conversations on its side sets ``supports_server_state
    = True`` (optional; the runner refuses ``previous_response_id`` and
    ``conversation_id`` for the others, which would otherwise see only part of
    the conversation).
    """

    name: str
    supports_hosted_tools: bool

    async def respond(self, request: ModelRequest) -> ModelResponse: ...

    def stream(self, request: ModelRequest) -> AsyncIterator[ModelStreamEvent]: ...
