"""Parallelization: several agent runs at once, in two shapes.

- **Sectioning** (:func:`parallel`): different agents work on different parts
  of a task (or on the same input from different angles) at the same time.
- **Voting** (:func:`vote`): the same task runs several times and the answers
  are aggregated, for confidence that one answer alone does not give.

Runs overlap for real (one asyncio task each), at most ``max_concurrency`` at a
time. When a branch fails, its siblings are cancelled and a
:class:`~ascent.errors.BranchError` names the branch; with ``fail_fast=False``
the others finish and the failures are reported in the result. Cancelling the
caller cancels every branch.
"""

from __future__ import annotations

import asyncio
import json
from collections import Counter
from collections.abc import Awaitable, Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, TypeVar

from pydantic import BaseModel

from ..agent import Agent
from ..errors import BranchError, PatternError, UserError
from ..run import RunConfig, RunResult
from ..run.config import DEFAULT_MAX_TURNS
from ._common import RunOptions, step, workflow

__all__ = [
    "Branch",
    "ParallelResult",
    "VoteResult",
    "gather_branches",
    "majority",
    "parallel",
    "vote",
]

T = TypeVar("T")


@dataclass(kw_only=True, frozen=True)
class Branch:
    """One branch of :func:`parallel`: a name (used in errors and traces), an
    agent and its input (``None``: the input shared by all branches)."""

    name: str
    agent: Agent[Any]
    input: str | list[Any] | None = None


@dataclass(kw_only=True)
class ParallelResult:
    """Each finished branch's run, by branch name in the order given, and the
    failed ones (only with ``fail_fast=False``)."""

    results: dict[str, RunResult] = field(default_factory=dict)
    failures: dict[str, BranchError] = field(default_factory=dict)

    @property
    def outputs(self) -> dict[str, Any]:
        return {name: run.final_output for name, run in self.results.items()}


@dataclass(kw_only=True)
class VoteResult:
    """Every vote (in the voters' order), the aggregate, and each voter's run."""

    votes: list[Any]
    winner: Any
    runs: list[RunResult]
    failures: dict[str, BranchError] = field(default_factory=dict)

    @property
    def final_output(self) -> Any:
        return self.winner

    @property
    def agreement(self) -> float:
        """The share of votes equal to the winner (1.0: unanimous)."""
        if not self.votes:
            return 0.0
        winning = _vote_key(self.winner)
        return sum(_vote_key(vote) == winning for vote in self.votes) / len(self.votes)


async def gather_branches(
    jobs: Sequence[tuple[str, Callable[[], Awaitable[T]]]],
    *,
    max_concurrency: int | None = None,
    fail_fast: bool = True,
) -> tuple[dict[str, T], dict[str, BranchError]]:
    """Run named jobs concurrently, at most ``max_concurrency`` at once.

    Each job runs inside a ``branch NAME`` span. With ``fail_fast`` the first
    failure cancels the others and is raised as a :class:`BranchError`;
    otherwise failures are returned beside the results.
    """
    names = [name for name, _ in jobs]
    if len(set(names)) != len(names):
        raise UserError(f"branch names must be unique: {names}")
    if max_concurrency is not None and max_concurrency < 1:
        raise UserError(f"max_concurrency must be at least 1, not {max_concurrency}")
    limit = asyncio.Semaphore(max_concurrency or max(1, len(jobs)))
    done: dict[str, T] = {}
    failed: dict[str, BranchError] = {}

    async def one(name: str, job: Callable[[], Awaitable[T]]) -> None:
        async with limit:
            try:
                with step(f"branch {name}"):
                    done[name] = await job()
            except Exception as exc:
                error = BranchError(name, exc)
                error.__cause__ = exc
                failed[name] = error
                if fail_fast:
                    raise error from exc

    try:
        async with asyncio.TaskGroup() as group:
            for name, job in jobs:
                group.create_task(one(name, job), name=f"branch {name}")
    except BaseExceptionGroup:
        first = next(iter(failed.values()), None)  # dicts keep the order failures came in
        if first is None:
            raise
        raise first from first.error
    return {name: done[name] for name in names if name in done}, failed


async def parallel(
    branches: Sequence[Branch] | Mapping[str, Agent[Any]],
    input: str | list[Any] | None = None,
    *,
    max_concurrency: int | None = None,
    fail_fast: bool = True,
    context: Any = None,
    max_turns: int = DEFAULT_MAX_TURNS,
    run_config: RunConfig | None = None,
    workflow_name: str = "Parallel",
) -> ParallelResult:
    """Run every branch at the same time (sectioning).

    ``branches`` is a list of :class:`Branch` (each with its own part of the
    task) or a mapping of names to agents that all get ``input``.
    """
    if isinstance(branches, Mapping):
        branches = [Branch(name=name, agent=agent) for name, agent in branches.items()]
    if not branches:
        raise UserError("parallel needs at least one branch")
    missing = [b.name for b in branches if b.input is None and input is None]
    if missing:
        raise UserError(f"branches {missing} have no input, and no shared input was given")
    options = RunOptions(context=context, max_turns=max_turns, run_config=run_config)

    def job(branch: Branch) -> Callable[[], Awaitable[RunResult]]:
        given = branch.input if branch.input is not None else input
        assert given is not None
        return lambda: options.run(branch.agent, given)

    with workflow(workflow_name, options, kind="sectioning", branches=[b.name for b in branches]):
        results, failures = await gather_branches(
            [(branch.name, job(branch)) for branch in branches],
            max_concurrency=max_concurrency,
            fail_fast=fail_fast,
        )
    return ParallelResult(results=results, failures=failures)


def _vote_key(vote: Any) -> str:
    if isinstance(vote, BaseModel):
        return vote.model_dump_json()
    if isinstance(vote, str):
        return " ".join(vote.split()).casefold()
    return json.dumps(vote, sort_keys=True, default=str)


def majority(votes: Sequence[T]) -> T:
    """The most common vote; ties go to the one cast first. Strings compare
    without case or extra spaces, models by their JSON."""
    if not votes:
        raise PatternError("no votes to aggregate")
    counts = Counter(_vote_key(vote) for vote in votes)
    best = max(counts.values())
    return next(vote for vote in votes if counts[_vote_key(vote)] == best)


async def vote(
    agents: Agent[Any] | Sequence[Agent[Any]],
    input: str | list[Any],
    *,
    voters: int = 3,
    aggregate: Callable[[list[Any]], Any] = majority,
    max_concurrency: int | None = None,
    fail_fast: bool = True,
    context: Any = None,
    max_turns: int = DEFAULT_MAX_TURNS,
    run_config: RunConfig | None = None,
    workflow_name: str = "Voting",
) -> VoteResult:
    """Ask the same question several times at once and aggregate the answers.

    One agent runs ``voters`` times; a list of agents (different prompts or
    models) runs once each. ``aggregate`` turns the votes into the result
    (:func:`majority` by default; ``any``/``all`` for yes/no checks).
    """
    team = [agents] * voters if isinstance(agents, Agent) else list(agents)
    if not team:
        raise UserError("voting needs at least one voter")
    options = RunOptions(context=context, max_turns=max_turns, run_config=run_config)
    names = [f"voter {index} ({agent.name})" for index, agent in enumerate(team, start=1)]

    def job(agent: Agent[Any]) -> Callable[[], Awaitable[RunResult]]:
        return lambda: options.run(agent, input)

    with workflow(workflow_name, options, kind="voting", voters=len(team)) as span:
        runs, failures = await gather_branches(
            [(name, job(agent)) for name, agent in zip(names, team, strict=True)],
            max_concurrency=max_concurrency,
            fail_fast=fail_fast,
        )
        if not runs:
            first = next(iter(failures.values()))
            raise PatternError(f"every voter failed; the first: {first}") from first
        votes = [run.final_output for run in runs.values()]
        winner = aggregate(votes)
        span.set(votes=len(votes))
    return VoteResult(votes=votes, winner=winner, runs=list(runs.values()), failures=failures)
