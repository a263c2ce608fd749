"""The console in a real browser, against a real service: chat, approvals, runs, traces, memory."""

from __future__ import annotations

import itertools
from typing import Any

import pytest
from playwright.sync_api import expect

from .conftest import Service, check_accessibility, screenshot, sign_in

REFUND = "Good. Then please refund order A-1042, the shoes are damaged."
WHERE = "Where is my order A-1042? It still hasn't arrived."

# Every text the streaming answer shows, in order, kept across reloads of the page.
RECORD_TEXTS = """
(() => {
  const texts = JSON.parse(sessionStorage.getItem("test.texts") || "[]");
  const seen = () => {
    for (const node of document.querySelectorAll(".entry.assistant[data-streaming=true] .text")) {
      const text = node.textContent;
      if (text && texts[texts.length - 1] !== text) {
        texts.push(text);
        sessionStorage.setItem("test.texts", JSON.stringify(texts));
      }
    }
  };
  new MutationObserver(seen).observe(
    document, {subtree: true, childList: true, characterData: true});
})();
"""


def texts(page: Any) -> list[str]:
    return page.evaluate("JSON.parse(sessionStorage.getItem('test.texts') || '[]')")


def nav(page: Any, name: str) -> None:
    page.get_by_role("navigation", name="Pages").get_by_role("link", name=name).click()


def new_conversation(page: Any) -> None:
    page.get_by_role("button", name="New conversation").click()


def send(page: Any, text: str) -> None:
    expect(page.get_by_role("button", name="Send")).to_be_enabled()
    page.get_by_label("Message").fill(text)
    page.get_by_role("button", name="Send").click()


def last_run(service: Service, key: str = "key-acme") -> dict[str, Any]:
    with service.client(key) as client:
        runs = client.get("/v1/runs", params={"limit": 1}).json()["runs"]
    return runs[0]


def test_refund_streams_asks_for_approval_and_completes(page: Any, service: Service) -> None:
    page.add_init_script(RECORD_TEXTS)
    sign_in(page, service)
    check_accessibility(page, "the chat page")
    new_conversation(page)
    send(page, REFUND)

    # the tool call, with its arguments, and the approval it waits for
    tool = page.locator(".entry.tool", has_text="refund_order")
    tool.wait_for()
    assert "A-1042" in tool.locator("pre").first.inner_text()
    approval = page.locator(".entry.approval")
    approval.get_by_role("button", name="Approve").wait_for()
    assert "refund_order" in approval.inner_text()
    assert page.locator(".entry.handoff", has_text="Billing").count() == 1
    screenshot(page, "chat-approval")
    check_accessibility(page, "the chat page with an approval")

    approval.get_by_role("button", name="Approve").click()
    answer = page.locator(".entry.assistant[data-streaming=false]", has_text="Refunded 89.90 EUR")
    answer.wait_for()
    assert "Approved" in approval.inner_text()
    assert "Refunded 89.90 EUR" in tool.locator(".tool-output").inner_text()
    streamed = texts(page)
    assert len(streamed) > 1, f"the answer arrived in one piece: {streamed}"
    run = last_run(service)
    assert run["status"] == "completed"
    assert all(run["output"].startswith(text) for text in streamed)
    screenshot(page, "chat")

    # the run in the list, then its trace: model and tool spans
    nav(page, "Runs")
    row = page.locator(f"tr[data-run='{run['id']}']")
    assert "completed" in row.inner_text()
    # the usage panel: requests and tokens per agent and per model, as GET /v1/usage sums them
    with service.client() as client:
        usage = client.get("/v1/usage").json()
    by_agent = page.get_by_role("table", name="Usage per agent")
    for agent in ("Triage", "Billing"):
        expect(by_agent.get_by_role("rowheader", name=agent, exact=True)).to_be_visible()
    assert set(usage["by_agent"]) >= {"Triage", "Billing"}
    by_model = page.get_by_role("table", name="Usage per model")
    for model in usage["by_model"]:
        expect(by_model.get_by_role("rowheader", name=model, exact=True)).to_be_visible()
    total = by_agent.locator("tfoot tr")
    expect(total).to_contain_text(str(usage["total"]["requests"]))
    assert usage["total"]["requests"] > 0
    expect(by_agent.get_by_role("columnheader", name="Requests")).to_be_visible()
    screenshot(page, "runs")
    check_accessibility(page, "the runs page")
    row.get_by_role("link").click()
    page.get_by_role("heading", name="Events").wait_for()
    page.locator("td", has_text="run_completed").wait_for()
    screenshot(page, "run")
    check_accessibility(page, "a run's page")
    page.get_by_role("link", name=run["trace_id"]).click()
    timeline = page.get_by_role("list", name="Spans on a time axis")
    timeline.locator("li[data-kind=model]").first.wait_for()
    tool_span = timeline.locator("li[data-kind=tool]", has_text="refund_order")
    assert tool_span.count() == 1
    tool_span.get_by_role("button").click()
    assert "A-1042" in page.locator("pre.attributes").inner_text()
    assert page.get_by_role("tree", name="Spans as a tree").locator("button").count() >= 4
    screenshot(page, "trace")
    check_accessibility(page, "a trace's page")

    nav(page, "Traces")
    page.get_by_role("link", name=run["trace_id"][:18]).wait_for()
    screenshot(page, "traces")
    check_accessibility(page, "the traces page")


def test_reload_mid_stream_resumes_without_loss_or_repeats(page: Any, service: Service) -> None:
    page.add_init_script(RECORD_TEXTS)
    requests: list[dict[str, str]] = []
    page.on("request", lambda r: requests.append(r.headers) if "/events" in r.url else None)
    sign_in(page, service)
    new_conversation(page)
    send(page, WHERE)
    streaming = page.locator(".entry.assistant[data-streaming=true]")
    streaming.wait_for()
    page.wait_for_function(
        "() => JSON.parse(sessionStorage.getItem('test.texts') || '[]').length > 2"
    )
    before = texts(page)
    page.reload()

    done = page.locator(".entry.assistant[data-streaming=false]")
    done.wait_for(timeout=30_000)
    run = last_run(service)
    assert run["status"] == "completed"
    assert done.count() == 1
    assert done.locator(".text").inner_text() == run["output"]
    # nothing shown twice: each step of the stream extends the one before, to the answer
    after = texts(page)
    assert len(after) > len(before)
    for earlier, later in itertools.pairwise(after):
        assert later.startswith(earlier), (earlier, later)
    assert run["output"].startswith(after[-1])
    assert page.locator(".entry.user").count() == 1
    assert page.locator(".entry.handoff").count() == 1
    assert page.locator(".entry.tool", has_text="lookup_order").count() == 1
    # the reloaded page asked for the events after the last one it had shown
    resumed = [int(h["last-event-id"]) for h in requests if "last-event-id" in h]
    assert resumed and resumed[0] > 0


def test_a_wrong_key_sees_the_login_prompt_and_no_data(page: Any, service: Service) -> None:
    page.goto(f"{service.url}/ui/#/runs")
    page.get_by_label("API key").wait_for()
    transferred = page.evaluate(
        "performance.getEntriesByType('navigation').concat(performance.getEntriesByType("
        "'resource')).reduce((sum, e) => sum + (e.transferSize || e.encodedBodySize), 0)"
    )
    assert 0 < transferred < 200_000, transferred  # the whole first page
    screenshot(page, "login")
    check_accessibility(page, "the login prompt")
    page.get_by_label("API key").fill("not-a-key")
    page.get_by_role("button", name="Sign in").click()
    page.get_by_role("alert").filter(has_text="refused").wait_for()
    assert page.locator("table").count() == 0
    assert page.get_by_role("navigation").count() == 0
    page.goto(f"{service.url}/ui/#/traces")
    page.reload()
    page.get_by_label("API key").wait_for()
    assert page.locator("table").count() == 0


def test_one_tenant_never_sees_another_tenants_runs_sessions_or_traces(
    page: Any, service: Service
) -> None:
    with service.client("key-acme") as client:
        started = client.post(
            "/v1/agents/Triage/runs",
            json={"input": WHERE, "session_id": "acme-private-session"},
        )
        assert started.status_code == 200, started.text
        acme_run = started.json()
    assert acme_run["status"] == "completed"

    sign_in(page, service, key="key-globex")
    page.get_by_role("heading", name="Conversations").wait_for()
    page.wait_for_load_state("networkidle")
    assert "acme-private-session" not in page.content()
    nav(page, "Runs")
    page.wait_for_load_state("networkidle")
    assert acme_run["id"][:12] not in page.content()
    nav(page, "Traces")
    page.wait_for_load_state("networkidle")
    assert acme_run["trace_id"][:18] not in page.content()
    page.goto(f"{service.url}/ui/#/runs/{acme_run['id']}")
    page.get_by_role("alert").wait_for()
    assert "Events" in page.content()  # the page, but none of the run
    assert acme_run["agent"] not in page.locator("dl").all_inner_texts()

    # the same pages list them for acme
    page.get_by_role("button", name="Sign out").click()
    page.get_by_label("API key").fill("key-acme")
    page.get_by_role("button", name="Sign in").click()
    nav(page, "Chat")
    page.get_by_role("link", name="acme-private-session").wait_for()
    nav(page, "Runs")
    page.get_by_role("link", name=acme_run["id"][:12]).wait_for()


def test_memory_page_searches_and_deletes(page: Any, service: Service) -> None:
    sign_in(page, service, path="#/memory")
    note = page.locator(".memories li", has_text="shoe size")
    note.wait_for()
    page.get_by_label("Search").fill("email")
    page.get_by_role("button", name="Show").click()
    note.wait_for()
    screenshot(page, "memory")
    check_accessibility(page, "the memory page")
    page.once("dialog", lambda dialog: dialog.accept())
    note.get_by_role("button", name="Delete").click()
    page.get_by_text("No memories in this scope.").wait_for()


def test_cancel_a_run_from_the_runs_page(page: Any, service: Service) -> None:
    with service.client() as client:
        started = client.post(
            "/v1/agents/Triage/runs", json={"input": REFUND, "session_id": "to-cancel"}
        )
        run = started.json()
    assert run["status"] == "awaiting_approval"
    sign_in(page, service, path="#/runs")
    page.get_by_label("Status").select_option("awaiting_approval")
    row = page.locator(f"tr[data-run='{run['id']}']")
    row.get_by_role("button", name="Cancel").click()
    expect(row).to_have_count(0)  # the list reloads: no longer awaiting approval
    page.get_by_label("Status").select_option("cancelled")
    expect(row).to_contain_text("cancelled")


def test_keyboard_only(page: Any, service: Service) -> None:
    page.goto(f"{service.url}/ui/")
    page.get_by_label("API key").wait_for()
    for _ in range(10):  # Tab to the key field
        page.keyboard.press("Tab")
        if page.evaluate("document.activeElement?.type") == "password":
            break
    page.keyboard.type("key-acme")
    page.keyboard.press("Enter")
    page.get_by_role("navigation", name="Pages").wait_for()
    for _ in range(10):  # Tab to the Runs link, follow it
        page.keyboard.press("Tab")
        if page.evaluate("document.activeElement?.textContent") == "Runs":
            break
    page.keyboard.press("Enter")
    page.get_by_role("heading", name="Runs").wait_for()
    for _ in range(15):  # and back to the chat, to the message field
        page.keyboard.press("Shift+Tab")
        if page.evaluate("document.activeElement?.textContent") == "Chat":
            break
    page.keyboard.press("Enter")
    page.get_by_role("heading", name="Chat").wait_for()
    expect(page.get_by_role("button", name="Send")).to_be_enabled()  # the agents are known
    page.get_by_label("Message").focus()
    page.keyboard.type("Hi, this is Ana.")
    page.keyboard.press("Enter")  # Enter sends; Shift+Enter is a new line
    page.locator(".entry.assistant[data-streaming=false]").wait_for()


@pytest.mark.parametrize("route", ["chat", "runs", "traces", "memory"])
def test_usable_at_360_px(browser: Any, service: Service, route: str) -> None:
    context = browser.new_context(viewport={"width": 360, "height": 740})
    try:
        page = context.new_page()
        sign_in(page, service, path=f"#/{route}")
        page.wait_for_load_state("networkidle")
        width = page.evaluate("document.documentElement.scrollWidth")
        assert width <= 360, f"{route} scrolls sideways at 360 px ({width} px)"
        screenshot(page, f"narrow-{route}")
    finally:
        context.close()


def test_conversations_refuse_resume_and_delete(page: Any, service: Service) -> None:
    sign_in(page, service)
    new_conversation(page)
    session = page.locator("#session-id").inner_text()
    send(page, WHERE)
    page.locator(".entry.assistant[data-streaming=false]").wait_for()
    send(page, "While I have you: can you write me a poem about the sea?")
    refusal = page.locator(".entry.refusal")
    refusal.wait_for()
    assert "on_topic" in refusal.inner_text()
    expect(page.get_by_role("button", name="Send")).to_be_enabled()

    new_conversation(page)
    expect(page.locator(".log .entry")).to_have_count(0)
    page.get_by_role("link", name=session).click()  # resume it: its items come back
    page.locator(".entry.user", has_text="A-1042").wait_for()
    assert page.locator(".entry.tool", has_text="lookup_order").count() == 1
    assert page.locator(".entry.handoff").count() == 1
    send(page, "Thanks. What does the refund policy say for order A-1042?")
    page.locator(".entry.tool", has_text="check_refund_policy").wait_for()
    expect(page.get_by_role("button", name="Send")).to_be_enabled()  # the run is over
    with service.client() as client:
        items = client.get(f"/v1/sessions/{session}/items").json()["items"]
    assert any("refund policy" in str(item.get("content")) for item in items), items

    page.once("dialog", lambda dialog: dialog.accept())
    page.get_by_role("button", name=f"Delete conversation {session}").click()
    expect(page.get_by_role("link", name=session)).to_have_count(0)
    with service.client() as client:
        assert client.get(f"/v1/sessions/{session}/items").json()["items"] == []


def test_a_running_runs_trace_grows_live(page: Any, service: Service) -> None:
    sign_in(page, service, path="#/traces")
    with service.client() as client:  # a run that waits for approval: its trace is open
        run = client.post(
            "/v1/agents/Triage/runs", json={"input": REFUND, "session_id": "live-trace"}
        ).json()
    assert run["status"] == "awaiting_approval"
    page.goto(f"{service.url}/ui/#/traces/{run['trace_id']}")
    timeline = page.get_by_role("list", name="Spans on a time axis")
    timeline.locator("li[data-kind=model]").first.wait_for()
    expect(page.get_by_text("running (updating)")).to_be_visible()
    tools = timeline.locator("li[data-kind=tool]", has_text="refund_order")
    assert tools.count() == 0  # the refund has not run
    with service.client() as client:
        call = run["pending_approvals"][0]["call_id"]
        decided = client.post(
            f"/v1/runs/{run['id']}/approvals",
            json={"decisions": [{"call_id": call, "approved": True}]},
        )
        assert decided.json()["status"] == "completed"
    expect(tools).to_have_count(1, timeout=15_000)  # the page polled: the trace grew
    expect(page.get_by_text("running (updating)")).to_have_count(0, timeout=15_000)


def test_a_reload_before_the_first_event_still_gets_the_answer(page: Any, service: Service) -> None:
    sign_in(page, service)
    new_conversation(page)
    session = page.locator("#session-id").inner_text()
    keys: list[str] = []

    def drop_first(route: Any) -> None:  # the connection breaks before any event arrives
        keys.append(route.request.headers.get("idempotency-key", ""))
        if len(keys) == 1:
            route.abort()
        else:
            route.continue_()

    page.route("**/v1/agents/*/runs", drop_first)
    send(page, WHERE)
    page.get_by_role("alert").wait_for()
    page.reload()
    page.locator(".entry.assistant[data-streaming=false]").wait_for()
    assert len(keys) == 2 and keys[0] and keys[0] == keys[1]  # the same key: one run
    assert page.locator(".entry.user").count() == 1
    assert page.locator(".entry.tool", has_text="lookup_order").count() == 1
    with service.client() as client:
        runs = client.get("/v1/runs", params={"limit": 50}).json()["runs"]
    assert len([run for run in runs if run["session_id"] == session]) == 1
