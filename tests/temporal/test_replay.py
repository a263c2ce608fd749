"""Determinism: recorded histories of every scenario replay on today's code."""

from __future__ import annotations

import pytest
from temporalio.client import WorkflowHistory
from temporalio.testing import WorkflowEnvironment
from temporalio.workflow import NondeterminismError

from ascent import Agent
from ascent.temporal import replaying
from ascent.testing.scripted import ScriptedModel

from .histories import HISTORIES, RECORDED, record_one


def _fixture(name: str) -> WorkflowHistory:
    return WorkflowHistory.from_json(name, (HISTORIES / f"{name}.json").read_text())


def test_every_scenario_has_a_recorded_history() -> None:
    assert sorted(p.stem for p in HISTORIES.glob("*.json")) == sorted(RECORDED)


@pytest.mark.parametrize("name", sorted(RECORDED))
async def test_a_recorded_history_replays(name: str) -> None:
    make = RECORDED[name][0]
    with replaying(make()) as replayer:
        await replayer.replay_workflow(_fixture(name))


@pytest.mark.parametrize(
    "name", ["tools", "approval", "served_approval", "served_session", "durable_sleep"]
)
async def test_a_history_recorded_now_replays(name: str, temporal: WorkflowEnvironment) -> None:
    recorded = WorkflowHistory.from_json(
        name, await record_one(temporal.client, name, skip=temporal.sleep)
    )
    with replaying(RECORDED[name][0]()) as replayer:
        await replayer.replay_workflow(recorded)


async def test_replay_fails_when_the_run_would_take_other_steps() -> None:
    # The recorded model called order_status and carrier; without those tools the
    # loop answers the calls with errors itself and asks the model again instead.
    changed = Agent(name="Support", instructions="Look orders up.", model=ScriptedModel([]))
    with replaying([changed]) as replayer, pytest.raises(NondeterminismError):
        await replayer.replay_workflow(_fixture("tools"))


def test_a_run_request_sends_its_later_fields_only_when_set() -> None:
    """Fields added to the workflow's input after histories were recorded are left out
    unless a run uses them: other runs' inputs stay as they were."""
    from ascent.temporal._messages import RunRequest

    plain = RunRequest(agent="Support", input="hi").dump()
    assert not {"previous_response_id", "conversation_id", "take_turns"} & set(plain)
    assert RunRequest.model_validate(plain) == RunRequest(agent="Support", input="hi")
    chained = RunRequest(agent="Support", input="hi", previous_response_id="resp_1").dump()
    assert chained["previous_response_id"] == "resp_1" and "conversation_id" not in chained
    served = RunRequest(agent="Support", session_id="chat", take_turns=True).dump()
    assert served["take_turns"] is True
