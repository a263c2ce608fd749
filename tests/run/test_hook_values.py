"""What hooks see: the usage with the call just made counted, and the typed final output."""

from __future__ import annotations

from typing import Any

import pytest
from pydantic import BaseModel

from ascent import Agent, AgentHooks, RunContext, RunHooks, Runner
from ascent.models.base import ModelResponse
from ascent.testing import ScriptedModel, ToolCall

from ..sample_tools import add


class Answer(BaseModel):
    value: int


class Seen:
    def __init__(self) -> None:
        self.llm_end: list[tuple[int, int]] = []  # (requests, this agent's requests)
        self.outputs: list[Any] = []

    def on_llm_end(self, context: RunContext[Any], agent: Agent[Any]) -> None:
        usage = context.usage
        self.llm_end.append((usage.requests, usage.by_agent[agent.name].requests))


class Recorder(RunHooks[Any]):
    def __init__(self, seen: Seen) -> None:
        self.seen = seen

    async def on_llm_end(
        self, context: RunContext[Any], agent: Agent[Any], response: ModelResponse
    ) -> None:
        self.seen.on_llm_end(context, agent)

    async def on_agent_end(self, context: RunContext[Any], agent: Agent[Any], output: Any) -> None:
        self.seen.outputs.append(output)


class OwnRecorder(AgentHooks[Any]):
    def __init__(self, seen: Seen) -> None:
        self.seen = seen

    async def on_llm_end(
        self, context: RunContext[Any], agent: Agent[Any], response: ModelResponse
    ) -> None:
        self.seen.on_llm_end(context, agent)

    async def on_end(self, context: RunContext[Any], agent: Agent[Any], output: Any) -> None:
        self.seen.outputs.append(output)


async def run(agent: Agent[Any], hooks: RunHooks[Any], streamed: bool) -> Any:
    if streamed:
        result = Runner.run_streamed(agent, "1+2?", hooks=hooks)
        async for _ in result.stream_events():
            pass
        return result
    return await Runner.run(agent, "1+2?", hooks=hooks)


@pytest.mark.parametrize("streamed", [False, True], ids=["run", "streamed"])
async def test_hooks_see_the_call_counted_and_the_typed_output(streamed: bool) -> None:
    run_seen, agent_seen = Seen(), Seen()
    model = ScriptedModel([ToolCall("add", {"a": 1, "b": 2}), '{"value": 3}'])
    agent = Agent(
        name="calc", model=model, tools=[add], output_type=Answer, hooks=OwnRecorder(agent_seen)
    )
    result = await run(agent, Recorder(run_seen), streamed)
    assert result.final_output == Answer(value=3)
    for seen in (run_seen, agent_seen):
        assert seen.llm_end == [(1, 1), (2, 2)]  # each call counted before the hook
        assert seen.outputs == [Answer(value=3)]
        assert isinstance(seen.outputs[0], Answer)
    assert result.usage.requests == 2  # counted once, not again by the hooks' view


async def test_a_plain_text_agent_ends_with_its_text() -> None:
    seen = Seen()
    await Runner.run(Agent(name="a", model=ScriptedModel(["hi"])), "x", hooks=Recorder(seen))
    assert seen.outputs == ["hi"] and seen.llm_end == [(1, 1)]
