"""Routing: a router agent classifies the input and one specialist handles it.

Use it when requests fall into distinct kinds that are better served by
separate, focused agents (and maybe cheaper models for the easy kinds). The
router answers with structured output naming a route, so the choice is
validated and visible; the specialist then gets the original input. For a
conversation where the specialist should keep talking to the user, give the
router ``handoffs`` instead and run it with :class:`~ascent.Runner`.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any, Literal

from pydantic import BaseModel, Field, create_model

from ..agent import Agent
from ..errors import PatternError, UserError
from ..run import RunConfig, RunResult
from ..run.config import DEFAULT_MAX_TURNS
from ._common import RunOptions, step, workflow

__all__ = ["RouteResult", "route", "route_decision_type"]


@dataclass(kw_only=True)
class RouteResult:
    """The router's decision and the chosen specialist's run."""

    route: str
    decision: Any
    router_run: RunResult
    run: RunResult

    @property
    def final_output(self) -> Any:
        return self.run.final_output


def route_decision_type(routes: Mapping[str, Agent[Any]]) -> type[BaseModel]:
    """The router's output type: a reason, then a route that must be one of ``routes``."""
    described = "; ".join(
        f"{name}: {agent.handoff_description or agent.name}" for name, agent in routes.items()
    )
    choice: Any = Literal[tuple(routes)]
    return create_model(
        "RouteDecision",
        reason=(str, Field(description="Why this route fits the request, in one sentence.")),
        route=(choice, Field(description=f"Who should handle the request. {described}")),
    )


async def route(
    router: Agent[Any],
    routes: Mapping[str, Agent[Any]] | Sequence[Agent[Any]],
    input: str | list[Any],
    *,
    key: Callable[[Any], str] | None = None,
    fallback: Agent[Any] | None = None,
    handoffs: bool = False,
    context: Any = None,
    max_turns: int = DEFAULT_MAX_TURNS,
    run_config: RunConfig | None = None,
    workflow_name: str = "Routing",
) -> RouteResult:
    """Ask ``router`` which of ``routes`` fits ``input``, then run that agent on it.

    A router without an ``output_type`` is given :func:`route_decision_type`; a
    router with its own output type needs ``key`` to read the route from it. A
    route that does not exist goes to ``fallback``, or raises
    :class:`~ascent.errors.PatternError`.

    With ``handoffs=True`` the router gets the routes as handoffs instead, and
    one run goes from the router to the specialist it hands off to (who sees
    the conversation so far); ``decision`` is then None and ``router_run`` is
    that same run. A router that answers without handing off goes to
    ``fallback``, or raises :class:`~ascent.errors.PatternError`.
    """
    table = dict(routes) if isinstance(routes, Mapping) else {a.name: a for a in routes}
    if not table:
        raise UserError("routing needs at least one route")
    options = RunOptions(context=context, max_turns=max_turns, run_config=run_config)
    if handoffs:
        return await _route_by_handoff(
            router, table, input, fallback=fallback, options=options, name=workflow_name
        )
    if router.output_type is None:
        router = router.clone(output_type=route_decision_type(table))
    elif key is None:
        raise UserError(
            f"router {router.name!r} has its own output_type: pass key= to read the route from it"
        )
    read = key or _route_field
    with workflow(workflow_name, options, kind="routing", routes=list(table)) as span:
        with step(f"router: {router.name}"):
            router_run = await options.run(router, input)
        chosen = read(router_run.final_output)
        specialist = table.get(chosen, fallback)
        if specialist is None:
            raise PatternError(
                f"router {router.name!r} chose {chosen!r}, which is not a route "
                f"({', '.join(table)}) and there is no fallback"
            )
        span.set(route=chosen)
        with step(f"route {chosen}: {specialist.name}"):
            run = await options.run(specialist, input)
    return RouteResult(
        route=chosen, decision=router_run.final_output, router_run=router_run, run=run
    )


def _route_field(decision: Any) -> str:
    return str(decision.route)


async def _route_by_handoff(
    router: Agent[Any],
    table: dict[str, Agent[Any]],
    input: str | list[Any],
    *,
    fallback: Agent[Any] | None,
    options: RunOptions,
    name: str,
) -> RouteResult:
    router = router.clone(handoffs=[*router.handoffs, *table.values()])
    with workflow(name, options, kind="routing", routes=list(table), handoffs=True) as span:
        with step(f"router: {router.name}"):
            run = await options.run(router, input)
        chosen = next((key for key, agent in table.items() if agent is run.last_agent), None)
        if chosen is None:
            if fallback is None:
                raise PatternError(
                    f"router {router.name!r} answered without handing off to a route "
                    f"({', '.join(table)}) and there is no fallback"
                )
            span.set(route=None)
            with step(f"fallback: {fallback.name}"):
                answer = await options.run(fallback, input)
            return RouteResult(route="", decision=None, router_run=run, run=answer)
        span.set(route=chosen)
    return RouteResult(route=chosen, decision=None, router_run=run, run=run)
