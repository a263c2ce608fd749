"""Guardrails: input beside the model call, output before returning, tools before and after."""

from __future__ import annotations

import asyncio
import json
from collections.abc import AsyncIterator
from typing import Any

import pytest
from pydantic import BaseModel

from ascent import (
    Agent,
    FunctionCallOutput,
    InputGuardrailTripwireTriggered,
    Item,
    OutputGuardrailTripwireTriggered,
    RunConfig,
    RunContext,
    Runner,
    ToolGuardrailTripwireTriggered,
    function_tool,
)
from ascent.guardrails import (
    GuardrailOutput,
    InputGuardrail,
    ToolGuardrailData,
    ToolGuardrailDecision,
    input_guardrail,
    output_guardrail,
    tool_input_guardrail,
    tool_output_guardrail,
)
from ascent.models.base import ModelRequest, ModelResponse, ModelStreamEvent, TextDelta
from ascent.run.events import ResponseDiscardedEvent, TextDeltaEvent
from ascent.testing import ScriptedModel, Step, ToolCall


def last_text(items: list[Item]) -> str:
    return str(getattr(items[-1], "text", ""))


@input_guardrail
async def no_homework(
    ctx: RunContext[Any], agent: Agent[Any], items: list[Item]
) -> GuardrailOutput:
    text = last_text(items)
    return GuardrailOutput(tripwire_triggered="homework" in text, output_info={"text": text})


class SlowModel:
    """A model that takes 5 s unless cancelled; records whether it was."""

    name = "slow"
    supports_hosted_tools = False

    def __init__(self) -> None:
        self.started = asyncio.Event()
        self.cancelled = False
        self.finished = False

    async def respond(self, request: ModelRequest) -> ModelResponse:
        self.started.set()
        try:
            await asyncio.sleep(5)
        except asyncio.CancelledError:
            self.cancelled = True
            raise
        self.finished = True
        return ModelResponse(output=[])

    async def stream(self, request: ModelRequest) -> AsyncIterator[ModelStreamEvent]:
        self.started.set()
        yield TextDelta(delta="Sure, the answer to your homework is")
        try:
            await asyncio.sleep(5)
        except asyncio.CancelledError:
            self.cancelled = True
            raise
        self.finished = True  # pragma: no cover


async def test_tripped_input_guardrail_cancels_the_slow_model_call() -> None:
    model = SlowModel()

    @input_guardrail
    async def slow_check(ctx: RunContext[Any], agent: Agent[Any], items: list[Item]) -> bool:
        await model.started.wait()  # the model call is in flight when we trip
        return True

    agent = Agent(name="tutor", model=model, input_guardrails=[slow_check])
    loop = asyncio.get_running_loop()
    start = loop.time()
    with pytest.raises(InputGuardrailTripwireTriggered) as info:
        await Runner.run(agent, "solve my homework")
    assert loop.time() - start < 2  # not awaited to the end (5 s)
    assert model.cancelled and not model.finished
    assert info.value.result.name == "slow_check"


async def test_input_guardrail_passing_keeps_the_response() -> None:
    model = ScriptedModel([Step(text="Photosynthesis turns light into sugar.", delay=0.05)])
    agent = Agent(name="tutor", model=model, input_guardrails=[no_homework])
    result = await Runner.run(agent, "what is photosynthesis?")
    assert result.final_output.startswith("Photosynthesis")
    assert [(r.name, r.tripwire_triggered) for r in result.state.guardrail_results] == [
        ("no_homework", False)
    ]


async def test_run_level_guardrails_and_only_the_first_turn_is_checked() -> None:
    calls: list[str] = []

    @input_guardrail(name="audit")
    def audit(ctx: RunContext[Any], agent: Agent[Any], items: list[Item]) -> bool:
        calls.append(agent.name)
        return False

    @function_tool
    def lookup() -> str:
        """Look up."""
        return "x"

    model = ScriptedModel([ToolCall("lookup"), "done"])
    agent = Agent(name="a", model=model, tools=[lookup])
    await Runner.run(agent, "go", run_config=RunConfig(input_guardrails=[audit]))
    assert calls == ["a"]  # once, beside the first model call, not the second


class Verdict(BaseModel):
    is_homework: bool
    reasoning: str


async def test_a_classifier_agent_as_guardrail() -> None:
    classifier = Agent(
        name="homework check",
        model=ScriptedModel([Verdict(is_homework=True, reasoning="asks to solve an exercise")]),
        output_type=Verdict,
    )
    guardrail = InputGuardrail.from_agent(classifier, trip_if=lambda v: v.is_homework)
    agent = Agent(
        name="tutor",
        model=ScriptedModel([Step(text="never shown", delay=0.5)]),
        input_guardrails=[guardrail],
    )
    with pytest.raises(InputGuardrailTripwireTriggered) as info:
        await Runner.run(agent, "Solve x^2 = 4 for my homework")
    verdict = info.value.result.output_info
    assert isinstance(verdict, Verdict) and verdict.reasoning == "asks to solve an exercise"


async def test_output_guardrail_blocks_the_final_output() -> None:
    @output_guardrail
    def no_secrets(ctx: RunContext[Any], agent: Agent[Any], output: Any) -> GuardrailOutput:
        return GuardrailOutput(tripwire_triggered="password" in str(output), output_info="leak")

    agent = Agent(
        name="a", model=ScriptedModel(["the password is hunter2"]), output_guardrails=[no_secrets]
    )
    with pytest.raises(OutputGuardrailTripwireTriggered) as info:
        await Runner.run(agent, "x")
    assert info.value.result.output_info == "leak" and info.value.result.stage == "output"

    fine = Agent(name="a", model=ScriptedModel(["all good"]), output_guardrails=[no_secrets])
    assert (await Runner.run(fine, "x")).final_output == "all good"


async def test_output_guardrail_sees_the_typed_output() -> None:
    seen: list[Any] = []

    @output_guardrail
    def check(ctx: RunContext[Any], agent: Agent[Any], output: Any) -> bool:
        seen.append(output)
        return False

    agent = Agent(
        name="a",
        model=ScriptedModel([Verdict(is_homework=False, reasoning="r")]),
        output_type=Verdict,
        output_guardrails=[check],
    )
    await Runner.run(agent, "x")
    assert seen == [Verdict(is_homework=False, reasoning="r")]


ran: list[str] = []


@tool_input_guardrail
def no_deletes(data: ToolGuardrailData) -> ToolGuardrailDecision:
    if json.loads(data.arguments).get("path", "").startswith("/etc"):
        return ToolGuardrailDecision.reject_content("Refused: /etc is off limits.")
    return ToolGuardrailDecision.allow()


@tool_output_guardrail
def no_ssn(data: ToolGuardrailData) -> ToolGuardrailDecision:
    if "SSN" in (data.output or ""):
        return ToolGuardrailDecision.reject_content("The output held personal data; withheld.")
    return ToolGuardrailDecision.allow()


@function_tool(input_guardrails=[no_deletes], output_guardrails=[no_ssn])
def read_file(path: str) -> str:
    """Read a file."""
    ran.append(path)
    return "SSN 123-45-6789" if path == "/home/secret" else f"contents of {path}"


async def test_tool_guardrails_reject_with_a_message_to_the_model() -> None:
    ran.clear()
    model = ScriptedModel(
        [
            [
                ToolCall("read_file", {"path": "/etc/shadow"}),
                ToolCall("read_file", {"path": "/home/secret"}),
                ToolCall("read_file", {"path": "/home/notes"}),
            ],
            "ok",
        ]
    )
    result = await Runner.run(Agent(name="a", model=model, tools=[read_file]), "read")
    outputs = [i.output for i in result.new_items if isinstance(i, FunctionCallOutput)]
    assert outputs == [
        "Refused: /etc is off limits.",
        "The output held personal data; withheld.",
        "contents of /home/notes",
    ]
    assert sorted(ran) == ["/home/notes", "/home/secret"]  # /etc never ran


async def test_tool_guardrail_can_stop_the_run() -> None:
    @tool_input_guardrail
    def stop_everything(data: ToolGuardrailData) -> ToolGuardrailDecision:
        return ToolGuardrailDecision.raise_exception(output_info={"why": "policy"})

    @function_tool(input_guardrails=[stop_everything])
    def launch() -> str:
        """Launch."""
        raise AssertionError("must not run")

    model = ScriptedModel([ToolCall("launch")])
    with pytest.raises(ToolGuardrailTripwireTriggered) as info:
        await Runner.run(Agent(name="a", model=model, tools=[launch]), "go")
    assert info.value.result.output_info == {"why": "policy"}


async def test_tripped_input_guardrail_under_streaming_discards_the_text() -> None:
    model = SlowModel()

    @input_guardrail
    async def trips_later(ctx: RunContext[Any], agent: Agent[Any], items: list[Item]) -> bool:
        await model.started.wait()
        await asyncio.sleep(0.05)  # let the first delta reach the stream
        return True

    agent = Agent(name="tutor", model=model, input_guardrails=[trips_later])
    streamed = Runner.run_streamed(agent, "homework please")
    events: list[Any] = []
    with pytest.raises(InputGuardrailTripwireTriggered):
        async for event in streamed.stream_events():
            events.append(event)
    kinds = [e.type for e in events]
    assert "text_delta" in kinds
    discarded = [e for e in events if isinstance(e, ResponseDiscardedEvent)]
    assert len(discarded) == 1 and "trips_later" in discarded[0].reason
    assert kinds.index("response_discarded") > kinds.index("text_delta")
    assert any(isinstance(e, TextDeltaEvent) for e in events)
    assert model.cancelled


async def test_a_run_level_classifier_guardrail_does_not_check_itself() -> None:
    classifier = Agent(
        name="classifier",
        model=ScriptedModel([Verdict(is_homework=False, reasoning="a plain question")]),
        output_type=Verdict,
    )
    guardrail = InputGuardrail.from_agent(classifier, trip_if=lambda v: v.is_homework)
    agent = Agent(name="tutor", model=ScriptedModel(["Photosynthesis makes sugar."]))
    result = await asyncio.wait_for(
        Runner.run(
            agent, "what is photosynthesis?", run_config=RunConfig(input_guardrails=[guardrail])
        ),
        5,
    )
    assert result.final_output == "Photosynthesis makes sugar."
    assert [r.name for r in result.state.guardrail_results] == ["classifier"]
