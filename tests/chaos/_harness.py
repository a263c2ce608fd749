"""What the chaos tests (``tests/chaos``) and ``bench/chaos.py`` share.

- :class:`ChaosModel`: a responder for :class:`MockOpenAIServer` that answers
  each run by its :class:`RunPlan` (found by the tag its input starts with),
  records every call per run (and the process that made it), and injects
  faults, and latency, by a seeded RNG.
- The checks of what must hold whatever happened (each returns the problems
  it found, as sentences): a run's event log, its model calls, each session's
  turns, the failures of runs.
- The scenarios, sized by their callers: :func:`kill_chaos` (kill -9 of
  durable replicas), :func:`fault_chaos` (a misbehaving model, through the
  service), :func:`sse_load` (clients following event streams), :func:`races`
  (decisions, cancellations and session turns sent at once) and
  :func:`stateful_fuzz` (schemathesis, stateful, authenticated).
- :class:`Service`: ``ascent serve`` of ``tests/chaos/_app.py`` in a process of
  its own, with its log; :func:`rss_of` and :func:`fds_of` read ``/proc``.

Every loop here is bounded in count and time, and all traffic is on loopback.
"""

from __future__ import annotations

import asyncio
import collections
import itertools
import json
import os
import random
import re
import subprocess
import sys
import threading
import time
import zlib
from collections.abc import Awaitable, Callable, Mapping, Sequence
from dataclasses import dataclass, field
from multiprocessing.process import BaseProcess
from pathlib import Path
from typing import Any, Literal, Self

import httpx

from ascent.durable import RunEvent, RunRecord
from ascent.durable._store import RunStore
from ascent.memory import open_session
from ascent.testing.loopback import wait_until_serving
from ascent.testing.mock_openai import (
    BrokenStream,
    Delay,
    HTTPError,
    Malformed,
    MockOpenAIServer,
    MockRequest,
    Reply,
    Step,
    ToolCall,
)
from tests.durable.conftest import Workers
from tests.durable.worker import WORKER_HEADER, append_line
from tests.server.conftest import sse_events

from ._app import AGENT

REPO = Path(__file__).resolve().parents[2]
APP = Path(__file__).with_name("_app.py")
SEED_ENV = "ASCENT_CHAOS_SEED"
API_KEY = "chaos-key"
TENANT = "chaos"
HEADERS = {"Authorization": f"Bearer {API_KEY}"}
TERMINAL_EVENTS = {
    "run_completed": "completed",
    "run_failed": "failed",
    "run_cancelled": "cancelled",
}
# How many attempts a model call gets (ascent.models._retry.RetryPolicy's default).
MODEL_ATTEMPTS = 4


def chaos_seed(seed: int | None = None) -> int:
    """The seed to use: ``seed``, else ``ASCENT_CHAOS_SEED``, else a fresh one (printed
    by the callers, so a failing run can be repeated)."""
    if seed is not None:
        return seed
    given = os.environ.get(SEED_ENV)
    return int(given) if given else random.SystemRandom().randrange(1_000_000)


# =============================================================== the model


TAG = re.compile(r"^\[([A-Za-z0-9_.-]+)\] ")


@dataclass(frozen=True, slots=True)
class RunPlan:
    """One run the model is told to play: a lookup, or a refund that needs approval.

    Its input starts with ``[key]``, which is how :class:`ChaosModel` knows the
    run a request belongs to; its first model call asks for the tool, its second
    answers with :attr:`output`.
    """

    key: str
    kind: Literal["lookup", "approval"] = "lookup"
    session: str | None = None

    steps = 2  # model calls of a whole run

    @property
    def order(self) -> str:
        return f"A-{self.key}"

    @property
    def input(self) -> str:
        if self.kind == "approval":
            return f"[{self.key}] Please refund order {self.order}."
        return f"[{self.key}] Where is order {self.order}?"

    @property
    def output(self) -> str:
        if self.kind == "approval":
            return f"Order {self.order} is refunded; the money is on its way back to you."
        return f"Order {self.order} has shipped and should arrive on Monday morning."

    def reply(self, turn: int, lookup_tool: str) -> Reply:
        if turn == 0:
            tool = "refund" if self.kind == "approval" else lookup_tool
            return Reply(tool_calls=[ToolCall(name=tool, arguments={"order_id": self.order})])
        return Reply(text=self.output)


FAULTS = ("rate_limit", "server_error", "hang", "malformed", "cut_stream", "dropped")


def fault_step(fault: str, reply: Reply, rng: random.Random, *, hang: float) -> Step:
    """The mock server's step for one fault (the reply is what a healthy model says)."""
    if fault == "rate_limit":
        return HTTPError(
            status=429,
            message="rate limit reached, slow down",
            type="rate_limit_error",
            code="rate_limit_exceeded",
            retry_after=round(rng.uniform(0.05, 0.4), 2),
        )
    if fault == "server_error":
        return HTTPError(status=500, message="the model server failed", type="server_error")
    if fault == "hang":
        return Delay(seconds=hang, then=reply)  # longer than the model timeout
    if fault == "malformed":
        return Malformed()
    if fault == "cut_stream":
        return BrokenStream(reply=reply, after=rng.randint(2, 4))  # cut mid-answer
    if fault == "dropped":
        return BrokenStream(reply=reply, after=0)  # nothing of the answer arrives
    raise ValueError(f"unknown fault {fault!r}")


@dataclass(frozen=True, slots=True)
class ModelCall:
    """One request the mock model received for a run."""

    key: str
    turn: int  # the run's model call it is: 0 for the first
    pid: int | None  # the process that made it (the x-worker-pid header), if it said
    fault: str | None  # the fault it was answered with, if any
    users: tuple[str, ...]  # the conversation's user messages (a session's history too)
    tools: tuple[str, ...]  # the tool outputs it carried (of this run's turn)


def _text(content: Any) -> str:
    if isinstance(content, str):
        return content
    if isinstance(content, list):
        return "".join(str(part.get("text", "")) for part in content if isinstance(part, dict))
    return ""


def conversation(body: Mapping[str, Any]) -> tuple[str, int, tuple[str, ...], tuple[str, ...]]:
    """A Chat Completions request's run key (the last user message's tag, or the
    message itself), which model call of the run it is, its user messages, and the
    tool outputs after the last of them."""
    messages = [m for m in body.get("messages") or [] if isinstance(m, dict)]
    users = [i for i, m in enumerate(messages) if m.get("role") == "user"]
    texts = tuple(_text(messages[i].get("content")) for i in users)
    last = users[-1] if users else -1
    turn = sum(1 for m in messages[last + 1 :] if m.get("role") == "assistant")
    tools = tuple(_text(m.get("content")) for m in messages[last + 1 :] if m.get("role") == "tool")
    content = texts[-1] if texts else ""
    tag = TAG.match(content)
    return (tag.group(1) if tag else content), turn, texts, tools


class ChaosModel:
    """A responder: each run's answers by its plan, faults and latency by a seeded RNG.

    A request's fault is drawn from an RNG seeded by ``(seed, run, model call,
    attempt)``: the same seed gives every run the same faults however the
    requests interleave. Requests of runs without a plan (a fuzzer's inputs)
    get one made up from their text. ``fault_rate`` of the requests get one of
    ``faults``; ``latency`` (seconds, low and high) delays every answer.
    """

    def __init__(
        self,
        plans: Mapping[str, RunPlan] = {},
        *,
        seed: int = 0,
        lookup_tool: str = "lookup",
        fault_rate: float = 0.0,
        faults: Sequence[str] = FAULTS,
        hang: float = 3.0,
        latency: tuple[float, float] | None = None,
    ) -> None:
        self.plans = dict(plans)
        self.seed = seed
        self.lookup_tool = lookup_tool
        self.fault_rate = fault_rate
        self.faults = tuple(faults)
        self.hang = hang
        self.latency = latency
        self._lock = threading.Lock()
        self._calls: dict[str, list[ModelCall]] = collections.defaultdict(list)

    def add(self, plans: Sequence[RunPlan]) -> None:
        with self._lock:
            self.plans.update((plan.key, plan) for plan in plans)

    def plan_for(self, key: str) -> RunPlan:
        plan = self.plans.get(key)
        if plan is None:  # not ours: one in three asks for a refund
            kind: Literal["lookup", "approval"] = (
                "approval" if zlib.crc32(key.encode()) % 3 == 0 else "lookup"
            )
            plan = RunPlan(key=f"x{zlib.crc32(key.encode())}", kind=kind)
        return plan

    def __call__(self, request: MockRequest) -> Step:
        key, turn, users, tools = conversation(request.body)
        with self._lock:
            plan = self.plan_for(key)
            mine = self._calls[key]
            attempt = sum(1 for call in mine if call.turn == turn)
            rng = random.Random(f"{self.seed}:{key}:{turn}:{attempt}")
            fault = rng.choice(self.faults) if rng.random() < self.fault_rate else None
            pid = request.headers.get(WORKER_HEADER)
            mine.append(ModelCall(key, turn, int(pid) if pid else None, fault, users, tools))
        reply = plan.reply(min(turn, plan.steps - 1), self.lookup_tool)
        step = reply if fault is None else fault_step(fault, reply, rng, hang=self.hang)
        if self.latency is not None:
            step = Delay(seconds=rng.uniform(*self.latency), then=step)  # type: ignore[arg-type]
        return step

    def calls(self) -> dict[str, list[ModelCall]]:
        """Every call so far, per run key (a copy)."""
        with self._lock:
            return {key: list(calls) for key, calls in self._calls.items()}


# ================================================================ the checks


def problems_with_model_calls(
    calls: Sequence[ModelCall], plan: RunPlan, *, killed: frozenset[int] = frozenset()
) -> list[str]:
    """A model call is made again only when its earlier attempt was answered with a
    fault or made by a process killed since: a recorded call is never repeated."""
    problems = []
    turns = sorted({call.turn for call in calls})
    if turns != list(range(len(turns))) or len(turns) > plan.steps:
        problems.append(f"run {plan.key}: model calls for turns {turns} of {plan.steps}")
    for turn in turns:
        attempts = [call for call in calls if call.turn == turn]
        for earlier in attempts[:-1]:
            if earlier.fault is None and earlier.pid not in killed:
                problems.append(
                    f"run {plan.key}: model call {turn} made again after an answer that "
                    f"came through (by process {earlier.pid}, not killed): "
                    f"{len(attempts)} attempts"
                )
                break
    return problems


def problems_with_failure(record: RunRecord, calls: Sequence[ModelCall]) -> list[str]:
    """A failed run says why, and failed only after its model call's last attempts all
    met a fault (a clean answer, a cut stream retried say, lets it go on)."""
    if record.status != "failed":
        return []
    if not record.error:
        return [f"run {record.id} failed without a reason"]
    last_turn = max((call.turn for call in calls), default=0)
    attempts = [call for call in calls if call.turn == last_turn][-MODEL_ATTEMPTS:]
    if "RunTimeoutError" in record.error:
        return []  # its time ran out: faults or not
    if len(attempts) < MODEL_ATTEMPTS or any(call.fault is None for call in attempts):
        faults = [call.fault for call in attempts]
        return [f"run {record.id} failed ({record.error}) though its last attempts were {faults}"]
    return []


def problems_with_events(record: RunRecord, events: Sequence[Any]) -> list[str]:
    """The event log: gapless, one ``run_started`` first, one end (last, matching the
    record), as many resumptions as pauses."""
    problems = []
    rid = record.id
    seqs = [event.seq for event in events]
    if seqs != list(range(1, len(seqs) + 1)):
        problems.append(f"run {rid}: event seqs are not 1..{len(seqs)}: {seqs[:8]}...")
    types = [event.type for event in events]
    if not types or types[0] != "run_started" or types.count("run_started") != 1:
        problems.append(f"run {rid}: {types.count('run_started')} run_started, first {types[:1]}")
    ends = [kind for kind in types if kind in TERMINAL_EVENTS]
    if record.done:
        if len(ends) != 1 or types[-1] != ends[0] or TERMINAL_EVENTS[ends[0]] != record.status:
            problems.append(f"run {rid} is {record.status}; its log ends {types[-3:]}, ends {ends}")
    elif ends:
        problems.append(f"run {rid} is {record.status} but its log has {ends}")
    pauses, resumes = types.count("approval_required"), types.count("run_resumed")
    if resumes > pauses or pauses > resumes + 1:
        problems.append(f"run {rid}: {pauses} approval_required, {resumes} run_resumed")
    return problems


def problems_with_session(session: str, items: Sequence[Any], keys: Sequence[str]) -> list[str]:
    """The session holds each run's turn whole, once, in the order the runs started:
    the user's message, the tool call, its output, the answer."""
    dumped = [item if isinstance(item, dict) else item.model_dump() for item in items]
    turns: list[list[dict[str, Any]]] = []
    for item in dumped:
        if item.get("type") == "message" and item.get("role") == "user":
            turns.append([])
        if not turns:
            return [f"session {session}: starts with a {item.get('type')}, not a user message"]
        turns[-1].append(item)
    problems = []
    found = [conversation({"messages": [turn[0]]})[0] for turn in turns]
    if found != list(keys):
        problems.append(f"session {session}: turns of runs {found}, expected {list(keys)}")
    for key, turn in zip(found, turns, strict=False):
        kinds = [item.get("type") for item in turn]
        if kinds != ["message", "function_call", "function_call_output", "message"]:
            problems.append(f"session {session}: the turn of run {key} is {kinds}")
        elif turn[1].get("call_id") != turn[2].get("call_id"):
            problems.append(f"session {session}: run {key}'s tool output is not its call's")
    return problems


# ================================================ processes and /proc meters


def rss_of(pid: int) -> int:
    """The process's resident set size in bytes (from ``/proc/<pid>/status``)."""
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) * 1024
    raise RuntimeError(f"no VmRSS for process {pid}")


def fds_of(pid: int) -> int:
    """How many file descriptors the process has open."""
    return len(os.listdir(f"/proc/{pid}/fd"))


class Service:
    """``ascent serve tests/chaos/_app.py:create_app`` in a process of its own.

    It listens on a free loopback port (``url``), keeps its database at
    ``database_url``, calls the model at ``model_url``, and writes its log
    (uvicorn's, the app's) to ``log``.
    """

    def __init__(
        self,
        *,
        database_url: str,
        model_url: str,
        log: Path,
        name: str = "chaos",
        model_timeout: float = 1.0,
        run_timeout: float = 30.0,
        wait_timeout: float = 5.0,
    ) -> None:
        self.log = log
        self.database_url = database_url
        self.model_timeout = model_timeout
        self.env = {
            **os.environ,
            "PYTHONPATH": os.pathsep.join([str(REPO), os.environ.get("PYTHONPATH", "")]),
            "ASCENT_DATABASE_URL": database_url,
            "ASCENT_API_KEYS": f"{API_KEY}:{TENANT}",
            "ASCENT_EXECUTOR_ID": name,
            "ASCENT_APP_VERSION": "chaos",
            "OPENAI_BASE_URL": model_url,
            "OPENAI_API_KEY": "not-needed",
            "CHAOS_MODEL_TIMEOUT": str(model_timeout),
            "CHAOS_RUN_TIMEOUT": str(run_timeout),
            "CHAOS_WAIT_TIMEOUT": str(wait_timeout),
        }
        self.process: subprocess.Popen[bytes] | None = None
        self.url = ""

    @property
    def pid(self) -> int:
        assert self.process is not None
        return self.process.pid

    def start(self, timeout: float = 60.0) -> Self:
        command = [sys.executable, "-m", "ascent.cli", "serve", f"{APP}:create_app", "--port", "0"]
        with self.log.open("ab") as log:
            self.process = subprocess.Popen(
                command, env=self.env, cwd=REPO, stdout=log, stderr=subprocess.STDOUT
            )
        deadline = time.monotonic() + timeout
        while not self.url:
            found = re.search(r"Uvicorn running on (http://127\.0\.0\.1:\d+)", self.log_text())
            if found:
                self.url = found.group(1)
            elif self.process.poll() is not None or time.monotonic() > deadline:
                self.stop()
                raise RuntimeError(f"the service did not start:\n{self.log_text()[-3000:]}")
            else:
                time.sleep(0.05)
        wait_until_serving(f"{self.url}/readyz", process=self.process, timeout=timeout)
        return self

    def log_text(self) -> str:
        return self.log.read_text(errors="replace") if self.log.exists() else ""

    def stop(self) -> None:
        if self.process is not None and self.process.poll() is None:
            self.process.terminate()
            try:
                self.process.wait(timeout=20)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()

    def __enter__(self) -> Self:
        return self.start()

    def __exit__(self, *exc_info: object) -> None:
        self.stop()


def log_problems(text: str) -> list[str]:
    """Unhandled exceptions and errors a service log shows (one line each)."""
    lines = text.splitlines()
    return [
        line
        for line in lines
        if "Traceback (most recent call last)" in line
        or " ERROR " in line
        or line.startswith("ERROR")
        or "Exception in ASGI application" in line
        or "unhandled error" in line
    ]


# ==================================================== the service's clients


@dataclass
class Traffic:
    """What the clients of a scenario saw: answers by status, errors, cut streams."""

    statuses: collections.Counter[int] = field(default_factory=collections.Counter)
    errors: list[str] = field(default_factory=list)
    cut_streams: int = 0

    @property
    def server_errors(self) -> int:
        return sum(n for status, n in self.statuses.items() if status >= 500)

    def note(self, response: httpx.Response) -> httpx.Response:
        self.statuses[response.status_code] += 1
        if response.status_code >= 500:
            self.errors.append(f"{response.status_code} {response.request.url}: {response.text}")
        return response


def make_client(base_url: str, connections: int) -> httpx.AsyncClient:
    """A client of the service. A fresh connection per request (as bench/service.py's):
    on a busy machine a kept-alive one can sit idle past uvicorn's 5 s keep-alive, and
    the server closes it just as the client sends on it."""
    limits = httpx.Limits(max_connections=connections, max_keepalive_connections=0)
    return httpx.AsyncClient(base_url=base_url, headers=HEADERS, limits=limits, timeout=60)


async def streamed(
    client: httpx.AsyncClient, traffic: Traffic, method: str, url: str, **options: Any
) -> tuple[list[dict[str, Any]], float]:
    """A server-sent events request read to its end: its events, and the seconds to the
    first byte. A stream that does not end with the run's record is a cut stream."""
    started = time.monotonic()
    first: float | None = None
    chunks: list[str] = []
    broke = ""
    async with client.stream(method, url, **options) as response:
        traffic.note(response)
        try:
            async for chunk in response.aiter_text():
                if first is None:
                    first = time.monotonic() - started
                chunks.append(chunk)
        except httpx.HTTPError as exc:  # the connection broke after the answer began
            broke = f" ({type(exc).__name__}: {exc})"
    if response.status_code != 200:
        return [], first or 0.0
    text = "".join(chunks)
    events = sse_events(text[: text.rfind("\n\n") + 2])  # the events that came whole
    if broke or not events or events[-1].get("event") != "run":
        traffic.cut_streams += 1
        traffic.errors.append(f"{method} {url}: the stream ended without the run's record{broke}")
    return events, first or 0.0


async def follow_to_end(
    client: httpx.AsyncClient, traffic: Traffic, run: dict[str, Any], *, bound: float
) -> dict[str, Any]:
    """Follow a run (approving what it asks) until it is over, for at most ``bound`` seconds;
    returns its last record."""
    deadline = time.monotonic() + bound
    while run.get("status") not in ("completed", "failed", "cancelled"):
        if time.monotonic() > deadline:
            break
        if run.get("status") == "awaiting_approval":
            decisions = [
                {"call_id": p["call_id"], "approved": True} for p in run["pending_approvals"]
            ]
            traffic.note(
                await client.post(
                    f"/v1/runs/{run['id']}/approvals", json={"decisions": decisions, "wait": False}
                )
            )
        events, _ = await streamed(client, traffic, "GET", f"/v1/runs/{run['id']}/events")
        if events and events[-1].get("event") == "run":
            run = events[-1]["data"]
        else:
            run = traffic.note(await client.get(f"/v1/runs/{run['id']}")).json()
    return run


def run_plans(
    rng: random.Random,
    runs: int,
    prefix: str,
    *,
    approvals: float = 0.3,
    shared: float = 0.0,
    sessions: int = 3,
) -> list[RunPlan]:
    """``runs`` plans: ``approvals`` of them refunds, ``shared`` of them on one of
    ``sessions`` shared sessions."""
    plans = []
    for n in range(runs):
        kind: Literal["lookup", "approval"] = "approval" if rng.random() < approvals else "lookup"
        session = f"{prefix}-s{rng.randrange(sessions)}" if rng.random() < shared else None
        plans.append(RunPlan(key=f"{prefix}-{n:04d}", kind=kind, session=session))
    return plans


# =================================================== 1. kill -9 of replicas


@dataclass
class KillReport:
    """How the runs of :func:`kill_chaos` ended, and what it took."""

    database: str
    seed: int
    runs: int
    kills: int
    replicas: int  # replica processes started, in all
    seconds: float
    statuses: collections.Counter[str]
    model_calls: int
    repeated_calls: int  # model calls made again: a kill cut their first attempt
    discarded: int  # response_discarded events: steps a recovered run ran again
    decided_during: int  # approvals sent while replicas were being killed
    decided_after: int  # approvals sent after the last kill
    problems: list[str]


class _KillChaos:
    """The replicas of :func:`kill_chaos`, their inboxes, and what was sent to them."""

    def __init__(
        self, group: Workers, *, postgres: bool, rng: random.Random, tool_delay: float
    ) -> None:
        self.group = group
        self.postgres = postgres
        self.rng = rng
        self.tool_delay = tool_delay
        self.live: dict[str, BaseProcess] = {}
        self.killed: set[int] = set()
        self.spawned = 0
        self.names = (f"replica-{n}" for n in itertools.count())
        self.sent: dict[str, tuple[str, dict[str, Any]]] = {}  # command id -> (replica, command)

    def spawn(self, name: str | None = None) -> None:
        name = name or next(self.names)
        inbox = self.group.marks / f"inbox-{name}"
        # a decision whose sender was killed before it sent it is found in the run's log
        # when the wait for it times out: after a second here, not a minute
        self.live[name] = self.group.spawn(
            name, inbox=inbox, delay=self.tool_delay, approval_wait=1.0
        )
        self.spawned += 1

    def send(self, command: dict[str, Any], to: str | None = None) -> None:
        to = to or self.rng.choice(sorted(self.live))
        ident = (
            f"started {command['start']}" if "start" in command else f"decided {command['decide']}"
        )
        self.sent[ident] = (to, command)
        append_line(self.group.marks / f"inbox-{to}", json.dumps(command))

    def died(self) -> list[str]:
        """Replicas that ended without being killed (a worker's own error is in its marks)."""
        return [
            f"replica {name} (process {process.pid}) died on its own: exit {process.exitcode}"
            for name, process in self.live.items()
            if not process.is_alive()
        ]

    def ready(self) -> bool:
        """Whether every live replica's engine has started."""
        marks = self.group.marks
        return all((marks / f"ready-{process.pid}").exists() for process in self.live.values())

    def confirmed(self) -> set[str]:
        path = self.group.marks / "confirmed"
        return set(path.read_text().splitlines()) if path.exists() else set()

    def kill_one(self) -> None:
        """kill -9 a replica, and start another: on SQLite the same one again (it resumes
        its runs), on PostgreSQL a new one (a live replica takes the dead one's runs)."""
        victim = self.rng.choice(sorted(self.live))
        process = self.live.pop(victim)
        assert process.pid is not None
        self.killed.add(process.pid)
        self.group.kill(process)
        if not self.postgres:
            self.spawn(victim)  # its inbox is read again from the start
            return
        self.spawn()
        self.resend(lost=victim)

    def resend(self, *, lost: str | None = None) -> None:
        """Send again what a dead replica (``lost``, or any) had not confirmed."""
        done = self.confirmed()
        for ident, (to, command) in list(self.sent.items()):
            if ident not in done and to not in self.live and (lost is None or to == lost):
                self.send(command)


def kill_chaos(
    *,
    url: str,
    postgres: bool,
    mock: MockOpenAIServer,
    marks: Path,
    runs: int,
    kills: int,
    seed: int,
    gaps: tuple[float, float] = (0.3, 1.5),
    tool_delay: float = 0.1,
    latency: tuple[float, float] = (0.0, 0.15),
    deadline: float = 120.0,
) -> KillReport:
    """Durable runs on replicas killed with SIGKILL at random points, then checked.

    The runs (refunds that wait for a person among them, some on shared
    sessions) are sent to the replicas' inboxes at random times while a
    replica is killed, a random time (``gaps``, seconds) after the replicas are
    up (now and then before): on SQLite the one replica, restarted under its
    name; on PostgreSQL one of two, replaced by a new one while the other takes
    the dead one's runs over. Approvals are sent for some waiting runs
    meanwhile, for the rest once the kills are over. Then every run must be
    over (completed, or failed with its reason), its log whole, no recorded
    model call made again, and each session's turns whole and in order. The
    seed fixes the runs and the gaps; the machine's timing does the rest.
    """
    rng = random.Random(seed)
    database = "postgresql" if postgres else "sqlite"
    plans = run_plans(rng, runs, f"{database[:2]}{seed}", shared=0.4)
    by_key = {plan.key: plan for plan in plans}
    model = ChaosModel(by_key, seed=seed, lookup_tool="slow_lookup", latency=latency)
    mock.responder = model
    chaos = _KillChaos(Workers(url, marks, mock), postgres=postgres, rng=rng, tool_delay=tool_delay)
    store = RunStore(url)
    began = time.monotonic()
    # the runs go out in kills + 1 batches: one between each two kills, the last after them
    batches = [
        plans[n * runs // (kills + 1) : (n + 1) * runs // (kills + 1)] for n in range(kills + 1)
    ]
    decided: dict[str, float] = {}  # run -> when an approval was last sent
    decided_during = 0
    problems: list[str] = []
    try:
        for _ in range(2 if postgres else 1):
            chaos.spawn()
        starts: list[tuple[float, RunPlan]] = []
        kill_at: float | None = None
        next_look = 0.0
        while len(chaos.killed) < kills and not problems:
            now = time.monotonic()
            if now > began + deadline or chaos.died():
                problems += chaos.died() or ["the kills did not finish in time"]
            if kill_at is None and (chaos.ready() or rng.random() < 0.01):
                # the next kill: mostly a while after every replica is up, now and then
                # while one is still starting (recovering its runs, say)
                kill_at = now + rng.uniform(*gaps)
                batch = batches[len(chaos.killed)]
                starts += [(rng.uniform(now, kill_at), plan) for plan in batch]
            for when, plan in [item for item in starts if item[0] <= now]:
                starts.remove((when, plan))
                chaos.send({"start": plan.key, "input": plan.input, "session": plan.session})
            if kill_at is not None and kill_at <= now:
                kill_at = None
                chaos.kill_one()
            if now >= next_look:
                next_look = now + 0.25
                for record in _records(store, runs):
                    waiting = record.status == "awaiting_approval" and record.id not in decided
                    if waiting and rng.random() < 0.2:  # some wait across kills
                        decided[record.id] = time.monotonic()
                        decided_during += 1
                        chaos.send({"decide": record.id})
            time.sleep(0.02)
        for _, plan in starts + [(0.0, plan) for plan in batches[-1]]:
            chaos.send({"start": plan.key, "input": plan.input, "session": plan.session})
        # no more kills: approve what waits, until every run is over
        decided_after = 0
        settle_end = time.monotonic() + deadline
        records: dict[str, RunRecord] = {}
        while time.monotonic() < settle_end and not problems:
            problems += chaos.died()
            chaos.resend()
            records = {record.id: record for record in _records(store, runs)}
            for record in records.values():
                last = decided.get(record.id)
                if record.status == "awaiting_approval" and (
                    last is None or time.monotonic() - last > 3
                ):
                    decided_after += last is None
                    decided[record.id] = time.monotonic()
                    chaos.send({"decide": record.id})
            done = chaos.confirmed()
            if all(f"started {key}" in done for key in by_key) and all(
                key in records and records[key].done for key in by_key
            ):
                break
            time.sleep(0.1)
        seconds = time.monotonic() - began
    finally:
        chaos.group.stop_all()
    problems += _check_durable_runs(url, store, by_key, records, model, frozenset(chaos.killed))
    problems += [f"a worker failed: {path.read_text()}" for path in marks.glob("error-*.txt")]
    calls = model.calls()
    total = sum(len(mine) for mine in calls.values())
    distinct = sum(len({call.turn for call in mine}) for mine in calls.values())
    discarded = sum(
        1
        for key in records
        for event in store.read_events(key, after=0)
        if event.type == "response_discarded"
    )
    return KillReport(
        database=database,
        seed=seed,
        runs=runs,
        kills=kills,
        replicas=chaos.spawned,
        seconds=seconds,
        statuses=collections.Counter(record.status for record in records.values()),
        model_calls=total,
        repeated_calls=total - distinct,
        discarded=discarded,
        decided_during=decided_during,
        decided_after=decided_after,
        problems=problems,
    )


def _records(store: RunStore, runs: int) -> list[RunRecord]:
    return store.list_runs(tenant=None, limit=runs * 2 + 10)


def _check_durable_runs(
    url: str,
    store: RunStore,
    plans: Mapping[str, RunPlan],
    records: Mapping[str, RunRecord],
    model: ChaosModel,
    killed: frozenset[int],
) -> list[str]:
    problems = [f"run {key} was started but has no record" for key in plans if key not in records]
    problems += [
        f"run {key} has a record but was never started" for key in records if key not in plans
    ]
    calls = model.calls()
    for key, record in records.items():
        plan = plans.get(key)
        if plan is None:
            continue
        if not record.done:
            problems.append(f"run {key} is still {record.status}")
        elif record.status == "completed" and record.output != plan.output:
            problems.append(f"run {key} completed with {record.output!r}, not {plan.output!r}")
        elif record.status != "completed":
            problems.append(f"run {key} is {record.status}: {record.error}")
        events = store.read_events(key, after=0)
        problems += problems_with_events(record, events)
        pauses = sum(1 for event in events if event.type == "approval_required")
        if record.status == "completed" and pauses != (plan.kind == "approval"):
            problems.append(f"run {key} ({plan.kind}) paused {pauses} times")
        problems += problems_with_model_calls(calls.get(key, []), plan, killed=killed)
    sessions = sorted({plan.session for plan in plans.values() if plan.session})
    for session in sessions:
        mine = sorted(
            (r for r in records.values() if r.session_id == session),
            key=lambda r: (r.created_at, r.id),
        )
        items = asyncio.run(open_session(session, url).get_items())
        problems += problems_with_session(session, items, [r.id for r in mine])
    return problems


# ================================================ 2. a misbehaving model


@dataclass
class FaultReport:
    """How the runs of :func:`fault_chaos` ended, by the faults they met."""

    seed: int
    runs: int
    seconds: float
    statuses: collections.Counter[str]
    faults: collections.Counter[str]  # model requests answered with each fault
    met: dict[str, collections.Counter[str]]  # fault -> how the runs that met it ended
    ended: dict[str, collections.Counter[str]]  # fault -> the failures it was the last of
    latencies: list[float] = field(repr=False)  # seconds from start to end, as clients saw it
    discarded: int  # response_discarded events the clients saw (cut streams asked again)
    traffic: Traffic
    log_problems: list[str]  # unhandled exceptions and errors in the service's log
    problems: list[str]


def outcome(record: RunRecord) -> str:
    """``completed``, or ``failed: <the error's kind and first words>``."""
    if record.status != "failed":
        return record.status
    kind, _, message = (record.error or "no reason").partition(": ")
    if message.startswith("openai-chat:mock: "):  # a model error names its provider first
        message = message.removeprefix("openai-chat:mock: ")
    return f"failed: {kind}: {' '.join(message.split()[:3])}"


async def fault_chaos(
    service: Service,
    mock: MockOpenAIServer,
    *,
    runs: int,
    clients: int,
    seed: int,
    fault_rate: float = 0.3,
    bound: float = 60.0,
) -> FaultReport:
    """Runs through the service while the model misbehaves at random.

    ``fault_rate`` of the model's answers are a 429 with Retry-After, a 500, a
    hang longer than the model timeout, malformed JSON, a stream cut mid-answer
    or a connection dropped before any of it (drawn by ``seed``). ``clients``
    clients start the runs, half of them streamed (``"stream": true``), half
    plain (waiting for the answer), approve the refunds that ask, and follow
    each run to its end. Nothing may answer 5xx, no run may take longer than
    ``bound`` seconds, no stream may be cut, the log shows no unhandled
    exception, and a run fails only with its reason, after its last attempts
    all met a fault; no answer that came through is asked for again.
    """
    rng = random.Random(seed)
    plans = run_plans(rng, runs, f"f{seed}", approvals=0.2)
    model = ChaosModel(
        {plan.key: plan for plan in plans},
        seed=seed,
        fault_rate=fault_rate,
        hang=service.model_timeout * 3,
    )
    mock.responder = model
    log_start = len(service.log_text())
    traffic = Traffic()
    records: dict[str, dict[str, Any]] = {}
    logs: dict[str, list[RunEvent]] = {}
    latencies: list[float] = []
    problems: list[str] = []
    discarded = 0
    todo = collections.deque(enumerate(plans))
    began = time.monotonic()

    async def client(http: httpx.AsyncClient) -> None:
        nonlocal discarded
        while todo:
            number, plan = todo.popleft()
            started = time.monotonic()
            try:
                run = await _start(http, traffic, plan, stream=number % 2 == 0)
                discarded += run.pop("discarded", 0)
                run = await follow_to_end(http, traffic, run, bound=bound)
            except (httpx.HTTPError, KeyError, ValueError) as exc:
                traffic.errors.append(f"run {plan.key}: {type(exc).__name__}: {exc}")
                continue
            elapsed = time.monotonic() - started
            latencies.append(elapsed)
            records[plan.key] = run
            if run.get("status") not in ("completed", "failed", "cancelled"):
                problems.append(
                    f"run {plan.key} hung: still {run.get('status')} after {elapsed:.0f} s"
                )
            events, _ = await streamed(
                http, traffic, "GET", f"/v1/runs/{run['id']}/events?follow=false"
            )
            logs[plan.key] = [RunEvent.model_validate(e["data"]) for e in events if "id" in e]

    async with make_client(service.url, clients + 5) as http:
        await asyncio.gather(*(client(http) for _ in range(clients)))
    seconds = time.monotonic() - began
    calls = model.calls()
    met: dict[str, collections.Counter[str]] = collections.defaultdict(collections.Counter)
    ended: dict[str, collections.Counter[str]] = collections.defaultdict(collections.Counter)
    for plan in plans:
        run = records.get(plan.key)
        if run is None:
            problems.append(f"run {plan.key}: its client got no record")
            continue
        record = RunRecord.model_validate(run)
        mine = calls.get(plan.key, [])
        for fault in {call.fault for call in mine if call.fault} or {"none"}:
            met[fault][outcome(record)] += 1
        if record.status == "failed" and mine:
            ended[mine[-1].fault or "none"][outcome(record)] += 1
        problems += problems_with_model_calls(mine, plan)
        problems += problems_with_failure(record, mine)
        problems += problems_with_events(record, logs.get(plan.key, []))
        if record.status == "completed" and record.output != plan.output:
            problems.append(f"run {plan.key} completed with {record.output!r}")
    faults = collections.Counter(
        call.fault for mine in calls.values() for call in mine if call.fault is not None
    )
    return FaultReport(
        seed=seed,
        runs=runs,
        seconds=seconds,
        statuses=collections.Counter(str(run.get("status")) for run in records.values()),
        faults=faults,
        met=dict(met),
        ended=dict(ended),
        latencies=latencies,
        discarded=discarded,
        traffic=traffic,
        log_problems=log_problems(service.log_text()[log_start:]),
        problems=problems,
    )


async def _start(
    http: httpx.AsyncClient, traffic: Traffic, plan: RunPlan, *, stream: bool
) -> dict[str, Any]:
    """Start the plan's run, streamed or not; its record as the answer gave it (with
    ``discarded``: how many response_discarded events a stream carried)."""
    url = f"/v1/agents/{AGENT}/runs"
    if not stream:
        return traffic.note(await http.post(url, json={"input": plan.input})).json()
    events, _ = await streamed(
        http, traffic, "POST", url, json={"input": plan.input, "stream": True}
    )
    discarded = sum(1 for event in events if event.get("event") == "response_discarded")
    if events and events[-1].get("event") == "run":
        return {**events[-1]["data"], "discarded": discarded}
    # cut: carry on from the run the stream was about
    run_id = events[0]["data"]["run_id"]
    return {**traffic.note(await http.get(f"/v1/runs/{run_id}")).json(), "discarded": discarded}


# =================================================== 3. clients following SSE

# What the service may keep after a load, beyond what it held before it (after a
# warm-up as busy as the load, which fills its pools: database connections, the
# model client's kept-alive connections, threads). Descriptors: a few, for the
# pools' churn; every stream's socket is closed. RSS: Python keeps some memory it
# freed, but a stream that leaked 100 KB would leave more than this behind after
# the ~150 runs of the CI load, and far more after the bench's thousands.
LOAD_FD_SLACK = 5
LOAD_RSS_SLACK = 16 * 2**20


@dataclass
class Meter:
    """The service process's RSS (bytes) and open file descriptors: before a load,
    the most seen during it, and after it."""

    pid: int
    rss: list[int] = field(default_factory=lambda: [0, 0, 0])
    fds: list[int] = field(default_factory=lambda: [0, 0, 0])

    def before(self) -> None:
        self.rss = [rss_of(self.pid)] * 3
        self.fds = [fds_of(self.pid)] * 3

    def during(self) -> None:
        self.rss[1] = max(self.rss[1], rss_of(self.pid))
        self.fds[1] = max(self.fds[1], fds_of(self.pid))

    def after(self) -> None:
        self.rss[2], self.fds[2] = rss_of(self.pid), fds_of(self.pid)


@dataclass
class LoadReport:
    """What :func:`sse_load`'s clients saw, and what the service held meanwhile."""

    clients: int
    seconds: float
    runs: int  # runs followed to their end
    first_byte: list[float] = field(repr=False)  # seconds to a stream's first byte
    latencies: list[float] = field(repr=False)  # seconds from a run's start to its record
    traffic: Traffic = field(default_factory=Traffic)
    meter: Meter = field(default_factory=lambda: Meter(0))
    problems: list[str] = field(default_factory=list)


async def sse_load(
    service: Service,
    mock: MockOpenAIServer,
    *,
    clients: int,
    seconds: float,
    seed: int,
    warmup: float = 3.0,
    settle: float = 20.0,
    fd_slack: int = 0,
) -> LoadReport:
    """``clients`` clients following runs' event streams for ``seconds`` seconds.

    Each client starts a run and follows its events to the end, again and
    again: half the time in the start's own answer (``"stream": true``), half
    with ``GET /v1/runs/{id}/events``. The model takes 0.2 to 0.8 s per answer,
    so streams stay open a while. The service's RSS and open descriptors are
    read before (after ``warmup`` seconds of the same load), during and after
    the load (once the descriptors are back within ``fd_slack`` of before, or
    ``settle`` seconds have passed).
    """
    rng = random.Random(seed)
    model = ChaosModel(seed=seed, latency=(0.2, 0.8))
    mock.responder = model
    report = LoadReport(clients=clients, seconds=seconds, runs=0, first_byte=[], latencies=[])
    report.meter = meter = Meter(service.pid)
    traffic = report.traffic
    keys = itertools.count()

    async def follow_one(http: httpx.AsyncClient, stream: bool) -> None:
        plan = RunPlan(key=f"l{seed}-{next(keys)}")
        model.add([plan])
        url = f"/v1/agents/{AGENT}/runs"
        started = time.monotonic()
        if stream:
            body = {"input": plan.input, "stream": True}
            events, first = await streamed(http, traffic, "POST", url, json=body)
        else:
            answer = traffic.note(await http.post(url, json={"input": plan.input, "wait": False}))
            path = f"/v1/runs/{answer.json()['id']}/events"
            events, first = await streamed(http, traffic, "GET", path)
        report.first_byte.append(first)
        if events and events[-1].get("event") == "run":
            report.latencies.append(time.monotonic() - started)
            report.runs += 1
            if events[-1]["data"].get("output") != plan.output:
                report.problems.append(f"run {plan.key} ended {events[-1]['data'].get('status')}")

    async def client(http: httpx.AsyncClient, deadline: float) -> None:
        while time.monotonic() < deadline:
            try:
                await follow_one(http, stream=rng.random() < 0.5)
            except (httpx.HTTPError, KeyError, ValueError) as exc:
                traffic.errors.append(f"{type(exc).__name__}: {exc}")

    async def sample(until: float) -> None:
        while time.monotonic() < until:
            meter.during()
            await asyncio.sleep(0.2)

    async def load(length: float) -> None:
        deadline = time.monotonic() + length
        async with make_client(service.url, clients + 5) as http:
            await asyncio.gather(
                sample(deadline), *(client(http, deadline) for _ in range(clients))
            )

    # A warm-up as busy as the load fills the service's pools (database connections,
    # the model client's kept-alive connections, threads): what it holds after is its
    # baseline.
    meter.before()
    await load(min(warmup, seconds))
    await asyncio.sleep(1.0)
    meter.before()
    report.first_byte.clear()
    report.latencies.clear()
    report.runs = 0
    await load(seconds)
    settled = time.monotonic() + settle
    while time.monotonic() < settled and fds_of(service.pid) > meter.fds[0] + fd_slack:
        meter.during()
        await asyncio.sleep(0.2)
    meter.after()
    return report


# ================================================================ 4. races


@dataclass
class RaceReport:
    """How :func:`races` ended: the answers each race got, by what they were."""

    reps: int
    decisions: collections.Counter[str]  # "approve 200, reject 409", ...
    cancels: collections.Counter[str]  # "cancel 200, decide 409: cancelled", ...
    sessions: collections.Counter[str]  # "3 whole turns", ...
    traffic: Traffic
    problems: list[str]


async def races(
    service: Service,
    mock: MockOpenAIServer,
    *,
    reps: int,
    seed: int,
    session_runs: int = 3,
    parallel: int = 4,
) -> RaceReport:
    """Requests that race, each race ``reps`` times (``parallel`` reps at once).

    - An approval and a rejection of one paused run, sent at once: exactly one
      wins (200), the other gets 409, and the run follows the winner.
    - A cancellation and an approval sent at once: the run ends in one state,
      the one the answers say (cancelled if the cancellation was answered 200,
      else completed, the approval having won), and its log says the same.
    - ``session_runs`` runs started at once on one session: they take turns,
      each turn whole, in the order they were started, each run seeing the
      turns before its own.
    """
    model = ChaosModel(seed=seed)
    mock.responder = model
    report = RaceReport(
        reps, collections.Counter(), collections.Counter(), collections.Counter(), Traffic(), []
    )
    traffic, problems = report.traffic, report.problems
    gate = asyncio.Semaphore(parallel)
    url = f"/v1/agents/{AGENT}/runs"

    async def paused(http: httpx.AsyncClient, key: str) -> tuple[RunPlan, dict[str, Any]]:
        plan = RunPlan(key=key, kind="approval")
        model.add([plan])
        run = traffic.note(await http.post(url, json={"input": plan.input})).json()
        if run.get("status") != "awaiting_approval":
            raise AssertionError(f"run {key} did not pause: {run}")
        return plan, run

    async def decide(
        http: httpx.AsyncClient, run: dict[str, Any], approved: bool
    ) -> httpx.Response:
        decisions = [
            {"call_id": p["call_id"], "approved": approved} for p in run["pending_approvals"]
        ]
        body = {"decisions": decisions, "wait": False}
        return traffic.note(await http.post(f"/v1/runs/{run['id']}/approvals", json=body))

    async def final(
        http: httpx.AsyncClient, run: dict[str, Any]
    ) -> tuple[RunRecord, list[RunEvent]]:
        await streamed(http, traffic, "GET", f"/v1/runs/{run['id']}/events")  # to its end
        await asyncio.sleep(0.2)  # anything written late would be in the log by now
        record = RunRecord.model_validate(
            traffic.note(await http.get(f"/v1/runs/{run['id']}")).json()
        )
        events, _ = await streamed(
            http, traffic, "GET", f"/v1/runs/{run['id']}/events?follow=false"
        )
        return record, [RunEvent.model_validate(e["data"]) for e in events if "id" in e]

    async def approve_and_reject(http: httpx.AsyncClient, rep: int) -> None:
        plan, run = await paused(http, f"d{seed}-{rep}")
        approve, reject = await asyncio.gather(decide(http, run, True), decide(http, run, False))
        report.decisions[f"approve {approve.status_code}, reject {reject.status_code}"] += 1
        record, events = await final(http, run)
        problems.extend(problems_with_events(record, events))
        if sorted((approve.status_code, reject.status_code)) != [200, 409]:
            problems.append(
                f"run {plan.key}: approve {approve.status_code}, reject {reject.status_code}"
            )
            return
        approved = approve.status_code == 200
        resumed = [e.data["decisions"] for e in events if e.type == "run_resumed"]
        followed = [d["approved"] for decisions in resumed for d in decisions.values()]
        tools = [call.tools for call in model.calls().get(plan.key, []) if call.turn == 1]
        refunded = any(f"refunded {plan.order}" in out for outs in tools for out in outs)
        if record.status != "completed" or followed != [approved] or refunded != approved:
            problems.append(
                f"run {plan.key}: the {'approval' if approved else 'rejection'} won, the run "
                f"is {record.status}, followed {followed}, refunded: {refunded}"
            )

    async def cancel_and_decide(http: httpx.AsyncClient, rep: int) -> None:
        plan, run = await paused(http, f"c{seed}-{rep}")
        cancel, approve = await asyncio.gather(
            http.post(f"/v1/runs/{run['id']}/cancel"), decide(http, run, True)
        )
        traffic.note(cancel)
        record, events = await final(http, run)
        report.cancels[
            f"cancel {cancel.status_code}, decide {approve.status_code}: {record.status}"
        ] += 1
        problems.extend(problems_with_events(record, events))
        expected = {
            (200, 409): "cancelled",  # the cancellation came first
            (200, 200): "cancelled",  # the approval came first, then the cancellation
            (409, 200): "completed",  # the approval came first, the run ended before the cancel
        }.get((cancel.status_code, approve.status_code))
        if record.status != expected:
            problems.append(
                f"run {plan.key}: cancel {cancel.status_code}, approve {approve.status_code}, "
                f"and the run is {record.status}"
            )

    async def one_session(http: httpx.AsyncClient, rep: int) -> None:
        session = f"s{seed}-{rep}"
        plans = [RunPlan(key=f"s{seed}-{rep}-{n}", session=session) for n in range(session_runs)]
        model.add(plans)
        started = await asyncio.gather(
            *(
                http.post(url, json={"input": p.input, "session_id": session, "wait": False})
                for p in plans
            )
        )
        runs = [traffic.note(answer).json() for answer in started]
        ended = [(await final(http, run))[0] for run in runs]
        order = [r.id for r in sorted(ended, key=lambda r: (r.created_at, r.id))]
        keys = {run["id"]: plan.key for run, plan in zip(runs, plans, strict=True)}
        items = traffic.note(await http.get(f"/v1/sessions/{session}/items")).json()["items"]
        found = problems_with_session(session, items, [keys[run_id] for run_id in order])
        problems.extend(found)
        calls = model.calls()
        for position, run_id in enumerate(order):  # each saw the turns before its own
            first = [call for call in calls.get(keys[run_id], []) if call.turn == 0]
            seen = (
                [
                    conversation({"messages": [{"role": "user", "content": u}]})[0]
                    for u in first[-1].users
                ]
                if first
                else []
            )
            if seen != [keys[r] for r in order[: position + 1]]:
                problems.append(f"session {session}: run {keys[run_id]} saw the turns of {seen}")
        statuses = [r.status for r in ended]
        report.sessions[
            f"{statuses.count('completed')} of {session_runs} completed, "
            f"{'whole' if not found else 'broken'} turns"
        ] += 1

    async def guarded(
        race: Callable[[httpx.AsyncClient, int], Awaitable[None]], http: httpx.AsyncClient, rep: int
    ) -> None:
        async with gate:
            try:
                await race(http, rep)
            except (httpx.HTTPError, AssertionError, KeyError, ValueError) as exc:
                problems.append(f"{race.__name__} #{rep}: {type(exc).__name__}: {exc}")

    async with make_client(service.url, parallel * (session_runs + 2)) as http:
        for race in (approve_and_reject, cancel_and_decide, one_session):
            await asyncio.gather(*(guarded(race, http, rep) for rep in range(reps)))
    return report


# ====================================================== 5. bad input, stateful


@dataclass
class FuzzReport:
    """What :func:`stateful_fuzz` sent and got."""

    scenarios: int  # scenarios run
    restarts: int  # times Hypothesis gave up on a scenario the service's state changed
    seconds: float
    calls: collections.Counter[str]  # "POST /v1/agents/{name}/runs -> 200": how many
    approved: int  # paused runs a person (the fuzz's janitor) approved meanwhile
    server_errors: int
    cut_streams: int
    log_problems: list[str]  # unhandled exceptions and errors in the service's log
    problems: list[str]


def _whole_stream(ctx: Any, response: Any, case: Any) -> bool | None:
    """An event stream that answered 200 ends with the run's record: none is cut."""
    kind = response.headers.get("content-type", [""])
    kind = kind[0] if isinstance(kind, list) else kind
    if response.status_code == 200 and str(kind).startswith("text/event-stream"):
        if response.stream_cut_short:  # the request's timeout passed before the stream ended
            raise AssertionError(f"a stream that did not end: {case.operation.label}")
        events = sse_events(response.content.decode())
        if not events or events[-1].get("event") != "run":
            raise AssertionError(f"a cut stream: {case.operation.label} ended {events[-1:]}")
    return None


def _with_approval_links(spec: dict[str, Any]) -> dict[str, Any]:
    """The spec, its started runs linked to a decision on their first pending call (so
    the fuzz approves real calls, not only made-up ones)."""
    paths = spec["paths"]
    decide = paths["/v1/runs/{run_id}/approvals"]["post"]["operationId"]
    started = paths["/v1/agents/{name}/runs"]["post"]["responses"]["200"]
    started.setdefault("links", {})["DecideFirstPending"] = {
        "operationId": decide,
        "parameters": {"path.run_id": "$response.body#/id"},
        "requestBody": {
            "decisions": [
                {"call_id": "$response.body#/pending_approvals/0/call_id", "approved": True}
            ]
        },
        "x-schemathesis": {"merge_body": False},  # this decision, not one with made-up calls
    }
    return spec


def stateful_fuzz(
    service: Service,
    mock: MockOpenAIServer,
    *,
    scenarios: int,
    steps: int,
    seed: int,
    hypothesis_home: Path,
) -> FuzzReport:
    """Schemathesis's stateful fuzz of the service, authenticated.

    Sequences of up to ``steps`` calls (``scenarios`` of them) follow the links
    between operations (a started run's id to reading, deciding, cancelling and
    streaming it; its first pending call to a decision), with valid and invalid
    data. No answer may be a 5xx or stray from the schema, and no stream may be
    cut. A janitor approves runs left waiting (as a person would), so runs
    queued behind them on a session, and the streams following those, go on.
    """
    import schemathesis
    from hypothesis import HealthCheck, Phase, settings
    from hypothesis.configuration import set_hypothesis_home_dir
    from hypothesis.errors import FlakyStrategyDefinition
    from schemathesis.checks import not_a_server_error
    from schemathesis.specs.openapi.checks import (
        content_type_conformance,
        response_schema_conformance,
        status_code_conformance,
    )

    mock.responder = ChaosModel(seed=seed)
    spec = _with_approval_links(httpx.get(f"{service.url}/openapi.json").json())
    schema = schemathesis.openapi.from_dict(spec)
    schema.config.generation.update(with_security_parameters=False)  # always authenticated
    schema.config.max_stream_events = 100_000  # read every stream to its end (default: 20)
    checks = [
        not_a_server_error,
        status_code_conformance,
        content_type_conformance,
        response_schema_conformance,
        schemathesis.check(_whole_stream),
    ]
    calls: collections.Counter[str] = collections.Counter()
    broken: list[str] = []
    runs: dict[str, float] = {}  # run id -> when it was first seen
    lock = threading.Lock()

    class Fuzz(schema.as_state_machine()):  # type: ignore[misc]
        def get_call_kwargs(self, case: Any) -> dict[str, Any]:
            return {"base_url": service.url, "headers": HEADERS, "timeout": 60}

        def call(self, case: Any, **kwargs: Any) -> Any:
            try:
                return super().call(case, **kwargs)
            except Exception as exc:  # the connection broke: say which call it was
                broken.append(
                    f"{case.operation.label} {case.path_parameters} {case.query} {case.headers} "
                    f"{case.body!r}: {type(exc).__name__}: {exc}"
                )
                raise

        def after_call(self, response: Any, case: Any) -> None:
            calls[f"{case.operation.label} -> {response.status_code}"] += 1
            found = re.findall(rb'"id"\s*:\s*"([0-9a-f]{32})"', response.content)
            with lock:
                for run_id in found:
                    runs.setdefault(run_id.decode(), time.monotonic())

        def validate_response(
            self, response: Any, case: Any, additional_checks: Any = None, **kwargs: Any
        ) -> None:
            case.validate_response(response, checks=checks, transport_kwargs=kwargs)

    stop = threading.Event()
    approved = 0

    def sweep(http: httpx.Client, *, older_than: float) -> None:
        """Approve the runs seen ``older_than`` seconds ago that wait for approval."""
        nonlocal approved
        with lock:
            due = [run_id for run_id, seen in runs.items() if time.monotonic() - seen > older_than]
        for run_id in due:
            run = http.get(f"/v1/runs/{run_id}").json()
            if run.get("status") == "awaiting_approval":
                decisions = [
                    {"call_id": p["call_id"], "approved": True} for p in run["pending_approvals"]
                ]
                body = {"decisions": decisions, "wait": False}
                approved += http.post(f"/v1/runs/{run_id}/approvals", json=body).is_success
            elif run.get("status") in ("completed", "failed", "cancelled"):
                with lock:
                    runs.pop(run_id, None)

    def janitor() -> None:
        with httpx.Client(base_url=service.url, headers=HEADERS, timeout=30) as http:
            while not stop.wait(0.5):
                sweep(http, older_than=1.0)
            # a fuzz that ended early (see below) may leave paused runs no pass got to
            sweep(http, older_than=0.0)

    problems: list[str] = []
    log_start = len(service.log_text())
    cleaner = threading.Thread(target=janitor, daemon=True)
    set_hypothesis_home_dir(hypothesis_home)
    began = time.monotonic()
    cleaner.start()
    try:
        Fuzz.run(
            settings=settings(
                max_examples=scenarios,
                stateful_step_count=steps,
                deadline=None,
                database=None,
                derandomize=True,
                phases=[Phase.explicit, Phase.reuse, Phase.generate],  # bounded: no shrinking
                suppress_health_check=list(HealthCheck),
            )
        )
    except FlakyStrategyDefinition:
        # Schemathesis draws later steps' data from earlier answers of a live service;
        # replaying a case then draws differently, and Hypothesis stops the run. That
        # says nothing about the service (every answer so far was checked): the calls
        # made up to there stand, counted below.
        pass
    except Exception as exc:  # a failed check: schemathesis says which, with the case
        problems += broken or [f"{type(exc).__name__}: {exc}"]
    finally:
        stop.set()
        cleaner.join(30)
        set_hypothesis_home_dir(None)
    server_errors = sum(n for call, n in calls.items() if call.rsplit(" ", 1)[-1].startswith("5"))
    cut = sum(1 for problem in problems if "a cut stream" in problem)
    return FuzzReport(
        scenarios=scenarios,
        restarts=0,
        seconds=time.monotonic() - began,
        calls=calls,
        approved=approved,
        server_errors=server_errors,
        cut_streams=cut,
        log_problems=log_problems(service.log_text()[log_start:]),
        problems=problems,
    )
