"""``ascent ui``: the demo team served on loopback, the console's URL printed."""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import time
from pathlib import Path

import httpx


def test_ascent_ui_serves_the_demo_team_and_prints_the_consoles_url(tmp_path: Path) -> None:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    env = {
        key: value
        for key, value in os.environ.items()
        if key not in {"DISPLAY", "WAYLAND_DISPLAY", "BROWSER", "ASCENT_API_KEYS", "OPENAI_API_KEY"}
    }
    env["ASCENT_DATABASE_URL"] = f"sqlite:///{tmp_path / 'ui.db'}"
    process = subprocess.Popen(
        [sys.executable, "-m", "ascent.cli", "ui", "--port", str(port)],
        env=env,
        cwd=tmp_path,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )
    url = f"http://127.0.0.1:{port}/ui/"
    try:
        assert process.stdout is not None
        deadline = time.monotonic() + 60
        lines: list[str] = []
        while time.monotonic() < deadline:
            line = process.stdout.readline()
            if not line:
                break
            lines.append(line)
            if url in line:
                break
        assert any(f"The Ascent console: {url}" in line for line in lines), lines
        page = httpx.get(url, timeout=10)
        assert page.status_code == 200 and "Ascent console" in page.text
        agents = httpx.get(f"http://127.0.0.1:{port}/v1/agents", timeout=10).json()
        assert [agent["name"] for agent in agents["agents"]] == ["Triage"]  # no keys: open
    finally:
        process.terminate()
        try:
            process.wait(timeout=15)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()
