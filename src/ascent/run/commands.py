"""The commands the agent loop yields, and the results it receives back.

The loop never does I/O: it asks for it with these. Every command and every
result is a Pydantic model that round-trips through JSON, so an interpreter can
record them (a durable run) or replay them (a test, a resumed run).
"""

from __future__ import annotations

from typing import Annotated, Any, Literal

from pydantic import BaseModel, ConfigDict, Discriminator, Field, TypeAdapter

from ..guardrails import GuardrailResult
from ..items import FunctionCall, FunctionCallOutput, Item, RunUsage
from ..models.base import ModelResponse
from ..tools import RemoteToolSpec

__all__ = [
    "ApprovalDecision",
    "ApprovalRequest",
    "AwaitApproval",
    "CallModel",
    "CheckEnabled",
    "Command",
    "GuardrailsResult",
    "HandoffResult",
    "ListTools",
    "RunGuardrails",
    "RunHandoff",
    "RunTools",
    "ServerTools",
    "ToolsResult",
    "command_result_adapter",
]


class ApprovalRequest(BaseModel):
    """A tool call waiting for a human's decision."""

    model_config = ConfigDict(defer_build=True)

    call_id: str
    tool_name: str
    arguments: str
    agent: str


class ApprovalDecision(BaseModel):
    """A human's decision on one tool call; ``reason`` reaches the model on rejection."""

    model_config = ConfigDict(defer_build=True)

    approved: bool
    reason: str | None = None


class CallModel(BaseModel):
    """Call the agent's model with ``input``; the result is a :class:`ModelResponse`.

    ``agent_start`` marks the first call of an agent since it took over (the
    interpreter fires start hooks); ``reset_tool_choice`` asks for the default
    tool choice because the agent already used a tool (so "required" cannot loop).
    ``disabled`` names the tools and handoffs not offered on this call (see
    :class:`CheckEnabled`). When the provider keeps the conversation (``previous_response_id`` or
    ``conversation_id``), ``input`` holds only the items it has not seen yet.
    """

    model_config = ConfigDict(defer_build=True)

    kind: Literal["call_model"] = "call_model"
    agent: str
    turn: int
    input: list[Item]
    agent_start: bool = False
    reset_tool_choice: bool = False
    disabled: list[str] = Field(default_factory=list)
    previous_response_id: str | None = None
    conversation_id: str | None = None


class CheckEnabled(BaseModel):
    """Evaluate the ``is_enabled`` of the agent's tools and handoffs before a model
    call; the result is the list of names that are disabled on this call.

    A command, not a check inside the loop, because ``is_enabled`` may be any
    code (it may read the clock or a database): a durable run records its answer,
    so a replay offers the model what the live run offered.
    """

    model_config = ConfigDict(defer_build=True)

    kind: Literal["check_enabled"] = "check_enabled"
    agent: str


class ListTools(BaseModel):
    """List the tools of the agent's MCP servers; the result is a list of
    :class:`ServerTools`, one per server, in the agent's order.

    A command rather than the interpreter's private business, so the list is
    recorded with the run: a durable run that is replayed after a crash sees
    exactly the tools it saw live, whatever the servers offer now.
    """

    model_config = ConfigDict(defer_build=True)

    kind: Literal["list_tools"] = "list_tools"
    agent: str


class ServerTools(BaseModel):
    """The tools one MCP server offered an agent when the run listed them."""

    model_config = ConfigDict(defer_build=True)

    server: str
    tools: list[RemoteToolSpec]


class RunTools(BaseModel):
    """Run function tool calls (concurrently); the result is a :class:`ToolsResult`.

    ``completed`` are outputs of this turn's calls that ran before an approval
    pause; the interpreter uses them with the new ones to apply the agent's
    tool-use behaviour.
    """

    model_config = ConfigDict(defer_build=True)

    kind: Literal["run_tools"] = "run_tools"
    agent: str
    calls: list[FunctionCall]
    approvals: dict[str, ApprovalDecision] = Field(default_factory=dict)
    completed: list[FunctionCallOutput] = Field(default_factory=list)


class ToolsResult(BaseModel):
    """Outputs of the calls that ran, the calls that wait for approval, the
    tool-use behaviour's verdict, and the usage of agents that ran as tools.

    ``final_output`` is JSON data (a tool's value as JSON), so the result is
    recorded and replayed as it is; ``final_output_tool`` names the tool whose
    value it is, whose return type types it again.
    """

    model_config = ConfigDict(defer_build=True)

    outputs: list[FunctionCallOutput]
    pending: list[ApprovalRequest] = Field(default_factory=list)
    is_final_output: bool = False
    final_output: Any = None
    final_output_tool: str | None = None
    usage: RunUsage | None = None


class RunHandoff(BaseModel):
    """Hand control to another agent; the result is a :class:`HandoffResult`."""

    model_config = ConfigDict(defer_build=True)

    kind: Literal["handoff"] = "handoff"
    agent: str
    target: str
    call: FunctionCall
    input_history: list[Item]
    new_items: list[Item]


class HandoffResult(BaseModel):
    """``accepted`` is false when the model's handoff arguments were invalid.

    ``input_history`` / ``new_items`` are set when an input filter rewrote them.
    """

    model_config = ConfigDict(defer_build=True)

    accepted: bool
    output: FunctionCallOutput
    input_history: list[Item] | None = None
    new_items: list[Item] | None = None


class RunGuardrails(BaseModel):
    """Run the agent's guardrails of one stage; the result is a :class:`GuardrailsResult`.

    Input guardrails come with the first model call (``alongside``): both run
    at once, and a tripped guardrail cancels the call. ``parallel`` picks the
    input guardrails: those that run beside the call (True), those that run
    before it (False, and no ``alongside``), or all (None). Output guardrails
    check ``output`` (the final output as JSON data).
    """

    model_config = ConfigDict(defer_build=True)

    kind: Literal["guardrails"] = "guardrails"
    stage: Literal["input", "output"]
    agent: str
    input: list[Item] = Field(default_factory=list)
    output: Any = None
    alongside: CallModel | None = None
    parallel: bool | None = None


class GuardrailsResult(BaseModel):
    """The verdicts, the model's response (unless a tripwire cancelled it), and
    the usage of classifier agents."""

    model_config = ConfigDict(defer_build=True)

    results: list[GuardrailResult]
    response: ModelResponse | None = None
    usage: RunUsage | None = None

    @property
    def tripped(self) -> GuardrailResult | None:
        return next((r for r in self.results if r.tripwire_triggered), None)


class AwaitApproval(BaseModel):
    """Wait for decisions on these calls; the result maps call ids to decisions."""

    model_config = ConfigDict(defer_build=True)

    kind: Literal["await_approval"] = "await_approval"
    requests: list[ApprovalRequest]


Command = Annotated[
    CallModel | CheckEnabled | ListTools | RunTools | RunHandoff | RunGuardrails | AwaitApproval,
    Discriminator("kind"),
]

_RESULT_TYPES: dict[str, Any] = {
    "call_model": ModelResponse,
    "check_enabled": list[str],
    "list_tools": list[ServerTools],
    "run_tools": ToolsResult,
    "handoff": HandoffResult,
    "guardrails": GuardrailsResult,
    "await_approval": dict[str, ApprovalDecision],
}
_ADAPTERS: dict[str, TypeAdapter[Any]] = {}


def command_result_adapter(kind: str) -> TypeAdapter[Any]:
    """How to (de)serialize the result of a command of this kind."""
    adapter = _ADAPTERS.get(kind)
    if adapter is None:
        adapter = _ADAPTERS[kind] = TypeAdapter(_RESULT_TYPES[kind])
    return adapter
