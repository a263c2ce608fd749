"""The console's static files: served at /ui without a key, self-contained, small."""

from __future__ import annotations

import re
import subprocess
import sys

import pytest
from fastapi import FastAPI

from ascent.durable import DurableEngine
from ascent.server import create_app
from ascent.server._console import CONSOLE_DIR

from .conftest import serving

pytestmark = pytest.mark.asyncio(loop_scope="package")

# What the first page loads: the page, its style, the app and the vendored modules.
FIRST_PAGE = [
    "index.html",
    "console.css",
    "app.js",
    "vendor/preact/preact.mjs",
    "vendor/preact/hooks/hooks.mjs",
    "vendor/htm/htm.mjs",
    "vendor/fetch-event-source/index.js",
    "vendor/fetch-event-source/fetch.js",
    "vendor/fetch-event-source/parse.js",
]


async def test_the_console_is_served_at_ui_without_a_key(app: FastAPI) -> None:
    async with serving(app, key=None) as client:
        moved = await client.get("/ui")
        assert moved.status_code == 307 and moved.headers["location"].endswith("/ui/")
        page = await client.get("/ui/")
        assert page.status_code == 200 and page.headers["content-type"].startswith("text/html")
        assert "frame-ancestors 'none'" in page.headers["content-security-policy"]
        for name in FIRST_PAGE[1:]:
            response = await client.get(f"/ui/{name}")
            assert response.status_code == 200, name
            if name.endswith(("js", "mjs")):
                assert response.headers["content-type"].startswith("text/javascript"), name
        # the data stays behind the key
        assert (await client.get("/v1/agents")).status_code == 401


async def test_the_console_loads_nothing_from_elsewhere_and_stays_small() -> None:
    total = 0
    for name in FIRST_PAGE:
        text = (CONSOLE_DIR / name).read_text(encoding="utf-8")
        total += len(text.encode())
        assert not re.search(r"""(?:src|href|from|import)\s*[=(]?\s*["']https?:""", text), name
    assert total < 200_000


async def test_the_console_can_be_left_out(engine: DurableEngine, database_url: str) -> None:
    bare = create_app(engine=engine, database_url=database_url, api_keys={}, console=False)
    async with serving(bare, key=None) as client:
        assert (await client.get("/ui/")).status_code == 404


async def test_import_ascent_loads_no_server_and_no_console() -> None:
    loaded = "sorted(m for m in sys.modules if m.startswith('ascent.server'))"
    code = f"import sys, ascent\nprint({loaded})"
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=60)
    assert done.returncode == 0, done.stderr
    assert done.stdout.strip() == "[]"
