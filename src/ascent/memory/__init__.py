"""Memory: sessions (short-term conversation history), in memory, SQL or Redis.

:func:`open_session` picks the store from a URL, so the same code keeps its
history in a SQLite file on a laptop and in PostgreSQL or Redis on a cluster.
``RedisSession`` is imported on first use: it needs the optional ``redis`` package.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from ..errors import UserError
from ..storage import database_url, display_url
from .session import InMemorySession, Session
from .sql_session import SQLAlchemySession, SQLiteSession, prune_expired

if TYPE_CHECKING:
    from .redis_session import RedisSession

__all__ = [
    "InMemorySession",
    "RedisSession",
    "SQLAlchemySession",
    "SQLiteSession",
    "Session",
    "open_session",
    "prune_expired",
]

# SQLAlchemy dialects we expect to work; any "dialect+driver://" of these is accepted.
_SQL_SCHEMES = ("postgresql", "postgres", "mysql", "mariadb", "oracle", "mssql")
SUPPORTED_SCHEMES = "sqlite:///, postgresql://, redis://, rediss://, memory://"


def open_session(session_id: str, url: str | None = None, *, ttl: float | None = None) -> Session:
    """The session ``session_id`` in the store ``url`` names.

    With no URL, the project database (:func:`ascent.storage.database_url`: a
    SQLite file under ``.ascent/`` unless ``ASCENT_DATABASE_URL`` says otherwise).
    ``ttl`` (seconds) expires the session that long after its last write;
    ``memory://`` sessions live only as long as the object and ignore it.
    """
    target = url or database_url()
    scheme = target.split("://", 1)[0].lower() if "://" in target else ""
    base = scheme.split("+", 1)[0]
    if base == "sqlite":
        return SQLiteSession(session_id, target, ttl=ttl)
    if base in _SQL_SCHEMES:
        return SQLAlchemySession(session_id, target, ttl=ttl)
    if base in ("redis", "rediss"):
        from .redis_session import RedisSession

        return RedisSession(session_id, target, ttl=ttl)
    if base == "memory":
        return InMemorySession(session_id)
    raise UserError(
        f"unknown session URL {display_url(target)!r}: supported schemes are {SUPPORTED_SCHEMES}"
    )


def __getattr__(name: str) -> Any:
    if name == "RedisSession":
        from .redis_session import RedisSession

        return RedisSession
    raise AttributeError(name)
