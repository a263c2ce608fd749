"""Browser tests of the console: a real service in a child process, Debian's chromium.

The service (``ascent serve tests/console/served_console.py:create_app``) runs
the demo team on the offline model with two tenants' keys, on loopback, with
its own SQLite database. Playwright drives ``/usr/bin/chromium`` headless
(nothing is downloaded: ``playwright install`` is never run). Without
chromium the tests skip, except under ``CI=true``, where that is an error.
Screenshots go to ``test-artifacts/screenshots/``.
"""

from __future__ import annotations

import os
import shutil
import socket
import subprocess
import sys
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import pytest

from ascent.testing import wait_until_serving

HERE = Path(__file__).parent
REPO = HERE.parents[1]
SCREENSHOTS = REPO / "test-artifacts" / "screenshots"
AXE = HERE / "vendor" / "axe.min.js"
KEYS = {"key-acme": "acme", "key-globex": "globex"}
CHROMIUM = os.environ.get("ASCENT_TEST_CHROMIUM", "/usr/bin/chromium")


def _in_ci() -> bool:
    return os.environ.get("CI", "").strip().lower() not in {"", "0", "false", "no"}


@dataclass
class Service:
    url: str

    def client(self, key: str = "key-acme") -> httpx.Client:
        return httpx.Client(
            base_url=self.url, headers={"Authorization": f"Bearer {key}"}, timeout=30
        )


@pytest.fixture(scope="session")
def chromium_path() -> str:
    if not (Path(CHROMIUM).exists() or shutil.which(CHROMIUM)):
        if _in_ci():
            pytest.fail(f"{CHROMIUM} not found: CI installs Debian's chromium package")
        pytest.skip(f"{CHROMIUM} not found (CI installs Debian's chromium package)")
    pytest.importorskip("playwright")
    return CHROMIUM


@pytest.fixture(scope="package")
def service(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Service]:
    """The demo team served on loopback, in its own process (DBOS: one engine per process)."""
    home = tmp_path_factory.mktemp("console")
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
    env = {
        **os.environ,
        "ASCENT_DATABASE_URL": f"sqlite:///{home / 'service.db'}",
        "ASCENT_API_KEYS": ",".join(f"{key}:{tenant}" for key, tenant in KEYS.items()),
        "CONSOLE_PACE": "0.08",
    }
    env.pop("OPENAI_API_KEY", None)  # the offline model, always
    log = (home / "service.log").open("wb")
    process = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "ascent.cli",
            "serve",
            f"{HERE / 'served_console.py'}:create_app",
            "--port",
            str(port),
        ],
        env=env,
        cwd=home,
        stdout=log,
        stderr=subprocess.STDOUT,
    )
    url = f"http://127.0.0.1:{port}"
    try:
        wait_until_serving(f"{url}/readyz", process=process, timeout=60)
        yield Service(url)
    finally:
        process.terminate()
        try:
            process.wait(timeout=15)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()
        log.close()


@pytest.fixture(scope="package")
def browser(chromium_path: str) -> Iterator[Any]:
    # Package scope, not session: Playwright's sync API runs an event loop in this
    # thread while it is open, which the asyncio tests of other packages cannot share.
    from playwright.sync_api import sync_playwright

    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=chromium_path, headless=True)
        yield browser
        browser.close()


@pytest.fixture
def page(browser: Any) -> Iterator[Any]:
    # bypass_csp: axe-core is injected as an inline script, which the console's CSP refuses
    context = browser.new_context(viewport={"width": 1200, "height": 900}, bypass_csp=True)
    context.set_default_timeout(20_000)
    page = context.new_page()
    errors: list[str] = []
    page.on("pageerror", lambda error: errors.append(str(error)))
    yield page
    context.close()
    assert not errors, f"script errors in the page: {errors}"


def screenshot(page: Any, name: str) -> None:
    """Save a screenshot of the page to ``test-artifacts/screenshots/NAME.png``."""
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    page.screenshot(path=str(SCREENSHOTS / f"{name}.png"), full_page=True)


def check_accessibility(page: Any, what: str) -> None:
    """axe-core finds no serious or critical violation on the page as it is now."""
    if not page.evaluate("typeof window.axe !== 'undefined'"):
        page.add_script_tag(content=AXE.read_text(encoding="utf-8"))
    result = page.evaluate(
        "axe.run(document, {resultTypes: ['violations']}).then(r => r.violations.map("
        "v => ({id: v.id, impact: v.impact, help: v.help,"
        " nodes: v.nodes.slice(0, 3).map(n => n.target.join(' '))})))"
    )
    bad = [v for v in result if v["impact"] in ("serious", "critical")]
    assert not bad, f"accessibility violations on {what}: {bad}"


def sign_in(page: Any, service: Service, key: str = "key-acme", path: str = "#/chat") -> None:
    page.goto(f"{service.url}/ui/{path}")
    page.get_by_label("API key").fill(key)
    page.get_by_role("button", name="Sign in").click()
    page.get_by_role("navigation", name="Pages").wait_for()
