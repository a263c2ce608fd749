"""The request body limit, answered in the service's error shape.

Starlette's body-limit middleware answers 413 in plain text, from outside the
app's exception handlers; clients of this API parse one JSON error shape, so
the limit is enforced here: a declared ``Content-Length`` over the limit is
refused before anything is read, and a body that grows past it while being
read (chunked uploads) stops being read at the limit, with an HTTP error the
app's handlers answer.
"""

from __future__ import annotations

from starlette.datastructures import Headers
from starlette.exceptions import HTTPException
from starlette.responses import JSONResponse
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from ._errors import error_body

__all__ = ["BodyLimit"]


class _TooLarge(HTTPException):
    """Raised while the body is read: an HTTP error, so the app's handlers answer it."""

    def __init__(self, limit: int) -> None:
        super().__init__(413, f"request body too large: the limit is {limit} bytes")


class BodyLimit:
    """ASGI middleware: request bodies over ``max_bytes`` get a 413 error."""

    def __init__(self, app: ASGIApp, *, max_bytes: int) -> None:
        self.app = app
        self.max_bytes = max_bytes

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        declared = Headers(scope=scope).get("content-length", "")
        if declared.isdigit() and int(declared) > self.max_bytes:
            await self._refuse(scope, receive, send)
            return
        seen = 0
        started = False

        async def limited_receive() -> Message:
            nonlocal seen
            message = await receive()
            if message["type"] == "http.request":
                seen += len(message.get("body", b""))
                if seen > self.max_bytes:
                    raise _TooLarge(self.max_bytes)
            return message

        async def tracking_send(message: Message) -> None:
            nonlocal started
            if message["type"] == "http.response.start":
                started = True
            await send(message)

        try:
            await self.app(scope, limited_receive, tracking_send)
        except _TooLarge:
            if started:
                raise
            await self._refuse(scope, receive, send)

    async def _refuse(self, scope: Scope, receive: Receive, send: Send) -> None:
        response = JSONResponse(
            error_body(
                "input_too_large", f"request body too large: the limit is {self.max_bytes} bytes"
            ),
            status_code=413,
        )
        await response(scope, receive, send)
