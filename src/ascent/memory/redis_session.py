"""Sessions in Redis: one list per session, for fast shared history across replicas.

Each session is a Redis list of item JSON strings under ``ascent:session:<id>``.
``add_items`` pushes its items with one ``RPUSH`` inside ``MULTI``/``EXEC``, so a
call's items are contiguous however many writers there are; ``LRANGE -N -1`` reads
the last N; ``ttl`` is Redis's own ``EXPIRE``, refreshed on every write, so expired
sessions disappear without any pruning.

Needs the ``redis`` package (``pip install 'ascent-agents[redis]'``), imported here
only, so the rest of Ascent never depends on it.
"""

from __future__ import annotations

import json
from typing import TYPE_CHECKING, Any

from ..errors import UserError
from ..items import Item, input_to_items
from .sql_session import DEFAULT_MAX_ITEM_BYTES, encode_items

if TYPE_CHECKING:
    from redis.asyncio import Redis

__all__ = ["DEFAULT_REDIS_URL", "RedisSession"]

DEFAULT_REDIS_URL = "redis://127.0.0.1:6379/0"
KEY_PREFIX = "ascent:session:"


def _redis_module() -> Any:
    try:
        import redis.asyncio
    except ModuleNotFoundError as exc:
        raise UserError(
            "RedisSession needs the redis package: pip install 'ascent-agents[redis]'"
        ) from exc
    return redis.asyncio


class RedisSession:
    """A session stored as a Redis list.

    The client is made on first use, in the running event loop (redis' asyncio
    connections belong to one loop); :meth:`aclose` releases it.
    """

    def __init__(
        self,
        session_id: str,
        url: str = DEFAULT_REDIS_URL,
        *,
        ttl: float | None = None,
        max_item_bytes: int = DEFAULT_MAX_ITEM_BYTES,
        key_prefix: str = KEY_PREFIX,
    ) -> None:
        if not session_id:
            raise UserError("a session needs a non-empty session_id")
        if ttl is not None and ttl <= 0:
            raise UserError(f"ttl must be a positive number of seconds, not {ttl!r}")
        _redis_module()  # fail at construction, not at the first turn
        self.session_id = session_id
        self.url = url
        self.ttl = ttl
        self.max_item_bytes = max_item_bytes
        self.key = f"{key_prefix}{session_id}"
        self._client: Redis | None = None

    def __repr__(self) -> str:
        return f"RedisSession({self.session_id!r})"

    def _redis(self) -> Redis:
        if self._client is None:
            self._client = _redis_module().Redis.from_url(self.url, decode_responses=True)
        return self._client

    async def aclose(self) -> None:
        """Close this session's connections (a new call opens them again)."""
        if self._client is not None:
            client, self._client = self._client, None
            await client.aclose()

    # ------------------------------------------------------------ protocol

    async def get_items(self, limit: int | None = None) -> list[Item]:
        if limit is not None and limit <= 0:
            return []
        start = 0 if limit is None else -limit
        rows = await self._redis().lrange(self.key, start, -1)
        return input_to_items([json.loads(row) for row in rows])

    async def add_items(self, items: list[Item]) -> None:
        if not items:
            return
        payloads = encode_items(self.session_id, items, self.max_item_bytes)
        async with self._redis().pipeline(transaction=True) as pipe:
            pipe.rpush(self.key, *payloads)
            self._refresh_ttl(pipe)
            await pipe.execute()

    async def pop_item(self) -> Item | None:
        async with self._redis().pipeline(transaction=True) as pipe:
            pipe.rpop(self.key)
            self._refresh_ttl(pipe)
            row = (await pipe.execute())[0]
        if row is None:
            return None
        return input_to_items([json.loads(row)])[0]

    async def clear(self) -> None:
        await self._redis().delete(self.key)

    async def replace_items(self, items: list[Item]) -> None:
        """Swap the whole list for ``items`` in one MULTI/EXEC (for compaction)."""
        payloads = encode_items(self.session_id, items, self.max_item_bytes)
        async with self._redis().pipeline(transaction=True) as pipe:
            pipe.delete(self.key)
            if payloads:
                pipe.rpush(self.key, *payloads)
                self._refresh_ttl(pipe)
            await pipe.execute()

    async def delete(self) -> None:
        """The same as :meth:`clear`: a Redis session is nothing but its list."""
        await self._redis().delete(self.key)

    # ------------------------------------------------------------ internals

    def _refresh_ttl(self, pipe: Any) -> None:
        # PERSIST when there is no ttl, as the SQL sessions clear expires_at on write.
        if self.ttl is None:
            pipe.persist(self.key)
        else:
            pipe.pexpire(self.key, max(1, int(self.ttl * 1000)))
