"""The input of the run in progress, for code that runs inside it but is not handed it.

Dynamic instructions see the run context, not the conversation; automatic
recall needs the user's latest message to know what to look for, and
extraction needs the turn to distil. The runner sets this for the duration of
a run (nested runs set their own and restore the caller's on the way out).
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from contextlib import contextmanager, suppress
from contextvars import ContextVar

from ..items import Item, Message

__all__ = ["current_run_input", "latest_user_text", "run_input"]

_input: ContextVar[tuple[Item, ...] | None] = ContextVar("ascent_run_input", default=None)


@contextmanager
def run_input(items: Sequence[Item]) -> Iterator[None]:
    """Make ``items`` the current run's input inside the ``with`` block."""
    token = _input.set(tuple(items))
    try:
        yield
    finally:
        # a coroutine closed from another context (Temporal evicting a workflow
        # closes it so) has no caller's value to restore there
        with suppress(ValueError):
            _input.reset(token)


def current_run_input() -> list[Item]:
    """The input of the run in progress (history and new input), or [] outside a run."""
    items = _input.get()
    return [] if items is None else list(items)


def latest_user_text(items: Sequence[Item]) -> str | None:
    """The text of the last user message among ``items``, or None."""
    for item in reversed(items):
        if isinstance(item, Message) and item.role == "user":
            return item.text or None
    return None
