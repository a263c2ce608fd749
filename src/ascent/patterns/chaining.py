"""Prompt chaining: agents in sequence, each working on the previous one's output.

Use it when a task splits cleanly into fixed steps (outline, draft, edit), each
easier than the whole. A :class:`Gate` after a step checks its output in code;
when the check fails, the chain stops there and says why, instead of passing a
bad intermediate result on.
"""

from __future__ import annotations

import inspect
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass, field
from typing import Any

from ..agent import Agent
from ..errors import UserError
from ..run import RunConfig, RunResult
from ..run.config import DEFAULT_MAX_TURNS
from ._common import RunOptions, as_text, step, workflow

__all__ = ["ChainResult", "Gate", "GateFailure", "Link", "LinkResult", "chain"]

GateCheck = Callable[[Any], bool | Awaitable[bool]]
Prompt = Callable[[Any], str | Awaitable[str]]


@dataclass(kw_only=True, frozen=True)
class Gate:
    """A check of one step's output; ``reason`` says why the chain stopped when it fails.

    ``reason`` may be a function of the output, for a message that quotes it.
    """

    check: GateCheck
    reason: str | Callable[[Any], str]
    name: str = ""

    @property
    def label(self) -> str:
        return self.name or getattr(self.check, "__name__", "gate")

    async def passes(self, output: Any) -> bool:
        verdict = self.check(output)
        if inspect.isawaitable(verdict):
            verdict = await verdict
        return bool(verdict)

    def explain(self, output: Any) -> str:
        return self.reason(output) if callable(self.reason) else self.reason


@dataclass(kw_only=True, frozen=True)
class Link:
    """One step of a chain: an agent, an optional gate on its output, and an
    optional ``prompt`` that builds its input from the previous output (by
    default the previous output itself, as text)."""

    agent: Agent[Any]
    gate: Gate | None = None
    prompt: Prompt | None = None


@dataclass(kw_only=True)
class LinkResult:
    """What one step was given and produced; ``run`` is its whole run result."""

    agent: str
    input: str | list[Any]
    output: Any
    run: RunResult


@dataclass(kw_only=True, frozen=True)
class GateFailure:
    """Why a chain stopped: which gate, after which agent, on what output."""

    gate: str
    agent: str
    reason: str
    output: Any


@dataclass(kw_only=True)
class ChainResult:
    """Every step's input and output, in order, and the gate that stopped the chain, if any."""

    steps: list[LinkResult] = field(default_factory=list)
    stopped: GateFailure | None = None

    @property
    def completed(self) -> bool:
        return self.stopped is None

    @property
    def final_output(self) -> Any:
        """The last step's output; ``None`` when a gate stopped the chain."""
        if self.stopped is not None or not self.steps:
            return None
        return self.steps[-1].output

    @property
    def outputs(self) -> list[Any]:
        return [link.output for link in self.steps]


async def chain(
    links: Sequence[Agent[Any] | Link],
    input: str | list[Any],
    *,
    context: Any = None,
    max_turns: int = DEFAULT_MAX_TURNS,
    run_config: RunConfig | None = None,
    workflow_name: str = "Prompt chain",
) -> ChainResult:
    """Run ``links`` in order, each on the previous output; stop at the first failed gate.

    All runs share one trace (``workflow_name``), one span per step.
    """
    steps = [link if isinstance(link, Link) else Link(agent=link) for link in links]
    if not steps:
        raise UserError("a chain needs at least one agent")
    options = RunOptions(context=context, max_turns=max_turns, run_config=run_config)
    result = ChainResult()
    current: Any = input
    with workflow(workflow_name, options, kind="chain", steps=[link.agent.name for link in steps]):
        for number, link in enumerate(steps, start=1):
            with step(f"step {number}: {link.agent.name}") as span:
                given = await _input_for(link, current, first=number == 1)
                run = await options.run(link.agent, given)
                result.steps.append(
                    LinkResult(agent=link.agent.name, input=given, output=run.final_output, run=run)
                )
                current = run.final_output
                if link.gate is not None and not await link.gate.passes(current):
                    result.stopped = GateFailure(
                        gate=link.gate.label,
                        agent=link.agent.name,
                        reason=link.gate.explain(current),
                        output=current,
                    )
                    span.set(gate=link.gate.label, stopped=result.stopped.reason)
                    break
    return result


async def _input_for(link: Link, previous: Any, *, first: bool) -> str | list[Any]:
    if link.prompt is not None:
        made = link.prompt(previous)
        return await made if inspect.isawaitable(made) else made
    if first and isinstance(previous, list):
        return previous
    return as_text(previous)
