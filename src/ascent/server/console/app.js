// The Ascent console: a small single-page app over the service's public HTTP API.
// Preact + htm (no build step) render it; fetch-event-source reads the SSE streams,
// because it can send the Authorization header, which EventSource cannot.
import { h, render } from "preact";
import { useCallback, useEffect, useRef, useState } from "preact/hooks";
import htm from "htm";
import { fetchEventSource } from "fetch-event-source";

const html = htm.bind(h);
const KEY = "ascent.console.key";
const CHAT = "ascent.console.chat";

// ------------------------------------------------------------------ the API

class ApiError extends Error {
  constructor(status, message) {
    super(message);
    this.status = status;
  }
}

let onUnauthorized = () => {};

function headers(extra = {}) {
  const key = sessionStorage.getItem(KEY);
  return key ? { ...extra, Authorization: `Bearer ${key}` } : extra;
}

async function api(path, { method = "GET", body } = {}) {
  const init = { method, headers: headers(body ? { "Content-Type": "application/json" } : {}) };
  if (body !== undefined) init.body = JSON.stringify(body);
  const response = await fetch(path, init);
  if (response.status === 401) {
    onUnauthorized();
    throw new ApiError(401, "an API key is needed");
  }
  if (response.status === 204) return null;
  const data = await response.json().catch(() => null);
  if (!response.ok) {
    throw new ApiError(response.status, data?.error?.message || `HTTP ${response.status}`);
  }
  return data;
}

class Stop extends Error {}

// Follow a stream of run events. `after` resumes after that event id (Last-Event-ID).
// Resolves with the last `run` record; a POST stream is never retried (that would
// start a second run): the caller resumes it with GET .../events.
function stream(path, { body, after, signal, onEvent, idempotencyKey }) {
  let record = null;
  let last = after ?? 0;
  const extra = body ? { "Content-Type": "application/json" } : {};
  if (idempotencyKey) extra["Idempotency-Key"] = idempotencyKey;
  if (!body && last) extra["Last-Event-ID"] = String(last);
  return fetchEventSource(path, {
    method: body ? "POST" : "GET",
    body: body ? JSON.stringify(body) : undefined,
    headers: headers(extra),
    signal,
    openWhenHidden: true,
    async onopen(response) {
      if (response.status === 401) {
        onUnauthorized();
        throw new Stop("unauthorized");
      }
      const type = response.headers.get("content-type") || "";
      if (!response.ok || !type.startsWith("text/event-stream")) {
        const data = await response.json().catch(() => null);
        throw new Stop(data?.error?.message || `HTTP ${response.status}`);
      }
    },
    onmessage(message) {
      if (!message.data) return;
      const data = JSON.parse(message.data);
      if (message.event === "run") {
        record = data;
      } else {
        if (data.seq <= last) return; // never show an event twice
        last = data.seq;
      }
      onEvent(message.event, data);
    },
    onclose() {
      if (!record) throw new Error("the stream closed early"); // retried with Last-Event-ID
    },
    onerror(error) {
      if (error instanceof Stop || body) throw error;
      return 1000;
    },
  }).then(() => record);
}

// ------------------------------------------------------------------ helpers

const fmtTime = (value) => (value ? new Date(value).toLocaleString() : "");
const seconds = (s) => (s == null ? "" : s < 1 ? `${Math.round(s * 1000)} ms` : `${s.toFixed(2)} s`);
const tokens = (usage) => (usage ? (usage.input_tokens || 0) + (usage.output_tokens || 0) : 0);
const ACTIVE = ["queued", "running", "awaiting_approval"];
const newSessionId = () => `chat-${Date.now().toString(36)}-${Math.random().toString(36).slice(2, 6)}`;

function pretty(text) {
  if (typeof text !== "string") return JSON.stringify(text, null, 2);
  try {
    return JSON.stringify(JSON.parse(text), null, 2);
  } catch {
    return text;
  }
}

function messageText(item) {
  if (typeof item.content === "string") return item.content;
  return (item.content || []).map((part) => part.text || "").join("");
}

function useRoute() {
  const [hash, setHash] = useState(location.hash || "#/chat");
  useEffect(() => {
    const on = () => setHash(location.hash || "#/chat");
    addEventListener("hashchange", on);
    return () => removeEventListener("hashchange", on);
  }, []);
  return hash.slice(2).split("/").map(decodeURIComponent);
}

function useLoad(load, deps) {
  const [state, setState] = useState({ data: null, error: null, loading: true });
  const reload = useCallback(() => {
    setState((s) => ({ ...s, loading: true }));
    load().then(
      (data) => setState({ data, error: null, loading: false }),
      (error) => setState({ data: null, error, loading: false }),
    );
  }, deps);
  useEffect(reload, [reload]);
  return [state, reload];
}

function Problem({ error }) {
  if (!error || error.status === 401) return null;
  return html`<p class="error" role="alert">${error.message}</p>`;
}

// Older pages of a list: the API's `next` cursor goes back as `before`.
function Pages({ next, before, setBefore }) {
  if (!next && !before) return null;
  return html`<p class="row">
    ${before ? html`<button class="secondary" onClick=${() => setBefore("")}>Newest</button>` : null}
    ${next ? html`<button class="secondary" onClick=${() => setBefore(next)}>Older</button>` : null}
  </p>`;
}

function Status({ value }) {
  return html`<span class=${`status status-${value}`}>${value.replace("_", " ")}</span>`;
}

// ------------------------------------------------------------------ chat

// What a run's events add to the conversation: one function, used live and on replay.
function applyEvent(entries, type, data) {
  const d = data.data || {};
  const out = entries.slice();
  const last = out[out.length - 1];
  if (type === "text_delta") {
    if (last && last.kind === "assistant" && last.streaming && last.agent === d.agent) {
      out[out.length - 1] = { ...last, text: last.text + d.delta, pieces: last.pieces + 1 };
    } else {
      out.push({ kind: "assistant", agent: d.agent, text: d.delta, streaming: true, pieces: 1 });
    }
  } else if (type === "response_discarded") {
    if (last && last.kind === "assistant" && last.streaming) out.pop();
  } else if (type === "item") {
    const item = d.item || {};
    if (d.name === "message") {
      const text = messageText(item);
      if (last && last.kind === "assistant" && last.streaming) {
        out[out.length - 1] = { ...last, text, streaming: false };
      } else {
        out.push({ kind: "assistant", agent: d.agent, text, streaming: false });
      }
    } else if (d.name === "tool_call" || d.name === "hosted_tool_call") {
      out.push({ kind: "tool", agent: d.agent, call_id: item.call_id, name: item.name, arguments: item.arguments });
    } else if (d.name === "tool_output") {
      const i = out.findIndex((e) => e.kind === "tool" && e.call_id === item.call_id);
      if (i >= 0) out[i] = { ...out[i], output: item.output, is_error: item.is_error };
      else out.push({ kind: "tool", agent: d.agent, call_id: item.call_id, name: item.tool_name, output: item.output });
    } else if (d.name === "handoff") {
      out.push({ kind: "handoff", from: d.agent, to: item.handoff_to });
    }
  } else if (type === "approval_required") {
    out.push({ kind: "approval", run_id: data.run_id, requests: d.requests, decided: null });
  } else if (type === "run_failed") {
    const guard = /GuardrailTripwireTriggered: (.*)/.exec(d.error || "");
    out.push(guard ? { kind: "refusal", text: guard[1] } : { kind: "failure", text: d.error || "the run failed" });
  } else if (type === "run_cancelled") {
    out.push({ kind: "failure", text: "the run was cancelled" });
  }
  return out;
}

// A stored session's items as conversation entries.
function entriesFromItems(items) {
  const out = [];
  for (const item of items) {
    if (item.type === "message") {
      const text = messageText(item);
      out.push(item.role === "user" ? { kind: "user", text } : { kind: "assistant", agent: item.agent, text });
    } else if (item.type === "function_call") {
      if (!item.name.startsWith("transfer_to_")) {
        out.push({ kind: "tool", agent: item.agent, call_id: item.call_id, name: item.name, arguments: item.arguments });
      }
    } else if (item.type === "function_call_output") {
      if (item.handoff_to) {
        out.push({ kind: "handoff", from: item.agent, to: item.handoff_to });
      } else {
        const i = out.findIndex((e) => e.kind === "tool" && e.call_id === item.call_id);
        if (i >= 0) out[i] = { ...out[i], output: item.output, is_error: item.is_error };
      }
    }
  }
  return out;
}

function Entry({ entry, onDecide }) {
  const [reason, setReason] = useState("");
  switch (entry.kind) {
    case "user":
      return html`<li class="entry user"><div class="who">You</div><div class="text">${entry.text}</div></li>`;
    case "assistant":
      return html`<li class="entry assistant" data-streaming=${entry.streaming ? "true" : "false"}>
        <div class="who">${entry.agent || "Assistant"}</div><div class="text">${entry.text}</div></li>`;
    case "tool":
      return html`<li class="entry tool">
        <div class="who">Tool call · ${entry.agent}</div>
        <div><strong class="tool-name">${entry.name}</strong></div>
        <pre tabindex="0" aria-label="arguments">${pretty(entry.arguments || "{}")}</pre>
        ${entry.output !== undefined
          ? html`<div class=${entry.is_error ? "error" : ""}>Result:</div><pre tabindex="0" class="tool-output">${pretty(entry.output)}</pre>`
          : html`<div class="muted">waiting for the result…</div>`}
      </li>`;
    case "handoff":
      return html`<li class="entry handoff">${entry.from} → ${entry.to}: handed off</li>`;
    case "refusal":
      return html`<li class="entry refusal" role="status"><strong>Refused:</strong> ${entry.text}</li>`;
    case "failure":
      return html`<li class="entry failure" role="status"><strong>Failed:</strong> ${entry.text}</li>`;
    case "approval":
      return html`<li class="entry approval">
        <div class="who">Approval needed</div>
        ${entry.requests.map(
          (r) => html`<div key=${r.call_id}>
            <div><strong>${r.tool_name}</strong> (${r.agent})</div>
            <pre tabindex="0" aria-label="arguments">${pretty(r.arguments)}</pre>
          </div>`,
        )}
        ${entry.decided
          ? html`<p class="muted">${entry.decided}</p>`
          : html`<div class="row">
              <button onClick=${() => onDecide(entry, true)}>Approve</button>
              <label>Reason (optional)<input value=${reason} onInput=${(e) => setReason(e.target.value)} /></label>
              <button class="danger" onClick=${() => onDecide(entry, false, reason)}>Reject</button>
            </div>`}
      </li>`;
    default:
      return null;
  }
}

function loadChat() {
  try {
    return JSON.parse(sessionStorage.getItem(CHAT)) || null;
  } catch {
    return null;
  }
}

function Chat() {
  const saved = useRef(loadChat()).current;
  const [agents] = useLoad(() => api("/v1/agents"), []);
  const [sessions, reloadSessions] = useLoad(() => api("/v1/sessions?limit=50"), []);
  const [agent, setAgent] = useState(saved?.agent || "");
  const [sessionId, setSessionId] = useState(saved?.sessionId || newSessionId());
  const [entries, setEntries] = useState(saved?.entries || []);
  const [run, setRun] = useState(saved?.run || null); // {id, last, status}
  const [input, setInput] = useState("");
  const [error, setError] = useState(null);
  const abort = useRef(null);
  const view = useRef({ entries, run });

  const names = agents.data?.agents?.map((a) => a.name) || [];
  const chosen = names.includes(agent) ? agent : names[0] || "";

  // Everything needed to pick up after a reload: the conversation and the last event id.
  const save = (next) => {
    view.current = { ...view.current, ...next };
    sessionStorage.setItem(CHAT, JSON.stringify({ agent, sessionId, ...view.current }));
  };
  // The conversation and the last event id are saved together, so a reload never
  // finds one ahead of the other.
  const update = (fn, run) => {
    const next = fn(view.current.entries);
    save(run ? { entries: next, run } : { entries: next });
    setEntries(next);
  };
  const setRunSaved = (value) => {
    save({ run: value });
    setRun(value);
  };

  const follow = async (path, opts) => {
    abort.current?.abort();
    const controller = new AbortController();
    abort.current = controller;
    let current = { ...view.current.run };
    try {
      const record = await stream(path, {
        ...opts,
        signal: controller.signal,
        onEvent(type, data) {
          if (type === "run") return; // the record: handled once the stream ends
          if (type === "run_started") current = { id: data.run_id, last: 0, status: "running" };
          current = { ...current, id: data.run_id, last: data.seq };
          update((old) => applyEvent(old, type, data), current);
        },
      });
      if (record) {
        const done = !ACTIVE.includes(record.status);
        setRunSaved(done ? null : { ...view.current.run, id: record.id, status: record.status });
        if (done) reloadSessions();
      }
    } catch (e) {
      if (!controller.signal.aborted) setError(e);
    }
  };

  // Start a run (or, with the same Idempotency-Key, get the one this request started).
  const startRun = async (start) => {
    await follow(start.path, { body: start.body, idempotencyKey: start.key });
    // a POST stream that broke after the run started: resume it by id
    const current = view.current.run;
    if (current && current.id && current.status === "running") {
      await follow(`/v1/runs/${current.id}/events`, { after: current.last });
    }
  };

  // After a reload in the middle of a run: reconnect where the stream stopped.
  useEffect(() => {
    if (run && run.id && run.status !== "awaiting_approval") {
      setRun({ ...run, status: "running" });
      follow(`/v1/runs/${run.id}/events`, { after: run.last || 0 });
    } else if (run && !run.id && run.start) {
      startRun(run.start); // reloaded before the run's first event: the same key, the same run
    }
    return () => abort.current?.abort();
  }, []);

  const send = async (event) => {
    event.preventDefault();
    const text = input.trim();
    if (!text || !chosen) return;
    setInput("");
    setError(null);
    update((old) => [...old, { kind: "user", text }]);
    const start = {
      path: `/v1/agents/${encodeURIComponent(chosen)}/runs`,
      body: { input: text, session_id: sessionId, stream: true },
      key: `console-${Date.now().toString(36)}-${Math.random().toString(36).slice(2)}`,
    };
    setRunSaved({ id: null, last: 0, status: "running", start });
    await startRun(start);
  };

  const decide = async (entry, approved, reason) => {
    setError(null);
    try {
      await api(`/v1/runs/${entry.run_id}/approvals`, {
        method: "POST",
        body: {
          decisions: entry.requests.map((r) => ({ call_id: r.call_id, approved, ...(reason ? { reason } : {}) })),
          wait: false,
        },
      });
    } catch (e) {
      setError(e);
      return;
    }
    update((old) => old.map((e) => (e === entry ? { ...e, decided: approved ? "Approved" : `Rejected${reason ? `: ${reason}` : ""}` } : e)));
    const last = view.current.run?.last || 0;
    setRunSaved({ id: entry.run_id, last, status: "running" });
    await follow(`/v1/runs/${entry.run_id}/events`, { after: last });
  };

  const open = async (id) => {
    abort.current?.abort();
    setError(null);
    setSessionId(id);
    setRunSaved(null);
    try {
      const data = await api(`/v1/sessions/${encodeURIComponent(id)}/items`);
      const next = entriesFromItems(data.items);
      setEntries(next);
      view.current = { entries: next, run: null };
      sessionStorage.setItem(CHAT, JSON.stringify({ agent, sessionId: id, ...view.current }));
    } catch (e) {
      setError(e);
    }
  };

  const fresh = () => {
    abort.current?.abort();
    const id = newSessionId();
    setSessionId(id);
    setEntries([]);
    setRunSaved(null);
    view.current = { entries: [], run: null };
    sessionStorage.setItem(CHAT, JSON.stringify({ agent, sessionId: id, ...view.current }));
  };

  const remove = async (id) => {
    if (!confirm(`Delete the conversation ${id}?`)) return;
    try {
      await api(`/v1/sessions/${encodeURIComponent(id)}`, { method: "DELETE" });
      if (id === sessionId) fresh();
      reloadSessions();
    } catch (e) {
      setError(e);
    }
  };

  const busy = run && run.status === "running";
  const list = sessions.data?.sessions || [];
  return html`<div class="chat">
    <section class="sessions" aria-labelledby="sessions-title">
      <h2 id="sessions-title">Conversations</h2>
      <p><button class="secondary" onClick=${fresh}>New conversation</button></p>
      <${Problem} error=${sessions.error} />
      <ul>
        ${list.map(
          (s) => html`<li key=${s.id}>
            <a href="#/chat" aria-current=${s.id === sessionId ? "true" : undefined}
               onClick=${(e) => { e.preventDefault(); open(s.id); }}>${s.id}</a>
            <button class="secondary" aria-label=${`Delete conversation ${s.id}`} onClick=${() => remove(s.id)}>×</button>
          </li>`,
        )}
      </ul>
      ${!sessions.loading && !list.length ? html`<p class="muted">No conversations yet.</p>` : null}
    </section>
    <section aria-labelledby="chat-title">
      <h1 id="chat-title">Chat</h1>
      <div class="row">
        <label>Agent
          <select value=${chosen} onChange=${(e) => setAgent(e.target.value)}>
            ${names.map((n) => html`<option key=${n} value=${n}>${n}</option>`)}
          </select>
        </label>
        <span class="muted">Conversation <code id="session-id">${sessionId}</code></span>
      </div>
      <ol class="log" aria-label="Conversation">
        ${entries.map((e, i) => html`<${Entry} key=${i} entry=${e} onDecide=${decide} />`)}
      </ol>
      <p class="muted" role="status" aria-live="polite">
        ${busy ? "The agent is working…" : run?.status === "awaiting_approval" ? "Waiting for your decision." : ""}
      </p>
      <${Problem} error=${error} />
      <form class="composer" onSubmit=${send}>
        <label>Message
          <textarea value=${input} onInput=${(e) => setInput(e.target.value)}
            onKeyDown=${(e) => { if (e.key === "Enter" && !e.shiftKey) send(e); }}></textarea>
        </label>
        <button type="submit" disabled=${busy || !chosen}>Send</button>
      </form>
    </section>
  </div>`;
}

// ------------------------------------------------------------------ runs

// One table of usage: a row per agent (or model), the total in the footer.
function UsageTable({ title, what, rows, total }) {
  const names = Object.keys(rows || {}).sort();
  const cells = (u) => html`<td class="num">${u.requests || 0}</td><td class="num">${u.input_tokens || 0}</td>
    <td class="num">${u.output_tokens || 0}</td><td class="num">${tokens(u)}</td>`;
  return html`<div class="table-wrap"><table class="usage" data-usage=${what.toLowerCase()}>
    <caption>${title}</caption>
    <thead><tr><th scope="col">${what}</th><th scope="col" class="num">Requests</th><th scope="col" class="num">Input tokens</th>
      <th scope="col" class="num">Output tokens</th><th scope="col" class="num">Tokens</th></tr></thead>
    <tbody>${names.map((name) => html`<tr key=${name} data-name=${name}><th scope="row">${name}</th>${cells(rows[name])}</tr>`)}</tbody>
    ${total ? html`<tfoot><tr><th scope="row">Total</th>${cells(total)}</tr></tfoot>` : null}
  </table></div>`;
}

// Requests and tokens of the tenant's runs, per agent and per model (GET /v1/usage).
function UsagePanel({ tick }) {
  const [usage] = useLoad(() => api("/v1/usage"), [tick]);
  const u = usage.data;
  return html`<section class="usage-panel" aria-labelledby="usage-heading">
    <h2 id="usage-heading">Usage</h2>
    <${Problem} error=${usage.error} />
    ${u
      ? html`<p class="muted">${u.runs} ${u.runs === 1 ? "run" : "runs"} · ${u.total.requests} model requests · ${tokens(u.total)} tokens</p>
        <div class="grid2">
          <${UsageTable} title="Usage per agent" what="Agent" rows=${u.by_agent} total=${u.total} />
          <${UsageTable} title="Usage per model" what="Model" rows=${u.by_model} total=${u.total} />
        </div>`
      : usage.loading ? html`<p class="muted">Loading…</p>` : null}
  </section>`;
}

function Runs() {
  const [status, setStatus] = useState("");
  const [agent, setAgent] = useState("");
  const [agents] = useLoad(() => api("/v1/agents"), []);
  const [before, setBefore] = useState("");
  const query = new URLSearchParams({
    limit: "50", ...(status && { status }), ...(agent && { agent }), ...(before && { before }),
  });
  const [runs, reloadRuns] = useLoad(() => api(`/v1/runs?${query}`), [status, agent, before]);
  const [tick, setTick] = useState(0);
  const reload = () => {
    reloadRuns();
    setTick((t) => t + 1);
  };
  const [error, setError] = useState(null);
  const cancel = async (id) => {
    try {
      await api(`/v1/runs/${id}/cancel`, { method: "POST" });
      reload();
    } catch (e) {
      setError(e);
    }
  };
  const statuses = ["queued", "running", "awaiting_approval", "completed", "failed", "cancelled"];
  return html`<section>
    <h1>Runs</h1>
    <div class="row">
      <label>Status
        <select value=${status} onChange=${(e) => setStatus(e.target.value)}>
          <option value="">any</option>
          ${statuses.map((s) => html`<option value=${s}>${s.replace("_", " ")}</option>`)}
        </select>
      </label>
      <label>Agent
        <select value=${agent} onChange=${(e) => setAgent(e.target.value)}>
          <option value="">any</option>
          ${(agents.data?.agents || []).map((a) => html`<option value=${a.name}>${a.name}</option>`)}
        </select>
      </label>
      <button class="secondary" onClick=${reload}>Refresh</button>
    </div>
    <${Problem} error=${runs.error || error} />
    <div class="table-wrap">
      <table>
        <caption class="skip">Runs, newest first</caption>
        <thead><tr><th scope="col">Run</th><th scope="col">Status</th><th scope="col">Agent</th>
          <th scope="col">Started</th><th scope="col">Duration</th><th scope="col">Tokens</th><th scope="col"><span class="skip">Actions</span></th></tr></thead>
        <tbody>
          ${(runs.data?.runs || []).map(
            (r) => html`<tr key=${r.id} data-run=${r.id}>
              <td><a href=${`#/runs/${r.id}`}>${r.id.slice(0, 12)}</a></td>
              <td><${Status} value=${r.status} /></td>
              <td>${r.agent}</td>
              <td>${fmtTime(r.created_at)}</td>
              <td>${ACTIVE.includes(r.status) ? "…" : seconds((new Date(r.updated_at) - new Date(r.created_at)) / 1000)}</td>
              <td>${tokens(r.usage)}</td>
              <td>${ACTIVE.includes(r.status)
                ? html`<button class="danger" aria-label=${`Cancel run ${r.id}`} onClick=${() => cancel(r.id)}>Cancel</button>`
                : null}</td>
            </tr>`,
          )}
        </tbody>
      </table>
    </div>
    ${runs.data && !runs.data.runs.length ? html`<p class="muted">No runs.</p>` : null}
    <${Pages} next=${runs.data?.next} before=${before} setBefore=${setBefore} />
    <${UsagePanel} tick=${tick} />
  </section>`;
}

function RunView({ id }) {
  const [record, reload] = useLoad(() => api(`/v1/runs/${id}`), [id]);
  const [events, setEvents] = useState([]);
  useEffect(() => {
    const controller = new AbortController();
    const seen = [];
    stream(`/v1/runs/${id}/events?follow=false`, {
      signal: controller.signal,
      onEvent(type, data) {
        if (type !== "run") seen.push(data);
      },
    }).then(() => setEvents(seen.slice()), () => {});
    return () => controller.abort();
  }, [id]);
  const r = record.data;
  return html`<section>
    <p><a href="#/runs">← Runs</a></p>
    <h1>Run <code>${id}</code></h1>
    <${Problem} error=${record.error} />
    ${r && html`<dl class="grid2">
      <div><dt>Status</dt><dd><${Status} value=${r.status} /></dd>
        <dt>Agent</dt><dd>${r.agent}</dd><dt>Session</dt><dd>${r.session_id || "—"}</dd></div>
      <div><dt>Started</dt><dd>${fmtTime(r.created_at)}</dd><dt>Tokens</dt><dd>${tokens(r.usage)}</dd>
        <dt>Trace</dt><dd>${r.trace_id ? html`<a href=${`#/traces/${r.trace_id}`}>${r.trace_id}</a>` : "—"}</dd></div>
    </dl>`}
    ${r?.output != null ? html`<h2>Output</h2><pre tabindex="0">${pretty(r.output)}</pre>` : null}
    ${r?.error ? html`<h2>Error</h2><pre tabindex="0" class="error">${r.error}</pre>` : null}
    <h2>Events</h2>
    <div class="table-wrap"><table>
      <thead><tr><th scope="col">#</th><th scope="col">Type</th><th scope="col">Data</th></tr></thead>
      <tbody>${events.filter((e) => e.type !== "text_delta" && e.type !== "tool_call_arguments_delta").map(
        (e) => html`<tr key=${e.seq}><td>${e.seq}</td><td>${e.type}${e.data?.name ? ` · ${e.data.name}` : ""}</td>
          <td class="wrap"><pre tabindex="0">${JSON.stringify(e.data.item || e.data, null, 1).slice(0, 600)}</pre></td></tr>`,
      )}</tbody>
    </table></div>
    <p class="muted">${events.filter((e) => e.type === "text_delta").length} text deltas not listed.
      <button class="secondary" onClick=${reload}>Refresh</button></p>
  </section>`;
}

// ------------------------------------------------------------------ traces

function Traces() {
  const [before, setBefore] = useState("");
  const query = new URLSearchParams({ limit: "50", ...(before && { before }) });
  const [traces, reload] = useLoad(() => api(`/v1/traces?${query}`), [before]);
  return html`<section>
    <h1>Traces</h1>
    <p><button class="secondary" onClick=${reload}>Refresh</button></p>
    <${Problem} error=${traces.error} />
    <div class="table-wrap"><table>
      <thead><tr><th scope="col">Trace</th><th scope="col">Workflow</th><th scope="col">Agents</th>
        <th scope="col">Started</th><th scope="col">Duration</th><th scope="col">Tokens</th><th scope="col">Error</th></tr></thead>
      <tbody>${(traces.data?.traces || []).map(
        (t) => html`<tr key=${t.trace_id}>
          <td><a href=${`#/traces/${t.trace_id}`}>${t.trace_id.slice(0, 18)}</a></td>
          <td>${t.workflow}</td><td>${(t.agents || []).join(", ")}</td>
          <td>${fmtTime(t.started_at * 1000)}</td><td>${seconds(t.duration)}</td><td>${t.tokens}</td>
          <td class="wrap">${t.error ? html`<span class="error">${t.error.slice(0, 80)}</span>` : ""}</td>
        </tr>`,
      )}</tbody>
    </table></div>
    ${traces.data && !traces.data.traces.length ? html`<p class="muted">No traces.</p>` : null}
    <${Pages} next=${traces.data?.next} before=${before} setBefore=${setBefore} />
  </section>`;
}

function spanTree(spans) {
  const ids = new Set(spans.map((s) => s.span_id));
  const children = new Map();
  for (const s of spans) {
    const parent = s.parent_id && ids.has(s.parent_id) ? s.parent_id : null;
    if (!children.has(parent)) children.set(parent, []);
    children.get(parent).push(s);
  }
  for (const list of children.values()) list.sort((a, b) => a.started_at - b.started_at);
  const ordered = [];
  const walk = (parent, depth) => {
    for (const s of children.get(parent) || []) {
      ordered.push({ span: s, depth });
      walk(s.span_id, depth + 1);
    }
  };
  walk(null, 0);
  return { children, ordered };
}

function TreeNodes({ parent, children, selected, onSelect }) {
  const list = children.get(parent) || [];
  if (!list.length) return null;
  return html`<ul role=${parent ? "group" : "tree"} aria-label=${parent ? undefined : "Spans as a tree"}>
    ${list.map(
      (s) => html`<li key=${s.span_id} role="treeitem" aria-selected=${selected === s.span_id ? "true" : "false"}>
        <button onClick=${() => onSelect(s.span_id)}><span class="kind">${s.kind}</span>${s.name}</button>
        <span class="muted">${s.ended_at ? seconds(s.ended_at - s.started_at) : "running"}</span>
        <${TreeNodes} parent=${s.span_id} children=${children} selected=${selected} onSelect=${onSelect} />
      </li>`,
    )}
  </ul>`;
}

function TraceView({ id }) {
  const [data, setData] = useState(null);
  const [error, setError] = useState(null);
  const [selected, setSelected] = useState(null);
  useEffect(() => {
    let timer = 0;
    let stopped = false;
    const poll = async () => {
      try {
        const found = await api(`/v1/traces/${encodeURIComponent(id)}`);
        if (stopped) return;
        setData(found);
        const running = !found.trace.ended_at || found.spans.some((s) => !s.ended_at);
        if (running) timer = setTimeout(poll, 1000); // a live run's trace grows
      } catch (e) {
        if (stopped) return;
        setError(e);
        if (e.status === 404) timer = setTimeout(poll, 1500); // not written yet
      }
    };
    poll();
    return () => {
      stopped = true;
      clearTimeout(timer);
    };
  }, [id]);
  if (!data) return html`<section><p><a href="#/traces">← Traces</a></p><h1>Trace</h1>
    ${error ? html`<${Problem} error=${error} />` : html`<p>Loading…</p>`}</section>`;
  const { children, ordered } = spanTree(data.spans);
  const now = Date.now() / 1000;
  const t0 = Math.min(data.trace.started_at, ...data.spans.map((s) => s.started_at));
  const t1 = Math.max(data.trace.ended_at || 0, ...data.spans.map((s) => s.ended_at || now));
  const total = Math.max(t1 - t0, 1e-6);
  const span = data.spans.find((s) => s.span_id === selected);
  return html`<section>
    <p><a href="#/traces">← Traces</a></p>
    <h1>Trace <code>${id}</code></h1>
    <p class="muted">${data.trace.workflow} · ${data.spans.length} spans · ${seconds(total)}
      ${data.trace.metadata?.run_id ? html` · <a href=${`#/runs/${data.trace.metadata.run_id}`}>its run</a>` : ""}
      ${data.trace.ended_at ? "" : " · running (updating)"}</p>
    <h2>Timeline</h2>
    <ol class="timeline" aria-label="Spans on a time axis">
      ${ordered.map(({ span: s, depth }) => {
        const left = ((s.started_at - t0) / total) * 100;
        const width = (((s.ended_at || now) - s.started_at) / total) * 100;
        return html`<li key=${s.span_id} data-kind=${s.kind}>
          <button class="span-name" style=${`padding-left:${4 + depth * 14}px`} aria-pressed=${selected === s.span_id ? "true" : "false"}
            onClick=${() => setSelected(s.span_id)}><span class="kind">${s.kind}</span>${s.name}</button>
          <div class="track" aria-hidden="true"><div class=${`bar kind-${s.kind}${s.ended_at ? "" : " running"}`}
            style=${`left:${left}%;width:${width}%`}></div></div>
        </li>`;
      })}
    </ol>
    <div class="grid2">
      <div class="tree"><h2>Tree</h2><${TreeNodes} parent=${null} children=${children} selected=${selected} onSelect=${setSelected} /></div>
      <div aria-live="polite"><h2>Span</h2>
        ${span
          ? html`<p><span class="kind">${span.kind}</span><strong>${span.name}</strong>
              ${span.ended_at ? ` · ${seconds(span.ended_at - span.started_at)}` : " · running"}</p>
              ${span.error ? html`<p class="error">${span.error}</p>` : null}
              <pre tabindex="0" class="attributes">${JSON.stringify(span.attributes, null, 2)}</pre>`
          : html`<p class="muted">Choose a span to see its attributes.</p>`}
      </div>
    </div>
  </section>`;
}

// ------------------------------------------------------------------ memory

function MemoryPage() {
  const [scope, setScope] = useState(sessionStorage.getItem("ascent.console.scope") || "customer-ana");
  const [q, setQ] = useState("");
  const [query, setQuery] = useState({ scope, q: "" });
  const params = new URLSearchParams({ scope: query.scope, limit: "50", ...(query.q && { q: query.q }) });
  const [memories, reload] = useLoad(() => api(`/v1/memories?${params}`), [query.scope, query.q]);
  const [error, setError] = useState(null);
  const submit = (e) => {
    e.preventDefault();
    sessionStorage.setItem("ascent.console.scope", scope);
    setQuery({ scope, q });
  };
  const remove = async (m) => {
    if (!confirm("Delete this memory?")) return;
    try {
      await api(`/v1/memories/${encodeURIComponent(m.id)}?scope=${encodeURIComponent(query.scope)}`, { method: "DELETE" });
      reload();
    } catch (e) {
      setError(e);
    }
  };
  const list = memories.data?.memories || [];
  return html`<section>
    <h1>Memory</h1>
    <form class="row" onSubmit=${submit} role="search">
      <label>Scope<input value=${scope} onInput=${(e) => setScope(e.target.value)} required /></label>
      <label>Search<input type="search" value=${q} onInput=${(e) => setQ(e.target.value)} /></label>
      <button type="submit">Show</button>
    </form>
    <${Problem} error=${memories.error || error} />
    <ul class="memories">${list.map(
      (m) => html`<li key=${m.id}>
        <div>${m.text}</div>
        <div class="muted">${(m.tags || []).join(", ")} · ${fmtTime(m.updated_at)}
          <button class="secondary" aria-label=${`Delete memory: ${m.text.slice(0, 40)}`} onClick=${() => remove(m)}>Delete</button></div>
      </li>`,
    )}</ul>
    ${memories.data && !list.length ? html`<p class="muted">No memories in this scope.</p>` : null}
  </section>`;
}

// ------------------------------------------------------------------ the shell

function Login({ failed, onKey }) {
  const [key, setKey] = useState("");
  return html`<main id="main" class="login">
    <h1>Sign in to the Ascent console</h1>
    <form onSubmit=${(e) => { e.preventDefault(); onKey(key.trim()); }}>
      <p>This service needs an API key (the same one its HTTP API takes).
        It is kept in this tab only (sessionStorage).</p>
      ${failed ? html`<p class="error" role="alert">That key was refused.</p>` : null}
      <label>API key<input type="password" autocomplete="current-password" value=${key}
        onInput=${(e) => setKey(e.target.value)} required /></label>
      <button type="submit">Sign in</button>
    </form>
  </main>`;
}

const PAGES = [
  ["chat", "Chat"],
  ["runs", "Runs"],
  ["traces", "Traces"],
  ["memory", "Memory"],
];

function App() {
  const route = useRoute();
  const [auth, setAuth] = useState({ needed: false, failed: false, epoch: 0 });
  useEffect(() => {
    onUnauthorized = () => setAuth((a) => ({ ...a, needed: true, failed: !!sessionStorage.getItem(KEY) }));
  }, []);
  useEffect(() => {
    const title = PAGES.find(([p]) => p === route[0])?.[1] || "Chat";
    document.title = `${title} · Ascent console`;
  }, [route.join("/")]);
  if (auth.needed) {
    return html`<${Login} failed=${auth.failed} onKey=${(key) => {
      sessionStorage.setItem(KEY, key);
      setAuth((a) => ({ needed: false, failed: false, epoch: a.epoch + 1 }));
    }} />`;
  }
  const signOut = () => {
    sessionStorage.removeItem(KEY);
    sessionStorage.removeItem(CHAT);
    setAuth((a) => ({ needed: true, failed: false, epoch: a.epoch + 1 }));
  };
  const [page, id] = route;
  let body;
  if (page === "runs" && id) body = html`<${RunView} id=${id} />`;
  else if (page === "runs") body = html`<${Runs} />`;
  else if (page === "traces" && id) body = html`<${TraceView} id=${id} />`;
  else if (page === "traces") body = html`<${Traces} />`;
  else if (page === "memory") body = html`<${MemoryPage} />`;
  else body = html`<${Chat} />`;
  const current = PAGES.some(([p]) => p === page) ? page : "chat";
  return html`<a class="skip" href="#main" onClick=${(e) => { e.preventDefault(); document.getElementById("main").focus(); }}>Skip to content</a>
    <header class="top">
      <span class="brand">Ascent console</span>
      <nav aria-label="Pages"><ul>
        ${PAGES.map(([p, label]) => html`<li key=${p}><a href=${`#/${p}`} aria-current=${current === p ? "page" : undefined}>${label}</a></li>`)}
      </ul></nav>
      <div class="who">${sessionStorage.getItem(KEY) ? html`<button class="secondary" onClick=${signOut}>Sign out</button>` : null}</div>
    </header>
    <main id="main" tabindex="-1" key=${auth.epoch}>${body}</main>`;
}

const root = document.getElementById("app");
root.textContent = "";
render(html`<${App} />`, root);
