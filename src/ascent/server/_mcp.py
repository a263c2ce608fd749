"""The service's agents as MCP tools at ``/mcp`` (streamable HTTP), behind its API keys.

One tool per agent, as ``ascent mcp`` serves them: the input is the request,
the output the final answer. The endpoint is stateless (no MCP session is kept
between requests), so any replica answers any call. Its runs are in-process
runs with the engine's run config, context and turn limit, not durable runs:
they are not listed under ``/v1/runs``, and an agent that pauses for approval
answers with a tool error.

The SDK's own ``Host``/``Origin`` check (DNS-rebinding protection) is off here
on purpose: the service's request guard, outside this route, already refuses
a foreign ``Host`` (421), a foreign ``Origin`` (403) and a non-JSON body (415)
for ``/mcp`` as for every other path, with the service's allow-list and error
shape. The SDK's matcher knows exact names and ``:*`` ports only, not the
automatic loopback rule or ``*.example.com``, so a second list would have to
be kept in step with the first for no gain.
"""

from __future__ import annotations

from fastapi import FastAPI
from starlette.applications import Starlette
from starlette.routing import Route

from ._a2a import _TenantAuth
from ._state import ServiceState

__all__ = ["MCP_PATH", "mount_mcp"]

MCP_PATH = "/mcp"


def mount_mcp(app: FastAPI, state: ServiceState) -> Starlette:
    """Route ``/mcp`` to an MCP app of the agents; returns it (its lifespan is the caller's)."""
    from mcp.server.transport_security import TransportSecuritySettings

    from ..mcp.expose import create_mcp_server, mcp_http_app

    engine = state.engine
    server = create_mcp_server(
        agents=list(state.agents.values()),
        name="ascent",
        context=engine.context,
        run_config=engine.run_config,
        max_turns=engine.max_turns,
    )
    inner = mcp_http_app(
        server=server,
        path=MCP_PATH,
        transport_security=TransportSecuritySettings(enable_dns_rebinding_protection=False),
    )
    # A route, not a mount: clients post to /mcp itself, with no redirect to /mcp/.
    guarded = _TenantAuth(inner, keys=dict(state.config.api_keys), public=())
    app.router.routes.append(Route(MCP_PATH, guarded, include_in_schema=False))
    return inner
