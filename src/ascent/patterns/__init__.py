"""Multi-agent patterns: small, typed functions on top of :class:`~ascent.Runner`.

Each runs as one traced workflow and returns a result that keeps every
intermediate output:

- :func:`chain`: prompt chaining, agents in sequence, with gates that stop it.
- :func:`route`: a router picks the specialist for the input.
- :func:`parallel` and :func:`vote`: sectioning and voting, concurrently, bounded.
- :func:`orchestrate`: a planner's subtasks run by workers, then synthesized.
- :func:`refine`: a generator and an evaluator loop until accepted or a bound.
- :class:`Workspace`: a persistent blackboard agents share through tools.

``docs/patterns.md`` says when to use which.
"""

from .chaining import ChainResult, Gate, GateFailure, Link, LinkResult, chain
from .evaluator import Evaluation, RefineResult, Round, refine
from .orchestrator import (
    OrchestratorResult,
    Plan,
    Subtask,
    WorkerResult,
    orchestrate,
    plan_type,
)
from .parallel import (
    Branch,
    ParallelResult,
    VoteResult,
    gather_branches,
    majority,
    parallel,
    vote,
)
from .routing import RouteResult, route, route_decision_type
from .workspace import Note, Workspace

__all__ = [
    "Branch",
    "ChainResult",
    "Evaluation",
    "Gate",
    "GateFailure",
    "Link",
    "LinkResult",
    "Note",
    "OrchestratorResult",
    "ParallelResult",
    "Plan",
    "RefineResult",
    "Round",
    "RouteResult",
    "Subtask",
    "VoteResult",
    "WorkerResult",
    "Workspace",
    "chain",
    "gather_branches",
    "majority",
    "orchestrate",
    "parallel",
    "plan_type",
    "refine",
    "route",
    "route_decision_type",
    "vote",
]
