"""The offline model: a deterministic stand-in for a real provider, needing no network.

It lets every example, test and first run work without a key. The agent loop
cannot tell it from a real model, yet it never pretends to be intelligent: it
picks the tool or handoff whose words overlap the user's message most (a tool
wins a tie), fills arguments from that message so they validate, and otherwise
restates what it was told; a structured output is filled from what the tools
returned, then from the message (see ``_offline_fill``). It knows nothing of
approvals: a gated tool is chosen like any other, so the run pauses as it would
on a real model. Ids come from a hash of the request, so the same request
always gets the same response, byte for byte.
"""

from __future__ import annotations

import hashlib
import json
import re
from collections.abc import AsyncIterator
from dataclasses import asdict, dataclass, field
from typing import Any

from ..items import FunctionCall, FunctionCallOutput, Item, Message, Usage, items_to_json
from ._offline_fill import SchemaFiller
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
    not no yes get use tool function call help hand off handoff agent handle request"""
_STOP_WORDS = frozenset(_STOP_TEXT.split())
_CLIP = 200
_HANDOFF_PREFIX = "transfer_to_"  # how a handoff is named to the model (see handoffs.py)


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
            if not item.handoff_to and not name.startswith(_HANDOFF_PREFIX):
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
        filler = SchemaFiller(turn.user_text, tool.parameters, strict=tool.strict)
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


def _parsed(output: str) -> Any:
    """A tool's output as JSON data when it is JSON (a returned model or dict), else the text."""
    try:
        return json.loads(output)
    except ValueError:
        return output


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
        data = [_parsed(output) for _, output, error in reversed(turn.results) if not error]
        filler = SchemaFiller(source, schema, strict=request.output.strict, data=data)
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
    """A crude stemmer: "charged", "charges" and "charge" meet at "charg", "shipped" at "ship"."""
    if len(word) > 4 and word.endswith("ies"):
        return word[:-3] + "y"
    for suffix in ("ing", "ed"):
        if word.endswith(suffix) and len(word) - len(suffix) >= 3:
            word = word[: -len(suffix)]
            if len(word) > 3 and word[-1] == word[-2] and word[-1] not in "aeiouls":
                word = word[:-1]  # shipp -> ship
            return word
    if len(word) > 3 and word.endswith("s") and not word.endswith("ss"):
        word = word[:-1]
    return word[:-1] if len(word) > 3 and word.endswith("e") else word


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
    named = user & _words(tool.name.removeprefix(_HANDOFF_PREFIX))
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
        # The best score wins; among equals a tool beats a handoff, then the first listed wins.
        ranks = [(_score(user, tool), not tool.name.startswith(_HANDOFF_PREFIX)) for tool in tools]
        best = max(range(len(tools)), key=ranks.__getitem__)
        chosen = tools[best] if ranks[best][0] > 0 or choice == "required" else None
    else:
        chosen = next((tool for tool in tools if tool.name == choice), None)
    if chosen is None or chosen.name in turn.called:
        return None
    return chosen
