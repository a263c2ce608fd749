"""``Runner``: run an agent in this process, plainly, synchronously or streamed."""

from __future__ import annotations

import asyncio
import concurrent.futures
from typing import Any

from ..agent import Agent
from ..errors import UserError
from ..lifecycle import RunHooks
from ..memory.session import Session
from .config import DEFAULT_MAX_TURNS, RunConfig
from .result import RunResult, RunResultStreaming
from .start import RunInput, run_agent
from .state import RunState

__all__ = ["Runner"]


class Runner:
    """Runs agents. ``run`` is the async form; ``run_sync`` and ``run_streamed`` wrap it."""

    @classmethod
    async def run(
        cls,
        starting_agent: Agent[Any],
        input: RunInput | RunState,
        *,
        context: Any = None,
        max_turns: int = DEFAULT_MAX_TURNS,
        session: Session | None = None,
        hooks: RunHooks[Any] | None = None,
        run_config: RunConfig | None = None,
        previous_response_id: str | None = None,
        conversation_id: str | None = None,
    ) -> RunResult:
        """Run ``starting_agent`` on ``input`` until it produces a final output.

        ``input`` is a string, a list of items (dicts or item objects), or a
        :class:`RunState` from a paused run to resume. With a ``session``, its
        history comes before the input and the run's items are added to it after
        every turn. ``previous_response_id`` (e.g. an earlier result's
        ``last_response_id``) or ``conversation_id`` keep the conversation on the
        OpenAI Responses API's side: only new items are sent on each call.
        """
        return await run_agent(
            starting_agent,
            input,
            config=run_config or _DEFAULT_CONFIG,
            context=context,
            max_turns=max_turns,
            session=session,
            hooks=hooks,
            previous_response_id=previous_response_id,
            conversation_id=conversation_id,
        )

    @classmethod
    def run_sync(
        cls,
        starting_agent: Agent[Any],
        input: RunInput | RunState,
        *,
        context: Any = None,
        max_turns: int = DEFAULT_MAX_TURNS,
        session: Session | None = None,
        hooks: RunHooks[Any] | None = None,
        run_config: RunConfig | None = None,
        previous_response_id: str | None = None,
        conversation_id: str | None = None,
    ) -> RunResult:
        """Run and wait. Works with or without an event loop already running in
        this thread (Jupyter, a FastAPI handler): there, the run gets a worker
        thread and an event loop of its own."""
        coroutine = cls.run(
            starting_agent,
            input,
            context=context,
            max_turns=max_turns,
            session=session,
            hooks=hooks,
            run_config=run_config,
            previous_response_id=previous_response_id,
            conversation_id=conversation_id,
        )
        try:
            asyncio.get_running_loop()
        except RuntimeError:
            return asyncio.run(coroutine)
        with concurrent.futures.ThreadPoolExecutor(max_workers=1) as pool:
            return pool.submit(asyncio.run, coroutine).result()

    @classmethod
    def run_streamed(
        cls,
        starting_agent: Agent[Any],
        input: RunInput | RunState,
        *,
        context: Any = None,
        max_turns: int = DEFAULT_MAX_TURNS,
        session: Session | None = None,
        hooks: RunHooks[Any] | None = None,
        run_config: RunConfig | None = None,
        previous_response_id: str | None = None,
        conversation_id: str | None = None,
    ) -> RunResultStreaming:
        """Start a run and return at once; iterate ``stream_events()`` for its events.

        Must be called with an event loop running (from async code).
        """
        try:
            loop = asyncio.get_running_loop()
        except RuntimeError:
            raise UserError(
                "run_streamed needs a running event loop: call it from async code "
                "(or use run_sync for a blocking run)"
            ) from None
        streaming = RunResultStreaming()
        task = loop.create_task(
            run_agent(
                starting_agent,
                input,
                config=run_config or _DEFAULT_CONFIG,
                context=context,
                max_turns=max_turns,
                session=session,
                hooks=hooks,
                emit=streaming._emit,
                previous_response_id=previous_response_id,
                conversation_id=conversation_id,
            )
        )
        streaming._start(task)
        return streaming


_DEFAULT_CONFIG = RunConfig()
