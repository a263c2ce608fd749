"""Liveness, readiness and metrics: what an orchestrator and Prometheus poll."""

from __future__ import annotations

import asyncio

from fastapi import APIRouter, Response
from fastapi.responses import JSONResponse
from prometheus_client import CONTENT_TYPE_LATEST, generate_latest

from ...storage import get_engine
from .._state import State
from ..schemas import Health

__all__ = ["router"]

router = APIRouter(tags=["operations"])


@router.get("/healthz", response_model=Health, summary="Liveness")
async def healthz() -> Health:
    """The process answers: nothing else is checked."""
    return Health(status="ok")


@router.get(
    "/readyz",
    response_model=Health,
    summary="Readiness",
    responses={503: {"model": Health, "description": "The database is not reachable"}},
)
async def readyz(state: State) -> Response | Health:
    """Ready when the database that holds runs, sessions and traces answers."""
    try:
        await asyncio.wait_for(asyncio.to_thread(_ping, state.config.database_url), timeout=5.0)
    except Exception as exc:
        body = Health(status="unavailable", detail=f"database: {type(exc).__name__}")
        return JSONResponse(body.model_dump(), status_code=503)
    return Health(status="ok")


def _ping(url: str | None) -> None:
    from sqlalchemy import text

    with get_engine(url).connect() as connection:
        connection.execute(text("SELECT 1"))


@router.get(
    "/metrics",
    summary="Prometheus metrics",
    response_class=Response,
    responses={200: {"content": {CONTENT_TYPE_LATEST: {"schema": {"type": "string"}}}}},
)
async def metrics(state: State) -> Response:
    """Runs started, completed and failed, latencies, tokens and active runs (text format)."""
    return Response(generate_latest(state.metrics.registry), media_type=CONTENT_TYPE_LATEST)
