"""The console: a web UI at ``/ui``, static files that talk to the public API.

The files (``console/``) ship in the wheel; the front-end libraries are
vendored under ``console/vendor/`` (``scripts/vendor_console.sh``), so nothing
is fetched from elsewhere and there is no build step. The pages hold no data:
every request they make goes to the API with the user's key.
"""

from __future__ import annotations

import base64
import functools
import hashlib
import mimetypes
import re
from pathlib import Path

from fastapi import FastAPI
from starlette.staticfiles import StaticFiles
from starlette.types import Scope

__all__ = ["CONSOLE_DIR", "CONSOLE_PATH", "mount_console"]

CONSOLE_DIR = Path(__file__).with_name("console")
CONSOLE_PATH = "/ui"


def _csp() -> str:
    """The console's own files only; of inline scripts, just its import map (by hash)."""
    page = (CONSOLE_DIR / "index.html").read_text(encoding="utf-8")
    maps = re.findall(r'<script type="importmap">(.*?)</script>', page, flags=re.DOTALL)
    hashes = " ".join(
        "'sha256-" + base64.b64encode(hashlib.sha256(m.encode()).digest()).decode() + "'"
        for m in maps
    )
    return (
        f"default-src 'self'; script-src 'self' {hashes}; "
        "style-src 'self' 'unsafe-inline'; img-src 'self' data:; connect-src 'self'; "
        "frame-ancestors 'none'; base-uri 'none'; form-action 'self'"
    )


class _ConsoleFiles(StaticFiles):
    async def get_response(self, path: str, scope: Scope):  # type: ignore[no-untyped-def]
        response = await super().get_response(path, scope)
        response.headers.setdefault("Content-Security-Policy", _cached_csp())
        response.headers.setdefault("X-Content-Type-Options", "nosniff")
        response.headers.setdefault("Referrer-Policy", "no-referrer")
        response.headers.setdefault("Cache-Control", "no-cache")
        return response


_cached_csp = functools.cache(_csp)


def mount_console(app: FastAPI) -> None:
    """Serve the console at ``/ui/`` (``/ui`` redirects there)."""
    mimetypes.add_type("text/javascript", ".mjs")  # not in every system's MIME table
    app.mount(CONSOLE_PATH, _ConsoleFiles(directory=CONSOLE_DIR, html=True), name="console")
