"""What the console's browser tests serve: the demo team, streaming at a human pace.

``ascent serve tests/console/served_console.py:create_app`` in a child process
(DBOS allows one engine per process, and the server tests own this one's).
The offline model is deterministic; :class:`PacedModel` only waits a little
between its deltas so that a test can act while an answer streams. The memory
page's note is written before the service starts, in tenant acme's scope.
"""

from __future__ import annotations

import asyncio
import os
from collections.abc import AsyncIterator
from typing import Any

from ascent.demo import create_team
from ascent.memory import MemoryStore
from ascent.models.base import ModelRequest, ModelResponse, ModelStreamEvent, TextDelta
from ascent.models.offline import OfflineModel

PACE = float(os.environ.get("CONSOLE_PACE", "0.04"))  # seconds between text deltas


class PacedModel:
    """The offline model, its text streamed with a pause between pieces."""

    name = "offline"
    supports_hosted_tools = False

    def __init__(self) -> None:
        self._model = OfflineModel()

    async def respond(self, request: ModelRequest) -> ModelResponse:
        return await self._model.respond(request)

    async def stream(self, request: ModelRequest) -> AsyncIterator[ModelStreamEvent]:
        async for event in self._model.stream(request):
            if isinstance(event, TextDelta):
                await asyncio.sleep(PACE)
            yield event


SEEDED_NOTE = "Ana prefers answers by email; her shoe size is 39."
SEEDED_SCOPE = "t/acme/customer-ana"  # tenant acme's scope "customer-ana", as the API stores it


def create_app() -> Any:
    from ascent.server import create_app as make

    memory = MemoryStore()  # the project database (ASCENT_DATABASE_URL)
    if not asyncio.run(memory.list(SEEDED_SCOPE)):
        asyncio.run(memory.add(SEEDED_NOTE, scope=SEEDED_SCOPE, tags=["preference"]))
    return make(create_team(model=PacedModel(), memory=memory), wait_timeout=10)
