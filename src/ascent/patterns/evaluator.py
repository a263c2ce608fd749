"""Evaluator-optimizer: a generator drafts, an evaluator judges, until accepted or a bound.

Use it when there are clear criteria for a good answer and feedback helps
(translations, code that must pass checks, text with a house style). Every
round's draft and evaluation are kept, so the feedback history is there to
read, and the generator sees all of it, not only the latest.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any, Literal

from pydantic import BaseModel, Field

from ..agent import Agent
from ..errors import UserError
from ..run import RunConfig, RunResult
from ..run.config import DEFAULT_MAX_TURNS
from ._common import RunOptions, as_text, step, workflow

__all__ = ["Evaluation", "RefineResult", "Round", "refine"]


class Evaluation(BaseModel):
    """The evaluator's verdict on one draft."""

    feedback: str = Field(description="What to change, specifically; empty when accepting.")
    verdict: Literal["accept", "revise"] = Field(
        description="accept when the draft meets every criterion, else revise."
    )


@dataclass(kw_only=True)
class Round:
    """One draft, its evaluation, and both runs."""

    number: int
    draft: Any
    evaluation: Any
    accepted: bool
    feedback: str
    generator_run: RunResult
    evaluator_run: RunResult


@dataclass(kw_only=True)
class RefineResult:
    """Every round in order; ``accepted`` is False when the bound was hit first."""

    rounds: list[Round] = field(default_factory=list)
    accepted: bool = False

    @property
    def final_output(self) -> Any:
        """The last draft (the accepted one, when one was)."""
        return self.rounds[-1].draft if self.rounds else None

    @property
    def feedback(self) -> list[str]:
        """The evaluator's feedback on each rejected draft, oldest first."""
        return [r.feedback for r in self.rounds if not r.accepted]


def _accepts(evaluation: Any) -> bool:
    return getattr(evaluation, "verdict", None) == "accept"


def _feedback_of(evaluation: Any) -> str:
    return str(getattr(evaluation, "feedback", "") or "")


async def refine(
    generator: Agent[Any],
    evaluator: Agent[Any],
    input: str,
    *,
    max_rounds: int = 3,
    accepts: Callable[[Any], bool] = _accepts,
    feedback_of: Callable[[Any], str] = _feedback_of,
    context: Any = None,
    max_turns: int = DEFAULT_MAX_TURNS,
    run_config: RunConfig | None = None,
    workflow_name: str = "Evaluator-optimizer",
) -> RefineResult:
    """Draft, evaluate, revise with the feedback so far; at most ``max_rounds`` drafts.

    An evaluator without an ``output_type`` gets :class:`Evaluation`; with its
    own type, ``accepts`` and ``feedback_of`` read the verdict from it.
    """
    if max_rounds < 1:
        raise UserError(f"max_rounds must be at least 1, not {max_rounds}")
    if evaluator.output_type is None:
        evaluator = evaluator.clone(output_type=Evaluation)
    options = RunOptions(context=context, max_turns=max_turns, run_config=run_config)
    result = RefineResult()
    with workflow(
        workflow_name, options, kind="evaluator-optimizer", max_rounds=max_rounds
    ) as span:
        for number in range(1, max_rounds + 1):
            with step(f"round {number}") as round_span:
                prompt = _generator_input(input, result.rounds)
                generated = await options.run(generator, prompt)
                draft = generated.final_output
                judged = await options.run(evaluator, f"Task: {input}\n\nDraft:\n{as_text(draft)}")
                evaluation = judged.final_output
                accepted = accepts(evaluation)
                round_span.set(accepted=accepted)
            result.rounds.append(
                Round(
                    number=number,
                    draft=draft,
                    evaluation=evaluation,
                    accepted=accepted,
                    feedback=feedback_of(evaluation),
                    generator_run=generated,
                    evaluator_run=judged,
                )
            )
            if accepted:
                result.accepted = True
                break
        span.set(rounds=len(result.rounds), accepted=result.accepted)
    return result


def _generator_input(task: str, rounds: list[Round]) -> str:
    if not rounds:
        return task
    notes = "\n".join(f"{r.number}. {r.feedback}" for r in rounds)
    return (
        f"Task: {task}\n\nYour previous draft:\n{as_text(rounds[-1].draft)}\n\n"
        f"Feedback on your drafts so far (oldest first):\n{notes}\n\n"
        "Write an improved draft that addresses all of the feedback."
    )
