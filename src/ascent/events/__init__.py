"""Event-driven agents: lifecycle events out as CloudEvents, runs started by events in.

Every durable run's changes write CloudEvents to an outbox in the same
transaction (:mod:`ascent.durable.outbox`); :class:`OutboxRelay` publishes them
to the broker ``ASCENT_BROKER_URL`` names (RabbitMQ, Kafka, NATS JetStream or
Redis Streams through FastStream; in-process without one). Subscriptions turn
messages into durable runs, with the event id as the idempotency key, and
HumanDecisionMade events into decisions. See docs/events.md.
"""

from ..durable.outbox import Outbox, OutboxEntry
from .broker import BROKER_URL_ENV, Broker, Handler, LocalBroker, broker_url, connect_broker
from .catalogue import (
    AGENT_EVENTS_TOPIC,
    APPROVAL_DECIDED,
    APPROVAL_REQUIRED,
    APPROVALS_TOPIC,
    CATALOGUE,
    DEAD_LETTER,
    DEAD_LETTER_TOPIC,
    DECISIONS_TOPIC,
    RUN_CANCELLED,
    RUN_COMPLETED,
    RUN_FAILED,
    RUN_HANDOFF,
    RUN_QUEUED,
    RUN_STARTED,
    RUNS_TOPIC,
    EventType,
)
from .cloudevent import MAX_EVENT_BYTES, CloudEvent, parse_event
from .consumer import (
    ANY_AGENT,
    SUBSCRIPTIONS_ENV,
    EventConsumer,
    EventEngine,
    Subscription,
    decisions,
    parse_subscriptions,
    subscribe,
)
from .relay import OutboxRelay
from .service import EventService, publish_event, tail

__all__ = [
    "AGENT_EVENTS_TOPIC",
    "ANY_AGENT",
    "APPROVALS_TOPIC",
    "APPROVAL_DECIDED",
    "APPROVAL_REQUIRED",
    "BROKER_URL_ENV",
    "CATALOGUE",
    "DEAD_LETTER",
    "DEAD_LETTER_TOPIC",
    "DECISIONS_TOPIC",
    "MAX_EVENT_BYTES",
    "RUNS_TOPIC",
    "RUN_CANCELLED",
    "RUN_COMPLETED",
    "RUN_FAILED",
    "RUN_HANDOFF",
    "RUN_QUEUED",
    "RUN_STARTED",
    "SUBSCRIPTIONS_ENV",
    "Broker",
    "CloudEvent",
    "EventConsumer",
    "EventEngine",
    "EventService",
    "EventType",
    "Handler",
    "LocalBroker",
    "Outbox",
    "OutboxEntry",
    "OutboxRelay",
    "Subscription",
    "broker_url",
    "connect_broker",
    "decisions",
    "parse_event",
    "parse_subscriptions",
    "publish_event",
    "subscribe",
    "tail",
]
