"""``run`` and ``turns`` durability: the agent loop in process, its state checkpointed.

In ``steps`` durability (:mod:`._interpreter`) every command is a DBOS step
whose result is recorded. In ``run`` durability the run (a task the engine
owns and recovers, see :mod:`._leases`; a workflow only through a queue)
executes the loop with the in-process interpreter's effects and records nothing
per command: it writes a :class:`Checkpoint` (the run's :class:`RunState`) only
where the run must be found again, each in the transaction that updates the
run's record:

- when it pauses for approval (with the record's ``awaiting_approval``);
- on a handoff (the state as the next agent starts);
- before it adds items to its session (so a recovered run adds them once).

The run's end is its record (``completed`` or ``failed``). A crash re-runs the
run from its last checkpoint: the model calls and tools after it run again.
``turns`` durability also checkpoints after each turn (a model call and the
tool calls it asked for), so a crash repeats at most the turn in flight.
"""

from __future__ import annotations

import time
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Literal

from pydantic import BaseModel, Field
from pydantic_core import to_jsonable_python

from ..items import Item, input_to_items, items_to_json
from ..memory.session import IdempotentSession
from ..run.commands import ApprovalDecision, ApprovalRequest, AwaitApproval, Command
from ..run.events import ApprovalRequiredEvent
from ..run.interpreter import Interpreter
from ._interpreter import EventLog, StepScope, step_scope

if TYPE_CHECKING:
    from sqlalchemy.engine import Connection

    from ._news import RunNews
    from ._store import RunStore
    from .records import RunRecord

__all__ = [
    "DURABILITY_MODES",
    "Checkpoint",
    "CheckpointInterpreter",
    "CheckpointRun",
    "Durability",
    "RunOver",
    "decisions_in_log",
    "read_checkpoint",
    "wait_for_decisions",
]

Durability = Literal["steps", "turns", "run"]
DURABILITY_MODES: tuple[Durability, ...] = ("steps", "turns", "run")

# The longest pause between two looks at the database while a run waits for a
# decision that another process may take (one in this process wakes it at once).
_DECISION_POLL_MAX = 1.0


class RunOver(Exception):
    """The run ended (was cancelled) while it ran here: stop it, writing nothing."""


class Checkpoint(BaseModel):
    """Where a ``run``-durability run resumes after a crash (stored as JSON).

    ``number`` counts the run's checkpoints (events written after checkpoint
    ``n`` carry step ``n``), ``commands`` the commands it had carried out (what
    :func:`~ascent.durable.idempotency_key` counts). ``unsaved`` is what its
    session lacks, added at its next pause or end; ``saving`` was being added
    as the checkpoint was written (a recovered run adds it, once). ``paused``:
    the run's pause for approval was written with it (the record awaits a decision).
    """

    number: int
    commands: int
    state: dict[str, Any]
    unsaved: list[dict[str, Any]] = Field(default_factory=list)
    saving: list[dict[str, Any]] = Field(default_factory=list)
    paused: bool = False


def read_checkpoint(store: RunStore, run_id: str) -> Checkpoint | None:
    """The run's last checkpoint, if it wrote one."""
    from sqlalchemy import select

    table = store.tables.checkpoints
    with store.engine.connect() as conn:
        data = conn.execute(select(table.c.data).where(table.c.run_id == run_id)).scalar()
    return None if data is None else Checkpoint.model_validate_json(data)


def _writer(store: RunStore, run_id: str, checkpoint: Checkpoint) -> Any:
    """A write of ``checkpoint`` over the run's last one, inside the caller's transaction."""
    row = {
        "run_id": run_id,
        "number": checkpoint.number,
        "data": checkpoint.model_dump_json(),
        "created_at": time.time(),
    }

    def write(conn: Connection) -> None:
        conn.execute(store.sql.delete_checkpoint, {"b_run_id": run_id})
        conn.execute(store.sql.insert_checkpoint, row)

    return write


@dataclass(kw_only=True)
class CheckpointRun:
    """What the checkpointing interpreter needs from the engine, for one run.

    ``resumed`` is the checkpoint the run resumes from (None: a new run);
    ``every_turn`` checkpoints after each turn too (``turns`` durability).
    """

    run_id: str
    store: RunStore
    news: RunNews
    events: EventLog
    resumed: Checkpoint | None = None
    every_turn: bool = False


class CheckpointInterpreter(Interpreter):
    """Carries out the loop's commands in process and checkpoints the run's state
    at its pauses, handoffs and session writes (see the module's docstring)."""

    def __init__(self, *, checkpoints: CheckpointRun, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.checkpoints = checkpoints
        resumed = checkpoints.resumed
        self._number = resumed.number if resumed is not None else 0
        self._commands = resumed.commands if resumed is not None else 0
        self._agent = self.state.current_agent
        self._checkpointed = self._commands  # the commands carried out at the last checkpoint
        self._due: dict[str, Any] | None = None  # a state to checkpoint before the next command
        self._held: list[Item] = []  # items to add to the session once the pause is written
        checkpoints.events.begin_segment(self._number, self._agent)

    async def run(self) -> Any:
        resumed = self.checkpoints.resumed
        if resumed is not None and resumed.saving:
            # the checkpoint was written, its session write may not have been: make it
            await self._add(input_to_items(resumed.saving), resumed.number)
        return await super().run()

    # ------------------------------------------------------------- the hooks

    def settled(self) -> None:
        state = self.state
        if state.status != "running":
            return
        if state.current_agent != self._agent:
            self._agent = state.current_agent  # a handoff: checkpoint the next agent's start
            self._due = state.model_dump(mode="json")
        elif (
            self.checkpoints.every_turn
            and state.pending is None  # the turn's tool calls are done too
            and self._commands > self._checkpointed
        ):
            self._due = state.model_dump(mode="json")

    async def execute(self, command: Command) -> Any:
        if self._due is not None:
            due, self._due = self._due, None
            await self._checkpoint(due, unsaved=self.unsaved_items())
        self._commands += 1
        with step_scope(StepScope(self.checkpoints.run_id, self._commands)):
            return await Interpreter.execute(self, command)

    async def await_approval(self, command: AwaitApproval) -> dict[str, ApprovalDecision] | None:
        requests = command.requests
        held, self._held = self._held, []
        if held:  # the session has the run so far before the pause shows
            await self._checkpoint(self.state.model_dump(mode="json"), saving=held)
            await self._add(held, self._number)
        event = ApprovalRequiredEvent(agent=self.state.current_agent, requests=requests)
        await self._checkpoint(
            self.state.model_dump(mode="json"),
            paused=True,
            events=[("approval_required", to_jsonable_python(event))],
            status="awaiting_approval",
            pending=[r.model_dump(mode="json") for r in requests],
            usage=self.state.usage.model_dump(mode="json"),
        )
        run = self.checkpoints
        decisions = await wait_for_decisions(run.store, run.news, run.run_id, requests)
        run.events.others_wrote()  # the decision logged run_resumed
        return decisions

    async def save_items(self, items: list[Item]) -> None:
        if self.session is None:
            return
        if self.state.status == "awaiting_approval":
            self._held.extend(items)  # added once the pause's checkpoint is written
            return
        await self._checkpoint(self.state.model_dump(mode="json"), saving=items)
        await self._add(items, self._number)

    # ------------------------------------------------------------ internals

    async def _checkpoint(
        self,
        state: dict[str, Any],
        *,
        unsaved: list[Item] | None = None,
        saving: list[Item] | None = None,
        paused: bool = False,
        events: list[tuple[str, dict[str, Any]]] | None = None,
        **values: Any,
    ) -> RunRecord:
        """Write a checkpoint with the record's ``values``, the events not written
        yet and ``events``, in one transaction; the events after it are the next
        stretch's. Raises :class:`RunOver` if the run is over (cancelled)."""
        run = self.checkpoints
        number = self._number + 1
        checkpoint = Checkpoint(
            number=number,
            commands=self._commands,
            state=state,
            unsaved=items_to_json(unsaved or []),
            saving=items_to_json(saving or []),
            paused=paused,
        )
        log = run.events
        unwritten = await log.take()
        written = [*unwritten, *((kind, data, None) for kind, data in events or ())]
        after = log.last_seq
        record = await run.store.call(
            run.store.update_run,
            run.run_id,
            events=written,
            after=after,
            also=_writer(run.store, run.run_id, checkpoint),
            **values,
        )
        if record is None:
            raise RunOver(run.run_id)
        self._number = number
        self._checkpointed = self._commands
        # where the log ends now, as a guess (a writer between costs the next write a retry)
        log.wrote_to(None if after is None else after + len(written))
        log.begin_segment(number, self.state.current_agent)
        run.news.notify(run.run_id, status="status" in values, record=record)
        return record

    async def _add(self, items: list[Item], number: int) -> None:
        """Add the items to the session at most once per checkpoint (with a session
        that can; another may get them twice if a crash falls in between)."""
        session = self.session
        if session is None or not items:
            return
        if isinstance(session, IdempotentSession):
            await session.add_items_once(items, f"{self.checkpoints.run_id}:checkpoint-{number}")
        else:
            await session.add_items(items)


async def wait_for_decisions(
    store: RunStore, news: RunNews, run_id: str, requests: list[ApprovalRequest]
) -> dict[str, ApprovalDecision]:
    """Wait until some of the paused run's ``requests`` are decided, and return
    those decisions. This process's decisions wake the wait at once; another's
    are found in the run's log, looked at less and less often (up to once a
    second). Raises :class:`RunOver` when the run is over (a cancellation)."""
    wanted = {r.call_id for r in requests}
    pause = news.poll_interval
    while True:
        message = await store.call(_decided, store, run_id)
        decisions = {
            call_id: ApprovalDecision.model_validate(value)
            for call_id, value in (message or {}).items()
            if call_id in wanted
        }
        if decisions:
            return decisions
        woken = await news.wait_for_news(run_id, pause)
        pause = news.poll_interval if woken else min(pause * 2, _DECISION_POLL_MAX)


def _decided(store: RunStore, run_id: str) -> dict[str, Any] | None:
    record = store.get_run(run_id)
    if record is None or record.done:
        raise RunOver(run_id)
    return decisions_in_log(store, run_id) if record.status == "running" else None


def decisions_in_log(store: RunStore, run_id: str) -> dict[str, Any] | None:
    """The decisions taken for the run's latest pause: those of a ``run_resumed``
    after the last ``approval_required`` in its log (None: none yet)."""
    decided: dict[str, Any] | None = None
    after = 0
    while events := store.read_events(run_id, after=after):
        for event in events:
            if event.type == "approval_required":
                decided = None
            elif event.type == "run_resumed":
                decided = event.data.get("decisions")
        after = events[-1].seq
    return decided
