"""Memory: sessions (short-term history), long-term memories, compaction.

:func:`open_session` picks the session store from a URL, so the same code keeps
its history in a SQLite file on a laptop and in PostgreSQL or Redis on a
cluster. :class:`MemoryStore` keeps facts per user or tenant with hybrid
search (keywords, and vectors from an :class:`Embedder` where the database can
hold them); :func:`memory_tools` lets a model use it and :func:`with_memory`
recalls into instructions. :class:`Compactor` replaces a long history's older
turns by a summary; :class:`CompactingSession` does it on its own. The agents
that summarise and extract facts live in :mod:`ascent.memory_agents`.
Each name is imported on first use (``RedisSession`` needs the optional
``redis`` package).
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from ..errors import MemoryNotFoundError, UserError
from ..storage import database_url, display_url

if TYPE_CHECKING:  # what type checkers see; at run time, see __getattr__
    from .compaction import (
        CompactingSession,
        CompactionResult,
        Compactor,
        Summarizer,
        estimate_tokens,
        split_for_compaction,
    )
    from .current_run import current_run_input
    from .embedders import (
        Embedder,
        EmbeddingError,
        HashingEmbedder,
        OpenAIEmbedder,
        SentenceTransformerEmbedder,
    )
    from .redis_session import RedisSession
    from .session import IdempotentSession, InMemorySession, Session
    from .sql_session import (
        SessionSummary,
        SQLAlchemySession,
        SQLiteSession,
        list_sessions,
        prune_expired,
    )
    from .store import Memory, MemoryStore, fuse_rankings
    from .tools import memory_tools, recall_for_instructions, with_memory

# Each exported name and the module that defines it, imported on first use: a run
# that keeps no memory (most of them, and ``ascent --help``) loads none of it.
_EXPORTS: dict[str, str] = {
    "CompactingSession": ".compaction",
    "CompactionResult": ".compaction",
    "Compactor": ".compaction",
    "Summarizer": ".compaction",
    "estimate_tokens": ".compaction",
    "split_for_compaction": ".compaction",
    "current_run_input": ".current_run",
    "Embedder": ".embedders",
    "EmbeddingError": ".embedders",
    "HashingEmbedder": ".embedders",
    "OpenAIEmbedder": ".embedders",
    "SentenceTransformerEmbedder": ".embedders",
    "IdempotentSession": ".session",
    "InMemorySession": ".session",
    "Session": ".session",
    "SQLAlchemySession": ".sql_session",
    "SQLiteSession": ".sql_session",
    "SessionSummary": ".sql_session",
    "list_sessions": ".sql_session",
    "prune_expired": ".sql_session",
    "Memory": ".store",
    "MemoryStore": ".store",
    "fuse_rankings": ".store",
    "memory_tools": ".tools",
    "recall_for_instructions": ".tools",
    "with_memory": ".tools",
    "RedisSession": ".redis_session",  # needs the optional ``redis`` package
}

__all__ = [
    "CompactingSession",
    "CompactionResult",
    "Compactor",
    "Embedder",
    "EmbeddingError",
    "HashingEmbedder",
    "IdempotentSession",
    "InMemorySession",
    "Memory",
    "MemoryNotFoundError",
    "MemoryStore",
    "OpenAIEmbedder",
    "RedisSession",
    "SQLAlchemySession",
    "SQLiteSession",
    "SentenceTransformerEmbedder",
    "Session",
    "SessionSummary",
    "Summarizer",
    "current_run_input",
    "estimate_tokens",
    "fuse_rankings",
    "list_sessions",
    "memory_tools",
    "open_session",
    "prune_expired",
    "recall_for_instructions",
    "split_for_compaction",
    "with_memory",
]

# SQLAlchemy dialects we expect to work; any "dialect+driver://" of these is accepted.
_SQL_SCHEMES = ("postgresql", "postgres", "mysql", "mariadb", "oracle", "mssql")
SUPPORTED_SCHEMES = "sqlite:///, postgresql://, redis://, rediss://, memory://"


def open_session(session_id: str, url: str | None = None, *, ttl: float | None = None) -> Session:
    """The session ``session_id``, kept on disk (persistent) unless ``url`` says otherwise.

    With no URL, the project database (:func:`ascent.storage.database_url`: a
    SQLite file under ``.ascent/`` unless ``ASCENT_DATABASE_URL`` says otherwise),
    so the conversation outlives the process. This differs from the OpenAI
    Agents SDK, whose ``SQLiteSession(id)`` is in memory by default: for a
    session that lives only in this process, pass ``url="memory://"``.
    ``ttl`` (seconds) expires the session that long after its last write;
    ``memory://`` sessions live only as long as the object and ignore it.
    """
    target = url or database_url()
    scheme = target.split("://", 1)[0].lower() if "://" in target else ""
    base = scheme.split("+", 1)[0]
    if base == "sqlite":
        from .sql_session import SQLiteSession

        return SQLiteSession(session_id, target, ttl=ttl)
    if base in _SQL_SCHEMES:
        from .sql_session import SQLAlchemySession

        return SQLAlchemySession(session_id, target, ttl=ttl)
    if base in ("redis", "rediss"):
        from .redis_session import RedisSession

        return RedisSession(session_id, target, ttl=ttl)
    if base == "memory":
        from .session import InMemorySession

        return InMemorySession(session_id)
    raise UserError(
        f"unknown session URL {display_url(target)!r}: supported schemes are {SUPPORTED_SCHEMES}"
    )


def __getattr__(name: str) -> Any:
    module = _EXPORTS.get(name)
    if module is None:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}", name=name, obj=None)
    from importlib import import_module

    value = getattr(import_module(module, __name__), name)
    globals()[name] = value
    return value


def __dir__() -> list[str]:
    return sorted({*globals(), *__all__})
