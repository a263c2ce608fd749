"""The script file of ``ascent mock-server --script FILE``: the mock's steps, written as data.

A script is a JSON (or YAML) list; each entry answers one request, in order::

    [
      "Hello!",                                            # a text reply
      {"tool_calls": [{"name": "get_weather", "arguments": {"city": "Paris"}}]},
      {"text": "It is sunny.", "reasoning": "The tool said so.", "output_tokens": 7},
      {"error": {"status": 429, "message": "slow down", "retry_after": 1}},
      {"delay": 30, "then": "too late"},                   # wait, then answer
      {"malformed": "{not json"},                          # a 200 whose body is not JSON
      {"broken_stream": {"text": "cut short"}, "after": 2} # drop the connection mid-stream
    ]

Each entry becomes one of :mod:`ascent.testing.mock_openai`'s steps, so a file
says exactly what ``server.add(...)`` would. The file is validated as a whole
before the server starts: a wrong entry is one error naming its position.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any

from pydantic import (
    BaseModel,
    ConfigDict,
    Discriminator,
    Field,
    Tag,
    TypeAdapter,
    ValidationError,
    model_validator,
)

from ..errors import UserError

if TYPE_CHECKING:
    from .mock_openai import Step

__all__ = ["load_script", "parse_script"]


class _Entry(BaseModel):
    model_config = ConfigDict(extra="forbid")


class ScriptToolCall(_Entry):
    name: str = Field(min_length=1)
    arguments: dict[str, Any] | str = "{}"
    call_id: str | None = None


class ScriptReply(_Entry):
    text: str | None = None
    tool_calls: list[ScriptToolCall] = Field(default_factory=list)
    reasoning: str | None = None
    input_tokens: int = Field(default=10, ge=0)
    output_tokens: int = Field(default=5, ge=0)

    @model_validator(mode="after")
    def _says_something(self) -> ScriptReply:
        if self.text is None and not self.tool_calls and self.reasoning is None:
            raise ValueError("a reply needs text, tool_calls or reasoning")
        return self

    def to_step(self) -> Step:
        from .mock_openai import Reply, ToolCall

        calls = [ToolCall(**call.model_dump()) for call in self.tool_calls]
        return Reply(**{**self.model_dump(exclude={"tool_calls"}), "tool_calls": calls})


class ScriptHTTPError(_Entry):
    status: int = Field(ge=400, le=599)
    message: str = "mock error"
    type: str = "mock_error"
    code: str | None = None
    retry_after: float | None = Field(default=None, ge=0)


class ScriptError(_Entry):
    error: ScriptHTTPError

    def to_step(self) -> Step:
        from .mock_openai import HTTPError

        return HTTPError(**self.error.model_dump())


class ScriptDelay(_Entry):
    delay: float = Field(ge=0)
    then: ScriptStep | None = None

    @model_validator(mode="after")
    def _not_nested(self) -> ScriptDelay:
        if isinstance(self.then, ScriptDelay):
            raise ValueError("a delay's 'then' cannot be another delay")
        return self

    def to_step(self) -> Step:
        from .mock_openai import Delay

        then = None if self.then is None else _to_step(self.then)
        assert not isinstance(then, Delay)
        return Delay(seconds=self.delay, then=then)


class ScriptMalformed(_Entry):
    malformed: str

    def to_step(self) -> Step:
        from .mock_openai import Malformed

        return Malformed(body=self.malformed)


class ScriptBrokenStream(_Entry):
    broken_stream: ScriptReply
    after: int = Field(default=2, ge=0)

    def to_step(self) -> Step:
        from .mock_openai import BrokenStream, Reply

        reply = self.broken_stream.to_step()
        assert isinstance(reply, Reply)
        return BrokenStream(reply=reply, after=self.after)


def _kind(raw: Any) -> str | None:
    """Which kind of step an entry is, from its shape (None: not a step at all)."""
    if isinstance(raw, str):
        return "text"
    if isinstance(raw, dict):
        return next((key for key in _KEYED if key in raw), "reply")
    if isinstance(raw, BaseModel):
        return _KINDS.get(type(raw))
    return None


ScriptStep = Annotated[
    Annotated[str, Tag("text")]
    | Annotated[ScriptReply, Tag("reply")]
    | Annotated[ScriptError, Tag("error")]
    | Annotated[ScriptDelay, Tag("delay")]
    | Annotated[ScriptMalformed, Tag("malformed")]
    | Annotated[ScriptBrokenStream, Tag("broken_stream")],
    Discriminator(
        _kind,
        custom_error_type="invalid_step",
        custom_error_message="a step is a string (a text reply) or an object",
    ),
]
_KEYED = ("error", "delay", "malformed", "broken_stream")
_KINDS: dict[type[BaseModel], str] = {
    ScriptReply: "reply",
    ScriptError: "error",
    ScriptDelay: "delay",
    ScriptMalformed: "malformed",
    ScriptBrokenStream: "broken_stream",
}
ScriptDelay.model_rebuild()
_SCRIPT: TypeAdapter[list[ScriptStep]] = TypeAdapter(list[ScriptStep])


def _to_step(entry: ScriptStep) -> Step:
    if isinstance(entry, str):
        from .mock_openai import Reply

        return Reply(text=entry)
    return entry.to_step()


def parse_script(data: Any, *, source: str = "the script") -> list[Step]:
    """The mock's steps from already-parsed data (a list of entries); raises
    :class:`~ascent.errors.UserError` naming the first wrong entry."""
    if not isinstance(data, list):
        raise UserError(f"{source}: expected a list of steps, got {type(data).__name__}")
    try:
        entries = _SCRIPT.validate_python(data)
    except ValidationError as exc:
        error = exc.errors()[0]
        where = _where(error["loc"])
        more = f" (and {exc.error_count() - 1} more)" if exc.error_count() > 1 else ""
        message = error["msg"].removeprefix("Value error, ")
        raise UserError(f"{source}: step {where}: {message}{more}") from None
    return [_to_step(entry) for entry in entries]


def _where(loc: tuple[int | str, ...]) -> str:
    """``0.error.status`` for pydantic's ``(0, "error", "error", "status")``: each step's
    kind (the tag after its position, or after ``then``) is left out."""
    shown: list[str] = []
    for index, part in enumerate(loc):
        after = loc[index - 1] if index else None
        if (isinstance(after, int) or after == "then") and part in {"text", "reply", *_KEYED}:
            continue
        shown.append(str(part))
    return ".".join(shown)


def load_script(path: str | Path) -> list[Step]:
    """The mock's steps from a ``.json`` (or, with PyYAML installed, ``.yaml``) file."""
    path = Path(path)
    try:
        text = path.read_text(encoding="utf-8")
    except OSError as exc:
        raise UserError(f"cannot read the script {path}: {exc.strerror or exc}") from None
    if path.suffix.lower() in (".yaml", ".yml"):
        try:
            import yaml
        except ImportError:
            raise UserError(
                f"{path} is YAML: install PyYAML (pip install pyyaml), or write the script as JSON"
            ) from None
        try:
            data = yaml.safe_load(text)
        except yaml.YAMLError as exc:
            raise UserError(f"{path} is not valid YAML: {' '.join(str(exc).split())}") from None
    else:
        try:
            data = json.loads(text)
        except json.JSONDecodeError as exc:
            raise UserError(f"{path} is not valid JSON: {exc}") from None
    return parse_script(data, source=str(path))
