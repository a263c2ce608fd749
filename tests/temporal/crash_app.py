"""The app a worker process serves in the crash test (``ascent worker ... crash_app:app``).

Its model is the local mock server (``OPENAI_BASE_URL``). Its tool
``slow_lookup`` appends the worker's process id to ``<marks>/calls``; the first
time it runs anywhere it creates ``<marks>/started-<pid>`` and then sleeps long
enough to be killed in the middle.
"""

from __future__ import annotations

import asyncio
import os
from pathlib import Path

from ascent import Agent, function_tool
from ascent.temporal import TemporalApp

MARKS = Path(os.environ.get("ASCENT_TEST_MARKS", "."))


@function_tool
async def slow_lookup(order_id: str) -> str:
    """Where an order is (slowly, the first time)."""
    with (MARKS / "calls").open("a") as calls:
        calls.write(f"{os.getpid()}\n")
    if not any(MARKS.glob("started-*")):
        (MARKS / f"started-{os.getpid()}").touch()
        await asyncio.sleep(3600)
    return f"{order_id}: shipped Monday"


agent = Agent(
    name="Crash", instructions="Look orders up.", model="openai-chat:mock", tools=[slow_lookup]
)
# Short heartbeats: an activity whose worker died is tried again after 5 s of silence.
app = TemporalApp(agents=[agent], heartbeat_timeout=5)
