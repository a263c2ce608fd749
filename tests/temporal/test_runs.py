"""One table of runs: Temporal (a real test server) gives the same items and output as
in process, and so does the durable engine on DBOS."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from temporalio.testing import WorkflowEnvironment

from ascent import Runner
from ascent.durable import DurableEngine
from ascent.storage import dispose_engines
from ascent.temporal import TemporalApp, TemporalRuns, serving

from .scenarios import SCENARIOS, Scenario


def _items(items: list[Any]) -> list[dict[str, Any]]:
    return [item.model_dump(mode="json") for item in items]


@pytest.mark.parametrize("scenario", SCENARIOS, ids=lambda s: s.name)
async def test_temporal_run_matches_runner(
    scenario: Scenario, temporal: WorkflowEnvironment, task_queue: str
) -> None:
    local_agents = {a.name: a for a in scenario.agents()}
    expected = await Runner.run(local_agents[scenario.start], scenario.input)

    agents = scenario.agents()
    runs = TemporalRuns(temporal.client, task_queue=task_queue, agents=agents)
    async with serving(temporal.client, TemporalApp(agents=agents), task_queue=task_queue):
        run_id = await runs.start(scenario.start, scenario.input, run_id=f"run-{scenario.name}")
        result = await runs.result(run_id)

    assert result.final_output == expected.final_output
    assert _items(result.new_items) == _items(expected.new_items)
    assert result.last_agent.name == expected.last_agent.name
    assert result.state.usage.requests == expected.state.usage.requests


@pytest.mark.parametrize("scenario", SCENARIOS, ids=lambda s: s.name)
async def test_the_same_table_on_dbos(scenario: Scenario, tmp_path: Path) -> None:
    """The durable engine (DBOS) runs the table too: the same output and model calls."""
    local_agents = {a.name: a for a in scenario.agents()}
    expected = await Runner.run(local_agents[scenario.start], scenario.input)

    engine = DurableEngine(
        agents=scenario.agents(),
        database_url=f"sqlite:///{tmp_path / 'durable.db'}",
        executor_id="table",
        poll_interval=0.02,
    )
    try:
        async with engine:
            record = await engine.start_run(scenario.start, scenario.input)
            record = await engine.wait_run(record.id, timeout=60)
    finally:
        dispose_engines()
    assert record.status == "completed", record.error
    assert record.output == expected.state.final_output
    assert record.usage.requests == expected.state.usage.requests
