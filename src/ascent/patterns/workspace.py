"""A shared workspace: a blackboard a team of agents reads and writes through tools.

Notes are keyed by topic and remember who wrote them. Writing a topic again
adds a revision; :meth:`Workspace.read` returns the latest and
:meth:`Workspace.history` every one. The notes live in the project database
(any SQLAlchemy URL: the SQLite file under ``.ascent/`` by default, or
PostgreSQL), keyed by the workspace id, so a later step, another process or a
resumed run that opens the same id sees them. ``memory://`` keeps them in the
object only, for tests and throwaway teams.

Use it when agents must build on each other's findings without passing every
result through one coordinator: a researcher leaves sources, a writer drafts
from them, a reviewer leaves comments, each reading what it needs.

::

    workspace = Workspace(run_id)
    researcher = workspace.attach(Agent(name="Researcher", ...))   # gets the note tools
"""

from __future__ import annotations

import asyncio
import time
from typing import TYPE_CHECKING, Any

from pydantic import BaseModel

from ..agent import Agent
from ..context import ToolContext
from ..errors import UserError
from ..storage import LazyTables, database_url, display_url, write_transaction
from ..tools import FunctionTool, function_tool

if TYPE_CHECKING:
    from sqlalchemy import Table

__all__ = ["WORKSPACE_TABLE", "Note", "Workspace"]

WORKSPACE_TABLE = "ascent_workspace_notes"
_PREVIEW = 160


class Note(BaseModel):
    """One write to the workspace: a topic, its content, who wrote it and when.

    ``revision`` grows with every write, so later notes have larger numbers.
    """

    topic: str
    content: str
    author: str
    revision: int
    written_at: float


def _declare() -> Table:
    from sqlalchemy import Column, Double, Integer, MetaData, String, Table, Text

    return Table(
        WORKSPACE_TABLE,
        MetaData(),
        Column("revision", Integer, primary_key=True, autoincrement=True),
        Column("workspace_id", String(255), nullable=False, index=True),
        Column("topic", String(255), nullable=False),
        Column("author", String(255), nullable=False),
        Column("content", Text, nullable=False),
        Column("written_at", Double, nullable=False),
    )


_schema = LazyTables(_declare)
_engine_for = _schema.engine


class Workspace:
    """The notes of one team, under ``workspace_id`` in the database ``url`` names.

    With no URL, the project database (:func:`ascent.storage.database_url`).
    """

    def __init__(self, workspace_id: str, url: str | None = None) -> None:
        if not workspace_id:
            raise UserError("a workspace needs a non-empty workspace_id")
        self.workspace_id = workspace_id
        self.url = url or database_url()
        self._memory: list[Note] | None = [] if self.url.startswith("memory://") else None

    def __repr__(self) -> str:
        return f"Workspace({self.workspace_id!r}, {display_url(self.url)!r})"

    # ------------------------------------------------------------- reading/writing

    async def write(self, topic: str, content: str, *, author: str) -> Note:
        """Add a note on ``topic`` (a new revision when the topic has one already)."""
        topic = topic.strip()
        if not topic:
            raise UserError("a note needs a topic")
        if self._memory is not None:
            note = Note(
                topic=topic,
                content=content,
                author=author,
                revision=len(self._memory) + 1,
                written_at=time.time(),
            )
            self._memory.append(note)
            return note
        return await asyncio.to_thread(self._insert, topic, content, author)

    async def history(self, topic: str | None = None) -> list[Note]:
        """Every write (to ``topic``, or to any topic), oldest first."""
        if self._memory is not None:
            notes = list(self._memory)
        else:
            notes = await asyncio.to_thread(self._select, topic)
        return [n for n in notes if topic is None or n.topic == topic.strip()]

    async def read(self, topic: str) -> Note | None:
        """The latest note on ``topic``, or None."""
        notes = await self.history(topic)
        return notes[-1] if notes else None

    async def notes(self) -> list[Note]:
        """The latest note of every topic, in the order the topics were first written."""
        latest: dict[str, Note] = {}
        for note in await self.history():
            latest[note.topic] = note
        return list(latest.values())

    async def clear(self) -> None:
        """Remove every note of this workspace."""
        if self._memory is not None:
            self._memory.clear()
            return
        await asyncio.to_thread(self._delete)

    async def render(self) -> str:
        """The current notes as text, e.g. for an agent's instructions."""
        notes = await self.notes()
        if not notes:
            return "The workspace is empty."
        return "\n".join(f"- {n.topic} (by {n.author}): {n.content}" for n in notes)

    # ------------------------------------------------------------------ as tools

    def tools(self) -> list[FunctionTool]:
        """``write_note``, ``read_note`` and ``list_notes``: the workspace for a model.

        The author of a note is the agent that called ``write_note``.
        """
        workspace = self

        @function_tool
        async def write_note(ctx: ToolContext[Any], topic: str, content: str) -> str:
            """Write a note on a topic in the team's shared workspace, for the other agents."""
            note = await workspace.write(topic, content, author=ctx.agent_name or "unknown")
            return f"Noted under {note.topic!r} (revision {note.revision})."

        @function_tool
        async def read_note(topic: str) -> str:
            """Read the latest note on a topic from the team's shared workspace."""
            note = await workspace.read(topic)
            if note is None:
                topics = ", ".join(n.topic for n in await workspace.notes()) or "none yet"
                return f"No note on {topic!r}. Topics: {topics}."
            return f"{note.topic} (by {note.author}): {note.content}"

        @function_tool
        async def list_notes() -> str:
            """List the topics in the team's shared workspace, with who wrote each."""
            notes = await workspace.notes()
            if not notes:
                return "The workspace is empty."
            return "\n".join(f"- {n.topic} (by {n.author}): {_preview(n.content)}" for n in notes)

        return [write_note, read_note, list_notes]

    def attach(self, agent: Agent[Any]) -> Agent[Any]:
        """A copy of ``agent`` with the workspace tools added to its own (a tool
        of the same name the agent already has is kept instead)."""
        have = {tool.name for tool in agent.tools}
        return agent.clone(tools=[*agent.tools, *(t for t in self.tools() if t.name not in have)])

    # ------------------------------------------------------------------ database

    def _insert(self, topic: str, content: str, author: str) -> Note:
        table = _schema()
        now = time.time()
        with write_transaction(_engine_for(self.url)) as conn:
            inserted = conn.execute(
                table.insert().values(
                    workspace_id=self.workspace_id,
                    topic=topic,
                    author=author,
                    content=content,
                    written_at=now,
                )
            )
            key = inserted.inserted_primary_key
            assert key is not None
            revision = int(key[0])
        return Note(topic=topic, content=content, author=author, revision=revision, written_at=now)

    def _select(self, topic: str | None) -> list[Note]:
        from sqlalchemy import select

        table = _schema()
        query = select(table).where(table.c.workspace_id == self.workspace_id)
        if topic is not None:
            query = query.where(table.c.topic == topic.strip())
        with _engine_for(self.url).connect() as conn:
            rows = conn.execute(query.order_by(table.c.revision)).mappings().all()
        return [
            Note(
                topic=row["topic"],
                content=row["content"],
                author=row["author"],
                revision=row["revision"],
                written_at=row["written_at"],
            )
            for row in rows
        ]

    def _delete(self) -> None:
        table = _schema()
        with write_transaction(_engine_for(self.url)) as conn:
            conn.execute(table.delete().where(table.c.workspace_id == self.workspace_id))


def _preview(text: str) -> str:
    text = " ".join(text.split())
    return text if len(text) <= _PREVIEW else text[: _PREVIEW - 1] + "…"
