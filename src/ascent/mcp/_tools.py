"""MCP tools as Ascent function tools, and MCP results as tool outputs.

To the model an MCP tool looks like any function tool (name, description,
input schema); its calls go over the protocol. Text content becomes the output
text, structured content becomes JSON, and ``isError`` becomes a tool error.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Protocol

from ..context import ToolContext
from ..errors import ToolError
from ..tools import FunctionTool, RemoteToolSpec, ToolArgumentsError
from ..tracing import current_span

if TYPE_CHECKING:
    from mcp.types import CallToolResult, ContentBlock, Tool

__all__ = ["MCPTool", "ToolServer", "function_tool_of", "output_of", "spec_of"]


class ToolServer(Protocol):
    """What a tool made by :func:`function_tool_of` uses of its server
    (:class:`~ascent.mcp.servers.MCPServer` is one)."""

    @property
    def name(self) -> str: ...

    @property
    def tool_prefix(self) -> str: ...

    @property
    def use_structured_content(self) -> bool: ...

    async def call_tool(
        self, name: str, arguments: dict[str, Any] | None = None
    ) -> CallToolResult: ...


@dataclass(kw_only=True)
class MCPTool(FunctionTool):
    """A function tool whose calls go to an MCP server.

    ``remote_name`` is the tool's name on the server (``name`` may carry the
    server's ``tool_prefix``); ``server_name`` names the server in traces.
    """

    server_name: str
    remote_name: str


def spec_of(server: ToolServer, tool: Tool) -> RemoteToolSpec:
    """``tool`` of ``server`` as a run records it (what the model is shown)."""
    return RemoteToolSpec(
        name=f"{server.tool_prefix}{tool.name}",
        remote_name=tool.name,
        description=tool.description or tool.title or f"The {tool.name} tool of {server.name}.",
        parameters=_parameters(tool.input_schema),
    )


def function_tool_of(server: ToolServer, spec: RemoteToolSpec) -> MCPTool:
    """The listed tool ``spec`` as a function tool whose calls go to ``server``."""
    remote_name = spec.remote_name

    async def invoke(context: ToolContext[Any], arguments: str) -> str:
        try:
            parsed = json.loads(arguments or "{}")
        except ValueError as exc:
            raise ToolArgumentsError(f"arguments are not valid JSON: {exc}") from None
        if not isinstance(parsed, dict):
            raise ToolArgumentsError("arguments must be a JSON object")
        span = current_span()
        if span is not None and span.kind == "tool" and span.name == context.tool_name:
            span.set(mcp_server=server.name, mcp_tool=remote_name)
        result = await server.call_tool(remote_name, parsed)
        return output_of(result, structured=server.use_structured_content)

    return MCPTool(
        name=spec.name,
        description=spec.description,
        parameters=spec.parameters,
        on_invoke=invoke,
        strict=False,  # servers' schemas are rarely valid strict schemas
        server_name=server.name,
        remote_name=remote_name,
    )


def output_of(result: CallToolResult, *, structured: bool = True) -> str:
    """What the model reads of a tool result; raises :class:`ToolError` for ``isError``."""
    text = "\n".join(filter(None, (_text_of(block) for block in result.content)))
    if result.is_error:
        raise ToolError(text or "the MCP tool reported an error without a message")
    if result.structured_content is not None and (structured or not text):
        return json.dumps(result.structured_content, ensure_ascii=False)
    return text


def _text_of(block: ContentBlock) -> str:
    kind = block.type
    if kind == "text":
        return str(getattr(block, "text", ""))
    if kind in ("image", "audio"):
        mime = getattr(block, "mime_type", "")
        return f"[{kind} {mime}, {len(getattr(block, 'data', ''))} base64 characters]"
    if kind == "resource_link":
        return f"[resource {getattr(block, 'uri', '')}]"
    if kind == "resource":
        resource = getattr(block, "resource", None)
        content = getattr(resource, "text", None)
        if isinstance(content, str):
            return content
        return f"[resource {getattr(resource, 'uri', '')} ({getattr(resource, 'mime_type', '')})]"
    return ""


def _parameters(schema: dict[str, Any] | None) -> dict[str, Any]:
    """The input schema as a provider accepts it: an object with properties."""
    parameters = dict(schema or {})
    parameters.setdefault("type", "object")
    parameters.setdefault("properties", {})
    return parameters
