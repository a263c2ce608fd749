"""What a run returns: the final output, the new items, the last agent, usage and state."""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from typing import Any, TypeVar

from ..agent import Agent
from ..errors import UserError
from ..items import Item, RunUsage
from .commands import ApprovalRequest
from .events import StreamEvent
from .state import RunState

__all__ = ["RunResult", "RunResultStreaming"]

T = TypeVar("T")


@dataclass(kw_only=True)
class RunResult:
    """The outcome of a run.

    ``final_output`` is typed (an instance of the last agent's ``output_type``)
    or a string. When the run paused for approval, ``interruptions`` lists the
    calls waiting and ``state`` resumes it: decide each, then
    ``Runner.run(agent, result.state)``.
    """

    input: list[Item]
    new_items: list[Item]
    final_output: Any
    last_agent: Agent[Any]
    usage: RunUsage
    state: RunState
    interruptions: list[ApprovalRequest] = field(default_factory=list)

    @property
    def is_interrupted(self) -> bool:
        return bool(self.interruptions)

    @property
    def last_response_id(self) -> str | None:
        """The provider's id of the run's last model response: pass it as the next
        run's ``previous_response_id`` to continue on the server's side."""
        return self.state.last_response_id

    def to_input_list(self) -> list[Item]:
        """The whole conversation, to continue it in the next run."""
        return [*self.input, *self.new_items]

    def final_output_as(self, kind: type[T]) -> T:
        """The final output, checked to be a ``kind``."""
        if not isinstance(self.final_output, kind):
            raise UserError(
                f"final output is {type(self.final_output).__name__}, not {kind.__name__}"
            )
        return self.final_output


_DONE = object()


class RunResultStreaming:
    """A run in progress. Iterate :meth:`stream_events`; the result fills in at the end.

    Leaving the iteration early, or :meth:`cancel`, cancels the run (and the
    model call in flight).
    """

    def __init__(self) -> None:
        self._queue: asyncio.Queue[Any] = asyncio.Queue()
        self._task: asyncio.Task[RunResult] | None = None
        self._result: RunResult | None = None

    def _start(self, task: asyncio.Task[RunResult]) -> None:
        self._task = task
        task.add_done_callback(lambda _: self._queue.put_nowait(_DONE))

    def _emit(self, event: StreamEvent) -> None:
        self._queue.put_nowait(event)

    async def stream_events(self) -> AsyncIterator[StreamEvent]:
        assert self._task is not None
        try:
            while True:
                event = await self._queue.get()
                if event is _DONE:
                    break
                yield event
            self._result = await self._task
        finally:
            if not self._task.done():
                await self.cancel()

    async def cancel(self) -> None:
        """Stop the run now; the model call or tools in flight are cancelled."""
        if self._task is not None and not self._task.done():
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError, Exception):
                await self._task

    async def wait(self) -> RunResult:
        """Wait for the run without reading events (they are dropped)."""
        assert self._task is not None
        self._result = await self._task
        return self._result

    @property
    def is_complete(self) -> bool:
        return self._result is not None

    @property
    def result(self) -> RunResult:
        if self._result is None:
            raise UserError("the streamed run has not finished; iterate stream_events() first")
        return self._result

    def __getattr__(self, name: str) -> Any:
        # final_output, new_items, usage, state... once the run has finished
        if name.startswith("_"):
            raise AttributeError(name)
        return getattr(self.result, name)
