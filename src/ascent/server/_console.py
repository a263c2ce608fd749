"""The console: a web UI at ``/ui``, static files that talk to the public API.

The files (``console/``) ship in the wheel; the front-end libraries are
vendored under ``console/vendor/`` (``scripts/vendor_console.sh``), so nothing
is fetched from elsewhere and there is no build step. The pages hold no data:
every request they make goes to the API with the user's key.
"""

from __future__ import annotations

import mimetypes
from pathlib import Path

from fastapi import FastAPI
from starlette.staticfiles import StaticFiles
from starlette.types import Scope

__all__ = ["CONSOLE_DIR", "CONSOLE_PATH", "mount_console"]

CONSOLE_DIR = Path(__file__).with_name("console")
CONSOLE_PATH = "/ui"

# The console's own files only: no inline scripts but the import map (by hash
# would be brittle; 'self' plus the map's type is what browsers need), no frames.
_CSP = (
    "default-src 'self'; script-src 'self' 'unsafe-inline'; style-src 'self' 'unsafe-inline'; "
    "img-src 'self' data:; connect-src 'self'; frame-ancestors 'none'; base-uri 'none'"
)


class _ConsoleFiles(StaticFiles):
    async def get_response(self, path: str, scope: Scope):  # type: ignore[no-untyped-def]
        response = await super().get_response(path, scope)
        response.headers.setdefault("Content-Security-Policy", _CSP)
        response.headers.setdefault("X-Content-Type-Options", "nosniff")
        response.headers.setdefault("Referrer-Policy", "no-referrer")
        response.headers.setdefault("Cache-Control", "no-cache")
        return response


def mount_console(app: FastAPI) -> None:
    """Serve the console at ``/ui/`` (``/ui`` redirects there)."""
    mimetypes.add_type("text/javascript", ".mjs")  # not in every system's MIME table
    app.mount(CONSOLE_PATH, _ConsoleFiles(directory=CONSOLE_DIR, html=True), name="console")
