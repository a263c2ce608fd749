"""The LiteLLM provider (``litellm:<provider>/<model>``): a hundred providers in one.

Requests and responses go through the Chat Completions conversion of
:mod:`ascent.models.openai_chat`, since that is the format LiteLLM speaks.
LiteLLM's exceptions subclass the ``openai`` ones, so they map (and retry) like
the OpenAI providers' errors. Install with ``pip install 'ascent-agents[litellm]'``.
"""

from __future__ import annotations

import os
from collections.abc import AsyncGenerator, AsyncIterator
from typing import Any

# Use the cost map bundled with LiteLLM instead of fetching it at import time.
os.environ.setdefault("LITELLM_LOCAL_MODEL_COST_MAP", "True")

import litellm as _litellm

from ..errors import ModelAPIError
from ._openai_common import classify_openai_error
from ._retry import RetryPolicy, call_with_retries, parse_retry_after, stream_with_retries
from .base import Model, ModelRequest, ModelResponse, ModelStreamEvent, ResponseCompleted
from .openai_chat import (
    ChatStreamAssembler,
    build_chat_params,
    parse_chat_completion,
    stream_options,
)

__all__ = ["LiteLLMModel", "create"]

# LiteLLM prints help banners to stdout on every error; errors reach callers anyway.
_litellm.suppress_debug_info = True


# Settings LiteLLM would take differently from the provider's field, or not at all.
_UNSUPPORTED = {
    "metadata": "LiteLLM keeps metadata= for its own callbacks and does not send it; "
    "pass extra_body={'metadata': {...}} to reach the provider",
    "extra_query": "LiteLLM takes no query parameters; use extra_body or extra_args",
}


def create(name: str) -> Model:
    """The registry's factory for ``litellm:<provider>/<model>``."""
    return LiteLLMModel(model=name)


def _as_dict(value: Any) -> dict[str, Any]:
    if isinstance(value, dict):
        return value
    dumped = value.model_dump()
    return dumped if isinstance(dumped, dict) else {}


class LiteLLMModel:
    """A model reached through ``litellm.acompletion``.

    ``api_base`` and ``api_key`` override what LiteLLM would read from the
    environment; ``options`` are passed to every ``acompletion`` call as they are,
    and so are ``ModelSettings.extra_args``, per call.
    LiteLLM's own retries stay off: ``retry`` governs them.
    """

    supports_hosted_tools: bool = False

    def __init__(
        self,
        *,
        model: str,
        api_base: str | None = None,
        api_key: str | None = None,
        timeout: float | None = None,
        retry: RetryPolicy | None = None,
        options: dict[str, Any] | None = None,
    ) -> None:
        self.model = model
        self.name = f"litellm:{model}"
        self.retry = retry or RetryPolicy()
        self._fixed: dict[str, Any] = {"max_retries": 0, "num_retries": 0, **(options or {})}
        if api_base is not None:
            self._fixed["api_base"] = api_base
        if api_key is not None:
            self._fixed["api_key"] = api_key
        if timeout is not None:
            self._fixed["timeout"] = timeout

    def _classify(self, exc: BaseException) -> ModelAPIError | None:
        error = classify_openai_error(exc, provider=self.name)
        if error is not None and error.retry_after is None:
            # LiteLLM rebuilds the HTTP response of its errors without the headers.
            error.retry_after = parse_retry_after(getattr(exc, "litellm_response_headers", None))
        return error

    def _params(self, request: ModelRequest) -> dict[str, Any]:
        request.settings.refuse(self.name, _UNSUPPORTED)
        params = build_chat_params(self.model, request, provider=self.name)
        params.update(self._fixed)
        settings = request.settings
        if settings.extra_headers:
            params["extra_headers"] = dict(settings.extra_headers)
        if settings.extra_body:
            params["extra_body"] = dict(settings.extra_body)
        if settings.timeout is not None:
            params["timeout"] = settings.timeout
        return params

    async def respond(self, request: ModelRequest) -> ModelResponse:
        params = self._params(request)

        async def call() -> ModelResponse:
            response = await _litellm.acompletion(**params)
            return parse_chat_completion(_as_dict(response), provider=self.name)

        return await call_with_retries(
            call, policy=self.retry, classify=self._classify, provider=self.name
        )

    def stream(self, request: ModelRequest) -> AsyncIterator[ModelStreamEvent]:
        params = self._params(request)
        params.update(stream=True, stream_options=stream_options(request.settings))
        return stream_with_retries(
            lambda: self._stream_once(params),
            policy=self.retry,
            classify=self._classify,
            provider=self.name,
        )

    async def _stream_once(self, params: dict[str, Any]) -> AsyncGenerator[ModelStreamEvent, None]:
        chunks = await _litellm.acompletion(**params)
        assembler = ChatStreamAssembler(provider=self.name)
        try:
            async for chunk in chunks:
                for event in assembler.feed(_as_dict(chunk)):
                    yield event
        finally:
            close = getattr(chunks, "aclose", None)
            if close is not None:
                await close()
        if not assembler.chunks:
            raise ModelAPIError("the stream ended empty", provider=self.name, retryable=True)
        yield ResponseCompleted(assembler.response())
