"""Model providers, named by strings such as ``openai:gpt-4.1`` or ``offline``.

Provider modules are imported when one of their models is first resolved, so
``import ascent`` never pays for the ``openai`` client.
"""

from __future__ import annotations

import importlib
import os
from collections.abc import Callable
from contextlib import AbstractAsyncContextManager
from typing import TYPE_CHECKING

from ..errors import UserError
from .base import (
    FunctionToolSpec,
    HostedToolSpec,
    Model,
    ModelRequest,
    ModelResponse,
    ModelSettings,
    ModelStreamEvent,
    OutputSpec,
    ReasoningDelta,
    ReasoningSettings,
    ResponseCompleted,
    StreamRestarted,
    TextDelta,
    ToolCallArgumentsDelta,
    ToolSpec,
)

if TYPE_CHECKING:
    import openai

__all__ = [
    "DEFAULT_OPENAI_MODEL",
    "FunctionToolSpec",
    "HostedToolSpec",
    "Model",
    "ModelRequest",
    "ModelResponse",
    "ModelSettings",
    "ModelStreamEvent",
    "OutputSpec",
    "ReasoningDelta",
    "ReasoningSettings",
    "ResponseCompleted",
    "StreamRestarted",
    "TextDelta",
    "ToolCallArgumentsDelta",
    "ToolSpec",
    "default_model_name",
    "default_openai_client",
    "register_provider",
    "resolve_model",
    "serving_openai_client",
]

DEFAULT_OPENAI_MODEL = "gpt-4.1-mini"

ModelFactory = Callable[[str], Model]

# prefix -> "module:function"; the module is imported on first use.
_BUILTIN: dict[str, str] = {
    "openai": "ascent.models.openai_responses:create",
    "openai-chat": "ascent.models.openai_chat:create",
    "litellm": "ascent.models.litellm:create",
    "offline": "ascent.models.offline:create",
}
_factories: dict[str, ModelFactory] = {}
_cache: dict[str, Model] = {}


def register_provider(prefix: str, factory: ModelFactory) -> None:
    """Make ``prefix:name`` resolve through ``factory(name)``."""
    _factories[prefix] = factory
    for key in [key for key in _cache if key.startswith(prefix + ":")]:
        del _cache[key]


def default_model_name() -> str:
    """The model used when neither the agent nor the run names one.

    ``ASCENT_MODEL`` wins; else a real OpenAI model when ``OPENAI_API_KEY`` or
    ``OPENAI_BASE_URL`` is set; else the offline model, so nothing needs a key.
    """
    configured = os.environ.get("ASCENT_MODEL")
    if configured:
        return configured
    if os.environ.get("OPENAI_BASE_URL"):
        return f"openai-chat:{DEFAULT_OPENAI_MODEL}"
    if os.environ.get("OPENAI_API_KEY"):
        return f"openai:{DEFAULT_OPENAI_MODEL}"
    return "offline"


def default_openai_client() -> openai.AsyncOpenAI:
    """The OpenAI client the OpenAI providers use when given none: one per event
    loop, configured from the environment (``OPENAI_API_KEY``, ``OPENAI_BASE_URL``).

    Must be called inside a running event loop.
    """
    from ._openai_common import default_client  # loads openai on first use only

    return default_client()


def serving_openai_client() -> AbstractAsyncContextManager[None]:
    """A block in which this loop's OpenAI providers share a client made for serving.

    For processes that run many model calls at once (the service enters it): the
    client pools its connections with aiohttp when installed (the ``service``
    extra), which costs less CPU per call under load than httpx's pool, and is
    closed when the block ends.
    """
    from ._openai_common import serving_client  # loads openai on first use only

    return serving_client()


def _factory(prefix: str) -> ModelFactory:
    factory = _factories.get(prefix)
    if factory is not None:
        return factory
    target = _BUILTIN.get(prefix)
    if target is None:
        known = ", ".join(sorted({*_BUILTIN, *_factories}))
        raise UserError(f"unknown model provider {prefix!r}; known providers: {known}")
    module_name, _, attribute = target.partition(":")
    try:
        module = importlib.import_module(module_name)
    except ImportError as exc:
        extra = f" (install it with: pip install 'ascent-agents[{prefix}]')"
        raise UserError(f"model provider {prefix!r} is not available: {exc}{extra}") from exc
    factory = getattr(module, attribute)
    _factories[prefix] = factory
    return factory


def resolve_model(model: str | Model | None) -> Model:
    """A model from a name (``provider:name``), an instance, or the default.

    A bare name without a provider prefix means an OpenAI model: Chat
    Completions when ``OPENAI_BASE_URL`` points at a compatible server (the API
    they all speak), the Responses API otherwise. ``litellm/provider/model`` (as
    the OpenAI Agents SDK writes it) means ``litellm:provider/model``.
    """
    if model is None:
        model = default_model_name()
    if not isinstance(model, str):
        return model
    cached = _cache.get(model)
    if cached is not None:
        return cached
    if model.startswith("litellm/"):  # the OpenAI Agents SDK's spelling of litellm:provider/model
        prefix, sep, name = "litellm", ":", model.removeprefix("litellm/")
    else:
        prefix, sep, name = model.partition(":")
    if not sep:
        if model in _BUILTIN or model in _factories:
            prefix, name = model, ""
        else:
            prefix = "openai-chat" if os.environ.get("OPENAI_BASE_URL") else "openai"
            name = model
    resolved = _factory(prefix)(name)
    _cache[model] = resolved
    return resolved
