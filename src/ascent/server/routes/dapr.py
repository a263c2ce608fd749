"""The app side of Dapr pub/sub: the sidecar reads the subscriptions here and POSTs events.

Served when ``ASCENT_BROKER_URL=dapr://<pubsub-name>``. The sidecar calls these
routes itself, without the service's API keys: it proves who it is with the app
API token (``APP_API_TOKEN``, which Dapr sends as ``dapr-api-token``). With API
keys on, the routes refuse every call until that token is set, so turning keys
on cannot leave a side door open; with keys off, a token is checked if set.

Answers follow Dapr's contract: 200 with ``{"status": "SUCCESS" | "RETRY" |
"DROP"}`` for a delivered event (Dapr acknowledges, redelivers, or drops it).
"""

from __future__ import annotations

import hmac
import os

from fastapi import APIRouter, HTTPException, Request
from fastapi.responses import JSONResponse

from ...events.dapr import DAPR_ROUTE_PREFIX, DaprBroker

__all__ = ["APP_API_TOKEN_ENV", "dapr_router"]

APP_API_TOKEN_ENV = "APP_API_TOKEN"


def dapr_router(broker: DaprBroker, *, app_token: str | None = None) -> APIRouter:
    """Routes for ``broker``'s sidecar. ``app_token`` defaults to ``APP_API_TOKEN``."""
    token = app_token if app_token is not None else os.environ.get(APP_API_TOKEN_ENV) or None
    router = APIRouter(tags=["dapr"], include_in_schema=False)

    def check(request: Request) -> None:
        given = request.headers.get("dapr-api-token")
        if token is None:
            state = getattr(request.app.state, "ascent", None)
            if state is not None and state.config.api_keys:
                raise HTTPException(
                    401,
                    f"the Dapr routes need the app API token: set {APP_API_TOKEN_ENV} "
                    "for the service and its sidecar",
                )
            return
        if given is None or not hmac.compare_digest(given.encode(), token.encode()):
            raise HTTPException(401, "missing or wrong dapr-api-token")

    @router.get("/dapr/subscribe")
    async def subscribe(request: Request) -> JSONResponse:
        """The topics this service takes, in Dapr's programmatic subscription format."""
        check(request)
        return JSONResponse(broker.subscriptions())

    @router.post(DAPR_ROUTE_PREFIX + "{topic:path}")
    async def deliver(topic: str, request: Request) -> JSONResponse:
        """One event the sidecar delivers: the body goes to the topic's handlers as is."""
        check(request)
        status = await broker.deliver(topic, await request.body())
        return JSONResponse({"status": status})

    return router
