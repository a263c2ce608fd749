"""Compaction: keep a long session under a token budget without losing what was said.

When a session's history grows past ``max_tokens``, :class:`Compactor` has a
summarizer condense the older turns into one summary item, keeps the recent
turns verbatim, and moves the originals to an archive session (nothing is
deleted, so the full conversation stays available for audit).
:class:`CompactingSession` does it on its own after every write.

The boundary between "older" and "recent" never separates a tool call from its
output (providers reject an output whose call is missing) nor a reasoning item
from the item it precedes, and it falls on a user message when it can, so the
kept part reads as whole turns.

A summarizer is any async callable from the older items to a summary text;
the one that runs an agent, :func:`ascent.memory_agents.agent_summarizer`,
lives a layer up, with the agents and the runner.
"""

from __future__ import annotations

import json
import logging
import math
from collections.abc import Awaitable, Callable, Sequence
from typing import Protocol, runtime_checkable

from pydantic import BaseModel, ConfigDict

from ..errors import UserError
from ..items import (
    FunctionCall,
    FunctionCallOutput,
    Item,
    Message,
    ProviderItem,
    Reasoning,
)
from .session import InMemorySession, Session
from .sql_session import SQLAlchemySession

__all__ = [
    "SUMMARY_PREFIX",
    "CompactableSession",
    "CompactingSession",
    "CompactionResult",
    "Compactor",
    "Summarizer",
    "estimate_tokens",
    "split_for_compaction",
    "transcript",
]

logger = logging.getLogger("ascent.memory")

CHARS_PER_TOKEN = 4
SUMMARY_PREFIX = "Summary of the earlier conversation:\n"

Summarizer = Callable[[list[Item]], Awaitable[str]]
"""Condenses the older items of a conversation into a summary text."""


@runtime_checkable
class CompactableSession(Session, Protocol):
    """A session whose whole history can be swapped at once."""

    async def replace_items(self, items: list[Item]) -> None: ...


class CompactionResult(BaseModel):
    """What one compaction did, for logs and for the caller's own accounting."""

    model_config = ConfigDict(defer_build=True)

    summary: str
    archived: int
    kept: int
    tokens_before: int
    tokens_after: int
    archive_session_id: str


# ------------------------------------------------------------------ counting


def _item_text(item: Item) -> str:
    """The part of an item a model reads as tokens (roughly)."""
    if isinstance(item, Message):
        return item.text
    if isinstance(item, FunctionCall):
        return f"{item.name}{item.arguments}"
    if isinstance(item, FunctionCallOutput):
        return item.output
    if isinstance(item, Reasoning):
        return item.text
    return json.dumps(item.wire(), ensure_ascii=False, separators=(",", ":"))


def _item_tokens(item: Item) -> int:
    return max(1, math.ceil(len(_item_text(item)) / CHARS_PER_TOKEN))


def estimate_tokens(items: Sequence[Item]) -> int:
    """About four characters per token, at least one per item.

    Only an estimate: exact counts need the provider's tokenizer, which Ascent
    does not depend on. Pass the provider's reported usage to
    :meth:`Compactor.compact` when you have it.
    """
    return sum(_item_tokens(item) for item in items)


# ------------------------------------------------------------------ splitting


def _call_id(item: Item) -> str | None:
    # Hosted calls (ProviderItem) may pair by call_id too, e.g. computer_call(_output).
    value = getattr(item, "call_id", None)
    return value if isinstance(value, str) else None


def _valid_boundaries(items: Sequence[Item]) -> list[bool]:
    """``ok[i]``: may ``items[:i]`` / ``items[i:]`` be cut apart?"""
    n = len(items)
    ok = [True] * (n + 1)
    spans: dict[str, tuple[int, int]] = {}
    for index, item in enumerate(items):
        call_id = _call_id(item)
        if call_id is not None:
            first, _last = spans.get(call_id, (index, index))
            spans[call_id] = (first, index)
    for first, last in spans.values():
        for i in range(first + 1, last + 1):
            ok[i] = False
    for i in range(1, n):
        # a reasoning item belongs to the item after it; providers reject either alone
        if isinstance(items[i - 1], Reasoning):
            ok[i] = False
    return ok


def _is_user_message(item: Item) -> bool:
    return isinstance(item, Message) and item.role == "user"


def split_for_compaction(
    items: Sequence[Item], *, keep_recent_tokens: int
) -> tuple[list[Item], list[Item]]:
    """``(older, recent)``: the newest turns that fit ``keep_recent_tokens`` stay recent.

    The cut keeps every call with its output and every reasoning item with its
    successor. Among the cuts that fit the budget it takes the earliest (most
    kept) that starts at a user message; with none, the earliest valid cut. When
    not even the last item fits, ``recent`` is empty.
    """
    n = len(items)
    ok = _valid_boundaries(items)
    suffix = [0] * (n + 1)
    for i in range(n - 1, -1, -1):
        suffix[i] = suffix[i + 1] + _item_tokens(items[i])
    fitting = [i for i in range(n + 1) if ok[i] and suffix[i] <= keep_recent_tokens]
    at_user = [i for i in fitting if i < n and _is_user_message(items[i])]
    cut = at_user[0] if at_user else fitting[0]  # n is always valid and fits
    return list(items[:cut]), list(items[cut:])


# ------------------------------------------------------------------ compactor


def transcript(items: Sequence[Item]) -> str:
    """Items as plain text, so the summarizer gets one ordinary request.

    Sending the raw items instead would make the model continue the
    conversation (or re-issue its tool calls) rather than describe it.
    """
    names: dict[str, str] = {}
    lines: list[str] = []
    for item in items:
        if isinstance(item, Message):
            lines.append(f"{item.role}: {item.text}")
        elif isinstance(item, FunctionCall):
            names[item.call_id] = item.name
            lines.append(f"assistant called tool {item.name} with {item.arguments}")
        elif isinstance(item, FunctionCallOutput):
            name = item.tool_name or names.get(item.call_id, "tool")
            label = "error" if item.is_error else "result"
            lines.append(f"tool {name} {label}: {item.output}")
        elif isinstance(item, Reasoning):
            if item.text:
                lines.append(f"assistant (reasoning): {item.text}")
        elif isinstance(item, ProviderItem):
            lines.append(f"[{item.type}] {_item_text(item)}")
    return "\n".join(lines)


class Compactor:
    """Summarises a session's older turns once its history exceeds ``max_tokens``.

    ``summarizer`` writes the summary: usually
    ``ascent.memory_agents.agent_summarizer()`` (an agent), or any async
    callable from items to text. Its ``name`` attribute, when it has one, marks
    the summary item. ``keep_recent_tokens`` bounds what stays verbatim. ``archive`` maps a session
    id to the session that receives the originals; by default it is
    ``"<session_id>:archive"`` in the same store (same class and URL), or, for
    sessions of unknown kind, an in-memory session this compactor keeps.
    """

    def __init__(
        self,
        *,
        summarizer: Summarizer,
        max_tokens: int = 16_000,
        keep_recent_tokens: int = 4_000,
        archive: Callable[[str], Session] | None = None,
    ) -> None:
        if max_tokens <= 0 or keep_recent_tokens < 0:
            raise UserError("max_tokens must be positive and keep_recent_tokens not negative")
        if keep_recent_tokens >= max_tokens:
            raise UserError(
                f"keep_recent_tokens ({keep_recent_tokens}) must be below max_tokens "
                f"({max_tokens}), or compaction would keep everything"
            )
        if not callable(summarizer):
            hint = ""
            if type(summarizer).__name__ == "Agent":
                hint = " (wrap the agent: ascent.memory_agents.agent_summarizer(agent))"
            raise UserError(
                "summarizer must be an async callable from items to text, "
                f"not {type(summarizer).__name__}{hint}"
            )
        self.summarizer = summarizer
        self.max_tokens = max_tokens
        self.keep_recent_tokens = keep_recent_tokens
        self.archive = archive
        self._memory_archives: dict[str, InMemorySession] = {}

    def archive_for(self, session: Session) -> Session:
        """The session that holds ``session``'s compacted originals."""
        archive_id = f"{session.session_id}:archive"
        if self.archive is not None:
            return self.archive(archive_id)
        if isinstance(session, SQLAlchemySession):
            # no ttl: the archive is the audit trail and outlives the live session
            return SQLAlchemySession(archive_id, session.url, max_item_bytes=session.max_item_bytes)
        # by name: redis_session (for the optional redis extra) stays unloaded unless in use
        if type(session).__name__ == "RedisSession":
            from .redis_session import RedisSession

            assert isinstance(session, RedisSession)
            prefix = session.key[: len(session.key) - len(session.session_id)]
            return RedisSession(
                archive_id,
                session.url,
                max_item_bytes=session.max_item_bytes,
                key_prefix=prefix,
            )
        return self._memory_archives.setdefault(archive_id, InMemorySession(archive_id))

    async def compact(
        self, session: Session, *, token_count: int | None = None
    ) -> CompactionResult | None:
        """Compact ``session`` if it is over budget; None when nothing was done.

        ``token_count`` is the history's size as the provider counted it (the
        last model call's ``input_tokens``); without it the estimate is used.
        When given, the estimate is scaled to it so the kept part is measured in
        the same units.

        Run it between runs of the session: items added while the summarizer
        works are kept, but a concurrent ``pop_item`` or replacement makes this
        compaction give up (return None) rather than overwrite it.
        """
        if not isinstance(session, CompactableSession):
            raise UserError(
                f"{type(session).__name__} cannot be compacted: it has no replace_items()"
            )
        items = await session.get_items()
        estimated = estimate_tokens(items)
        tokens_before = estimated if token_count is None else token_count
        if tokens_before <= self.max_tokens:
            return None
        scale = tokens_before / estimated if estimated else 1.0
        older, recent = split_for_compaction(
            items, keep_recent_tokens=int(self.keep_recent_tokens / scale)
        )
        if not older:
            return None
        summary_text = (await self.summarizer(older)).strip()
        if not summary_text:
            logger.warning("compaction of %r skipped: the summary came back empty", session)
            return None
        # role "system": context for the model, not words the user said (a "user"
        # summary would also pass for the start of a turn). Chat Completions sends
        # system as is, and the Responses API accepts system messages in input.
        summary = Message(
            role="system",
            content=f"{SUMMARY_PREFIX}{summary_text}",
            agent=getattr(self.summarizer, "name", None),
        )
        current = await session.get_items()
        if current[: len(items)] != items:
            return None  # someone else rewrote the history meanwhile
        added_since = current[len(items) :]
        archive = self.archive_for(session)
        try:
            await archive.add_items(older)
        finally:
            # a Redis archive made here opens its own client; one from ``archive`` is the caller's
            if self.archive is None and hasattr(archive, "aclose"):
                await archive.aclose()
        kept = [*recent, *added_since]
        await session.replace_items([summary, *kept])
        return CompactionResult(
            summary=summary_text,
            archived=len(older),
            kept=len(kept),
            tokens_before=tokens_before,
            tokens_after=estimate_tokens([summary, *kept]),
            archive_session_id=archive.session_id,
        )


class CompactingSession:
    """A session that compacts itself: after each write that takes its history past
    the compactor's ``max_tokens``, older turns are summarised (see :class:`Compactor`).

    Pass it to ``Runner.run(..., session=...)`` instead of the session it wraps.
    Compaction runs inside the write that crossed the budget, so that run waits
    for the summary; the run's own items are kept whole either way (a run reads
    its history once, at the start).
    """

    def __init__(self, session: CompactableSession, compactor: Compactor) -> None:
        if not isinstance(session, CompactableSession):
            raise UserError(
                f"{type(session).__name__} cannot be compacted: it has no replace_items()"
            )
        self.session = session
        self.compactor = compactor
        self.session_id = session.session_id
        self.last_compaction: CompactionResult | None = None

    def __repr__(self) -> str:
        return f"CompactingSession({self.session!r})"

    async def get_items(self, limit: int | None = None) -> list[Item]:
        return await self.session.get_items(limit)

    async def add_items(self, items: list[Item]) -> None:
        await self.session.add_items(items)
        result = await self.compactor.compact(self.session)
        if result is not None:
            self.last_compaction = result

    async def pop_item(self) -> Item | None:
        return await self.session.pop_item()

    async def clear(self) -> None:
        await self.session.clear()

    async def replace_items(self, items: list[Item]) -> None:
        await self.session.replace_items(items)
