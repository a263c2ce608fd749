"""The durable interpreter: the agent loop's commands as DBOS steps.

It is the in-process :class:`~ascent.run.interpreter.Interpreter` with three
changes. Each command runs inside a step whose JSON result DBOS records, so a
recovered run replays finished steps from the record instead of calling the
model or the tools again. ``AwaitApproval`` waits for a message (``DBOS.recv``)
instead of ending the run, so the wait survives restarts. And items are added
to the session in steps of their own, so a replay does not add them twice.

A step's events (but its deltas) are recorded with its result, in DBOS's
checkpoint: the event log is written behind, in batches, and a recovered run
appends what a crash kept from it. So a step costs DBOS's checkpoint and no
write of its own (see :class:`EventLog`).
"""

from __future__ import annotations

import asyncio
import contextlib
import contextvars
import logging
from collections.abc import Callable, Iterator
from contextvars import ContextVar
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from dbos import DBOS, WorkflowStatusString
from dbos._error import DBOSWorkflowCancelledError
from pydantic_core import to_jsonable_python

from ..items import Item
from ..memory.session import IdempotentSession
from ..run.commands import ApprovalDecision, AwaitApproval, Command, command_result_adapter
from ..run.events import ApprovalRequiredEvent, ResponseDiscardedEvent, StreamEvent
from ..run.interpreter import Interpreter

if TYPE_CHECKING:
    from ._store import PendingEvent, RunStore

__all__ = [
    "APPROVAL_TOPIC",
    "DurableInterpreter",
    "DurableRun",
    "EventLog",
    "LogWriter",
    "StepScope",
    "current_step",
    "step_scope",
]

logger = logging.getLogger("ascent.durable")

APPROVAL_TOPIC = "ascent.approval"
# How long one durable wait lasts before it is renewed (each renewal is a recorded step),
# and so how late a decision whose message was lost is found in the run's log.
_APPROVAL_WAIT_SECONDS = 60.0
# DBOS's wait for a message does not notice that its workflow was cancelled: while
# it waits, its status is read this often (then less and less often, up to the most).
_CANCEL_CHECK_SECONDS = 1.0
_CANCEL_CHECK_MAX_SECONDS = 10.0
# Events are written in batches, 50 ms after the first one not written yet (and with
# the run's record when it pauses or ends): one transaction per batch, not per event,
# and none at all for a run shorter than that.
_FLUSH_DELAY = 0.05
# Deltas are not recorded with their step (a long answer streams thousands): if a
# crash loses some, the step's items, recorded, carry the whole text anyway.
DELTAS = frozenset({"text_delta", "tool_call_arguments_delta", "reasoning_delta"})


@dataclass(frozen=True, slots=True)
class StepScope:
    """The durable step in progress: what :func:`ascent.durable.idempotency_key` reads."""

    run_id: str
    step: int


_current_step: ContextVar[StepScope | None] = ContextVar("ascent_durable_step", default=None)


def current_step() -> StepScope | None:
    return _current_step.get()


@contextlib.contextmanager
def step_scope(scope: StepScope) -> Iterator[None]:
    token = _current_step.set(scope)
    try:
        yield
    finally:
        _current_step.reset(token)


class EventLog:
    """A run's event sink: stream events, batched into the run's append-only log.

    ``emit`` is what the interpreter calls for each event (synchronously). The
    log is written behind the run, within 50 ms of the first event not written yet
    (with the other runs' logs, by a :class:`LogWriter`),
    so a streaming client sees events as they come while a step costs no write
    of its own. What makes that safe is that each step's events (deltas aside)
    are recorded with its result (:meth:`end_step`): when a crash loses the
    unwritten end of the log, the recovered run, replaying the step, hands its
    recorded events back (:meth:`replayed`) and the ones missing are appended.
    The log stays gapless (sequence numbers are given as it is written) and in
    the order of the run.
    """

    def __init__(
        self,
        store: RunStore,
        run_id: str,
        *,
        notify: Callable[[str], None],
        retried_step: int | None,
        last_seq: int | None = None,
        logged: dict[int, int] | None = None,
        writer: LogWriter | None = None,
    ) -> None:
        self.store = store
        self.run_id = run_id
        self.step: int | None = None
        self._notify = notify
        self._writer = writer  # writes this log with the other runs' (None: on its own)
        self._scheduled = False  # its writer writes it at its next round
        self._buffer: list[PendingEvent] = []
        self._step_events: list[PendingEvent] | None = None  # recorded with the step
        self._lock = asyncio.Lock()
        self._timer: asyncio.TimerHandle | None = None
        self._flushes: set[asyncio.Task[None]] = set()
        self._retried_step = retried_step
        self._last_seq = last_seq  # the log's end as far as this writer knows (None: ask)
        self._logged = logged or {}  # a recovered run's log: events but deltas, per step

    def emit(self, event: StreamEvent) -> None:
        pending = (event.type, to_jsonable_python(event), self.step)
        self._buffer.append(pending)
        if self._step_events is not None and event.type not in DELTAS:
            self._step_events.append(pending)
        self._write_soon()

    def begin_step(self, step: int, agent: str) -> None:
        self.step = step
        self._step_events = []
        if step == self._retried_step:
            # Events of this step's interrupted attempt are in the log: say they are void.
            self.emit(
                ResponseDiscardedEvent(
                    agent=agent,
                    reason="the run was recovered after an interruption; this step runs again",
                )
            )

    def begin_segment(self, number: int, agent: str) -> None:
        """``run`` durability: the events from here on follow the run's checkpoint
        ``number``. A recovered run's log may hold those of the attempt a crash
        cut: say they are void."""
        self.step = number
        if number == self._retried_step:
            self._retried_step = None
            self.emit(
                ResponseDiscardedEvent(
                    agent=agent,
                    reason="the run was recovered after an interruption; it runs again "
                    "from its last checkpoint",
                )
            )

    async def end_step(self) -> list[PendingEvent]:
        """The step's events (deltas aside), to record with its result."""
        recorded, self._step_events = self._step_events or [], None
        if self.step == self._retried_step:
            # The log holds this step's earlier attempt too: counting it on a later
            # recovery would take this attempt's events as written. Write them now.
            self._retried_step = None
            await self.flush()
        self.step = None
        return recorded

    def replayed(self, recorded: list[Any]) -> None:
        """A step that recovery replayed from its record: append its recorded events
        that the log does not have (the log holds a prefix of them, written in order)."""
        if not recorded:
            return
        step = recorded[0][2]
        missing = recorded[self._logged.get(step, 0) :]
        if missing:
            self._buffer.extend((kind, data, number) for kind, data, number in missing)
            self._write_soon()

    def _write_soon(self) -> None:
        if self._timer is not None or self._scheduled:
            return
        if self._writer is not None and self._writer.schedule(self):
            self._scheduled = True
        else:
            self._timer = asyncio.get_running_loop().call_later(_FLUSH_DELAY, self._flush_soon)

    def _flush_soon(self) -> None:
        self._timer = None
        task = asyncio.get_running_loop().create_task(self.flush())
        self._flushes.add(task)
        task.add_done_callback(self._flushes.discard)

    async def flush(self) -> None:
        if self._timer is not None:
            self._timer.cancel()
            self._timer = None
        async with self._lock:
            if not self._buffer:
                return
            batch, self._buffer = self._buffer, []
            self._last_seq = await self.store.call(
                self.store.append_events, self.run_id, batch, after=self._last_seq
            )
        self._notify(self.run_id)

    async def take(self) -> list[PendingEvent]:
        """The events not written yet, to write with the run's record (after any
        write in flight): the run's end costs one transaction, not two."""
        if self._timer is not None:
            self._timer.cancel()
            self._timer = None
        if self._scheduled and self._writer is not None:
            self._writer.unschedule(self)  # nothing left for its round
        async with self._lock:
            batch, self._buffer = self._buffer, []
        return batch

    @property
    def last_seq(self) -> int | None:
        """The log's end as far as this writer knows (None: unknown)."""
        return self._last_seq

    def others_wrote(self) -> None:
        """Events were appended by someone else: look for the log's end next time."""
        self._last_seq = None

    def wrote_to(self, seq: int | None) -> None:
        """Events were appended with the run's record: the log ends at ``seq`` (None:
        unknown, looked for next time)."""
        self._last_seq = seq


class LogWriter:
    """Writes the event logs of one engine's runs together: one transaction (one
    round trip on PostgreSQL) for every run with events not written yet, 50 ms
    after the first of them, instead of one per run. Under load a replica runs
    dozens of runs at once, each writing its log every 50 ms while it streams:
    most of those transactions become one. A run alone is written as before, 50 ms
    after its first unwritten event."""

    def __init__(self, store: RunStore) -> None:
        self.store = store
        self._due: dict[EventLog, None] = {}  # in the order they asked
        self._timer: asyncio.TimerHandle | None = None
        self._loop: asyncio.AbstractEventLoop | None = None
        self._writes: set[asyncio.Task[None]] = set()

    def schedule(self, log: EventLog) -> bool:
        """Write ``log`` at the next round; False if it runs on another event loop
        (it writes itself then)."""
        loop = asyncio.get_running_loop()
        if self._loop is None:
            self._loop = loop
        elif self._loop is not loop:
            return False
        self._due[log] = None
        if self._timer is None:
            self._timer = loop.call_later(_FLUSH_DELAY, self._round)
        return True

    def unschedule(self, log: EventLog) -> None:
        """``log`` was taken whole (the run's end writes it): leave it out of the
        next round, and make no round for nothing (a run shorter than a round)."""
        log._scheduled = False
        self._due.pop(log, None)
        if not self._due and self._timer is not None:
            self._timer.cancel()
            self._timer = None

    def _round(self) -> None:
        self._timer = None
        logs, self._due = list(self._due), {}
        assert self._loop is not None
        task = self._loop.create_task(self._write(logs))
        self._writes.add(task)
        task.add_done_callback(self._writes.discard)

    async def _write(self, logs: list[EventLog]) -> None:
        held: list[EventLog] = []
        for log in logs:
            log._scheduled = False
            if log._lock.locked():  # a write of its own is in flight: the next round
                log._write_soon()
            elif log._buffer:
                await log._lock.acquire()  # free: taken at once
                held.append(log)
        if not held:
            return
        try:
            batches = []
            for log in held:
                batch, log._buffer = log._buffer, []
                batches.append((log.run_id, batch, log._last_seq))
            try:
                ends = await self.store.call(self.store.append_batches, batches)
            except Exception as exc:  # each log's events are lost as a failed flush loses them
                ends = [exc] * len(held)
            for log, end in zip(held, ends, strict=True):
                if isinstance(end, Exception):
                    logger.error("could not write the events of run %s: %s", log.run_id, end)
                else:
                    log._last_seq = end
        finally:
            for log in held:
                log._lock.release()
        for log in held:
            log._notify(log.run_id)


@dataclass(frozen=True, slots=True)
class DurableRun:
    """What the durable interpreter needs from the engine, for one run.

    ``on_pause(requests, event, usage)`` and ``on_resume(decisions)`` update the
    run's record (JSON arguments: they run as recorded steps); ``decided()`` reads
    the decisions taken for the pause from the run's log (None if none was).
    """

    run_id: str
    events: EventLog
    on_pause: Callable[[list[Any], dict[str, Any], dict[str, Any]], None]
    on_resume: Callable[[dict[str, Any]], None]
    decided: Callable[[], dict[str, Any] | None]


class DurableInterpreter(Interpreter):
    """Runs the loop's commands as DBOS steps (see the module's docstring)."""

    def __init__(self, *, durable: DurableRun, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.durable = durable

    async def execute(self, command: Command) -> Any:
        adapter = command_result_adapter(command.kind)
        agent = getattr(command, "agent", self.state.current_agent)

        events = self.durable.events
        ran = False
        result: Any = None

        async def step() -> dict[str, Any]:
            nonlocal ran, result
            number = DBOS.step_id or 0
            events.begin_step(number, agent)
            try:
                with step_scope(StepScope(self.durable.run_id, number)):
                    result = await Interpreter.execute(self, command)
            finally:
                recorded = await events.end_step()
            ran = True
            return {"result": adapter.dump_python(result, mode="json"), "events": recorded}

        # not DBOS's preemptible step: the engine watches for cancellations (_cancels.py)
        data = await DBOS.run_step_async({"name": command.kind}, step)
        if ran:  # the result as the command returned it, as in process
            return result
        events.replayed(data["events"])  # replayed from the record by a recovered run
        return adapter.validate_python(data["result"])

    async def await_approval(self, command: AwaitApproval) -> dict[str, ApprovalDecision] | None:
        requests = command.requests
        event = ApprovalRequiredEvent(agent=self.state.current_agent, requests=requests)
        await self.durable.events.flush()  # the run's events so far come before the pause
        await DBOS.run_step_async(
            {"name": "pause"},
            self.durable.on_pause,
            [r.model_dump(mode="json") for r in requests],
            to_jsonable_python(event),
            self.state.usage.model_dump(mode="json"),
        )
        self.durable.events.others_wrote()
        wanted = {r.call_id for r in requests}
        decisions: dict[str, ApprovalDecision] = {}
        while not decisions:
            message = await _recv_unless_cancelled(self.durable.run_id)
            if not isinstance(message, dict):
                # No message: a decision is in the log all the same if the process that
                # took it died before sending it. If none is, wait again (for days, if
                # need be).
                message = await DBOS.run_step_async({"name": "decided"}, self.durable.decided)
                if not isinstance(message, dict):
                    continue
            decisions = {
                call_id: ApprovalDecision.model_validate(value)
                for call_id, value in message.items()
                if call_id in wanted
            }
        await DBOS.run_step_async(
            {"name": "resume"},
            self.durable.on_resume,
            {k: v.model_dump(mode="json") for k, v in decisions.items()},
        )
        self.durable.events.others_wrote()
        return decisions

    async def save_items(self, items: list[Item]) -> None:
        """Add the items in a step of their own, as a write the session makes at
        most once: a crash between the write and the step's record runs the step
        again, and the session skips the write it has already."""
        session = self.session
        if session is None:
            return
        run_id = self.durable.run_id

        async def save() -> None:
            if isinstance(session, IdempotentSession):
                await session.add_items_once(items, f"{run_id}:{DBOS.step_id or 0}")
            else:
                await session.add_items(items)

        await DBOS.run_step_async({"name": "save_items"}, save)


async def _recv_unless_cancelled(run_id: str) -> Any:
    """``DBOS.recv`` of an approval, ended by a cancellation of the run's workflow.

    DBOS looks at the workflow's status only when the wait begins (and when it
    renews, within the hour): a cancellation by another process (another replica's
    ``cancel_run``, DBOS's tools) while it waits would not end it. So the status
    is read while it waits, outside the workflow (not a recorded step)."""
    recv = asyncio.ensure_future(
        DBOS.recv_async(APPROVAL_TOPIC, timeout_seconds=_APPROVAL_WAIT_SECONDS)
    )
    pause = _CANCEL_CHECK_SECONDS
    try:
        while True:
            done, _ = await asyncio.wait({recv}, timeout=pause)
            if done:
                return recv.result()
            read = DBOS.get_workflow_status_async(run_id)
            try:
                status = await asyncio.create_task(read, context=contextvars.Context())
            except Exception:
                logger.warning("could not read the status of run %s", run_id, exc_info=True)
                status = None
            if status is not None and status.status == WorkflowStatusString.CANCELLED.value:
                raise DBOSWorkflowCancelledError(f"Workflow {run_id} is cancelled.")
            pause = min(pause * 2, _CANCEL_CHECK_MAX_SECONDS)
    finally:
        if not recv.done():
            recv.cancel()  # DBOS drops its waiter for the message
            await asyncio.wait({recv})
        if not recv.cancelled():
            recv.exception()  # retrieved: asyncio would log it otherwise
