"""``GET /v1/usage``: the tokens and requests the caller's runs have used."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Query

from ...items import Usage
from .._errors import error_responses
from .._state import State, Tenant
from ..schemas import UsageReport

__all__ = ["router"]

router = APIRouter(tags=["usage"], responses=error_responses(401, 422))


@router.get("/v1/usage", response_model=UsageReport, summary="Sum the usage of runs")
async def usage(
    state: State,
    tenant: Tenant,
    since: Annotated[
        float | None,
        Query(
            ge=0,
            allow_inf_nan=False,
            description="Only runs created at or after this time (epoch seconds).",
        ),
    ] = None,
) -> UsageReport:
    """Requests and tokens of the caller's runs, in all, per agent and per model.

    The sum is made over the runs' stored usage, streamed from the database a
    batch at a time: its cost grows with the number of runs counted (narrow it
    with ``since``).
    """
    total, runs = await state.engine.usage(tenant=tenant, since=since)
    return UsageReport(
        total=Usage.model_validate(total.model_dump(include=set(Usage.model_fields))),
        by_agent=total.by_agent,
        by_model=total.by_model,
        runs=runs,
        since=since,
    )
