"""The memory layer's agents: a summarizer for compaction and an extractor of facts.

They sit above ``ascent.memory`` (which never imports agents or the runner) and
beside the run layer they use:

- :func:`agent_summarizer` turns an agent into the summarizer a
  :class:`~ascent.memory.compaction.Compactor` calls.
- :class:`MemoryExtractor` has an agent with a structured output distil the
  durable facts and preferences of a conversation into a
  :class:`~ascent.memory.store.MemoryStore`, updating a known memory rather
  than adding a second one. :class:`MemoryExtractionHooks` runs it after every
  run of an agent, with no code around ``Runner.run``.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from typing import Any

from pydantic import BaseModel, Field

from .agent import Agent
from .context import RunContext
from .errors import UserError
from .items import Item, Message, text_of
from .lifecycle import AgentHooks
from .memory.compaction import transcript
from .memory.current_run import current_run_input
from .memory.store import Memory, MemoryStore
from .memory.tools import ScopeFrom
from .models.base import Model
from .run.runner import Runner

__all__ = [
    "DEFAULT_EXTRACTOR_INSTRUCTIONS",
    "DEFAULT_SUMMARIZER_INSTRUCTIONS",
    "AgentSummarizer",
    "ExtractedFact",
    "Extraction",
    "MemoryExtractionHooks",
    "MemoryExtractor",
    "agent_summarizer",
]

logger = logging.getLogger("ascent.memory")

DEFAULT_SUMMARIZER_INSTRUCTIONS = (
    "You summarise a conversation between a user and an AI assistant so that the "
    "assistant can continue it without the original messages. Keep the facts "
    "learned (names, numbers, preferences, tool results that still matter), the "
    "decisions taken and why, and the questions or tasks still open. Be concise; "
    "write plain prose or short bullet points; do not invent anything."
)

DEFAULT_EXTRACTOR_INSTRUCTIONS = (
    "You keep an assistant's long-term memory about its user. From the conversation, "
    "list the durable facts and preferences the user stated about themselves, their "
    "work or their plans: things worth knowing in a future conversation. Write each "
    "as one short, self-contained sentence in the third person (\"The user's favourite "
    'vacation spot is Lisbon."). Skip small talk, questions, one-off requests and '
    "anything the assistant said that the user did not confirm. When a fact changes "
    "or restates a known memory, give that memory's id in `replaces` instead of "
    "repeating it as new. Return an empty list when there is nothing durable."
)


# ------------------------------------------------------------------ summarizer


class AgentSummarizer:
    """A :data:`~ascent.memory.compaction.Summarizer` that asks an agent."""

    def __init__(self, agent: Agent[Any]) -> None:
        self.agent = agent
        self.name = agent.name

    def __repr__(self) -> str:
        return f"AgentSummarizer({self.agent.name!r})"

    async def __call__(self, items: list[Item]) -> str:
        # The items go as a transcript in one request: sent as they are, the model
        # would continue the conversation (or re-issue its tool calls) instead.
        request = (
            "Summarise the following conversation.\n\n<conversation>\n"
            f"{transcript(items)}\n</conversation>"
        )
        result = await Runner.run(self.agent, request)
        output = result.final_output
        if isinstance(output, BaseModel):
            return output.model_dump_json()
        if output is None:
            return text_of(result.new_items).strip()
        return str(output).strip()


def agent_summarizer(
    agent: Agent[Any] | None = None, *, model: str | Model | None = None
) -> AgentSummarizer:
    """The summarizer for a :class:`~ascent.memory.compaction.Compactor`: ``agent``,
    or a default one (on ``model``, else the default model) told to keep facts,
    decisions and open questions."""
    if agent is None:
        agent = Agent(name="summarizer", instructions=DEFAULT_SUMMARIZER_INSTRUCTIONS, model=model)
    elif model is not None:
        raise UserError("pass either an agent or a model to agent_summarizer, not both")
    return AgentSummarizer(agent)


# ------------------------------------------------------------------ extraction


class ExtractedFact(BaseModel):
    """One durable fact or preference found in a conversation."""

    text: str = Field(description="The fact as one short, self-contained sentence.")
    tags: list[str] = Field(default_factory=list, description='Short labels such as "preference".')
    replaces: str | None = Field(
        default=None, description="The id of the known memory this fact updates, if any."
    )


class Extraction(BaseModel):
    """What the extractor agent returns."""

    facts: list[ExtractedFact] = Field(default_factory=list)


def _is_user(item: Item) -> bool:
    return isinstance(item, Message) and item.role == "user"


def _normal(text: str) -> str:
    return " ".join(text.split()).casefold().rstrip(".")


class MemoryExtractor:
    """Distils a conversation's durable facts into ``store``, deduplicated.

    The agent (``agent``, or a default one on ``model``) must have
    :class:`Extraction` as its output type. It is shown the memories already
    known that relate to the conversation (``known_limit`` of them) and says
    which one a fact replaces; that memory is then updated in place. A fact
    whose text a known memory already has is not stored twice.
    """

    def __init__(
        self,
        store: MemoryStore,
        *,
        agent: Agent[Any] | None = None,
        model: str | Model | None = None,
        known_limit: int = 10,
    ) -> None:
        if agent is None:
            agent = Agent(
                name="memory_extractor",
                instructions=DEFAULT_EXTRACTOR_INSTRUCTIONS,
                model=model,
                output_type=Extraction,
            )
        elif model is not None:
            raise UserError("pass either an agent or a model to MemoryExtractor, not both")
        if agent.output_type is not Extraction:
            raise UserError(
                f"the extractor agent {agent.name!r} needs output_type=Extraction "
                f"(from ascent.memory_agents), not {agent.output_type!r}"
            )
        self.store = store
        self.agent = agent
        self.known_limit = known_limit

    async def extract(
        self, items: Sequence[Item], *, scope: str, source_run: str | None = None
    ) -> list[Memory]:
        """Store the facts of ``items`` under ``scope``; return the memories added or updated."""
        conversation = transcript(items)
        if not conversation.strip():
            return []
        user_text = " ".join(
            item.text for item in items if isinstance(item, Message) and _is_user(item)
        )
        known = await self.store.search(user_text, scope=scope, limit=self.known_limit)
        listed = "\n".join(f"- {m.id}: {' '.join(m.text.split())}" for m in known) or "(none)"
        request = f"Known memories:\n{listed}\n\n<conversation>\n{conversation}\n</conversation>"
        result = await Runner.run(self.agent, request)
        extraction = result.final_output
        if not isinstance(extraction, Extraction):
            raise UserError(f"the extractor returned {type(extraction).__name__}, not Extraction")
        return await self._store(extraction.facts, known, scope, source_run)

    async def _store(
        self,
        facts: list[ExtractedFact],
        known: list[Memory],
        scope: str,
        source_run: str | None,
    ) -> list[Memory]:
        by_id = {memory.id: memory for memory in known}
        changed: list[Memory] = []
        for fact in facts:
            text = " ".join(fact.text.split())
            if not text:
                continue
            target = by_id.get(fact.replaces or "")  # an id from elsewhere is not trusted
            if target is not None:
                if _normal(target.text) != _normal(text):
                    updated = await self.store.update(
                        target.id, scope=scope, text=text, tags=fact.tags or None
                    )
                    by_id[updated.id] = updated
                    changed.append(updated)
                continue
            same = await self.store.search(text, scope=scope, limit=5)
            if any(_normal(memory.text) == _normal(text) for memory in [*known, *same]):
                continue
            added = await self.store.add(
                text,
                scope=scope,
                tags=fact.tags,
                source_run=source_run,
                metadata={"extracted": True},
            )
            known.append(added)
            changed.append(added)
        return changed


class MemoryExtractionHooks(AgentHooks[Any]):
    """Runs a :class:`MemoryExtractor` when the agent finishes a run: ``Agent(hooks=...)``.

    It reads the run's latest turn (from the user's last message on) and the
    final output. ``scope_from(run_context)`` names whose memories they are. A
    failing extraction is logged, never raised: the run it follows has already
    succeeded.
    """

    def __init__(self, extractor: MemoryExtractor, *, scope_from: ScopeFrom) -> None:
        self.extractor = extractor
        self.scope_from = scope_from

    async def on_end(self, context: RunContext[Any], agent: Agent[Any], output: Any) -> None:
        items = current_run_input()
        last_user = max(
            (
                i
                for i, item in enumerate(items)
                if isinstance(item, Message) and item.role == "user"
            ),
            default=None,
        )
        if last_user is None:
            return
        turn: list[Item] = items[last_user:]
        if output is not None:
            answer = output.model_dump_json() if isinstance(output, BaseModel) else str(output)
            turn.append(Message(role="assistant", content=answer, agent=agent.name))
        try:
            scope = self.scope_from(context)
            await self.extractor.extract(turn, scope=scope, source_run=context.run_id or None)
        except Exception:
            logger.warning("memory extraction after run %s failed", context.run_id, exc_info=True)
