"""``ascent a2a``, ``ascent mcp`` and ``ascent serve``: agents served to other programs.

Each imports its server (and the extra it needs) only when it runs, so the
other commands start without them.
"""

from __future__ import annotations

from typing import Annotated

import typer

from ..errors import UserError
from ._common import (
    DEFAULT_MAX_TURNS,
    AllowedHostOption,
    HostOption,
    MaxTurnsOption,
    ModelOption,
    PortOption,
    TargetArgument,
    friendly_errors,
    note,
)
from .loading import load_agent, load_object, load_tool

__all__ = ["a2a_command", "mcp_command", "serve_command", "ui_command"]


def a2a_command(
    target: TargetArgument,
    port: PortOption = 8000,
    host: HostOption = "127.0.0.1",
    token: Annotated[
        str | None,
        typer.Option(
            "--token",
            envvar="ASCENT_A2A_TOKEN",
            help="Require 'Authorization: Bearer TOKEN' on every call (the card stays public).",
        ),
    ] = None,
    model: ModelOption = None,
    max_turns: MaxTurnsOption = DEFAULT_MAX_TURNS,
    a2a_v03_compat: Annotated[
        bool,
        typer.Option(
            "--a2a-0.3",
            help="Also speak A2A 0.3: declared in the card (its top-level url, "
            "preferredTransport, protocolVersion) and its method names on the endpoint.",
        ),
    ] = False,
    allowed_host: AllowedHostOption = None,
) -> None:
    """Serve an agent over A2A: its card at /.well-known/agent-card.json, JSON-RPC at /."""
    with friendly_errors():
        from ..models import resolve_model
        from ..run import RunConfig

        agent = load_agent(target)
        if model is not None:
            resolve_model(model)
        from ..a2a.server import serve

        serve(
            agent,
            host=host,
            port=port,
            token=token,
            run_config=RunConfig(model=model),
            max_turns=max_turns,
            a2a_v03_compat=a2a_v03_compat,
            allowed_hosts=allowed_host,
        )


def mcp_command(
    targets: Annotated[
        list[str] | None,
        typer.Argument(
            metavar="MODULE:AGENT",
            help="Agents to serve, each as a tool (package.module:agent or path/to/file.py:agent).",
        ),
    ] = None,
    tool: Annotated[
        list[str] | None,
        typer.Option(
            "--tool", metavar="MODULE:TOOL", help="A function tool to serve too (repeatable)."
        ),
    ] = None,
    http: Annotated[
        bool, typer.Option("--http", help="Serve streamable HTTP at /mcp instead of stdio.")
    ] = False,
    port: PortOption = 8000,
    host: HostOption = "127.0.0.1",
    token: Annotated[
        str | None,
        typer.Option(
            "--token",
            envvar="ASCENT_MCP_TOKEN",
            help="With --http: require 'Authorization: Bearer TOKEN' on every request.",
        ),
    ] = None,
    model: ModelOption = None,
    max_turns: MaxTurnsOption = DEFAULT_MAX_TURNS,
) -> None:
    """Serve agents (and function tools) as an MCP server, over stdio by default."""
    with friendly_errors():
        from ..models import resolve_model
        from ..run import RunConfig

        agents = [load_agent(target) for target in targets or []]
        tools = [load_tool(target) for target in tool or []]
        if not agents and not tools:
            raise UserError("name at least one agent (MODULE:AGENT) or --tool MODULE:TOOL")
        if model is not None:
            resolve_model(model)
        from ..mcp.servers import require_mcp

        require_mcp()
        from ..mcp.expose import serve_mcp

        serve_mcp(
            agents=agents,
            tools=tools,
            transport="http" if http else "stdio",
            host=host,
            port=port,
            token=token if http else None,
            run_config=RunConfig(model=model),
            max_turns=max_turns,
        )


# Container platforms name the port to listen on in PORT (Hugging Face Spaces, Cloud Run,
# Heroku-style hosts): one image serves wherever it runs, configured by the environment alone.
ServePortOption = Annotated[
    int,
    typer.Option("--port", "-p", min=0, max=65535, envvar="PORT", help="Port."),
]

# True when the process is the command's (the console script), not a caller's
# (a test invoking the CLI): only then does ``serve`` tune the process for serving.
OWN_PROCESS = False


def serve_command(
    target: Annotated[
        str,
        typer.Argument(
            metavar="MODULE:APP",
            envvar="ASCENT_APP",
            help="A FastAPI app, a factory of one, an agent or a list of agents "
            "(package.module:name or path/to/file.py:name; name defaults to 'app').",
        ),
    ],
    port: ServePortOption = 8000,
    host: HostOption = "127.0.0.1",
    insecure: Annotated[
        bool,
        typer.Option(
            "--insecure",
            help="Allow binding beyond loopback without API keys (ASCENT_API_KEYS).",
        ),
    ] = False,
    model: ModelOption = None,
    a2a: Annotated[
        bool, typer.Option("--a2a", help="Also serve each agent over A2A at /a2a/<agent>.")
    ] = False,
    mcp: Annotated[
        bool, typer.Option("--mcp", help="Also serve the agents as MCP tools at /mcp.")
    ] = False,
    allowed_host: AllowedHostOption = None,
    model_timeout: Annotated[
        float | None,
        typer.Option(
            "--model-timeout",
            min=0,
            metavar="SECONDS",
            help="Fail each attempt of a model call after this long "
            "(default: ASCENT_MODEL_TIMEOUT, else 120; 0: never).",
        ),
    ] = None,
    run_timeout: Annotated[
        float | None,
        typer.Option(
            "--run-timeout",
            min=0,
            metavar="SECONDS",
            help="Fail a run that works this long, approval waits aside "
            "(default: ASCENT_RUN_TIMEOUT, else 1800; 0: never).",
        ),
    ] = None,
    engine: Annotated[
        str | None,
        typer.Option(
            "--engine",
            metavar="URL",
            envvar="ASCENT_ENGINE",
            help="Run on this engine instead of DBOS: temporal://HOST:PORT/namespace "
            "(?task_queue=Q; workers: ascent worker --temporal ... --database-url ...).",
        ),
    ] = None,
) -> None:
    """Serve agents over HTTP: durable runs, SSE streams, API keys per tenant."""
    with friendly_errors():
        from ..models import resolve_model

        value = load_object(target, default="app")
        if model is not None:
            resolve_model(model)
        from ..server import serve

        serve(
            value,
            host=host,
            port=port,
            insecure=insecure,
            model=model,
            a2a=a2a,
            mcp=mcp,
            allowed_hosts=allowed_host,
            model_timeout=model_timeout,
            run_timeout=run_timeout,
            engine=engine,
            note=note,
            own_process=OWN_PROCESS,
        )


DEMO_TEAM = "ascent.demo:create_team"


def ui_command(
    target: Annotated[
        str,
        typer.Argument(
            metavar="MODULE:APP",
            help=f"What to serve, as for 'ascent serve' (default: the demo team, {DEMO_TEAM}).",
        ),
    ] = DEMO_TEAM,
    port: PortOption = 8000,
    host: HostOption = "127.0.0.1",
    model: ModelOption = None,
    open_browser: Annotated[
        bool,
        typer.Option("--open/--no-open", help="Open the console in a web browser, if any."),
    ] = True,
) -> None:
    """Serve agents on loopback and open the console, a web UI over the service, at /ui."""
    with friendly_errors():
        from .._private.addresses import is_loopback
        from ..models import resolve_model

        if not is_loopback(host):
            raise UserError(f"ascent ui serves on loopback only; for {host} use 'ascent serve'")
        value = load_object(target, default="app")
        if model is not None:
            resolve_model(model)
        if port == 0:
            port = _free_port(host)
        url = f"http://{_url_host(host)}:{port}/ui/"
        _announce_when_up(host, port, url, open_browser=open_browser)
        from ..server import serve

        serve(value, host=host, port=port, model=model, note=note)


def _url_host(host: str) -> str:
    return f"[{host.strip('[]')}]" if ":" in host else host


def _free_port(host: str) -> int:
    import socket

    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    with socket.socket(family) as sock:
        sock.bind((host.strip("[]"), 0))
        port: int = sock.getsockname()[1]
        return port


def _announce_when_up(host: str, port: int, url: str, *, open_browser: bool) -> None:
    """Print the console's URL (and open a browser) once the service accepts connections."""
    import socket
    import threading
    import time

    def wait_then_announce() -> None:
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:
            try:
                with socket.create_connection((host.strip("[]"), port), timeout=0.5):
                    break
            except OSError:
                time.sleep(0.1)
        else:
            return
        note(f"The Ascent console: {url}")
        if open_browser and _has_graphical_browser():
            import contextlib
            import webbrowser

            with contextlib.suppress(Exception):  # no browser after all: the URL is printed
                webbrowser.open(url)

    threading.Thread(target=wait_then_announce, name="ascent-ui-open", daemon=True).start()


def _has_graphical_browser() -> bool:
    """Whether ``webbrowser`` would open a window (not a text browser in this terminal)."""
    import os
    import sys
    import webbrowser

    if sys.platform.startswith("linux") and not (
        os.environ.get("DISPLAY") or os.environ.get("WAYLAND_DISPLAY") or os.environ.get("BROWSER")
    ):
        return False
    try:
        webbrowser.get()
    except webbrowser.Error:
        return False
    return True
