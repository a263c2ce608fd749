"""``ascent worker``: run agents as a Temporal worker.

Needs the ``temporal`` extra; other commands start without it.
"""

from __future__ import annotations

import asyncio
import os
import signal
import sys
import traceback
from collections.abc import Coroutine
from typing import Annotated, Any, NoReturn

import click
import typer

from ..errors import UserError
from ._common import friendly_errors, note
from .loading import load_object

__all__ = ["worker_command"]


def worker_command(
    target: Annotated[
        str,
        typer.Argument(
            metavar="MODULE:APP",
            help="A TemporalApp, an agent or a list of agents "
            "(package.module:name or path/to/file.py:name; name defaults to 'app').",
        ),
    ],
    temporal: Annotated[
        str,
        typer.Option("--temporal", metavar="HOST:PORT", help="The Temporal server's address."),
    ],
    task_queue: Annotated[
        str, typer.Option("--task-queue", metavar="QUEUE", help="The task queue to serve.")
    ],
    namespace: Annotated[
        str, typer.Option("--namespace", help="The Temporal namespace.")
    ] = "default",
    database_url: Annotated[
        str | None,
        typer.Option(
            "--database-url",
            metavar="URL",
            help="Write runs' events and records to this database, for a service "
            "on this Temporal (ascent serve --engine temporal://...).",
        ),
    ] = None,
    max_cached_workflows: Annotated[
        int | None,
        typer.Option(
            "--max-cached-workflows",
            min=0,
            help="Runs kept in memory between their steps (0: none, every step replays).",
        ),
    ] = None,
) -> None:
    """Run agents as a Temporal worker: each run a workflow, each command an activity."""
    with friendly_errors():
        try:
            from ..temporal import TemporalApp
        except ImportError as exc:
            raise UserError(
                "ascent worker needs Temporal's SDK: pip install 'ascent-agents[temporal]'"
            ) from exc
        app = TemporalApp.of(load_object(target, default="app"))
        if database_url is not None:
            from ..memory import open_session
            from ..temporal import DatabaseRunLog

            log = DatabaseRunLog(database_url)
            app.events = app.events or log
            app.records = app.records or log
            url = database_url
            # a service's sessions are in its database, as on DBOS
            app.sessions = app.sessions or (lambda session_id: open_session(session_id, url))
        _exit_after(_work(app, temporal, namespace, task_queue, max_cached_workflows))


def _exit_after(work: Coroutine[Any, Any, None]) -> NoReturn:
    """Run the worker, then leave the process at once with its exit code.

    Temporal's SDK runs a Rust runtime whose threads may still hold Python's
    thread state while the interpreter finalizes, which aborts the process
    (SIGABRT) after a clean stop or a failed connection; skipping finalization,
    once output is flushed, gives the exit code the command meant.
    """
    code = 0
    try:
        with friendly_errors():
            asyncio.run(work)
    except SystemExit as exc:
        code = exc.code if isinstance(exc.code, int) else 1
    except click.exceptions.Exit as exc:
        code = exc.exit_code
    except BaseException:
        traceback.print_exc()
        code = 1
    finally:
        sys.stdout.flush()
        sys.stderr.flush()
        os._exit(code)


async def _work(
    app: object, address: str, namespace: str, task_queue: str, max_cached: int | None
) -> None:
    from temporalio.client import Client

    from ..temporal import serving

    try:
        client = await Client.connect(address, namespace=namespace)
    except RuntimeError as exc:
        raise UserError(f"cannot reach Temporal at {address}: {exc}") from None
    options = {} if max_cached is None else {"max_cached_workflows": max_cached}
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for signum in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(signum, stop.set)
    async with serving(client, app, task_queue=task_queue, **options):
        note(f"Worker on {address} ({namespace}), task queue {task_queue!r}. Ctrl-C stops it.")
        await stop.wait()
