"""Run the service with uvicorn: ``ascent serve MODULE:APP`` and :func:`serve`.

Binding is safe by default: a service without API keys answers anyone who can
reach it, so it binds to loopback only unless ``insecure=True`` says that is
intended (behind a trusted proxy that authenticates, for one).
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from typing import Any

from .._private.addresses import bind_host, is_loopback
from ..agent import Agent
from ..errors import UserError
from ..models.base import Model

__all__ = ["is_loopback", "resolve_app", "serve"]


def resolve_app(
    value: Any,
    *,
    model: str | Model | None = None,
    a2a: bool = False,
    mcp: bool = False,
    allowed_hosts: Sequence[str] | None = None,
    model_timeout: float | None = None,
    run_timeout: float | None = None,
    engine: str | None = None,
) -> Any:
    """An ASGI app from what ``MODULE:APP`` names: an app, a factory, an agent or agents.

    Agents get :func:`ascent.server.create_app` (``engine`` is the URL of the
    engine to run on, DBOS if None; ``model`` overrides their
    models; ``a2a`` and ``mcp`` mount those protocols beside the REST API;
    ``allowed_hosts`` adds hosts requests may name); a callable of no
    arguments is called and its result used. A ready-made app is served as it
    is, so those options are refused for it.
    """
    from .app import create_app

    options = {
        "--model": model is not None,
        "--a2a": a2a,
        "--mcp": mcp,
        "--allowed-host": allowed_hosts is not None,
        "--model-timeout": model_timeout is not None,
        "--run-timeout": run_timeout is not None,
        "--engine": engine is not None,
    }

    def make(agents: Any) -> Any:
        return create_app(
            agents,
            model=model,
            a2a=a2a,
            mcp=mcp,
            allowed_hosts=allowed_hosts,
            model_timeout=model_timeout,
            run_timeout=run_timeout,
            engine=engine,
        )

    if _is_agents(value):
        return make(value)
    if isinstance(value, type) or not callable(value):
        raise UserError(f"expected an ASGI app, a factory, or agents; got a {type(value).__name__}")
    made = value if _is_asgi_app(value) else value()
    if _is_agents(made):
        return make(made)
    if not (callable(made) and _is_asgi_app(made)):
        raise UserError(f"the factory returned a {type(made).__name__}, not an app or agents")
    given = [name for name, set_ in options.items() if set_]
    if given:
        verb = "applies" if len(given) == 1 else "apply"
        raise UserError(
            f"{' and '.join(given)} {verb} to agents, not to a ready-made app: "
            "pass it to create_app in the factory instead"
        )
    return made


def _is_agents(value: Any) -> bool:
    if isinstance(value, Agent):
        return True
    if isinstance(value, Mapping):
        return bool(value) and all(isinstance(agent, Agent) for agent in value.values())
    if isinstance(value, Sequence) and not isinstance(value, str):
        return bool(value) and all(isinstance(agent, Agent) for agent in value)
    return False


def _is_asgi_app(value: Callable[..., Any]) -> bool:
    # Starlette and FastAPI apps have a router; any other ASGI callable takes 3 arguments.
    if hasattr(value, "router"):
        return True
    import inspect

    try:
        parameters = inspect.signature(value).parameters
    except (TypeError, ValueError):
        return False
    return len(parameters) == 3


def auth_enabled(app: Any) -> bool | None:
    """Whether ``app`` (one of ours) checks API keys; ``None`` when it is not ours."""
    state = getattr(getattr(app, "state", None), "ascent", None)
    config = getattr(state, "config", None)
    return None if config is None else bool(config.auth_enabled)


def check_binding(app: Any, *, host: str, insecure: bool) -> str | None:
    """Refuse to expose an app without API keys beyond loopback; a note to print, if any."""
    enabled = auth_enabled(app)
    if enabled:
        return None
    loopback = is_loopback(host)
    if not loopback and not insecure:
        what = "no API keys are configured" if enabled is False else "this app's auth is unknown"
        raise UserError(
            f"refusing to bind {host}: {what}. Set ASCENT_API_KEYS (KEY:TENANT,...), "
            "bind to 127.0.0.1, or pass --insecure if something in front authenticates"
        )
    if enabled is False and loopback:
        return "no API keys (ASCENT_API_KEYS): serving without authentication, on loopback only"
    if enabled is False:
        return f"no API keys and --insecure: anyone who reaches {host} can use this service"
    return None


# Objects allocated (less those freed) between young collections; Python's default is 700.
GC_YOUNG_THRESHOLD = 20_000


def tune_gc() -> None:
    """Make the garbage collector cheaper for a long-lived service process.

    ``gc.freeze()`` sets aside everything made at start-up (the modules, the
    app, the agents: hundreds of thousands of objects), so the full collections
    that load brings on do not walk them again; a young generation of 20,000
    objects instead of 700 (and older generations collected after 50 and 100
    younger collections instead of 10 and 10) makes the collections each
    request's garbage triggers rarer. Together about 10% less replica CPU per served run
    (``bench/README.md``), for a few MB more memory between collections.
    """
    import gc

    gc.collect()
    gc.freeze()
    gc.set_threshold(GC_YOUNG_THRESHOLD, 50, 100)


def serve(
    app: Any,
    *,
    host: str = "127.0.0.1",
    port: int = 8000,
    insecure: bool = False,
    model: str | Model | None = None,
    a2a: bool = False,
    mcp: bool = False,
    log_level: str = "info",
    shutdown_timeout: int = 10,
    allowed_hosts: Sequence[str] | None = None,
    model_timeout: float | None = None,
    run_timeout: float | None = None,
    engine: str | None = None,
    note: Callable[[str], None] = print,
    own_process: bool = False,
) -> None:
    """Serve ``app`` (or agents, or a factory) with uvicorn until interrupted.

    On SIGTERM uvicorn stops accepting, gives open requests ``shutdown_timeout``
    seconds (event streams follow a run for as long as it lasts, so they are cut
    then; their clients resume elsewhere with ``Last-Event-ID``), and runs the
    app's lifespan, which stops the durable engine: in-flight runs resume on
    the next start or on another replica. ``allowed_hosts`` adds ``Host``
    names requests may use, ``model_timeout`` and ``run_timeout`` bound a
    hung model, and ``engine`` (``temporal://HOST:PORT/namespace``) runs the
    agents on Temporal (see :func:`ascent.server.create_app`). ``own_process``
    says the process is the service's alone (the ``ascent serve`` command): its
    garbage collector is tuned for serving (:func:`tune_gc`).
    """
    import uvicorn

    asgi = resolve_app(
        app,
        model=model,
        a2a=a2a,
        mcp=mcp,
        allowed_hosts=allowed_hosts,
        model_timeout=model_timeout,
        run_timeout=run_timeout,
        engine=engine,
    )
    message = check_binding(asgi, host=host, insecure=insecure)
    if message:
        note(message)
    if own_process:
        tune_gc()
    uvicorn.run(
        asgi,
        host=bind_host(host),
        port=port,
        log_level=log_level,
        timeout_graceful_shutdown=shutdown_timeout,
    )
