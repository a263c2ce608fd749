"""Agent runs on Temporal: the same agent loop, as a Temporal workflow.

A worker (:func:`serving`, or ``ascent worker --temporal HOST:PORT``) runs the
workflow :class:`AgentRunWorkflow`, which drives the agent loop through the
run seam; each command of the loop (a model call, a tool turn, a handoff, a
guardrail check, an MCP listing) is an activity, whose result Temporal
records. A pause for approval waits for a signal. :class:`TemporalRuns` starts,
follows and decides runs from any process. :class:`TemporalEngine` is the
service's engine on Temporal (``ascent serve --engine temporal://...``), with
runs' records in the project database, where workers write them through a
:class:`DatabaseRunLog`. Needs ``ascent-agents[temporal]``.
"""

from ._messages import RUN_WORKFLOW, RunReply, RunStatusReply
from ._workflow import AgentRunWorkflow
from .app import TemporalApp
from .client import TemporalRuns
from .database import DatabaseRunLog
from .engine import TemporalEngine
from .events import EventLog, MemoryEventLog, RunOutbox, RunRecords, SessionTurns
from .worker import replaying, sandbox_runner, serving

__all__ = [
    "RUN_WORKFLOW",
    "AgentRunWorkflow",
    "DatabaseRunLog",
    "EventLog",
    "MemoryEventLog",
    "RunOutbox",
    "RunRecords",
    "RunReply",
    "RunStatusReply",
    "SessionTurns",
    "TemporalApp",
    "TemporalEngine",
    "TemporalRuns",
    "replaying",
    "sandbox_runner",
    "serving",
]
