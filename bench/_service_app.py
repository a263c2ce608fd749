"""The app each replica of ``bench/service.py`` serves: a calculator agent on the mock model.

The model is ``openai-chat:mock`` at ``OPENAI_BASE_URL`` (the local mock server);
``ascent serve bench/_service_app.py:create_app`` loads it.
"""

from __future__ import annotations

import os
import sys
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).parent))

from _common import INSTRUCTIONS, add_async
from _profile import install as install_profiler

from ascent import Agent, function_tool


def create_app() -> Any:
    from ascent.server import create_app as make

    install_profiler()  # only when ASCENT_BENCH_PROFILE names a file (service.py --profile)
    agent = Agent(
        name="Calculator",
        instructions=INSTRUCTIONS,
        tools=[function_tool(name="add")(add_async)],
        model="openai-chat:mock",
    )
    app = make([agent])
    poll = os.environ.get("SERVED_POLL_INTERVAL")  # bench/news.py: news comes by NOTIFY
    if poll:
        app.state.ascent.engine.poll_interval = float(poll)
    return app
