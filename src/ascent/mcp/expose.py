"""Serve Ascent agents and function tools as an MCP server.

Each agent becomes a tool whose input is the ``request`` (a string) and whose
output is the run's final answer; an agent with a structured ``output_type``
answers with structured content too (and declares its output schema). Plain
function tools keep their own names and schemas. The server is the SDK's
``MCPServer``, so tools added with its own ``@server.tool()`` are served beside
them; it speaks stdio (``ascent mcp``) or streamable HTTP (:func:`mcp_http_app`,
an ASGI app a larger service can mount).
"""

from __future__ import annotations

import hmac
import json
import logging
import uuid
from collections.abc import Awaitable, Callable, Sequence
from typing import Any, Literal

from mcp.server.mcpserver import MCPServer as SDKMCPServer
from mcp.server.mcpserver.context import Context
from mcp.server.transport_security import TransportSecuritySettings
from mcp.types import CallToolResult, TextContent
from mcp.types import Tool as ToolSpec
from starlette.applications import Starlette
from starlette.authentication import (
    AuthCredentials,
    AuthenticationBackend,
    AuthenticationError,
    BaseUser,
    SimpleUser,
)
from starlette.middleware.authentication import AuthenticationMiddleware
from starlette.requests import HTTPConnection
from starlette.responses import JSONResponse, Response

from .._private.addresses import bind_host
from .._private.naming import slugify
from .._private.output import WRAPPER_KEY, output_schema_for
from .._version import __version__
from ..agent import Agent, AgentTool
from ..context import ToolContext
from ..errors import AscentError, UserError
from ..run import RunConfig, Runner
from ..run.config import DEFAULT_MAX_TURNS
from ..tools import FunctionTool, HostedTool, ToolArgumentsError, stringify_output

__all__ = ["AscentMCPServer", "create_mcp_server", "mcp_http_app", "serve_mcp"]

logger = logging.getLogger("ascent")

_TOKEN_USER = "bearer-client"  # who a valid token authenticates, as ``request.user``

_Handler = Callable[[dict[str, Any]], Awaitable[CallToolResult]]


class AscentMCPServer(SDKMCPServer[Any]):
    """The SDK's ``MCPServer`` with Ascent agents and function tools as its tools."""

    def __init__(
        self,
        *,
        agents: Sequence[Agent[Any]] = (),
        tools: Sequence[FunctionTool] = (),
        name: str = "ascent",
        version: str | None = None,
        instructions: str | None = None,
        context: Any = None,
        run_config: RunConfig | None = None,
        max_turns: int = DEFAULT_MAX_TURNS,
    ) -> None:
        super().__init__(
            name=name,
            version=version or __version__,
            instructions=instructions,
            log_level="WARNING",
        )
        self._context = context
        self._run_config = run_config
        self._max_turns = max_turns
        self._specs: list[ToolSpec] = []
        self._handlers: dict[str, _Handler] = {}
        for agent in agents:
            if not isinstance(agent, Agent):
                raise UserError(f"expected an Agent, got {type(agent).__name__}")
            self._add_agent(agent, slugify(agent.name), _agent_description(agent))
        for tool in tools:
            if isinstance(tool, AgentTool):
                self._add_agent(tool.agent, tool.name, tool.description, tool.max_turns)
            elif isinstance(tool, FunctionTool):
                self._add_function_tool(tool)
            elif isinstance(tool, HostedTool):
                raise UserError(
                    f"hosted tool {tool.kind!r} runs at a provider; it cannot be served"
                )
            else:
                raise UserError(f"expected a FunctionTool, got {type(tool).__name__}")

    # The SDK's handlers call these two for every tools/list and tools/call.

    async def list_tools(self) -> list[ToolSpec]:
        return [*self._specs, *await super().list_tools()]

    async def call_tool(
        self, name: str, arguments: dict[str, Any], context: Context[Any, Any] | None = None
    ) -> Any:
        handler = self._handlers.get(name)
        if handler is None:
            return await super().call_tool(name, arguments, context)
        try:
            return await handler(arguments)
        except AscentError as exc:
            return _error(str(exc) or type(exc).__name__)
        except Exception:
            logger.exception("MCP tool %r failed", name)
            return _error(f"tool {name!r} failed unexpectedly")

    # ------------------------------------------------------------ registration

    def _register(self, spec: ToolSpec, handler: _Handler) -> None:
        if spec.name in self._handlers:
            raise UserError(f"two served tools are named {spec.name!r}")
        self._specs.append(spec)
        self._handlers[spec.name] = handler

    def _add_agent(
        self, agent: Agent[Any], name: str, description: str, max_turns: int | None = None
    ) -> None:
        output = None
        if agent.output_type is not None and agent.output_type is not str:
            output = output_schema_for(agent.output_type)
        spec = ToolSpec(
            name=name,
            description=description,
            input_schema={
                "type": "object",
                "properties": {
                    "request": {"type": "string", "description": "The request for the agent."}
                },
                "required": ["request"],
            },
            output_schema=output.json_schema if output is not None else None,
        )

        async def run_agent(arguments: dict[str, Any]) -> CallToolResult:
            request = arguments.get("request")
            if not isinstance(request, str) or not request.strip():
                return _error("'request' is required and must be a non-empty string")
            result = await Runner.run(
                agent,
                request,
                context=self._context,
                max_turns=max_turns or self._max_turns,
                run_config=self._run_config,
            )
            if result.interruptions:
                names = ", ".join(r.tool_name for r in result.interruptions)
                return _error(
                    f"agent {agent.name!r} paused for a person's approval of {names}; "
                    "approvals cannot be given over MCP"
                )
            if output is None:
                return CallToolResult(
                    content=[TextContent(type="text", text=stringify_output(result.final_output))]
                )
            data = output.dump(result.final_output)
            structured = {WRAPPER_KEY: data} if output.is_wrapped else data
            return CallToolResult(
                content=[TextContent(type="text", text=json.dumps(structured, ensure_ascii=False))],
                structured_content=structured,
            )

        self._register(spec, run_agent)

    def _add_function_tool(self, tool: FunctionTool) -> None:
        if tool.needs_approval is not False:
            raise UserError(
                f"tool {tool.name!r} needs a person's approval, which MCP clients cannot give; "
                "serve it without needs_approval"
            )
        spec = ToolSpec(name=tool.name, description=tool.description, input_schema=tool.parameters)

        async def run_tool(arguments: dict[str, Any]) -> CallToolResult:
            raw = json.dumps(arguments)
            call_id = f"mcp_{uuid.uuid4().hex}"
            tool_context = ToolContext(
                context=self._context,
                run_id=call_id,
                tool_name=tool.name,
                call_id=call_id,
                arguments=raw,
            )
            try:
                value = await tool.invoke(tool_context, raw)
            except ToolArgumentsError as exc:
                return _error(f"invalid arguments for tool {tool.name!r}: {exc}")
            text = stringify_output(value)
            return CallToolResult(content=[TextContent(type="text", text=text)])

        self._register(spec, run_tool)


def create_mcp_server(
    *,
    agents: Sequence[Agent[Any]] = (),
    tools: Sequence[FunctionTool] = (),
    name: str = "ascent",
    version: str | None = None,
    instructions: str | None = None,
    context: Any = None,
    run_config: RunConfig | None = None,
    max_turns: int = DEFAULT_MAX_TURNS,
) -> AscentMCPServer:
    """An MCP server whose tools are ``agents`` (one tool each) and ``tools``.

    ``name`` and ``version`` are the ``serverInfo`` clients see (the version
    defaults to Ascent's). ``context``, ``run_config`` and ``max_turns`` apply
    to every agent run the server makes. Run it with ``server.run()`` (stdio)
    or serve :func:`mcp_http_app` over HTTP.
    """
    if not agents and not tools:
        raise UserError("give create_mcp_server at least one agent or tool to serve")
    return AscentMCPServer(
        agents=agents,
        tools=tools,
        name=name,
        version=version,
        instructions=instructions,
        context=context,
        run_config=run_config,
        max_turns=max_turns,
    )


def mcp_http_app(
    *,
    agents: Sequence[Agent[Any]] = (),
    tools: Sequence[FunctionTool] = (),
    server: AscentMCPServer | None = None,
    path: str = "/mcp",
    stateless: bool = True,
    host: str = "127.0.0.1",
    token: str | None = None,
    transport_security: TransportSecuritySettings | None = None,
    **options: Any,
) -> Starlette:
    """An ASGI app serving ``agents`` and ``tools`` over streamable HTTP at ``path``.

    ``stateless`` (the default) keeps no MCP session between requests, so any
    replica can answer any request. ``host`` is where it is served: on loopback
    the SDK rejects other ``Host`` headers (DNS rebinding); ``transport_security``
    replaces that default. With a ``token``, every request needs
    ``Authorization: Bearer <token>`` (401 otherwise). Other options go to
    :func:`create_mcp_server`; or pass a ``server`` built already. Mounted in a
    larger app, the app's lifespan must run this app's lifespan too (it starts
    the SDK's session manager).
    """
    if token is not None and (not token.strip() or token != token.strip()):
        raise UserError("the MCP bearer token is empty or has surrounding whitespace")
    if server is None:
        server = create_mcp_server(agents=agents, tools=tools, **options)
    elif agents or tools or options:
        raise UserError("give mcp_http_app either a server or agents and tools, not both")
    app = server.streamable_http_app(
        streamable_http_path=path,
        stateless_http=stateless,
        host=bind_host(host),
        transport_security=transport_security,
    )
    if token is not None:
        app.add_middleware(
            AuthenticationMiddleware, backend=_BearerToken(token), on_error=_unauthorized
        )
    return app


def serve_mcp(
    *,
    agents: Sequence[Agent[Any]] = (),
    tools: Sequence[FunctionTool] = (),
    transport: Literal["stdio", "http"] = "stdio",
    host: str = "127.0.0.1",
    port: int = 8000,
    path: str = "/mcp",
    token: str | None = None,
    **options: Any,
) -> None:
    """Serve over stdio (until the client closes it) or HTTP with uvicorn (``ascent mcp``).

    ``token`` (HTTP only) is the bearer token every request must carry.
    """
    if transport == "stdio":
        if token is not None:
            raise UserError("a bearer token protects the HTTP transport; stdio has none")
        create_mcp_server(agents=agents, tools=tools, **options).run("stdio")
        return
    import uvicorn

    app = mcp_http_app(agents=agents, tools=tools, path=path, host=host, token=token, **options)
    uvicorn.run(app, host=bind_host(host), port=port, log_level="warning")


def _agent_description(agent: Agent[Any]) -> str:
    return agent.handoff_description or f"Ask the {agent.name} agent; it answers the request."


def _error(message: str) -> CallToolResult:
    return CallToolResult(content=[TextContent(type="text", text=message)], is_error=True)


class _BearerToken(AuthenticationBackend):
    """Starlette's authentication with one shared token: anything else is refused."""

    def __init__(self, token: str) -> None:
        self._token = token.encode()

    async def authenticate(self, conn: HTTPConnection) -> tuple[AuthCredentials, BaseUser]:
        scheme, _, given = conn.headers.get("authorization", "").partition(" ")
        if not given:
            raise AuthenticationError("missing bearer token: send 'Authorization: Bearer <token>'")
        valid = hmac.compare_digest(given.strip().encode(), self._token)
        if scheme.lower() != "bearer" or not valid:
            raise AuthenticationError("invalid bearer token")
        return AuthCredentials(["mcp"]), SimpleUser(_TOKEN_USER)


def _unauthorized(_conn: HTTPConnection, exc: AuthenticationError) -> Response:
    return JSONResponse(
        {"error": "unauthorized", "error_description": str(exc)},
        status_code=401,
        headers={"WWW-Authenticate": "Bearer"},
    )
