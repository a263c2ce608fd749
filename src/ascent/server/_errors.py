"""One error shape for every failure: ``{"error": {"type": ..., "message": ...}}``.

Handlers turn FastAPI's validation errors, HTTP errors (404 for unknown paths,
413 from the body limit, 405) and Ascent's own errors into that shape, so a
client parses one thing whatever went wrong.
"""

from __future__ import annotations

import logging
from typing import Any

from fastapi import FastAPI, Request
from fastapi.encoders import jsonable_encoder
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from starlette.exceptions import HTTPException as StarletteHTTPException

from ..errors import AgentNotFound, RunConflict, RunNotFound, UserError
from .schemas import ErrorResponse

__all__ = ["ApiError", "error_responses", "install_error_handlers"]

logger = logging.getLogger("ascent.server")

_TYPES_BY_STATUS = {
    400: "invalid_request",
    401: "unauthorized",
    403: "forbidden",
    404: "not_found",
    405: "method_not_allowed",
    406: "not_acceptable",
    408: "request_timeout",
    409: "conflict",
    413: "input_too_large",
    415: "unsupported_media_type",
    422: "invalid_request",
    503: "unavailable",
}


class ApiError(Exception):
    """Raised by a route: becomes ``status`` with an error body."""

    def __init__(
        self,
        status: int,
        message: str,
        *,
        type: str | None = None,
        headers: dict[str, str] | None = None,
    ) -> None:
        super().__init__(message)
        self.status = status
        self.type = type or _TYPES_BY_STATUS.get(status, "error")
        self.message = message
        self.headers = headers


def error_body(type: str, message: str, details: list[dict[str, Any]] | None = None) -> Any:
    body = ErrorResponse.model_validate(
        {"error": {"type": type, "message": message, "details": details}}
    )
    return body.model_dump(exclude_none=True)


def _json(
    status: int,
    type: str,
    message: str,
    *,
    details: list[dict[str, Any]] | None = None,
    headers: dict[str, str] | None = None,
) -> JSONResponse:
    return JSONResponse(error_body(type, message, details), status_code=status, headers=headers)


def error_responses(*statuses: int) -> dict[int | str, dict[str, Any]]:
    """OpenAPI entries for these error statuses, all with the :class:`ErrorResponse` body."""
    described = {
        400: "Bad request",
        401: "Missing or invalid API key",
        404: "Not found (or owned by another tenant)",
        408: "The request body did not arrive in time",
        409: "The run is not in a state that allows this",
        413: "Request body too large",
        422: "Malformed request",
        503: "Not ready",
    }
    return {
        status: {"model": ErrorResponse, "description": described.get(status, "Error")}
        for status in statuses
    }


def install_error_handlers(app: FastAPI) -> None:
    """Every failure answers with :class:`ErrorResponse`."""

    @app.exception_handler(ApiError)
    async def _api_error(_request: Request, exc: ApiError) -> JSONResponse:
        return _json(exc.status, exc.type, exc.message, headers=exc.headers)

    @app.exception_handler(RunNotFound)
    async def _run_not_found(_request: Request, exc: RunNotFound) -> JSONResponse:
        return _json(404, "run_not_found", str(exc) or "no such run")

    @app.exception_handler(AgentNotFound)
    async def _agent_not_found(_request: Request, exc: AgentNotFound) -> JSONResponse:
        return _json(404, "agent_not_found", str(exc) or "no such agent")

    @app.exception_handler(RunConflict)
    async def _conflict(_request: Request, exc: RunConflict) -> JSONResponse:
        return _json(409, "conflict", str(exc) or "the run is not in a state that allows this")

    @app.exception_handler(UserError)
    async def _refused(_request: Request, exc: UserError) -> JSONResponse:
        # what the engine refuses of a request's data (input it cannot run)
        return _json(400, "invalid_request", str(exc) or "invalid request")

    @app.exception_handler(RequestValidationError)
    async def _invalid(_request: Request, exc: RequestValidationError) -> JSONResponse:
        details = [
            {key: value for key, value in error.items() if key in ("loc", "msg", "type")}
            for error in exc.errors()
        ]
        first = details[0] if details else {"msg": "invalid request"}
        where = ".".join(str(part) for part in first.get("loc", ()))
        message = f"{where}: {first['msg']}" if where else str(first["msg"])
        return _json(422, "invalid_request", message, details=jsonable_encoder(details))

    @app.exception_handler(StarletteHTTPException)
    async def _http(_request: Request, exc: StarletteHTTPException) -> JSONResponse:
        message = exc.detail if isinstance(exc.detail, str) else "request failed"
        return _json(
            exc.status_code,
            _TYPES_BY_STATUS.get(exc.status_code, "error"),
            message,
            headers=dict(exc.headers) if exc.headers else None,
        )

    @app.exception_handler(Exception)
    async def _internal(_request: Request, exc: Exception) -> JSONResponse:
        logger.exception("unhandled error", exc_info=exc)
        return _json(500, "internal", "internal server error")
