"""Connections to MCP servers whose tools an agent uses.

One :class:`MCPServer` object is one connection, shared by every run that uses
it. Its lifecycle is either yours (``async with server:`` or ``connect()`` /
``close()``: it stays connected across runs) or the runs' (a server that is not
connected when a run needs it is connected by that run and closed when the last
run using it ends). A stdio server is started once per connection, never per
turn.

The connection lives in a task of its own, so it can be opened by one run and
closed by another (the SDK's transports must be closed by the task that opened
them).
"""

from __future__ import annotations

import asyncio
import contextlib
import inspect
import logging
import os
import sys
from collections.abc import Awaitable, Callable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any, TextIO

from ..errors import MCPError, ToolTimeoutError, UserError
from ..tools import FunctionTool, RemoteToolSpec
from ._tools import function_tool_of, spec_of

if TYPE_CHECKING:
    from mcp import Client
    from mcp.types import CallToolResult, Tool

__all__ = ["MCPServer", "MCPServerHTTP", "MCPServerStdio", "ToolFilter"]

logger = logging.getLogger("ascent")

ToolFilter = Callable[["Tool"], bool | Awaitable[bool]]
"""Decides from the server's tool description whether the agent sees a tool."""


def require_mcp() -> None:
    """Fail clearly when the ``mcp`` extra is missing."""
    try:
        import mcp  # noqa: F401
    except ImportError:
        raise UserError("MCP needs the 'mcp' extra: pip install 'ascent-agents[mcp]'") from None


@dataclass(kw_only=True, eq=False)
class MCPServer:
    """An MCP server whose tools an agent uses (base of the stdio and HTTP kinds).

    ``allowed_tools`` / ``blocked_tools`` (names) and ``tool_filter`` (a
    callable of the SDK's ``Tool``, sync or async) choose the tools the agent
    sees. The tool list is cached after the first listing when
    ``cache_tools_list`` is true; :meth:`invalidate_tools_cache` forgets it.
    ``tool_prefix`` is put before every tool name (two servers with the same
    tools). ``timeout`` bounds one tool call, ``connect_timeout`` the start.
    With ``use_structured_content``, a result's structured content (JSON) is
    what the model reads; otherwise its text.
    """

    name: str = ""
    allowed_tools: Sequence[str] | None = None
    blocked_tools: Sequence[str] = ()
    tool_filter: ToolFilter | None = None
    cache_tools_list: bool = True
    tool_prefix: str = ""
    timeout: float | None = 60.0
    connect_timeout: float = 30.0
    use_structured_content: bool = True

    _client: Client | None = field(default=None, init=False, repr=False)
    _task: asyncio.Task[None] | None = field(default=None, init=False, repr=False)
    _stop: asyncio.Event | None = field(default=None, init=False, repr=False)
    _lock: asyncio.Lock | None = field(default=None, init=False, repr=False)
    _lock_loop: asyncio.AbstractEventLoop | None = field(default=None, init=False, repr=False)
    _tools: list[Tool] | None = field(default=None, init=False, repr=False)
    _users: int = field(default=0, init=False, repr=False)
    _owned_by_runs: bool = field(default=False, init=False, repr=False)
    _broken: str | None = field(default=None, init=False, repr=False)

    def __post_init__(self) -> None:
        if not self.name:
            self.name = self._default_name()

    # ------------------------------------------------------------ connection

    @property
    def is_connected(self) -> bool:
        return self._client is not None and self._broken is None

    async def connect(self) -> None:
        """Start (stdio) or reach (HTTP) the server; it stays connected until :meth:`close`.

        Raises :class:`~ascent.errors.MCPError` when the server does not start
        or does not answer the handshake within ``connect_timeout``.
        """
        async with self._guard():
            self._owned_by_runs = False
            await self._open()

    async def close(self) -> None:
        """Close the connection (and stop a stdio server's process)."""
        async with self._guard():
            await self._shut()

    async def __aenter__(self) -> MCPServer:
        await self.connect()
        return self

    async def __aexit__(self, *exc_info: object) -> None:
        await self.close()

    async def acquire(self) -> None:
        """A run starts using the server: connect it unless it is connected."""
        async with self._guard():
            if self._client is not None and self._broken is not None and self._users == 0:
                await self._shut()  # it died since the last run: start afresh
            if self._client is None:
                self._owned_by_runs = True
                await self._open()
            self._users += 1

    async def release(self) -> None:
        """A run stops using the server: close it if runs opened it and none is left."""
        async with self._guard():
            self._users = max(0, self._users - 1)
            if self._users == 0 and self._owned_by_runs:
                await self._shut()

    # ------------------------------------------------------------------ tools

    async def list_tools(self) -> list[Tool]:
        """The server's tools after filtering (the SDK's ``Tool`` objects)."""
        tools = self._tools if self.cache_tools_list else None
        if tools is None:
            client = self._connected()
            tools = []
            cursor: str | None = None
            try:
                while True:
                    # our cache decides; the SDK's own one would hide an invalidation
                    page = await client.list_tools(cursor=cursor, cache_mode="refresh")
                    tools.extend(page.tools)
                    cursor = page.next_cursor
                    if not cursor:
                        break
            except Exception as exc:
                raise MCPError(
                    f"MCP server {self.name!r}: listing tools failed: {_describe(exc)}"
                ) from exc
            if self.cache_tools_list:
                self._tools = tools
        return [tool for tool in tools if await self._allowed(tool)]

    def invalidate_tools_cache(self) -> None:
        """Forget the cached tool list; the next run lists the tools again."""
        self._tools = None

    async def list_tool_specs(self) -> list[RemoteToolSpec]:
        """The tools as a run records them: names (with the prefix), descriptions, schemas."""
        return [spec_of(self, tool) for tool in await self.list_tools()]

    def bind(self, spec: RemoteToolSpec) -> FunctionTool:
        """A listed tool as a function tool whose calls go to this server."""
        return function_tool_of(self, spec)

    async def list_function_tools(self) -> list[FunctionTool]:
        """The tools as Ascent function tools whose calls go to this server."""
        return [self.bind(spec) for spec in await self.list_tool_specs()]

    async def call_tool(self, name: str, arguments: dict[str, Any] | None = None) -> CallToolResult:
        """Call a tool by its name on the server; the SDK's result, errors included.

        Raises :class:`~ascent.errors.MCPError` when the server is unreachable
        and :class:`~ascent.errors.ToolTimeoutError` after ``timeout``.
        """
        client = self._connected()
        try:
            async with asyncio.timeout(self.timeout):
                return await client.call_tool(name, arguments or {})
        except TimeoutError:
            raise ToolTimeoutError(
                f"MCP tool {name!r} of server {self.name!r} timed out after {self.timeout:g}s"
            ) from None
        except Exception as exc:
            from mcp import MCPError as SDKError
            from mcp.types import CONNECTION_CLOSED

            if isinstance(exc, SDKError) and exc.code == CONNECTION_CLOSED:
                self._broken = "its connection closed"
                self._connected()  # raises the error every later call gets too
            if isinstance(exc, SDKError):
                raise MCPError(f"MCP server {self.name!r}: {_describe(exc)}") from exc
            raise

    # -------------------------------------------------------------- internals

    def _default_name(self) -> str:
        return type(self).__name__

    def _client_context(self, stack: contextlib.AsyncExitStack) -> Client:
        raise NotImplementedError  # abstract

    def _connected(self) -> Client:
        if self._broken is not None:
            raise MCPError(
                f"MCP server {self.name!r} is gone ({self._broken}); "
                "its tools cannot be used until it is connected again"
            )
        if self._client is None:
            raise MCPError(
                f"MCP server {self.name!r} is not connected: use 'async with server:' "
                "or give it to an agent, whose runs connect it"
            )
        return self._client

    async def _allowed(self, tool: Tool) -> bool:
        if self.allowed_tools is not None and tool.name not in self.allowed_tools:
            return False
        if tool.name in self.blocked_tools:
            return False
        if self.tool_filter is not None:
            decision = self.tool_filter(tool)
            if inspect.isawaitable(decision):
                decision = await decision
            return bool(decision)
        return True

    @contextlib.asynccontextmanager
    async def _guard(self) -> Any:
        # One lock per event loop: a server may serve several asyncio.run calls in turn.
        loop = asyncio.get_running_loop()
        if self._lock is None or self._lock_loop is not loop:
            self._lock, self._lock_loop = asyncio.Lock(), loop
        async with self._lock:
            yield

    async def _open(self) -> None:
        if self._client is not None:
            return
        require_mcp()
        self._broken = None
        loop = asyncio.get_running_loop()
        ready: asyncio.Future[None] = loop.create_future()
        self._stop = asyncio.Event()
        task = loop.create_task(self._hold(ready, self._stop), name=f"mcp server {self.name}")
        self._task = task
        try:
            async with asyncio.timeout(self.connect_timeout):
                await asyncio.shield(ready)
        except TimeoutError:
            await _cancel(task)
            self._task = None
            raise MCPError(
                f"MCP server {self.name!r} did not start within {self.connect_timeout:g}s"
            ) from None
        except asyncio.CancelledError:
            await _cancel(task)
            self._task = None
            raise
        except Exception as exc:
            await _cancel(task)
            self._task = None
            raise MCPError(f"MCP server {self.name!r} failed to start: {_describe(exc)}") from exc

    async def _hold(self, ready: asyncio.Future[None], stop: asyncio.Event) -> None:
        """The connection's own task: open, wait to be told to stop, close."""
        try:
            async with contextlib.AsyncExitStack() as stack:
                client = await stack.enter_async_context(self._client_context(stack))
                self._client = client
                ready.set_result(None)
                await stop.wait()
        except BaseException as exc:
            if not ready.done():
                if isinstance(exc, asyncio.CancelledError):
                    ready.cancel()
                else:
                    ready.set_exception(exc)
            elif not isinstance(exc, asyncio.CancelledError):
                self._broken = f"the connection failed: {_describe(exc)}"
                logger.warning("MCP server %r: the connection failed: %s", self.name, exc)
            if isinstance(exc, asyncio.CancelledError):
                raise
        finally:
            self._client = None

    async def _shut(self) -> None:
        task, stop = self._task, self._stop
        self._task = self._stop = None
        self._owned_by_runs = False
        self._users = 0
        if task is None or stop is None:
            return
        stop.set()
        try:
            async with asyncio.timeout(10):
                await asyncio.shield(task)
        except TimeoutError:
            await _cancel(task)
        except Exception as exc:  # the connection had already failed
            logger.debug("MCP server %r closed with %s", self.name, exc)
        self._broken = None


@dataclass(kw_only=True, eq=False)
class MCPServerStdio(MCPServer):
    """An MCP server run as a subprocess, spoken to over its stdin and stdout.

    ``env`` is added to a small safe subset of this process's environment (the
    SDK's default); ``cwd`` is the process's working directory. The server's
    stderr goes to ``errlog`` (a file with a descriptor), by default this
    process's stderr.
    """

    command: str
    args: Sequence[str] = ()
    env: Mapping[str, str] | None = None
    cwd: str | os.PathLike[str] | None = None
    errlog: TextIO | None = None

    def _default_name(self) -> str:
        parts = [Path(self.command).name, *(Path(a).name for a in self.args[:1])]
        return " ".join(parts)

    def _client_context(self, stack: contextlib.AsyncExitStack) -> Client:
        from mcp import Client, StdioServerParameters, stdio_client

        params = StdioServerParameters(
            command=self.command,
            args=list(self.args),
            env=dict(self.env) if self.env is not None else None,
            cwd=os.fspath(self.cwd) if self.cwd is not None else None,
        )
        return Client(stdio_client(params, errlog=self.errlog or _stderr()))


@dataclass(kw_only=True, eq=False)
class MCPServerHTTP(MCPServer):
    """An MCP server reached over streamable HTTP at ``url``.

    ``headers`` go with every request (``{"Authorization": "Bearer ..."}``);
    ``http_timeout`` bounds connecting and each HTTP read.
    """

    url: str
    headers: Mapping[str, str] | None = None
    http_timeout: float = 30.0

    def _default_name(self) -> str:
        return self.url

    def _client_context(self, stack: contextlib.AsyncExitStack) -> Client:
        import httpx2
        from mcp import Client
        from mcp.client.streamable_http import streamable_http_client

        http = httpx2.AsyncClient(
            headers=dict(self.headers or {}),
            timeout=httpx2.Timeout(self.http_timeout, read=max(self.http_timeout, 300.0)),
        )
        stack.push_async_callback(http.aclose)
        return Client(streamable_http_client(self.url, http_client=http))


def _stderr() -> TextIO:
    """This process's stderr, or the real one when it was replaced by an object
    without a file descriptor (a notebook's, a test runner's capture)."""
    try:
        sys.stderr.fileno()
        return sys.stderr
    except (AttributeError, OSError, ValueError):
        return sys.__stderr__ or sys.stderr


async def _cancel(task: asyncio.Task[None]) -> None:
    task.cancel()
    with contextlib.suppress(BaseException):
        await task


def _describe(exc: BaseException) -> str:
    """The innermost useful message (anyio wraps failures in exception groups)."""
    while isinstance(exc, BaseExceptionGroup) and len(exc.exceptions) == 1:
        exc = exc.exceptions[0]
    text = str(exc) or type(exc).__name__
    return text if isinstance(exc, MCPError) else f"{type(exc).__name__}: {text}"
