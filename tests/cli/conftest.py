"""The command-line tests run offline: no key, no base URL, imports contained."""

from __future__ import annotations

import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

from .helpers import AGENT_FILE, KEYS


@pytest.fixture(autouse=True)
def offline(monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    """No key, no base URL: every run uses the offline model. Imports stay contained."""
    for key in KEYS:
        monkeypatch.delenv(key, raising=False)
    monkeypatch.setenv("NO_COLOR", "1")
    monkeypatch.setattr(sys, "path", list(sys.path))
    before = set(sys.modules)
    yield
    for name in set(sys.modules) - before:
        if name.startswith(("_ascent_cli_", "shopagents")):
            del sys.modules[name]


@pytest.fixture
def agent_file(tmp_path: Path) -> Path:
    path = tmp_path / "support_agent.py"
    path.write_text(AGENT_FILE)
    return path
