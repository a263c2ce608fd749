"""The core stays light: the ``mcp`` SDK is imported only when MCP is used."""

from __future__ import annotations

import subprocess
import sys

import pytest

from ascent import Agent, Runner, UserError
from ascent.mcp import MCPServerHTTP
from ascent.testing import ScriptedModel


def test_importing_ascent_and_its_mcp_classes_does_not_import_the_sdk() -> None:
    code = (
        "import sys, ascent\n"
        "from ascent.mcp import MCPServerStdio\n"
        "ascent.Agent(name='a', mcp_servers=[MCPServerStdio(command='x')])\n"
        "print(sorted(m for m in sys.modules if m == 'mcp' or m.startswith('mcp.')))\n"
    )
    done = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, timeout=60, check=True
    )
    assert done.stdout.strip() == "[]"


async def test_without_the_extra_a_run_says_what_to_install(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setitem(sys.modules, "mcp", None)  # as if it were not installed
    server = MCPServerHTTP(url="http://127.0.0.1:9/mcp")
    agent = Agent(name="a", model=ScriptedModel(["never"]), mcp_servers=[server])
    with pytest.raises(UserError, match=r"pip install 'ascent-agents\[mcp\]'"):
        await Runner.run(agent, "hi")
    import ascent.mcp

    with pytest.raises(UserError, match="'mcp' extra"):
        ascent.mcp.create_mcp_server  # noqa: B018
