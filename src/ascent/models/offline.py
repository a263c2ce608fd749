"""The offline model: a deterministic stand-in for a real provider, needing no network.

It lets every example, test and first run work without a key. The agent loop
cannot tell it from a real model, yet it never pretends to be intelligent: it
picks the tool whose words overlap the user's message most, fills arguments
from that message so they validate, and otherwise restates what it was told.
Ids come from a hash of the request, so the same request always gets the same
response, byte for byte.
"""

from __future__ import annotations

import hashlib
import json
import re
from collections.abc import AsyncIterator
from dataclasses import asdict, dataclass, field
from typing import Any

from ..items import FunctionCall, FunctionCallOutput, Item, Message, Usage, items_to_json
from .base import (
    FunctionToolSpec,
    Model,
    ModelRequest,
    ModelResponse,
    ModelSettings,
    ModelStreamEvent,
    ResponseCompleted,
    TextDelta,
    ToolCallArgumentsDelta,
)

__all__ = ["OfflineModel", "create"]

# Words that say nothing about which tool fits, including the boilerplate every
# handoff description carries ("Hand off to the X agent to handle the request").
_STOP_TEXT = """a an the and or but of to in on at for with by from into about as is are was were
    be been am do does did have has had i me my you your we our us they them their it its
    this that these those what which who how when where why can could would should will
    may might must please want need like just also some any there here then than so if
    not no yes get use tool function call help hand off agent handle request"""
_STOP_WORDS = frozenset(_STOP_TEXT.split())
_YES = frozenset({"yes", "true", "yeah", "yep", "sure", "ok", "okay", "enable", "enabled"})
_NO = frozenset({"no", "not", "false", "don't", "dont", "never", "disable", "disabled"})
_ID_PARTS = frozenset({"id", "ids", "number", "num", "no", "code", "ref", "reference", "sku"})
# A number standing alone: "A-1234" and "#12" are identifiers, not the numbers -1234 and 12.
_NUMBER = re.compile(r"(?<![\w.#-])-?\d+(?:\.\d+)?(?!\w|\.\d)")
_TOKEN = re.compile(r"#?[A-Za-z0-9][\w-]*")
_QUOTED = re.compile(r"\"([^\"]+)\"|“([^”]+)”|(?<!\w)'([^']+)'(?!\w)")
# String formats a plain sentence would fail: (what to look for, what to use otherwise).
_FORMATS: dict[str, tuple[str, str]] = {
    "date": (r"\d{4}-\d{2}-\d{2}", "1970-01-01"),
    "date-time": (
        r"\d{4}-\d{2}-\d{2}T\d{2}:\d{2}(?::\d{2})?(?:Z|[+-]\d{2}:\d{2})?",
        "1970-01-01T00:00:00Z",
    ),
    "email": (r"[\w.+-]+@[\w-]+(?:\.[\w-]+)+", "user@example.com"),
    "uri": (r"https?://[^\s\"'<>]*[^\s\"'<>.,;:!?)]", "https://example.com"),
    "uuid": (
        r"[0-9a-fA-F]{8}(?:-[0-9a-fA-F]{4}){3}-[0-9a-fA-F]{12}",
        "00000000-0000-0000-0000-000000000000",
    ),
}
_MAX_DEPTH = 6  # recursive schemas stop growing here: empty arrays, nulls
_CLIP = 200


def create(name: str) -> Model:
    """The registry's factory: ``offline`` and ``offline:<anything>`` are the same model."""
    return OfflineModel()


class OfflineModel:
    """A :class:`Model` that answers from the request alone, deterministically.

    Of the settings it follows ``tool_choice`` only: it has no sampling,
    reasoning or server to tune, so the others change nothing (and
    server-side conversation state is refused by the runner).
    """

    name: str = "offline"
    supports_hosted_tools: bool = False

    async def respond(self, request: ModelRequest) -> ModelResponse:
        return _respond(request)

    async def stream(self, request: ModelRequest) -> AsyncIterator[ModelStreamEvent]:
        """The same response as :meth:`respond`, cut into deltas as a real stream would be."""
        response = _respond(request)
        for item in response.output:
            if isinstance(item, Message):
                for piece in re.findall(r"\S+\s*|\s+", item.text):
                    yield TextDelta(piece, item_id=item.id)
            elif isinstance(item, FunctionCall):
                for start in range(0, len(item.arguments), 64):
                    chunk = item.arguments[start : start + 64]
                    yield ToolCallArgumentsDelta(chunk, call_id=item.call_id, name=item.name)
        yield ResponseCompleted(response)


# ------------------------------------------------------------------- the turn


@dataclass
class _Turn:
    """What matters of the input: the latest user message and what happened since."""

    user_text: str = ""
    called: set[str] = field(default_factory=set)
    results: list[tuple[str, str, bool]] = field(default_factory=list)  # name, output, error


def _read_turn(items: list[Item]) -> _Turn:
    turn = _Turn()
    start = 0
    for index, item in enumerate(items):
        if isinstance(item, Message) and item.role == "user":
            start, turn.user_text = index + 1, item.text
    names = {item.call_id: item.name for item in items if isinstance(item, FunctionCall)}
    for item in items[start:]:
        if isinstance(item, FunctionCall):
            turn.called.add(item.name)
        elif isinstance(item, FunctionCallOutput):
            name = item.tool_name or names.get(item.call_id, "tool")
            # A handoff's output only says who took over: nothing to report.
            if not item.handoff_to and not name.startswith("transfer_to_"):
                turn.results.append((name, item.output, item.is_error))
    return turn


# ---------------------------------------------------------------- the answer


# The settings ModelSettings had first: always in the fingerprint. Later ones go
# in only when set, so adding a setting changes no id or token count.
_FIRST_SETTINGS = frozenset(
    {
        "temperature",
        "top_p",
        "max_tokens",
        "tool_choice",
        "parallel_tool_calls",
        "seed",
        "reasoning_effort",
        "extra_body",
        "extra_headers",
        "timeout",
    }
)


def _settings_print(settings: ModelSettings) -> dict[str, Any]:
    printed = {
        key: value
        for key, value in asdict(settings).items()
        if key in _FIRST_SETTINGS or value is not None
    }
    reasoning = settings.reasoning_settings()
    if reasoning is not None and reasoning.summary is None:
        printed.pop("reasoning", None)  # the effort alone is reasoning_effort
    return printed


def _respond(request: ModelRequest) -> ModelResponse:
    fingerprint = json.dumps(
        {
            "instructions": request.instructions,
            "input": items_to_json(request.input),
            "tools": [asdict(tool) for tool in request.tools],
            "output": asdict(request.output) if request.output else None,
            "settings": _settings_print(request.settings),
        },
        sort_keys=True,
        default=str,
        ensure_ascii=False,
    )
    digest = hashlib.sha256(fingerprint.encode()).hexdigest()[:24]
    turn = _read_turn(request.input)
    tool = _pick_tool(request, turn)
    item: Item
    if tool is not None:
        filler = _Filler(turn.user_text, tool.parameters, strict=tool.strict)
        produced = json.dumps(filler.value(tool.parameters), ensure_ascii=False)
        item = FunctionCall(
            call_id=f"call_{digest}",
            name=tool.name,
            arguments=produced,
            id=f"fc_{digest}",
            status="completed",
        )
    else:
        produced = _reply(request, turn)
        item = Message.assistant(produced, id=f"msg_{digest}")
    usage = Usage(requests=1, input_tokens=_tokens(fingerprint), output_tokens=_tokens(produced))
    return ModelResponse(output=[item], usage=usage, response_id=f"resp_{digest}")


def _tokens(text: str) -> int:
    """A rough token count: about four characters a token."""
    return max(1, len(text) // 4)


def _clip(text: str) -> str:
    text = " ".join(text.split())
    return text if len(text) <= _CLIP else text[: _CLIP - 1] + "…"


def _reply(request: ModelRequest, turn: _Turn) -> str:
    """The final message: JSON for structured output, else a report or a restatement."""
    outputs = [_clip(output) for _, output, _ in turn.results]
    if request.output is not None:
        schema = request.output.schema
        source = "\n".join([*outputs, turn.user_text])
        filler = _Filler(source, schema, strict=request.output.strict)
        filler.fallback = "; ".join(outputs) or _clip(turn.user_text)
        return json.dumps(filler.value(schema), ensure_ascii=False)
    if turn.results:
        found = "; ".join(
            f"{name}{' failed' if error else ''}: {output}"
            for (name, _, error), output in zip(turn.results, outputs, strict=True)
        )
        return f"Here is what I found: {found}"
    if turn.user_text.strip():
        return f"You said: {_clip(turn.user_text)}"
    return "I am the offline model, and I have no message to answer."


# -------------------------------------------------------------- tool choice


def _stem(word: str) -> str:
    if len(word) > 4 and word.endswith("ies"):
        return word[:-3] + "y"
    for suffix in ("ing", "ed"):
        if word.endswith(suffix) and len(word) - len(suffix) >= 3:
            return word[: -len(suffix)]
    if len(word) > 3 and word.endswith("s") and not word.endswith("ss"):
        return word[:-1]
    return word


def _words(text: str) -> set[str]:
    """Content words, stemmed; ``snake_case`` and ``camelCase`` names split apart."""
    text = re.sub(r"([a-z])([A-Z])", r"\1 \2", text).lower()
    return {
        _stem(word)
        for word in re.findall(r"[a-z0-9]+", text)
        if len(word) > 1 and word not in _STOP_WORDS and not word.isdigit()
    }


def _score(user: set[str], tool: FunctionToolSpec) -> int:
    """Overlap between the user's words and the tool's; a word in the name counts double."""
    properties = tool.parameters.get("properties") or {}
    about = " ".join(
        f"{key} {spec.get('description', '')}" if isinstance(spec, dict) else key
        for key, spec in properties.items()
    )
    named = user & _words(tool.name)
    described = user & (_words(tool.description) | _words(about))
    return 2 * len(named) + len(described - named)


def _pick_tool(request: ModelRequest, turn: _Turn) -> FunctionToolSpec | None:
    """The one tool to call now, if any: one call per turn, never the same tool twice.

    Once a tool has been called since the user spoke, the model answers instead,
    even with ``tool_choice="required"``: a stand-in that loops helps nobody.
    """
    tools = [tool for tool in request.tools if isinstance(tool, FunctionToolSpec)]
    choice = request.settings.tool_choice
    if not tools or choice == "none":
        return None
    chosen: FunctionToolSpec | None
    if choice in (None, "auto", "required"):
        user = _words(turn.user_text)
        scores = [_score(user, tool) for tool in tools]
        best = max(range(len(tools)), key=scores.__getitem__)  # the first of equals wins
        chosen = tools[best] if scores[best] > 0 or choice == "required" else None
    else:
        chosen = next((tool for tool in tools if tool.name == choice), None)
    if chosen is None or chosen.name in turn.called:
        return None
    return chosen


# ------------------------------------------------------------ schema filling


class _Filler:
    """Builds a value that validates against a JSON schema from the words of one text.

    Numbers, identifiers and quoted phrases are handed out in order, so
    ``add(a, b)`` on "add 3 and 4" gets 3 and 4.
    """

    def __init__(self, text: str, root: dict[str, Any], *, strict: bool) -> None:
        self.text, self.root, self.strict = text, root, strict
        self.fallback = text
        self.lower = text.lower()
        self.numbers = _NUMBER.findall(text)
        self.ids = [token for token in _TOKEN.findall(text) if any(c.isdigit() for c in token)]
        self.quotes = [next(group for group in match if group) for match in _QUOTED.findall(text)]

    def _resolve(self, schema: dict[str, Any]) -> dict[str, Any]:
        """Follow local ``$ref``s (``#/$defs/Name``); sibling keys stay on top."""
        for _ in range(32):
            ref = schema.get("$ref")
            if not isinstance(ref, str) or not ref.startswith("#"):
                break
            target: Any = self.root
            for part in ref.lstrip("#").strip("/").split("/"):
                target = target.get(part, {}) if part and isinstance(target, dict) else target
            rest = {key: value for key, value in schema.items() if key != "$ref"}
            schema = {**target, **rest} if isinstance(target, dict) else rest
        return schema

    def value(self, schema: dict[str, Any], name: str = "", depth: int = 0) -> Any:
        schema = self._resolve(schema)
        if "const" in schema:
            return schema["const"]
        if "enum" in schema:
            return self._enum(schema["enum"])
        for key in ("anyOf", "oneOf"):
            if key in schema:
                options = [self._resolve(option) for option in schema[key]]
                real = [option for option in options if option.get("type") != "null"]
                if not real or (depth >= _MAX_DEPTH and len(real) < len(options)):
                    return None
                return self.value(real[0], name, depth)
        if schema.get("allOf"):
            return self.value(schema["allOf"][0], name, depth)
        kind = schema.get("type")
        if isinstance(kind, list):
            kind = next((k for k in kind if k != "null"), "null")
        if kind is None:
            kind = "object" if "properties" in schema else "string"
        if kind == "object":
            return self._object(schema, depth)
        if kind == "array":
            return self._array(schema, name, depth)
        if kind in ("integer", "number"):
            return self._number(schema, integer=kind == "integer")
        if kind == "boolean":
            words = set(re.findall(r"[a-z']+", self.lower))
            return bool(words & _YES) and not words & _NO
        if kind == "null":
            return None
        return self._string(schema, name)

    def _object(self, schema: dict[str, Any], depth: int) -> dict[str, Any]:
        properties: dict[str, Any] = schema.get("properties") or {}
        required = set(schema.get("required") or ())
        everything = self.strict and depth < _MAX_DEPTH
        return {
            key: self.value(spec, key, depth + 1)
            for key, spec in properties.items()
            if everything or key in required
        }

    def _array(self, schema: dict[str, Any], name: str, depth: int) -> list[Any]:
        if "prefixItems" in schema:
            return [self.value(item, name, depth + 1) for item in schema["prefixItems"]]
        count = max(1 if depth < _MAX_DEPTH else 0, schema.get("minItems", 0))
        count = min(count, schema.get("maxItems", count))
        items = schema.get("items")
        item = items if isinstance(items, dict) else {}
        return [self.value(item, name, depth + 1) for _ in range(count)]

    def _enum(self, values: list[Any]) -> Any:
        """The first value named in the text, else the first value."""
        for value in values:
            if value is not None and re.search(rf"\b{re.escape(str(value).lower())}\b", self.lower):
                return value
        return values[0] if values else None

    def _number(self, schema: dict[str, Any], *, integer: bool) -> int | float:
        number = float(self.numbers.pop(0)) if self.numbers else 0.0
        if (low := schema.get("minimum")) is not None:
            number = max(number, low)
        if (low := schema.get("exclusiveMinimum")) is not None and number <= low:
            number = low + 1
        if (high := schema.get("maximum")) is not None:
            number = min(number, high)
        if (high := schema.get("exclusiveMaximum")) is not None and number >= high:
            number = high - 1
        return int(number) if integer or float(number).is_integer() else number

    def _string(self, schema: dict[str, Any], name: str) -> str:
        if schema.get("format") in _FORMATS:
            pattern, default = _FORMATS[schema["format"]]
            match = re.search(pattern, self.text)
            return match.group() if match else default
        text: str | None = None
        parts = re.sub(r"([a-z])([A-Z])", r"\1_\2", name).lower().split("_")
        if self.ids and _ID_PARTS.intersection(parts):
            text = self.ids.pop(0)
        if text is None and self.quotes:
            text = self.quotes.pop(0)
        if text is None:
            text = self.fallback
        text = text[: schema.get("maxLength", len(text))]
        return text.ljust(schema.get("minLength", 0), ".")
