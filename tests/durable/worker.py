"""A durable engine in a process of its own, for the tests that kill processes.

The tests start :func:`run` in child processes forked from a server that has
imported Ascent and DBOS already, so a child starts in milliseconds. The
agent's model is the local mock server (``OPENAI_BASE_URL``); its tool
``slow_lookup`` appends the process id to ``<marks>/calls`` and creates
``<marks>/started-<pid>`` before it sleeps ``delay`` seconds, so a test can kill
the process while the tool runs. With ``wait``, the run's final record is
written to ``<marks>/result-<pid>.json``. With ``mcp_tools``, the agent also
uses a stdio MCP server (``tests/mcp/named_server.py``) whose tools are the
words of that file when the server starts. ``crash_on`` names a DBOS method
that kills the worker when called (a crash at an exact point), and
``approval_wait`` shortens each durable wait for approval; ``model`` and
``previous_response_id`` choose the model (``openai:mock`` for the Responses
API) and the response a started run continues. A worker creates
``<marks>/ready-<pid>`` once its engine has started.

With ``inbox``, the worker also carries out the commands appended to that file
(JSON lines, read from its start on each spawn, so a restarted worker repeats
them: a start is idempotent by run id, a decision on a run that is not waiting
is a no-op): ``{"start": id, "input": text, "session": id or null}`` and
``{"decide": id}`` (approve every pending call). It appends ``started <id>`` or
``decided <id>`` to ``<marks>/confirmed`` once a command is done. Every model
request carries the worker's process id in the ``x-worker-pid`` header, so the
mock server can tell which process made it.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import os
import signal
import sys
import traceback
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from dbos import DBOS

from ascent import Agent, function_tool
from ascent.durable import DurableEngine, _interpreter
from ascent.errors import RunConflict
from ascent.mcp import MCPServerStdio
from ascent.models import openai_chat, resolve_model  # imported once, in the fork server
from ascent.models.base import ModelSettings
from ascent.run.config import RunConfig

from ..sample_tools import refund


@dataclass(kw_only=True)
class Options:
    db: str
    executor: str
    marks: Path
    env: dict[str, str] = field(default_factory=dict)
    delay: float = 0.0
    start: str | None = None  # start a run with this id
    input: str = "Where is order A-1?"
    approve: str | None = None  # approve every pending call of this run
    wait: str | None = None  # wait until this run is over, write its record, exit
    heartbeat: float = 0.2
    takeover: float = 2.0
    mcp_tools: Path | None = None  # the agent uses the named MCP server with these tools
    inbox: Path | None = None  # carry out the commands appended to this file
    crash_on: str | None = None  # a DBOS method that kills this process when it is called
    approval_wait: float | None = None  # how long one durable wait for approval lasts
    model: str = "openai-chat:mock"  # "openai:mock": the Responses API
    previous_response_id: str | None = None  # the run started continues this response


WORKER_HEADER = "x-worker-pid"


NAMED_SERVER = Path(__file__).parents[1] / "mcp" / "named_server.py"


def agents(marks: Path, delay: float, mcp_tools: Path | None = None) -> list[Agent[None]]:
    @function_tool
    async def slow_lookup(order_id: str) -> str:
        """Look an order up by its id (slowly)."""
        with (marks / "calls").open("a") as calls:
            calls.write(f"{os.getpid()}\n")
        (marks / f"started-{os.getpid()}").touch()
        await asyncio.sleep(delay)
        return f"{order_id}: shipped"

    servers: list[MCPServerStdio] = []
    if mcp_tools is not None:
        args = [str(NAMED_SERVER), str(mcp_tools)]
        servers.append(MCPServerStdio(command=sys.executable, args=args, name="named"))
    return [
        Agent(
            name="support",
            instructions="Be brief.",
            tools=[slow_lookup, refund],
            mcp_servers=servers,
        )
    ]


async def main(options: Options) -> None:
    engine = DurableEngine(
        agents=agents(options.marks, options.delay, options.mcp_tools),
        database_url=options.db,
        executor_id=options.executor,
        model=options.model,
        heartbeat_interval=options.heartbeat,
        takeover_after=options.takeover,
        poll_interval=0.05,
        app_version="test",
        run_config=RunConfig(
            model_settings=ModelSettings(extra_headers={WORKER_HEADER: str(os.getpid())})
        ),
    )
    if options.approval_wait is not None:
        _interpreter._APPROVAL_WAIT_SECONDS = options.approval_wait
    async with engine:
        (options.marks / f"ready-{os.getpid()}").touch()
        if options.crash_on:
            _crash_on(options.crash_on)
        if options.start:
            await engine.start_run(
                "support",
                options.input,
                run_id=options.start,
                previous_response_id=options.previous_response_id,
            )
        if options.approve:
            record = await engine.wait_run(options.approve, timeout=60)
            decisions = {r.call_id: True for r in record.pending_approvals}
            await engine.decide(options.approve, decisions)
        if options.wait:
            while True:
                record = await engine.wait_run(options.wait, timeout=60)
                if record.done:
                    break
                await asyncio.sleep(0.05)
            result = options.marks / f"result-{os.getpid()}.json"
            partial = result.with_suffix(".tmp")
            partial.write_text(record.model_dump_json())
            partial.rename(result)  # whole, or not there yet
            return
        if options.inbox is not None:
            await serve_inbox(engine, options.inbox, options.marks / "confirmed")
        await asyncio.Event().wait()  # serve until killed


async def serve_inbox(engine: DurableEngine, inbox: Path, confirmed: Path) -> None:
    """Carry out the inbox's commands as they are appended (until killed)."""
    done = 0
    while True:
        lines = inbox.read_text().splitlines(keepends=True) if inbox.exists() else []
        for line in lines[done:]:
            if not line.endswith("\n"):
                break  # still being written
            command = json.loads(line)
            if "start" in command:
                await engine.start_run(
                    "support",
                    command["input"],
                    run_id=command["start"],
                    session_id=command["session"],
                )
                append_line(confirmed, f"started {command['start']}")
            else:
                run_id = command["decide"]
                record = await engine.get_run(run_id)
                if record.status == "awaiting_approval":
                    # RunConflict: decided meanwhile (by an earlier life of this worker, say)
                    with contextlib.suppress(RunConflict):
                        await engine.decide(
                            run_id, {r.call_id: True for r in record.pending_approvals}
                        )
                append_line(confirmed, f"decided {run_id}")
            done += 1
        await asyncio.sleep(0.02)


def _crash_on(method: str) -> None:
    """Make ``DBOS.<method>`` kill this process (SIGKILL) the moment it is called:
    a crash at that exact point of whatever calls it."""

    def crash(*args: Any, **kwargs: Any) -> None:
        os.kill(os.getpid(), signal.SIGKILL)

    setattr(DBOS, method, crash)


def append_line(path: Path, line: str) -> None:
    """One write of a whole line: a kill leaves it written or not, never half."""
    fd = os.open(path, os.O_WRONLY | os.O_APPEND | os.O_CREAT)
    try:
        os.write(fd, f"{line}\n".encode())
    finally:
        os.close(fd)


def run(options: Options) -> None:
    """The child process's entry point."""
    os.environ.update(options.env)
    try:
        assert openai_chat is not None
        resolve_model(options.model)  # make the client now, not while heartbeats are due
        asyncio.run(main(options))
    except BaseException:
        (options.marks / f"error-{os.getpid()}.txt").write_text(traceback.format_exc())
        raise
