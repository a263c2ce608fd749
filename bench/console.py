"""The console in Debian's Chromium against a served demo team: first load, a big trace, paging.

The service is ``ascent serve bench/_console_app.py:create_app`` in its own process
(on loopback, its own SQLite file, API key ``bench-key`` for tenant ``acme``);
Playwright drives ``/usr/bin/chromium`` headless (nothing is downloaded). The
runs and the trace are written straight into the service's database (the durable
run store, the trace store): nothing runs a model.

Figures:

* the first load of ``/ui/`` (the login page), the service warm, in a fresh
  browser context each time (no cache): time to first paint and to the first
  contentful paint, time until the app has rendered, and the bytes transferred
  (the document and every resource);
* a trace of ``--spans`` spans (a run of tenant acme names it) opened in the
  console: from the navigation to its page until the last span row of its
  timeline is in the DOM, opened from inside the app (a hash change) and by a
  fresh page load;
* ``--runs`` runs of tenant acme, paged 50 at a time: ``GET /v1/runs?limit=50&before=``
  over HTTP (median and p95 over ``--pages`` pages), and the console's Runs page
  (from a click on "Older" until the page's 50 rows are in the DOM); also
  ``GET /v1/usage`` over all of them, for reference;
* that ``import ascent`` imports no console module, and that the core install's
  dependencies are the ones it had before the console.

    uv run python bench/console.py [--runs 10000] [--spans 2000] [--pages 50] [--loads 7]

Targets: first paint < 300 ms, first load < 200 KB; the trace rendered < 1 s;
a page of runs < 200 ms (API and console, p95).
"""

from __future__ import annotations

import argparse
import os
import shutil
import socket
import subprocess
import sys
import tempfile
import time
import tomllib
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import httpx
from _common import kb, median, ms, percentile, table, verdict

from ascent.testing.loopback import wait_until_serving

APP = Path(__file__).with_name("_console_app.py")
PYPROJECT = Path(__file__).resolve().parents[1] / "pyproject.toml"
CHROMIUM = os.environ.get("ASCENT_BENCH_CHROMIUM", "/usr/bin/chromium")
KEY = "bench-key"
TENANT = "acme"
PAGE_SIZE = 50

TARGET_PAINT = 0.300
TARGET_BYTES = 200 * 1024
TARGET_TRACE = 1.0
TARGET_PAGE = 0.200

# The core install's runtime dependencies before the console: it adds none.
CORE_DEPENDENCIES = {
    "openai",
    "pydantic",
    "docstring-parser",
    "typer",
    "rich",
    "typing-extensions",
    "sqlalchemy",
}


@dataclass
class Service:
    url: str
    database_url: str

    def client(self) -> httpx.Client:
        return httpx.Client(
            base_url=self.url, headers={"Authorization": f"Bearer {KEY}"}, timeout=60
        )


@contextmanager
def served(home: Path) -> Iterator[Service]:
    """``ascent serve`` of the demo team in a child process, on loopback."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
    database_url = f"sqlite:///{home / 'service.db'}"
    env = {**os.environ, "ASCENT_DATABASE_URL": database_url, "ASCENT_API_KEYS": f"{KEY}:{TENANT}"}
    env.pop("OPENAI_API_KEY", None)
    log = (home / "service.log").open("wb")
    process = subprocess.Popen(
        [sys.executable, "-m", "ascent.cli", "serve", f"{APP}:create_app", "--port", str(port)],
        env=env,
        cwd=home,
        stdout=log,
        stderr=subprocess.STDOUT,
    )
    url = f"http://127.0.0.1:{port}"
    try:
        wait_until_serving(f"{url}/readyz", process=process, timeout=60)
        yield Service(url, database_url)
    finally:
        process.terminate()
        try:
            process.wait(timeout=15)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()
        log.close()


# ------------------------------------------------------------------ the data


def write_runs(service: Service, count: int, *, trace_id: str | None = None) -> list[str]:
    """``count`` completed runs of tenant acme, a second apart, the newest now; the
    newest names ``trace_id``. Their ids, newest first."""
    from ascent.durable._store import RunStore
    from ascent.durable.records import RunRecord

    store = RunStore(service.database_url)
    now = time.time()
    ids, rows = [], []
    for i in range(count):
        at = datetime.fromtimestamp(now - i, UTC)
        run_id = f"run_bench_{i:06d}"
        rows.append(
            RunRecord(
                id=run_id,
                agent=("Triage", "Billing", "Technical")[i % 3],
                tenant=TENANT,
                session_id=f"bench-{i % 100}",
                status="completed",
                output="Done.",
                trace_id=trace_id if i == 0 else None,
                created_at=at,
                updated_at=at,
            )
        )
        ids.append(run_id)
    # RunStore.insert_run's statement and row, many rows to one transaction (one
    # transaction per run would take minutes on SQLite)
    with store.engine.begin() as conn:
        conn.execute(store.sql.insert_run, [store._row(record) for record in rows])
    return ids


def write_trace(service: Service, trace_id: str, run_id: str, spans: int) -> None:
    """A finished trace of ``spans`` spans: agent turns, each with model and tool calls."""
    from ascent.tracing.spans import SpanKind, SpanRecord, TraceRecord
    from ascent.tracing.store import SQLTraceStore

    start = time.time() - 60
    records: list[TraceRecord | SpanRecord] = [
        TraceRecord(
            trace_id=trace_id,
            workflow="Bench workflow",
            started_at=start,
            ended_at=start + spans * 0.01 + 1,
            metadata={"run_id": run_id},
        )
    ]
    parent = ""
    for i in range(spans):
        kind: SpanKind
        if i % 20 == 0:
            kind, name, parent_id = "agent", f"Triage turn {i // 20}", None
        else:
            kind = "model" if i % 2 else "tool"
            name = "offline" if kind == "model" else "lookup_order"
            parent_id = parent
        span_id = f"span_bench_{i:06d}"
        if kind == "agent":
            parent = span_id
        at = start + i * 0.01
        records.append(
            SpanRecord(
                trace_id=trace_id,
                span_id=span_id,
                parent_id=parent_id,
                kind=kind,
                name=name,
                started_at=at,
                ended_at=at + (0.2 if kind == "agent" else 0.008),
                attributes={"index": i, "input": "Where is my order A-1042?"},
            )
        )
    SQLTraceStore(service.database_url).export(records)


# ------------------------------------------------------------------ the browser


@contextmanager
def chromium() -> Iterator[Any]:
    from playwright.sync_api import sync_playwright

    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=CHROMIUM, headless=True)
        try:
            yield browser
        finally:
            browser.close()


@contextmanager
def signed_in(browser: Any) -> Iterator[Any]:
    """A page whose tab holds the API key (as the login form leaves it)."""
    context = browser.new_context(viewport={"width": 1200, "height": 900})
    context.set_default_timeout(60_000)
    context.add_init_script(f"sessionStorage.setItem('ascent.console.key', {KEY!r})")
    try:
        yield context.new_page()
    finally:
        context.close()


@dataclass
class FirstLoad:
    first_paint: float
    first_contentful_paint: float
    app_ready: float
    transferred: int


def first_load(browser: Any, service: Service) -> FirstLoad:
    context = browser.new_context(viewport={"width": 1200, "height": 900})
    try:
        page = context.new_page()
        page.goto(f"{service.url}/ui/")
        page.get_by_label("API key").wait_for()
        ready = page.evaluate("performance.now()") / 1000
        page.wait_for_load_state("load")
        found = page.evaluate(
            """() => {
              const paint = Object.fromEntries(
                performance.getEntriesByType('paint').map(e => [e.name, e.startTime]));
              const entries = performance.getEntriesByType('navigation')
                .concat(performance.getEntriesByType('resource'));
              const bytes = entries.reduce(
                (sum, e) => sum + (e.transferSize || e.encodedBodySize || 0), 0);
              return {fp: paint['first-paint'], fcp: paint['first-contentful-paint'], bytes};
            }"""
        )
        return FirstLoad(found["fp"] / 1000, found["fcp"] / 1000, ready, found["bytes"])
    finally:
        context.close()


# Resolves with the seconds from the navigation until `selector` matches `count` nodes.
_UNTIL_ROWS = """
([selector, count, hash]) => new Promise((resolve) => {
  const t0 = performance.now();
  const done = () => document.querySelectorAll(selector).length >= count;
  const observer = new MutationObserver(() => {
    if (done()) { observer.disconnect(); resolve((performance.now() - t0) / 1000); }
  });
  observer.observe(document.body, {childList: true, subtree: true});
  location.hash = hash;
})
"""

_TIMELINE_ROWS = "ol.timeline > li"

# Resolves with the seconds from a click on "Older" until the first row is another run.
_UNTIL_NEXT_PAGE = """
([first, size]) => new Promise((resolve) => {
  const t0 = performance.now();
  const done = () => {
    const rows = document.querySelectorAll('tr[data-run]');
    return rows.length > 0 && rows[0].dataset.run !== first;
  };
  const observer = new MutationObserver(() => {
    if (done()) { observer.disconnect(); resolve((performance.now() - t0) / 1000); }
  });
  observer.observe(document.body, {childList: true, subtree: true, attributes: true});
  [...document.querySelectorAll('button')].find((b) => b.textContent === 'Older').click();
})
"""


def open_trace(
    browser: Any, service: Service, trace_id: str, spans: int, times: int
) -> tuple[list[float], list[float]]:
    """Seconds until the trace's last span row is in the DOM: from inside the app, and cold."""
    in_app, cold = [], []
    with signed_in(browser) as page:
        for _ in range(times):
            page.goto(f"{service.url}/ui/#/runs")
            page.get_by_role("heading", name="Runs").wait_for()
            in_app.append(
                page.evaluate(_UNTIL_ROWS, [_TIMELINE_ROWS, spans, f"#/traces/{trace_id}"])
            )
        for _ in range(times):
            page.goto("about:blank")
            page.goto(f"{service.url}/ui/#/traces/{trace_id}")
            page.wait_for_function(
                "([selector, count]) => document.querySelectorAll(selector).length >= count",
                arg=[_TIMELINE_ROWS, spans],
                polling="raf",
            )
            cold.append(page.evaluate("performance.now()") / 1000)
        assert page.locator(_TIMELINE_ROWS).count() == spans
    return in_app, cold


def page_runs_in_console(browser: Any, service: Service, pages: int) -> list[float]:
    """Seconds from a click on "Older" until the next page's rows are shown."""
    took = []
    with signed_in(browser) as page:
        page.goto(f"{service.url}/ui/#/runs")
        page.locator("tr[data-run]").nth(PAGE_SIZE - 1).wait_for()
        for _ in range(pages):
            first = page.locator("tr[data-run]").first.get_attribute("data-run")
            older = page.get_by_role("button", name="Older")
            if older.count() == 0:
                break
            took.append(
                page.evaluate(
                    _UNTIL_NEXT_PAGE,
                    [first, PAGE_SIZE],
                )
            )
    return took


# ------------------------------------------------------------------ the API


def page_runs_over_http(service: Service, pages: int) -> tuple[list[float], int]:
    took, seen, before = [], 0, None
    with service.client() as client:
        client.get("/v1/runs", params={"limit": PAGE_SIZE})  # warm
        for _ in range(pages):
            params: dict[str, Any] = {"limit": PAGE_SIZE}
            if before:
                params["before"] = before
            t0 = time.perf_counter()
            response = client.get("/v1/runs", params=params)
            took.append(time.perf_counter() - t0)
            response.raise_for_status()
            body = response.json()
            seen += len(body["runs"])
            before = body["next"]
            if not before:
                break
    return took, seen


def usage_over_http(service: Service) -> tuple[float, int]:
    with service.client() as client:
        t0 = time.perf_counter()
        response = client.get("/v1/usage")
        took = time.perf_counter() - t0
    response.raise_for_status()
    return took, response.json()["runs"]


# ------------------------------------------------------------------ the install


def console_not_imported() -> list[str]:
    """The ``ascent.server`` modules a fresh ``import ascent`` loads (none expected)."""
    code = (
        "import sys, ascent; "
        "print(' '.join(m for m in sys.modules if m.startswith('ascent.server')))"
    )
    out = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, check=True
    ).stdout
    return out.split()


def core_dependencies() -> set[str]:
    import re

    project = tomllib.loads(PYPROJECT.read_text(encoding="utf-8"))["project"]
    return {
        re.split(r"[<>=!~\[; ]", spec, maxsplit=1)[0].lower() for spec in project["dependencies"]
    }


# ------------------------------------------------------------------ main


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0] if __doc__ else None)
    parser.add_argument("--runs", type=int, default=10_000, help="runs in the list")
    parser.add_argument("--spans", type=int, default=2_000, help="spans of the big trace")
    parser.add_argument("--pages", type=int, default=50, help="pages of runs timed")
    parser.add_argument("--loads", type=int, default=7, help="first loads and trace opens timed")
    parser.add_argument("--quick", action="store_true", help="tiny counts (a smoke test)")
    args = parser.parse_args(argv)
    if args.quick:
        args.runs, args.spans, args.pages, args.loads = 120, 60, 2, 1
    if not (Path(CHROMIUM).exists() or shutil.which(CHROMIUM)):
        raise SystemExit(f"{CHROMIUM} not found (Debian's chromium package)")

    home = Path(tempfile.mkdtemp(prefix="ascent-bench-console-"))
    trace_id = "trace_" + "b" * 32
    try:
        with served(home) as service, chromium() as browser:
            t0 = time.perf_counter()
            run_ids = write_runs(service, args.runs, trace_id=trace_id)
            wrote_runs = time.perf_counter() - t0
            write_trace(service, trace_id, run_ids[0], args.spans)
            with service.client() as client:  # warm the service
                for path in ("/ui/", "/ui/app.js", "/v1/agents", f"/v1/traces/{trace_id}"):
                    client.get(path).raise_for_status()
            first_load(browser, service)  # warm the browser's own start-up

            loads = [first_load(browser, service) for _ in range(args.loads)]
            in_app, cold = open_trace(browser, service, trace_id, args.spans, args.loads)
            api_pages, seen = page_runs_over_http(service, args.pages)
            console_pages = page_runs_in_console(browser, service, args.pages)
            usage_took, counted = usage_over_http(service)
    finally:
        shutil.rmtree(home, ignore_errors=True)

    print(
        f"The console against a served demo team ({args.runs:,} runs written in "
        f"{wrote_runs:.1f} s, a trace of {args.spans:,} spans)\n"
    )

    fp = median([x.first_paint for x in loads])
    fcp = median([x.first_contentful_paint for x in loads])
    ready = median([x.app_ready for x in loads])
    size = max(x.transferred for x in loads)
    print(f"First load of /ui/ (fresh context, no cache; median of {len(loads)}):")
    print(
        table(
            [
                ["figure", "value", "target", "verdict"],
                ["first paint", ms(fp), "< 300 ms", verdict(fp < TARGET_PAINT)],
                ["first contentful paint", ms(fcp), "", ""],
                ["app rendered (login form, polled)", ms(ready), "", ""],
                ["transferred", kb(size), "< 200 KB", verdict(size < TARGET_BYTES)],
            ]
        )
    )

    print(
        f"\nA trace of {args.spans:,} spans, until its last span row is in the DOM "
        f"(median and worst of {len(in_app)}):"
    )
    print(
        table(
            [
                ["opened", "median", "worst", "target", "verdict"],
                [
                    "from the app (hash change)",
                    ms(median(in_app)),
                    ms(max(in_app)),
                    "< 1 s",
                    verdict(max(in_app) < TARGET_TRACE),
                ],
                [
                    "by a fresh page load",
                    ms(median(cold)),
                    ms(max(cold)),
                    "< 1 s",
                    verdict(max(cold) < TARGET_TRACE),
                ],
            ]
        )
    )

    print(f"\n{args.runs:,} runs, {PAGE_SIZE} a page (median and p95):")
    print(
        table(
            [
                ["pages", "count", "median", "p95", "target", "verdict"],
                [
                    "GET /v1/runs?limit=50&before=",
                    str(len(api_pages)),
                    ms(median(api_pages)),
                    ms(percentile(api_pages, 95)),
                    "< 200 ms",
                    verdict(percentile(api_pages, 95) < TARGET_PAGE),
                ],
                [
                    "console Runs page (Older)",
                    str(len(console_pages)),
                    ms(median(console_pages)),
                    ms(percentile(console_pages, 95)),
                    "< 200 ms",
                    verdict(percentile(console_pages, 95) < TARGET_PAGE),
                ],
            ]
        )
    )
    print(
        f"  ({seen:,} runs paged over HTTP; GET /v1/usage over {counted:,} runs: {ms(usage_took)})"
    )

    loaded = console_not_imported()
    dependencies = core_dependencies()
    print("\nThe install:")
    print(
        f"  import ascent loads no console module: {verdict(not loaded)}"
        + (f" (loaded: {', '.join(loaded)})" if loaded else "")
    )
    print(
        f"  core dependencies unchanged ({', '.join(sorted(dependencies))}): "
        f"{verdict(dependencies == CORE_DEPENDENCIES)}"
    )
    assert not loaded, loaded
    assert dependencies == CORE_DEPENDENCIES, dependencies ^ CORE_DEPENDENCIES


if __name__ == "__main__":
    main()
