"""Blocking database code run on the event loop's own thread, its I/O awaited.

A served run's writes are a few small statements. Sent from a worker thread,
each write costs a thread hand-off both ways, and the worker competes with the
event loop for the interpreter's lock: under load the loop's callbacks waited
for the workers, and every await of every run got slower (bench/README.md).
On PostgreSQL with psycopg, :meth:`LoopEngine.call` runs the same synchronous
code in a greenlet on the loop (SQLAlchemy's own asyncio bridge,
``greenlet_spawn``), over a pool of psycopg's async connections made for that
loop: no thread, and the loop serves other runs while a statement is out.
"""

from __future__ import annotations

import asyncio
import threading
import weakref
from collections.abc import Callable
from contextvars import ContextVar
from typing import TYPE_CHECKING, Any, TypeVar

if TYPE_CHECKING:
    from sqlalchemy.engine import Engine
    from sqlalchemy.ext.asyncio import AsyncEngine

__all__ = ["LoopEngine"]

T = TypeVar("T")

# The LoopEngine whose call is running in this context (inside its greenlet).
_inside: ContextVar[LoopEngine | None] = ContextVar("ascent_loop_engine", default=None)
_shared: weakref.WeakKeyDictionary[Engine, LoopEngine] = weakref.WeakKeyDictionary()
_lock = threading.Lock()


class LoopEngine:
    """An engine's blocking code, run without a worker thread where the driver allows.

    :meth:`call` runs ``func`` in a greenlet on the running loop when the engine is
    PostgreSQL on psycopg; code inside it takes its engine from :meth:`current`,
    which is then an engine over psycopg's async connections of this loop (its
    statements, types and errors are the same). Elsewhere (SQLite, another driver,
    a loop other than the first one used) ``func`` runs in a worker thread, as
    ``asyncio.to_thread`` would run it. :meth:`aclose` closes the loop's pool.

    :meth:`of` gives the one shared by every store on an engine (one pool per loop).
    """

    def __init__(self, engine: Engine, *, pool_size: int = 10) -> None:
        self._engine = weakref.ref(engine)  # the shared one must not keep its engine alive
        self.pool_size = pool_size
        self._loop: asyncio.AbstractEventLoop | None = None
        self._async: AsyncEngine | None = None

    @property
    def engine(self) -> Engine:
        """The blocking engine (the one given)."""
        engine = self._engine()
        if engine is None:
            raise RuntimeError("the engine of this LoopEngine was garbage-collected")
        return engine

    @classmethod
    def of(cls, engine: Engine) -> LoopEngine:
        """The LoopEngine of ``engine``, shared by all its users, made on first use."""
        with _lock:
            found = _shared.get(engine)
            if found is None:
                found = _shared[engine] = cls(engine)
            return found

    def current(self) -> Engine:
        """The engine to use here: the loop's inside :meth:`call`, else the blocking one."""
        if self._async is not None and _inside.get() is self:
            return self._async.sync_engine
        return self.engine

    async def call(self, func: Callable[..., T], /, *args: Any, **kwargs: Any) -> T:
        """``func(*args, **kwargs)``, its database I/O awaited on this loop (see above)."""
        if not self._on(asyncio.get_running_loop()):
            return await asyncio.to_thread(func, *args, **kwargs)
        from sqlalchemy.util import greenlet_spawn

        # Shielded: a cancelled caller does not cut a transaction between two of its
        # statements (the greenlet would get the cancellation at its next await);
        # like a worker thread's, the call runs to its end and the caller is cancelled.
        result: T = await asyncio.shield(greenlet_spawn(self._run, func, args, kwargs))
        return result

    def _run(self, func: Callable[..., T], args: tuple[Any, ...], kwargs: dict[str, Any]) -> T:
        token = _inside.set(self)
        try:
            return func(*args, **kwargs)
        finally:
            _inside.reset(token)

    def _on(self, loop: asyncio.AbstractEventLoop) -> bool:
        if self._loop is not None and self._loop is not loop and self._loop.is_closed():
            # its loop ended without aclose(): its connections went with it; this loop's now
            self._async = self._loop = None
        if self._async is None:
            if self.engine.dialect.driver != "psycopg":
                return False
            from sqlalchemy.ext.asyncio import create_async_engine

            from . import ping_when_idle

            self._async = create_async_engine(
                self.engine.url, pool_size=self.pool_size, max_overflow=0
            )
            ping_when_idle(self._async.sync_engine)
            self._loop = loop
        return self._loop is loop

    async def aclose(self) -> None:
        """Close the loop's connections (from that loop); the next call makes new ones."""
        engine, loop = self._async, self._loop
        self._async = self._loop = None
        if engine is not None and loop is asyncio.get_running_loop():
            await engine.dispose()
