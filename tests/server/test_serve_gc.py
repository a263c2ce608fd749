"""``ascent serve`` tunes the garbage collector of its own process, and only of its own.

The console script owns its process; a caller that invokes the CLI or ``serve``
(a test, an application) keeps its collector as it set it.
"""

from __future__ import annotations

import gc
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from typer.testing import CliRunner

from ascent.cli import app as cli
from ascent.server.serve import GC_YOUNG_THRESHOLD, serve

AGENTS_FILE = Path(__file__).with_name("served_agents.py")


@pytest.fixture(autouse=True)
def _restore_gc(monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    monkeypatch.setattr(sys, "path", list(sys.path))  # loading a file adds its folder
    monkeypatch.delenv("ASCENT_API_KEYS", raising=False)
    before = gc.get_threshold()
    yield
    gc.set_threshold(*before)
    gc.unfreeze()


@pytest.fixture
def served(monkeypatch: pytest.MonkeyPatch) -> list[Any]:
    import uvicorn

    apps: list[Any] = []
    monkeypatch.setattr(uvicorn, "run", lambda app, **_: apps.append(app))
    return apps


def test_serve_for_its_own_process_tunes_the_collector(served: list[Any]) -> None:
    from .served_agents import create_agents

    serve(create_agents(), own_process=True, note=lambda _: None)
    assert served
    assert gc.get_threshold() == (GC_YOUNG_THRESHOLD, 50, 100)
    assert gc.get_freeze_count() > 0


def test_serve_called_by_others_leaves_the_collector(served: list[Any]) -> None:
    from .served_agents import create_agents

    before = gc.get_threshold()
    serve(create_agents(), note=lambda _: None)
    assert served
    assert gc.get_threshold() == before


def test_the_cli_invoked_in_process_leaves_the_collector(served: list[Any]) -> None:
    before = gc.get_threshold()
    result = CliRunner().invoke(cli, ["serve", f"{AGENTS_FILE}:create_agents"])
    assert result.exit_code == 0, result.output
    assert served
    assert gc.get_threshold() == before


def test_the_console_script_owns_its_process() -> None:
    """``python -m ascent.cli`` (the console script's entry point) marks the process its own."""
    code = (
        "import sys; sys.argv = ['ascent', '--help']\n"
        "from ascent.cli import serving\n"
        "from ascent.cli.app import main\n"
        "try:\n    main()\nexcept SystemExit:\n    pass\n"
        "print('owned', serving.OWN_PROCESS)\n"
    )
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True)
    assert "owned True" in done.stdout, done.stderr
