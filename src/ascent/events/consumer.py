"""Events in: a subscription turns each message on its topic into a durable run.

The message's CloudEvent id is the run's idempotency key (as the HTTP
``Idempotency-Key`` is), in the subscription's tenant: a redelivered message
finds its run and starts no second one. The handler returns (and the broker
acknowledges) only once the run is durably queued. A message that cannot
become a run goes to the dead-letter topic with the reason and is then
acknowledged: never lost silently, never retried forever.

A decision subscription reads HumanDecisionMade events and applies them with
the engine's ``decide`` (:meth:`DurableEngine.decide`), the approvals endpoint's own code: the same
checks, the same conflicts (what the endpoint answers with 409 is
dead-lettered here with that reason), the subscription's tenant.
"""

from __future__ import annotations

import asyncio
import logging
import os
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Protocol

from pydantic import ValidationError
from pydantic_core import to_json

from ..durable import RunStart, run_id_for_key
from ..errors import AgentNotFound, InvalidEvent, RunConflict, RunNotFound, UserError
from ._coalesce import StartCoalescer
from .broker import Broker
from .catalogue import (
    APPROVAL_DECIDED,
    DEAD_LETTER,
    DEAD_LETTER_TOPIC,
    DECISIONS_TOPIC,
    ApprovalDecidedData,
    DeadLetterData,
)
from .cloudevent import MAX_EVENT_BYTES, CloudEvent, parse_event

if TYPE_CHECKING:
    from ..durable import RunRecord
    from ..run.registry import AgentRegistry

__all__ = [
    "ANY_AGENT",
    "SUBSCRIPTIONS_ENV",
    "EventConsumer",
    "EventEngine",
    "InputMaker",
    "Subscription",
    "decisions",
    "parse_subscriptions",
    "subscribe",
]

logger = logging.getLogger("ascent.events")

SUBSCRIPTIONS_ENV = "ASCENT_SUBSCRIPTIONS"
ANY_AGENT = "*"
DEAD_LETTER_SOURCE = "/ascent/events"
_SHOWN_BYTES = 4096

# Turns an event into a run's input (a text, or input items).
InputMaker = Callable[[CloudEvent], "str | list[dict[str, Any]]"]


@dataclass(kw_only=True)
class Subscription:
    """Run ``agent`` for each event on ``topic``, in ``tenant``.

    ``agent=None`` makes it a decision subscription (HumanDecisionMade events
    resume the runs they name); ``agent="*"`` runs the agent each event names in
    its ``agent`` attribute. Replicas with the same ``group`` (default:
    ``ascent.<agent>``) share the topic's messages; ``input`` turns an event
    into the run's input (default: the event as JSON text). A transient failure
    (the database away) is tried ``max_attempts`` times before the message is
    dead-lettered to ``dead_letter_topic``. ``concurrency`` is how many messages
    this replica handles at once: as many members of the group, each taking one
    message at a time.
    """

    topic: str
    agent: str | None
    tenant: str | None = None
    group: str | None = None
    input: InputMaker | None = None
    dead_letter_topic: str = DEAD_LETTER_TOPIC
    max_attempts: int = 5
    max_bytes: int = MAX_EVENT_BYTES
    concurrency: int = 1

    def __post_init__(self) -> None:
        if not self.topic:
            raise UserError("a subscription needs a topic")
        if self.max_attempts < 1:
            raise UserError("max_attempts must be at least 1")
        if self.concurrency < 1:
            raise UserError("concurrency must be at least 1")

    @property
    def group_name(self) -> str:
        return self.group or f"ascent.{self.agent or 'decisions'}"

    def __call__(self, input: InputMaker) -> Subscription:
        """As a decorator: ``input`` makes the runs' input from each event."""
        self.input = input
        return self

    def describe(self) -> str:
        target = self.agent or "decisions"
        return f"{self.topic} -> {target}" + (f" @ {self.tenant}" if self.tenant else "")


def subscribe(
    topic: str,
    *,
    agent: str | None,
    tenant: str | None = None,
    group: str | None = None,
    dead_letter_topic: str = DEAD_LETTER_TOPIC,
    max_attempts: int = 5,
    concurrency: int = 1,
) -> Subscription:
    """A subscription of ``agent`` to ``topic``; use it as a decorator on a function
    that makes the run's input from the event, or as it is::

        @subscribe("orders.created", agent="support", tenant="acme")
        def order_input(event: CloudEvent) -> str:
            return f"Order {event.data['order_id']} was placed: {event.data['note']}"
    """
    return Subscription(
        topic=topic,
        agent=agent,
        tenant=tenant,
        group=group,
        dead_letter_topic=dead_letter_topic,
        max_attempts=max_attempts,
        concurrency=concurrency,
    )


def parse_subscriptions(text: str | None = None) -> list[Subscription]:
    """Subscriptions from a line of configuration (default: ``ASCENT_SUBSCRIPTIONS``):
    ``topic=agent`` or ``topic=agent@tenant``, comma-separated; ``decisions`` as the
    agent reads HumanDecisionMade events."""
    text = os.environ.get(SUBSCRIPTIONS_ENV, "") if text is None else text
    found = []
    for entry in filter(None, (part.strip() for part in text.split(","))):
        topic, sep, target = entry.partition("=")
        agent, _, tenant = target.partition("@")
        if not sep or not topic.strip() or not agent.strip():
            raise UserError(f"{SUBSCRIPTIONS_ENV}: expected topic=agent[@tenant], got {entry!r}")
        name = agent.strip()
        found.append(
            Subscription(
                topic=topic.strip(),
                agent=None if name == "decisions" else name,
                tenant=tenant.strip() or None,
            )
        )
    return found


def decisions(tenant: str | None = None, *, topic: str = DECISIONS_TOPIC) -> Subscription:
    """The subscription that resumes ``tenant``'s runs from HumanDecisionMade events."""
    return Subscription(topic=topic, agent=None, tenant=tenant)


class EventEngine(Protocol):
    """What events need of an engine (DBOS's :class:`~ascent.durable.DurableEngine`,
    :class:`~ascent.temporal.TemporalEngine`): its agents, the database whose
    outbox holds its runs' lifecycle events, and starting and deciding runs.
    ``start_run`` with a ``run_id`` must be idempotent (an event redelivered
    starts no second run); ``start_runs`` starts a burst, each as ``start_run``
    would, answering each with its record or the exception."""

    agents: AgentRegistry
    database_url: str

    async def start_run(
        self,
        agent: str,
        input: Any,
        *,
        tenant: str | None = None,
        run_id: str | None = None,
    ) -> RunRecord: ...

    async def start_runs(self, starts: Sequence[RunStart]) -> list[RunRecord | Exception]: ...

    async def decide(
        self, run_id: str, decisions: Mapping[str, bool | str], *, tenant: str | None = None
    ) -> RunRecord: ...


class EventConsumer:
    """Handles the messages of ``subscriptions`` for ``engine``."""

    def __init__(
        self,
        engine: EventEngine,
        broker: Broker,
        subscriptions: Sequence[Subscription],
        *,
        retry_delay: float = 0.2,
    ) -> None:
        self.engine = engine
        self.broker = broker
        self.subscriptions = list(subscriptions)
        self.retry_delay = retry_delay
        self.starts = StartCoalescer(engine)
        self.handled = 0  # messages done with (a run queued, a decision, a dead letter)
        self.dead_lettered = 0

    async def start(self) -> None:
        for subscription in self.subscriptions:
            if subscription.agent not in (None, ANY_AGENT):  # fail now, not per message
                self.engine.agents.get_agent(subscription.agent)

            async def handler(body: bytes, subscription: Subscription = subscription) -> None:
                await self.handle(subscription, body)

            for _member in range(subscription.concurrency):
                await self.broker.subscribe(
                    subscription.topic, handler, group=subscription.group_name
                )

    async def handle(self, subscription: Subscription, body: bytes) -> None:
        """Handle one message: returns once it is a durably queued run, a decision
        applied, or a dead letter; raises (so the broker delivers it again) only
        when even the dead letter could not be sent."""
        await self._handle(subscription, body)
        self.handled += 1

    async def _handle(self, subscription: Subscription, body: bytes) -> None:
        attempts = 0
        while True:
            attempts += 1
            try:
                event = parse_event(body, max_bytes=subscription.max_bytes)
                if subscription.agent is None:
                    await self._decide(subscription, event)
                else:
                    await self._start(subscription, event)
                return
            except (InvalidEvent, AgentNotFound, RunConflict, RunNotFound, UserError) as exc:
                # retrying cannot help: the message is what is wrong
                await self._dead_letter(subscription, body, _reason(exc), attempts)
                return
            except asyncio.CancelledError:
                raise
            except Exception as exc:
                if attempts >= subscription.max_attempts:
                    reason = f"gave up after {attempts} attempts: {type(exc).__name__}: {exc}"
                    await self._dead_letter(subscription, body, reason, attempts)
                    return
                logger.warning("event on %s failed (%s); trying again", subscription.topic, exc)
                await asyncio.sleep(self.retry_delay * attempts)

    async def _start(self, subscription: Subscription, event: CloudEvent) -> None:
        agent = event.agent if subscription.agent == ANY_AGENT else subscription.agent
        if not agent:
            raise InvalidEvent("the event names no agent (its `agent` attribute)")
        maker = subscription.input or _default_input
        try:
            run_input = maker(event)
        except Exception as exc:
            raise InvalidEvent(f"the subscription's input function failed: {exc}") from exc
        await self.starts.start(
            RunStart(
                agent=agent,
                input=run_input,
                tenant=subscription.tenant,
                run_id=run_id_for_key(subscription.tenant, event.id),
            )
        )

    async def _decide(self, subscription: Subscription, event: CloudEvent) -> None:
        if event.type != APPROVAL_DECIDED:
            raise InvalidEvent(f"unknown event type {event.type!r}: expected {APPROVAL_DECIDED}")
        try:
            body = ApprovalDecidedData.model_validate(event.data)
        except ValidationError as exc:
            raise InvalidEvent(f"not a decision: {exc.errors()[0]['msg']}") from None
        decided: dict[str, bool | str] = {
            d.call_id: True if d.approved else (d.reason or False) for d in body.decisions
        }
        await self.engine.decide(body.run_id, decided, tenant=subscription.tenant)

    async def _dead_letter(
        self, subscription: Subscription, body: bytes, reason: str, attempts: int
    ) -> None:
        shown = body[:_SHOWN_BYTES].decode("utf-8", errors="replace")
        letter = CloudEvent(
            source=DEAD_LETTER_SOURCE,
            type=DEAD_LETTER,
            subject=subscription.topic,
            tenant=subscription.tenant,
            data=DeadLetterData(
                reason=reason,
                topic=subscription.topic,
                subscription=subscription.describe(),
                attempts=attempts,
                message=shown,
            ).model_dump(),
        )
        logger.warning("dead-lettered a message on %s: %s", subscription.topic, reason)
        await self.broker.publish(subscription.dead_letter_topic, letter.to_json_bytes())
        self.dead_lettered += 1


def _default_input(event: CloudEvent) -> str:
    """The run's input: the event as JSON, so the agent sees its type, source and data."""
    return to_json(event.model_dump(mode="json", exclude_none=True), indent=2).decode()


def _reason(exc: Exception) -> str:
    if isinstance(exc, AgentNotFound):
        return f"unknown agent: {exc}"
    if isinstance(exc, RunConflict):
        return f"conflict (409): {exc}"
    if isinstance(exc, RunNotFound):
        return f"not found (404): {exc}"
    return str(exc)
