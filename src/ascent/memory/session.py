"""Sessions: a conversation's history, loaded before a run and extended after each turn.

``Runner.run(agent, input, session=...)`` uses any object with this protocol, so
the next run continues the conversation without the caller resending it.
"""

from __future__ import annotations

import asyncio
from collections.abc import Sequence
from typing import Protocol, runtime_checkable

from ..items import FunctionCall, FunctionCallOutput, Item

__all__ = ["IdempotentSession", "InMemorySession", "Session", "answer_open_calls", "read_history"]

UNANSWERED_CALL = (
    "no result: the run that asked for this call ended before it ran "
    "(it was cancelled or abandoned while it waited for approval)"
)


@runtime_checkable
class Session(Protocol):
    """A stored conversation, named by ``session_id``."""

    session_id: str

    async def get_items(self, limit: int | None = None) -> list[Item]:
        """All items, or the last ``limit`` ones, oldest first."""
        ...

    async def add_items(self, items: list[Item]) -> None: ...

    async def pop_item(self) -> Item | None:
        """Remove and return the newest item (undo), or None when empty."""
        ...

    async def clear(self) -> None: ...


@runtime_checkable
class IdempotentSession(Session, Protocol):
    """A session that can make a write at most once, by the write's id.

    A durable run writes its items in a recorded step; if the process dies
    after the write but before the step's record, the step runs again, and
    only a session like this keeps the items from being added twice.
    """

    async def add_items_once(self, items: list[Item], write_id: str) -> bool:
        """Add ``items`` unless a write with ``write_id`` was made; True if added."""
        ...


class InMemorySession:
    """A session held in this process: for tests, notebooks and short scripts."""

    def __init__(self, session_id: str = "default") -> None:
        self.session_id = session_id
        self._items: list[Item] = []
        self._writes: set[str] = set()
        self._lock = asyncio.Lock()

    async def get_items(self, limit: int | None = None) -> list[Item]:
        if limit is None:
            return list(self._items)
        return self._items[-limit:] if limit > 0 else []

    async def add_items(self, items: list[Item]) -> None:
        async with self._lock:
            self._items.extend(items)

    async def add_items_once(self, items: list[Item], write_id: str) -> bool:
        async with self._lock:
            if write_id in self._writes:
                return False
            self._writes.add(write_id)
            self._items.extend(items)
            return True

    async def pop_item(self) -> Item | None:
        async with self._lock:
            return self._items.pop() if self._items else None

    async def replace_items(self, items: list[Item]) -> None:
        """The whole history at once (compaction swaps old turns for a summary)."""
        async with self._lock:
            self._items = list(items)

    async def clear(self) -> None:
        async with self._lock:
            self._items.clear()
            self._writes.clear()

    async def delete(self) -> None:
        """The session whole; in memory, the same as :meth:`clear`."""
        await self.clear()


async def read_history(session: Session) -> list[Item]:
    """``session``'s items as a new run continues from them (see :func:`answer_open_calls`)."""
    return answer_open_calls(await session.get_items())


def answer_open_calls(items: Sequence[Item]) -> list[Item]:
    """``items`` with an error output after each function call that has none.

    A run saves its items when it pauses for approval; if it is then cancelled
    or never resumed, its session keeps calls that no output answers, and model
    APIs refuse a request holding such a call. The answer goes after the calls of
    the same response, where the run's own outputs would have been; the session
    itself is left as it is.
    """
    answered = {item.call_id for item in items if isinstance(item, FunctionCallOutput)}
    if all(item.call_id in answered for item in items if isinstance(item, FunctionCall)):
        return list(items)
    closed: list[Item] = []
    owed: list[Item] = []
    for item in items:
        if owed and not isinstance(item, FunctionCall):
            closed += owed
            owed = []
        closed.append(item)
        if isinstance(item, FunctionCall) and item.call_id not in answered:
            owed.append(
                FunctionCallOutput(
                    call_id=item.call_id,
                    output=UNANSWERED_CALL,
                    agent=item.agent,
                    tool_name=item.name,
                    is_error=True,
                )
            )
    return closed + owed
