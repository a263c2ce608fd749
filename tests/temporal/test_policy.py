"""Each command's activity takes its time limit from the agents, its retries from the app."""

from __future__ import annotations

from datetime import timedelta

from ascent import Agent, ModelSettings, RunConfig, function_tool
from ascent.items import FunctionCall
from ascent.run.commands import CallModel, CheckEnabled, RunTools
from ascent.run.start import agent_graph
from ascent.temporal import TemporalApp
from ascent.temporal._policy import activity_options


@function_tool(timeout=20)
def quick(x: int) -> int:
    """Quick."""
    return x


@function_tool(timeout=90)
def slow(x: int) -> int:
    """Slow."""
    return x


@function_tool
def unbounded(x: int) -> int:
    """No limit."""
    return x


def _call(name: str) -> FunctionCall:
    return FunctionCall(call_id=f"c-{name}", name=name, arguments='{"x": 1}')


def test_limits_come_from_the_agent_and_its_tools() -> None:
    agent = Agent(
        name="A",
        model_settings=ModelSettings(timeout=10),
        tools=[quick, slow, unbounded],
    )
    app = TemporalApp(agents=[agent], default_timeout=300, activity_attempts=3)
    config = RunConfig()
    graph = agent_graph(agent, config)

    model = activity_options(CallModel(agent="A", turn=1, input=[]), graph, config, app)
    assert model.start_to_close == timedelta(seconds=10 * 3 + 30)
    assert model.retry.maximum_attempts == 3

    tools = RunTools(agent="A", calls=[_call("quick"), _call("slow")])
    assert activity_options(tools, graph, config, app).start_to_close == timedelta(seconds=120)
    # a tool with no limit of its own: the app's default
    loose = RunTools(agent="A", calls=[_call("quick"), _call("unbounded")])
    assert activity_options(loose, graph, config, app).start_to_close == timedelta(seconds=300)
    check = activity_options(CheckEnabled(agent="A"), graph, config, app)
    assert check.start_to_close == timedelta(seconds=300)


def test_the_run_s_model_timeout_applies_to_agents_without_one() -> None:
    agent = Agent(name="A")
    config = RunConfig(model_timeout=5)
    app = TemporalApp(agents=[agent])
    options = activity_options(
        CallModel(agent="A", turn=1, input=[]), agent_graph(agent, config), config, app
    )
    assert options.start_to_close == timedelta(seconds=5 * 3 + 30)
    assert options.heartbeat == timedelta(seconds=30)
