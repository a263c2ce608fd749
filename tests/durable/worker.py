"""A durable engine in a process of its own, for the tests that kill processes.

The tests start :func:`run` in child processes forked from a server that has
imported Ascent and DBOS already, so a child starts in milliseconds. The
agent's model is the local mock server (``OPENAI_BASE_URL``); its tool
``slow_lookup`` appends the process id to ``<marks>/calls`` and creates
``<marks>/started-<pid>`` before it sleeps ``delay`` seconds, so a test can kill
the process while the tool runs. With ``wait``, the run's final record is
written to ``<marks>/result-<pid>.json``. With ``mcp_tools``, the agent also
uses a stdio MCP server (``tests/mcp/named_server.py``) whose tools are the
words of that file when the server starts.
"""

from __future__ import annotations

import asyncio
import os
import sys
import traceback
from dataclasses import dataclass, field
from pathlib import Path

from ascent import Agent, function_tool
from ascent.durable import DurableEngine
from ascent.mcp import MCPServerStdio
from ascent.models import openai_chat, resolve_model  # imported once, in the fork server

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
        model="openai-chat:mock",
        heartbeat_interval=options.heartbeat,
        takeover_after=options.takeover,
        poll_interval=0.05,
        app_version="test",
    )
    async with engine:
        if options.start:
            await engine.start_run("support", options.input, run_id=options.start)
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
        await asyncio.Event().wait()  # serve until killed


def run(options: Options) -> None:
    """The child process's entry point."""
    os.environ.update(options.env)
    try:
        assert openai_chat is not None
        resolve_model("openai-chat:mock")  # make the client now, not while heartbeats are due
        asyncio.run(main(options))
    except BaseException:
        (options.marks / f"error-{os.getpid()}.txt").write_text(traceback.format_exc())
        raise
