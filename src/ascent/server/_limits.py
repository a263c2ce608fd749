"""The request body's limits, answered in the service's error shape: its size and its time.

Starlette's body-limit middleware answers 413 in plain text, from outside the
app's exception handlers; clients of this API parse one JSON error shape, so
the limits are enforced here. A declared ``Content-Length`` over the size
limit is refused before anything is read, and a body that grows past it while
being read (chunked uploads) stops being read at the limit. A body must also
arrive in full within ``timeout`` seconds of the app starting to read it: a
client that declares a body and then sends it slowly, or not at all, would
otherwise hold the request (and a worker's memory) open for as long as it
likes. Both stop the read with an HTTP error the app's handlers answer (413,
408); the middleware answers it itself when the app let it through.
"""

from __future__ import annotations

import asyncio

from starlette.datastructures import Headers
from starlette.exceptions import HTTPException
from starlette.responses import JSONResponse
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from ._errors import error_body

__all__ = ["BodyLimit"]


class _BodyRefused(HTTPException):
    """Raised while the body is read: an HTTP error, so the app's handlers answer it."""

    def __init__(
        self, status: int, type: str, message: str, headers: dict[str, str] | None = None
    ) -> None:
        super().__init__(status, message, headers)
        self.type = type


def _too_large(limit: int) -> _BodyRefused:
    return _BodyRefused(
        413, "input_too_large", f"request body too large: the limit is {limit} bytes"
    )


def _too_slow(timeout: float) -> _BodyRefused:
    # The rest of the body may still be on its way: the connection cannot be reused.
    return _BodyRefused(
        408,
        "request_timeout",
        f"the request body did not arrive within {timeout:g} seconds",
        headers={"Connection": "close"},
    )


class BodyLimit:
    """ASGI middleware: 413 for a body over ``max_bytes``, 408 for one slower than ``timeout`` s."""

    def __init__(self, app: ASGIApp, *, max_bytes: int, timeout: float) -> None:
        self.app = app
        self.max_bytes = max_bytes
        self.timeout = timeout

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        declared = Headers(scope=scope).get("content-length", "")
        if declared.isdigit() and int(declared) > self.max_bytes:
            await self._refuse(_too_large(self.max_bytes), scope, receive, send)
            return
        seen = 0
        deadline: float | None = None
        read = False  # the whole body (or the client's disconnection) has been received
        started = False

        async def limited_receive() -> Message:
            nonlocal seen, deadline, read
            if read:  # what follows the body: a disconnection, whenever it comes
                return await receive()
            if deadline is None:
                deadline = asyncio.get_running_loop().time() + self.timeout
            try:
                async with asyncio.timeout_at(deadline):
                    message = await receive()
            except TimeoutError:
                raise _too_slow(self.timeout) from None
            if message["type"] != "http.request":
                read = True
                return message
            seen += len(message.get("body", b""))
            if seen > self.max_bytes:
                raise _too_large(self.max_bytes)
            read = not message.get("more_body", False)
            return message

        async def tracking_send(message: Message) -> None:
            nonlocal started
            if message["type"] == "http.response.start":
                started = True
            await send(message)

        try:
            await self.app(scope, limited_receive, tracking_send)
        except _BodyRefused as refused:
            if started:
                raise
            await self._refuse(refused, scope, receive, send)

    async def _refuse(
        self, refused: _BodyRefused, scope: Scope, receive: Receive, send: Send
    ) -> None:
        response = JSONResponse(
            error_body(refused.type, refused.detail),
            status_code=refused.status_code,
            headers=refused.headers,
        )
        await response(scope, receive, send)
