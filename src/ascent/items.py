"""Conversation items: what runs consume, produce, store and send.

The shapes follow the OpenAI Responses API item format so that the Responses
provider passes them through almost untouched; other providers convert at their
edge. Ascent adds a few local fields (``agent``, ``handoff_to``, ``is_error``)
that say who produced an item; :meth:`wire` drops them before anything reaches a
provider.
"""

from __future__ import annotations

from typing import Annotated, Any, Literal

from pydantic import BaseModel, ConfigDict, Discriminator, Field, JsonValue, Tag, TypeAdapter

__all__ = [
    "HOSTED_CALL_TYPES",
    "ContentPart",
    "FunctionCall",
    "FunctionCallOutput",
    "InputFile",
    "InputImage",
    "InputText",
    "Item",
    "Message",
    "OutputText",
    "ProviderItem",
    "Reasoning",
    "Refusal",
    "RunUsage",
    "Usage",
    "input_to_items",
    "items_to_json",
    "text_of",
]

_LOCAL_FIELDS: set[str] = {"agent", "handoff_to", "is_error", "tool_name"}


class _Base(BaseModel):
    model_config = ConfigDict(defer_build=True, extra="ignore", populate_by_name=True)

    def wire(self) -> dict[str, Any]:
        """The item as a provider expects it: no local fields, no unset optionals."""
        return self.model_dump(exclude=_LOCAL_FIELDS, exclude_none=True)


# ---------------------------------------------------------------- content parts


class InputText(_Base):
    type: Literal["input_text"] = "input_text"
    text: str


class OutputText(_Base):
    type: Literal["output_text"] = "output_text"
    text: str
    annotations: list[dict[str, Any]] = []


class Refusal(_Base):
    type: Literal["refusal"] = "refusal"
    refusal: str


class InputImage(_Base):
    type: Literal["input_image"] = "input_image"
    image_url: str | None = None
    file_id: str | None = None
    detail: Literal["low", "high", "auto"] = "auto"


class InputFile(_Base):
    type: Literal["input_file"] = "input_file"
    file_data: str | None = None
    file_id: str | None = None
    file_url: str | None = None
    filename: str | None = None


ContentPart = Annotated[
    InputText | OutputText | Refusal | InputImage | InputFile, Discriminator("type")
]


# ---------------------------------------------------------------------- items


class Message(_Base):
    """A message from the user, the system, the developer or an assistant."""

    type: Literal["message"] = "message"
    role: Literal["user", "assistant", "system", "developer"]
    content: str | list[ContentPart]
    id: str | None = None
    status: str | None = None
    agent: str | None = None

    @property
    def text(self) -> str:
        if isinstance(self.content, str):
            return self.content
        parts: list[str] = []
        for part in self.content:
            if isinstance(part, InputText | OutputText):
                parts.append(part.text)
            elif isinstance(part, Refusal):
                parts.append(part.refusal)
        return "".join(parts)

    @classmethod
    def assistant(cls, text: str, *, agent: str | None = None, id: str | None = None) -> Message:
        return cls(
            role="assistant",
            content=[OutputText(text=text)],
            agent=agent,
            id=id,
            status="completed",
        )


class FunctionCall(_Base):
    """The model asks for a function tool (or a handoff, which is a tool to the model)."""

    type: Literal["function_call"] = "function_call"
    call_id: str
    name: str
    arguments: str = "{}"
    id: str | None = None
    status: str | None = None
    agent: str | None = None


class FunctionCallOutput(_Base):
    """What a tool call returned. ``handoff_to`` is set when the call was a handoff."""

    type: Literal["function_call_output"] = "function_call_output"
    call_id: str
    output: str
    agent: str | None = None
    tool_name: str | None = None
    handoff_to: str | None = None
    is_error: bool = False


class Reasoning(_Base):
    type: Literal["reasoning"] = "reasoning"
    id: str | None = None
    summary: list[dict[str, Any]] = []
    content: list[dict[str, Any]] | None = None
    encrypted_content: str | None = None
    agent: str | None = None

    @property
    def text(self) -> str:
        return "".join(str(part.get("text", "")) for part in self.summary)


HOSTED_CALL_TYPES = frozenset(
    {
        "web_search_call",
        "file_search_call",
        "code_interpreter_call",
        "computer_call",
        "computer_call_output",
        "image_generation_call",
        "local_shell_call",
        "local_shell_call_output",
        "mcp_call",
        "mcp_list_tools",
    }
)


_TAGS = frozenset({"message", "function_call", "function_call_output", "reasoning"})


class ProviderItem(_Base):
    """Any other item a provider produces (hosted tool calls and their results).

    Its fields are kept as they came, so the item round-trips back to the provider.
    """

    model_config = ConfigDict(extra="allow")
    # The schema says what the discriminator does: the known types are never this
    # one, so a message matches exactly one branch of an item's ``oneOf``.
    type: str = Field(json_schema_extra={"not": {"enum": list[JsonValue](sorted(_TAGS))}})
    id: str | None = None
    agent: str | None = None


def _item_tag(value: Any) -> str:
    kind = value.get("type") if isinstance(value, dict) else getattr(value, "type", None)
    if kind is None and isinstance(value, dict) and "role" in value:
        return "message"  # the Responses API's "easy input message" has no type
    return kind if kind in _TAGS else "other"


Item = Annotated[
    Annotated[Message, Tag("message")]
    | Annotated[FunctionCall, Tag("function_call")]
    | Annotated[FunctionCallOutput, Tag("function_call_output")]
    | Annotated[Reasoning, Tag("reasoning")]
    | Annotated[ProviderItem, Tag("other")],
    Discriminator(_item_tag),
]

_ITEMS: TypeAdapter[list[Item]] = TypeAdapter(list[Item], config=ConfigDict(defer_build=True))


def input_to_items(value: str | list[Any]) -> list[Item]:
    """Turn a user's input (a string, or items as objects or dicts) into items."""
    if isinstance(value, str):
        return [Message(role="user", content=value)]
    return _ITEMS.validate_python(value)


def items_to_json(items: list[Item]) -> list[dict[str, Any]]:
    """Items as plain JSON-ready dicts, local fields included (for storage)."""
    return [item.model_dump(mode="json", exclude_none=True) for item in items]


def text_of(items: list[Item]) -> str:
    """The text of the last assistant message among ``items`` ("" if none)."""
    for item in reversed(items):
        if isinstance(item, Message) and item.role == "assistant":
            return item.text
    return ""


# ---------------------------------------------------------------------- usage


_COUNTERS = ("requests", "input_tokens", "output_tokens", "cached_input_tokens", "reasoning_tokens")


class Usage(BaseModel):
    """Token and request counters of one model call, or a sum of them."""

    model_config = ConfigDict(defer_build=True)

    requests: int = 0
    input_tokens: int = 0
    output_tokens: int = 0
    cached_input_tokens: int = 0
    reasoning_tokens: int = 0

    @property
    def total_tokens(self) -> int:
        return self.input_tokens + self.output_tokens

    def add(self, other: Usage) -> None:
        # straight to __dict__: counters are plain ints and this runs on every model call
        mine, theirs = self.__dict__, other.__dict__
        for name in _COUNTERS:
            mine[name] += theirs[name]


class RunUsage(Usage):
    """Usage of a whole run, with a breakdown per agent and per model."""

    by_agent: dict[str, Usage] = Field(default_factory=dict)
    by_model: dict[str, Usage] = Field(default_factory=dict)

    def record(self, usage: Usage, *, agent: str, model: str) -> None:
        self.add(usage)
        _bucket(self.by_agent, agent).add(usage)
        _bucket(self.by_model, model).add(usage)

    def merge(self, other: RunUsage) -> None:
        """Fold in the usage of another run (an agent used as a tool)."""
        self.add(other)
        for name, usage in other.by_agent.items():
            _bucket(self.by_agent, name).add(usage)
        for name, usage in other.by_model.items():
            _bucket(self.by_model, name).add(usage)


def _bucket(buckets: dict[str, Usage], key: str) -> Usage:
    usage = buckets.get(key)
    if usage is None:
        usage = buckets[key] = Usage()
    return usage
