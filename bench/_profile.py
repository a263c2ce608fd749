"""A CPU profile of a replica under load, by layer: where a served run's CPU goes.

``bench/service.py --profile`` starts the first replica with
``ASCENT_BENCH_PROFILE=<file>``; its app (``_service_app.py``) calls
:func:`install`, which profiles every thread with yappi's CPU clock between
``SIGUSR1`` (start) and ``SIGUSR2`` (stop, then write the summary to the file as
JSON). The signals bracket the measured load, so start-up and warm-up stay out.

Each function's own time (``tsub``) is put in the layer its module belongs to:
request handling (uvicorn, h11/httptools, Starlette, FastAPI), the agent loop,
the durable engine, DBOS, the database driver (SQLAlchemy, psycopg), the model
client (openai, httpx, aiohttp), SSE, pydantic, asyncio's loop, and the rest.
"""

from __future__ import annotations

import json
import os
import signal
import threading
from pathlib import Path
from typing import Any

# (layer, path fragments): the first layer whose fragment is in a function's module path wins
LAYERS: list[tuple[str, tuple[str, ...]]] = [
    ("sse", ("sse_starlette", "ascent/server/_sse")),
    ("tracing", ("ascent/tracing",)),
    ("durable engine", ("ascent/durable",)),
    ("request handling", ("uvicorn", "h11", "httptools", "starlette", "fastapi", "ascent/server")),
    ("database driver", ("sqlalchemy", "psycopg", "sqlite3", "ascent/storage")),
    ("agent loop", ("ascent/run", "ascent/agent", "ascent/tools", "ascent/items", "ascent/")),
    ("model client", ("ascent/models", "httpx", "httpcore", "anyio", "openai", "aiohttp", "yarl")),
    ("dbos", ("dbos",)),
    ("pydantic", ("pydantic",)),
    ("asyncio loop", ("asyncio", "uvloop", "selectors")),
    ("threads", ("threading", "concurrent/futures", "queue.py")),
    ("logging", ("logging",)),
    ("json", ("json",)),
]


def layer_of(module: str) -> str:
    path = module.replace("\\", "/")
    for layer, fragments in LAYERS:
        if any(fragment in path for fragment in fragments):
            return layer
    return "other"


ROUND_TRIP = "(round trip)"
AUTOCOMMIT = "(a statement alone, committed)"


def install() -> None:
    """Profile between SIGUSR1 and SIGUSR2; write the summary to ``$ASCENT_BENCH_PROFILE``."""
    target = os.environ.get("ASCENT_BENCH_PROFILE")
    if not target:
        return
    from sqlalchemy import event
    from sqlalchemy.engine import Engine

    statements: dict[str, int] = {}
    counting = False

    def count(text: str) -> None:
        if counting:
            key = " ".join(text.split())[:110]
            statements[key] = statements.get(key, 0) + 1

    # Round trips: a statement, BEGIN, COMMIT or ROLLBACK each wait for the server's
    # answer, but those sent in psycopg's pipeline mode wait once together, at the end
    # (its COMMIT); a BEGIN goes with the transaction's first statement.
    def pipelined(conn: Any) -> bool:
        raw = getattr(conn.connection, "driver_connection", None)
        status = getattr(getattr(raw, "info", None), "pipeline_status", 0)
        return bool(status)

    def on_begin(conn: Any) -> None:
        count("BEGIN")
        conn.info["bench.begun"] = True

    def on_execute(conn: Any, cursor: Any, statement: str, *_: Any) -> None:
        count(f"[{threading.current_thread().name.split('_')[0]}] {statement}")
        in_pipeline = pipelined(conn)
        if conn.info.pop("bench.begun", False) and not in_pipeline:
            count(ROUND_TRIP)
        if not in_pipeline:
            count(ROUND_TRIP)

    def on_end(conn: Any, what: str) -> None:
        count(what)
        if conn.info.pop("bench.begun", False):
            return  # a transaction without a statement sends nothing
        count(ROUND_TRIP)

    if os.environ.get("ASCENT_BENCH_PROFILE_SQL") == "1":  # listeners cost CPU: only then
        event.listen(Engine, "before_cursor_execute", on_execute)
        event.listen(Engine, "commit", lambda conn: on_end(conn, "COMMIT"))
        event.listen(Engine, "rollback", lambda conn: on_end(conn, "ROLLBACK"))
        event.listen(Engine, "begin", on_begin)
        count_driver_statements(count)

    def start(*_: Any) -> None:
        nonlocal counting
        statements.clear()
        counting = os.environ.get("ASCENT_BENCH_PROFILE_SQL") == "1"
        if counting:
            return
        import yappi  # the bench group

        yappi.clear_stats()
        yappi.set_clock_type("cpu")
        yappi.start(builtins=True, profile_threads=True)

    def stop(*_: Any) -> None:
        nonlocal counting
        if counting:
            counting = False
            Path(target).write_text(json.dumps({"statements": statements}))
            return
        import yappi

        yappi.stop()
        Path(target).write_text(json.dumps(summary(yappi)))

    signal.signal(signal.SIGUSR1, start)
    signal.signal(signal.SIGUSR2, stop)


def count_driver_statements(count: Any) -> None:
    """Count the writes that go to psycopg's own connection (``write_transaction(
    driver=True)``), which SQLAlchemy's events do not see: each statement, and the
    BEGIN psycopg sends before a transaction's first, is a round trip, as is the
    COMMIT (a statement alone, in autocommit, has neither)."""
    from ascent.storage._driver import DriverConnection

    run, commit = DriverConnection._run, DriverConnection.commit

    def counted_run(self: Any, sql: str, parameters: Any, *, many: bool = False) -> Any:
        if self.pooled.driver_connection.autocommit:
            count(AUTOCOMMIT)  # a transaction of its own
        elif not self.info.get("bench.begun"):
            self.info["bench.begun"] = True
            count("BEGIN")
            count(ROUND_TRIP)
        count(f"[{threading.current_thread().name.split('_')[0]}] {sql}")
        count(ROUND_TRIP)
        return run(self, sql, parameters, many=many)

    def counted_commit(self: Any) -> None:
        if self.info.get("bench.begun"):
            count("COMMIT")
            count(ROUND_TRIP)
        commit(self)

    DriverConnection._run = counted_run  # type: ignore[method-assign]
    DriverConnection.commit = counted_commit  # type: ignore[method-assign]


def summary(yappi: Any) -> dict[str, Any]:
    layers: dict[str, float] = {}
    functions: list[tuple[float, float, int, str]] = []
    for stat in yappi.get_func_stats():
        module = stat.module or ""
        layer = layer_of(module) if module else "builtins (C)"
        if stat.builtin:  # C functions: charge them to their own name's layer
            layer = layer_of(stat.name) if layer_of(stat.name) != "other" else "builtins (C)"
        layers[layer] = layers.get(layer, 0.0) + stat.tsub
        where = f"{module.rsplit('site-packages/', 1)[-1]}:{stat.lineno} {stat.name}"
        functions.append((stat.tsub, stat.ttot, stat.ncall, where))
    functions.sort(reverse=True)
    inclusive = sorted(
        (f for f in functions if "ascent/" in f[3] or "dbos/" in f[3]), key=lambda f: -f[1]
    )
    threads = {}
    for thread in yappi.get_thread_stats():
        threads[f"{thread.name}#{thread.id}"] = thread.ttot
    return {
        "layers": layers,
        "functions": functions[:60],
        "inclusive": inclusive[:60],
        "threads": threads,
    }
