"""The SDK features that touch the loop's commands, in durable runs: ``is_enabled``
is decided in a recorded step (a recovered run offers what the live run offered),
a blocking input guardrail stops the run before any model call, the model-input
filter and ``on_unknown_tool`` behave as in process.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Callable
from typing import Any

from dbos import DBOS

from ascent import Agent, RunConfig, function_tool, input_guardrail
from ascent.context import RunContext
from ascent.durable import DurableEngine
from ascent.items import Item, Message, Usage
from ascent.models.base import (
    FunctionToolSpec,
    ModelRequest,
    ModelResponse,
    ModelStreamEvent,
    ResponseCompleted,
    TextDelta,
)
from ascent.run.config import CallModelData, ModelInputData
from ascent.testing import ScriptedModel
from ascent.testing.scripted import ToolCall

from ..sample_tools import lookup

MakeEngine = Callable[..., Any]


async def step_names(run_id: str) -> list[str]:
    return [s["function_name"] for s in await DBOS.list_workflow_steps_async(run_id)]


class StallsOnce:
    """Streams ``Hel`` and stalls for ever on its first call; answers after that.
    Records the tools each call was offered."""

    name = "stalls-once"
    supports_hosted_tools = False

    def __init__(self) -> None:
        self.offered: list[list[str]] = []

    async def respond(self, request: ModelRequest) -> ModelResponse:  # pragma: no cover
        raise AssertionError("durable runs stream")

    async def stream(self, request: ModelRequest) -> AsyncIterator[ModelStreamEvent]:
        self.offered.append([t.name for t in request.tools if isinstance(t, FunctionToolSpec)])
        if len(self.offered) == 1:
            yield TextDelta(delta="Hel")
            await asyncio.Event().wait()
        yield TextDelta(delta="Hello.")
        message = Message.assistant("Hello.")
        yield ResponseCompleted(response=ModelResponse(output=[message], usage=Usage(requests=1)))


async def test_is_enabled_is_decided_once_in_a_recorded_step_and_replayed(
    make_engine: MakeEngine,
) -> None:
    asked: list[str] = []

    def first_time_only(ctx: RunContext[Any], agent: Agent[Any]) -> bool:
        asked.append(agent.name)
        return len(asked) == 1  # a live check again would say no

    @function_tool(is_enabled=first_time_only)
    def special() -> str:
        """Special."""
        return "special"

    def agents() -> list[Agent[Any]]:
        return [Agent(name="support", tools=[lookup, special])]

    model = StallsOnce()
    engine: DurableEngine = await make_engine(agents=agents(), model=model)
    record = await engine.start_run("support", "Hi")
    async for event in engine.events(record.id):
        if event.type == "text_delta":
            break  # the first model call is in flight, and stalls
    await engine.stop()  # the run stays pending in the database

    engine = await make_engine(agents=agents(), model=model)  # same replica id: it resumes
    record = await engine.wait_run(record.id, timeout=30)
    assert record.status == "completed" and record.output == "Hello."
    assert asked == ["support"]  # the recovered run took the verdict from the record
    assert model.offered == [["lookup", "special"], ["lookup", "special"]]
    names = await step_names(record.id)
    assert names.count("check_enabled") == 1 and names.index("check_enabled") < names.index(
        "call_model"
    )


async def test_a_durable_agent_without_conditions_has_no_check_step(
    make_engine: MakeEngine,
) -> None:
    engine: DurableEngine = await make_engine(
        agents=[Agent(name="support", tools=[lookup])], model=ScriptedModel(["Hi."])
    )
    record = await engine.wait_run((await engine.start_run("support", "Hi")).id)
    assert record.status == "completed"
    assert "check_enabled" not in await step_names(record.id)


@input_guardrail(run_in_parallel=False)
async def no_homework(ctx: RunContext[Any], agent: Agent[Any], items: list[Item]) -> bool:
    return "homework" in str(getattr(items[-1], "text", ""))


async def test_a_blocking_guardrail_fails_a_durable_run_before_any_model_call(
    make_engine: MakeEngine,
) -> None:
    model = ScriptedModel(["Sure."])
    agent = Agent(name="front", input_guardrails=[no_homework])
    engine: DurableEngine = await make_engine(agents=[agent], model=model)

    record = await engine.wait_run((await engine.start_run("front", "Do my homework")).id)
    assert record.status == "failed"
    assert record.error is not None and "InputGuardrailTripwireTriggered" in record.error
    assert model.requests == []
    names = await step_names(record.id)
    assert "guardrails" in names and "call_model" not in names

    record = await engine.wait_run((await engine.start_run("front", "Hello")).id)
    assert record.status == "completed" and record.output == "Sure."
    names = await step_names(record.id)
    assert names.index("guardrails") < names.index("call_model")


async def test_the_model_input_filter_and_unknown_tool_choice_apply_to_durable_runs(
    make_engine: MakeEngine,
) -> None:
    def last_only(data: CallModelData[Any]) -> ModelInputData:
        return ModelInputData(instructions="Short.", input=data.model_data.input[-1:])

    model = ScriptedModel([ToolCall("lookup", {"order_id": "A-1"}), "Shipped.", ToolCall("nope")])
    config = RunConfig(call_model_input_filter=last_only, on_unknown_tool="raise")
    agent = Agent(name="support", instructions="Long.", tools=[lookup])
    engine: DurableEngine = await make_engine(agents=[agent], model=model, run_config=config)

    record = await engine.wait_run((await engine.start_run("support", "Where is A-1?")).id)
    assert record.status == "completed" and record.output == "Shipped."
    assert [len(r.input) for r in model.requests] == [1, 1]
    assert {r.instructions for r in model.requests} == {"Short."}

    record = await engine.wait_run((await engine.start_run("support", "Again")).id)
    assert record.status == "failed"
    assert record.error is not None and "ModelBehaviorError" in record.error
    assert "'nope'" in record.error
