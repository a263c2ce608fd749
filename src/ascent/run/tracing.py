"""What the interpreter records on its spans (see the contract in ``ascent.tracing``).

Attributes hold references (items, settings); the batch processor turns them
into JSON in its own thread, so recording costs the run almost nothing.
"""

from __future__ import annotations

from dataclasses import asdict, fields
from typing import TYPE_CHECKING, Any

from .._private.output import OutputType
from ..items import Item
from ..models.base import Model, ModelRequest, ModelResponse, ModelSettings
from ..tracing import Span

if TYPE_CHECKING:
    from ..agent import Agent
    from .graph import AgentNode

__all__ = ["agent_span_attributes", "finish_model_span", "model_span_attributes"]


def agent_span_attributes(node: AgentNode) -> dict[str, Any]:
    output = node.agent.output_type
    if isinstance(output, OutputType):
        output = output.type
    tools = list(node.function_tools)
    if node.hosted_tools:
        tools.extend(t.kind for t in node.hosted_tools)
    return {
        "tools": tools,
        "handoffs": [h.agent.name for h in node.handoffs.values()] if node.handoffs else [],
        "output_type": getattr(output, "__name__", str(output)) if output is not None else None,
    }


# Settings objects live as long as their agents: describe each once.
_described: dict[int, tuple[ModelSettings, dict[str, Any]]] = {}


def _settings(settings: ModelSettings) -> dict[str, Any]:
    known = _described.get(id(settings))
    if known is not None and known[0] is settings:
        return known[1]
    described = {
        f.name: getattr(settings, f.name)
        for f in fields(settings)
        if getattr(settings, f.name) is not None
        and f.name not in ("extra_headers", "reasoning_effort")
    }
    reasoning = settings.reasoning_settings()
    if reasoning is not None:  # plain JSON for the trace processors
        described["reasoning"] = {k: v for k, v in asdict(reasoning).items() if v is not None}
    if len(_described) >= 512:
        _described.clear()
    _described[id(settings)] = (settings, described)
    return described


def model_span_attributes(
    model: Model,
    agent: Agent[Any],
    request: ModelRequest,
    *,
    new_input: list[Item],
    sensitive: bool,
) -> dict[str, Any]:
    attributes: dict[str, Any] = {
        "model": model.name,
        "agent": agent.name,
        "settings": _settings(request.settings),
        "input_items": len(request.input),
    }
    if sensitive:
        attributes["instructions"] = request.instructions
        attributes["input"] = new_input
    return attributes


def finish_model_span(span: Span, response: ModelResponse, *, sensitive: bool) -> None:
    usage = response.usage
    span.attributes["usage"] = {
        "requests": usage.requests,
        "input_tokens": usage.input_tokens,
        "output_tokens": usage.output_tokens,
    }
    span.attributes["response_id"] = response.response_id
    if sensitive:
        span.attributes["output"] = response.output
    span.finish()
