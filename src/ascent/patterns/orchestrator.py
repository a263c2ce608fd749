"""Orchestrator-workers: a planner splits a task, workers do the parts at once,
a synthesizer combines their results.

Use it when the parts of a task cannot be known in advance (which files to
change, which questions to research): unlike :func:`~ascent.patterns.parallel`,
the subtasks come from the model, as structured output, at run time.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass, field
from typing import Any, Literal

from pydantic import BaseModel, Field, create_model

from ..agent import Agent
from ..errors import PatternError, UserError
from ..run import RunConfig, RunResult
from ..run.config import DEFAULT_MAX_TURNS
from ._common import RunOptions, as_text, step, workflow
from .parallel import gather_branches

__all__ = ["OrchestratorResult", "Plan", "Subtask", "WorkerResult", "orchestrate", "plan_type"]


class Subtask(BaseModel):
    """One part of the task, written so that a worker can do it on its own."""

    title: str = Field(description="A short name for this part of the task.")
    instructions: str = Field(description="What to do, self-contained: the worker sees only this.")


class Plan(BaseModel):
    """The planner's output: the subtasks, in the order their results should be read."""

    subtasks: list[Subtask]


def plan_type(workers: Mapping[str, Agent[Any]]) -> type[BaseModel]:
    """A :class:`Plan` whose subtasks also name their worker (one of ``workers``)."""
    described = "; ".join(
        f"{name}: {agent.handoff_description or agent.name}" for name, agent in workers.items()
    )
    choice: Any = Literal[tuple(workers)]
    subtask = create_model(
        "Subtask",
        __base__=Subtask,
        worker=(choice, Field(description=f"Who does this part. {described}")),
    )
    return create_model("Plan", subtasks=(list[subtask], ...))  # type: ignore[valid-type]


@dataclass(kw_only=True)
class WorkerResult:
    """One subtask, who did it, and what came of it."""

    subtask: Any
    worker: str
    output: Any
    run: RunResult


@dataclass(kw_only=True)
class OrchestratorResult:
    """The plan, each worker's result (in plan order), subtasks over the bound,
    and the synthesizer's run."""

    plan: Any
    work: list[WorkerResult]
    synthesis: RunResult
    skipped: list[Any] = field(default_factory=list)

    @property
    def final_output(self) -> Any:
        return self.synthesis.final_output


async def orchestrate(
    planner: Agent[Any],
    workers: Agent[Any] | Mapping[str, Agent[Any]],
    synthesizer: Agent[Any],
    input: str,
    *,
    max_subtasks: int = 8,
    max_concurrency: int | None = None,
    context: Any = None,
    max_turns: int = DEFAULT_MAX_TURNS,
    run_config: RunConfig | None = None,
    workflow_name: str = "Orchestrator-workers",
) -> OrchestratorResult:
    """Plan ``input`` into subtasks, run them concurrently, synthesize one answer.

    ``workers`` is one agent for every subtask, or a mapping of names to agents,
    in which case the plan says which worker does each subtask. A planner
    without an ``output_type`` gets :class:`Plan` (or :func:`plan_type`); one
    with its own needs ``subtasks`` whose items have ``title`` and
    ``instructions`` (and ``worker``). Subtasks past ``max_subtasks`` are not
    run; they are listed in ``skipped``.
    """
    if max_subtasks < 1:
        raise UserError(f"max_subtasks must be at least 1, not {max_subtasks}")
    team = workers if isinstance(workers, Mapping) else None
    if team is not None and not team:
        raise UserError("orchestrate needs at least one worker")
    if planner.output_type is None:
        planner = planner.clone(output_type=plan_type(team) if team else Plan)
    options = RunOptions(context=context, max_turns=max_turns, run_config=run_config)
    with workflow(workflow_name, options, kind="orchestrator-workers") as span:
        with step(f"plan: {planner.name}"):
            plan_run = await options.run(planner, input)
        plan = plan_run.final_output
        subtasks = list(getattr(plan, "subtasks", None) or [])
        if not subtasks:
            raise PatternError(f"planner {planner.name!r} planned no subtasks")
        chosen, skipped = subtasks[:max_subtasks], subtasks[max_subtasks:]
        assigned = [(subtask, _worker_for(subtask, workers)) for subtask in chosen]
        span.set(subtasks=len(chosen), skipped=len(skipped))

        def job(subtask: Any, worker: Agent[Any]) -> Callable[[], Awaitable[RunResult]]:
            brief = f"{subtask.instructions}\n\n(This is one part of a larger task: {input})"
            return lambda: options.run(worker, brief)

        names = [f"{number}. {subtask.title}" for number, subtask in enumerate(chosen, start=1)]
        runs, _ = await gather_branches(
            [
                (name, job(subtask, worker))
                for name, (subtask, worker) in zip(names, assigned, strict=True)
            ],
            max_concurrency=max_concurrency,
        )
        work = [
            WorkerResult(
                subtask=subtask, worker=worker.name, output=runs[name].final_output, run=runs[name]
            )
            for name, (subtask, worker) in zip(names, assigned, strict=True)
        ]
        with step(f"synthesize: {synthesizer.name}"):
            synthesis = await options.run(synthesizer, _synthesis_input(input, work))
    return OrchestratorResult(plan=plan, work=work, synthesis=synthesis, skipped=skipped)


def _worker_for(subtask: Any, workers: Agent[Any] | Mapping[str, Agent[Any]]) -> Agent[Any]:
    if isinstance(workers, Agent):
        return workers
    name = str(getattr(subtask, "worker", ""))
    if name not in workers:
        raise PatternError(
            f"subtask {subtask.title!r} names worker {name!r}, not one of {', '.join(workers)}"
        )
    return workers[name]


def _synthesis_input(task: str, work: list[WorkerResult]) -> str:
    parts = [f"Task: {task}", "", "Results of the subtasks:"]
    for item in work:
        parts += ["", f"## {item.subtask.title}", as_text(item.output)]
    return "\n".join(parts)
