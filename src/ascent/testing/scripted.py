"""A scripted model: exact outputs per call, for testing agents offline.

::

    model = ScriptedModel([
        ToolCall("get_weather", {"city": "Paris"}),   # first model call
        "It is sunny in Paris.",                        # second model call
    ])
    agent = Agent(name="a", model=model, tools=[get_weather])
    ...
    model.assert_done()   # fails if steps remain

It records every request it was asked (``model.requests``) and fails loudly
when asked for more calls than it has steps.
"""

from __future__ import annotations

import asyncio
import json
from collections.abc import AsyncIterator, Callable, Sequence
from dataclasses import dataclass, field
from typing import Any

from pydantic import BaseModel

from ..items import FunctionCall, Item, Message, Usage
from ..models.base import (
    ModelRequest,
    ModelResponse,
    ModelStreamEvent,
    ResponseCompleted,
    TextDelta,
    ToolCallArgumentsDelta,
)

__all__ = ["ScriptedModel", "Step", "ToolCall"]


@dataclass(slots=True)
class ToolCall:
    """The model calls ``name`` with ``arguments`` (a dict, or a raw string to test bad JSON)."""

    name: str
    arguments: dict[str, Any] | str = field(default_factory=dict)
    call_id: str | None = None


@dataclass(kw_only=True, slots=True)
class Step:
    """One model call's outcome: text and/or tool calls, an error, raw items.

    ``delay`` waits before answering (to test overlap and cancellation);
    ``chunks`` sets how many stream deltas the text is cut into.
    """

    text: str | None = None
    calls: Sequence[ToolCall] = ()
    items: Sequence[Item] = ()
    error: BaseException | None = None
    delay: float = 0.0
    usage: Usage | None = None
    chunks: int = 3


StepLike = str | ToolCall | Sequence[ToolCall] | Step | BaseException | BaseModel
StepFactory = Callable[[ModelRequest], StepLike]


class ScriptedModel:
    """A model that answers from a script, one step per call."""

    supports_hosted_tools: bool

    def __init__(
        self,
        steps: Sequence[StepLike | StepFactory] = (),
        *,
        name: str = "scripted",
        supports_hosted_tools: bool = True,
    ) -> None:
        self.name = name
        self.supports_hosted_tools = supports_hosted_tools
        self._steps: list[StepLike | StepFactory] = list(steps)
        self._served = 0
        self.requests: list[ModelRequest] = []

    def add(self, *steps: StepLike | StepFactory) -> None:
        self._steps.extend(steps)

    @property
    def remaining(self) -> int:
        return len(self._steps) - self._served

    def assert_done(self) -> None:
        """Fail when script steps were never used (the agent stopped early)."""
        if self.remaining:
            raise AssertionError(
                f"ScriptedModel {self.name!r}: {self.remaining} step(s) were never used"
            )

    def _next(self, request: ModelRequest) -> tuple[Step, int]:
        self.requests.append(request)
        if self._served >= len(self._steps):
            raise AssertionError(
                f"ScriptedModel {self.name!r} has no step left for call #{self._served + 1}"
            )
        raw = self._steps[self._served]
        self._served += 1
        if callable(raw) and not isinstance(raw, BaseModel | BaseException):
            raw = raw(request)
        return _as_step(raw), self._served

    async def respond(self, request: ModelRequest) -> ModelResponse:
        step, number = self._next(request)
        if step.delay:
            await asyncio.sleep(step.delay)
        if step.error is not None:
            raise step.error
        return _response(step, number, request)

    async def stream(self, request: ModelRequest) -> AsyncIterator[ModelStreamEvent]:
        step, number = self._next(request)
        if step.delay:
            await asyncio.sleep(step.delay)
        if step.error is not None:
            raise step.error
        response = _response(step, number, request)
        for item in response.output:
            if isinstance(item, Message):
                for piece in _cut(item.text, step.chunks):
                    yield TextDelta(delta=piece, item_id=item.id)
                    await asyncio.sleep(0)
            elif isinstance(item, FunctionCall):
                yield ToolCallArgumentsDelta(
                    delta=item.arguments, call_id=item.call_id, name=item.name
                )
        yield ResponseCompleted(response=response)


def _as_step(raw: Any) -> Step:
    if isinstance(raw, Step):
        return raw
    if isinstance(raw, str):
        return Step(text=raw)
    if isinstance(raw, ToolCall):
        return Step(calls=[raw])
    if isinstance(raw, BaseException):
        return Step(error=raw)
    if isinstance(raw, BaseModel):
        return Step(text=raw.model_dump_json())
    if isinstance(raw, Sequence) and all(isinstance(c, ToolCall) for c in raw):
        return Step(calls=list(raw))
    raise TypeError(f"not a script step: {raw!r}")


def _response(step: Step, number: int, request: ModelRequest) -> ModelResponse:
    output: list[Item] = list(step.items)
    if step.text is not None:
        output.append(Message.assistant(step.text, id=f"msg_{number}"))
    for index, call in enumerate(step.calls):
        arguments = (
            call.arguments if isinstance(call.arguments, str) else json.dumps(call.arguments)
        )
        output.append(
            FunctionCall(
                call_id=call.call_id or f"call_{number}_{index}",
                name=call.name,
                arguments=arguments,
                id=f"fc_{number}_{index}",
            )
        )
    usage = step.usage or Usage(requests=1, input_tokens=10 * len(request.input), output_tokens=5)
    return ModelResponse(output=output, usage=usage, response_id=f"resp_{number}")


def _cut(text: str, parts: int) -> list[str]:
    if not text:
        return []
    size = max(1, -(-len(text) // max(1, parts)))
    return [text[i : i + size] for i in range(0, len(text), size)]
