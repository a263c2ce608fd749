"""RunState: a complete, JSON-serializable picture of a run after any step.

It is what a human-in-the-loop pause hands back to the caller, what a resumed
run (in this process or another) continues from, and what a developer inspects.
"""

from __future__ import annotations

import uuid
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field

from ..errors import UserError
from ..guardrails import GuardrailResult
from ..items import FunctionCall, FunctionCallOutput, Item, RunUsage
from .commands import ApprovalDecision, ApprovalRequest, ServerTools

__all__ = ["PendingTools", "RunState", "ServerConversation"]

STATE_VERSION = 1


class PendingTools(BaseModel):
    """Tool calls of the last model response that are not finished yet."""

    model_config = ConfigDict(defer_build=True)

    calls: list[FunctionCall]
    handoff: FunctionCall | None = None
    handoff_target: str | None = None
    outputs: list[FunctionCallOutput] = Field(default_factory=list)

    def remaining(self) -> list[FunctionCall]:
        done = {output.call_id for output in self.outputs}
        return [call for call in self.calls if call.call_id not in done]


class ServerConversation(BaseModel):
    """The provider keeps this run's conversation (the Responses API's
    ``previous_response_id`` chain, or a ``conversation``), so each call sends
    only the items after the first ``sent`` of the run's items.

    Without ``conversation_id``, each call names the run's ``last_response_id``
    as the previous response (at the start, the one the caller gave).
    """

    model_config = ConfigDict(defer_build=True)

    conversation_id: str | None = None
    sent: int = 0


class RunState(BaseModel):
    """Where a run stands. Serialize with :meth:`to_json` (text) or :meth:`to_dict`
    (JSON data), restore with :meth:`from_json` (either) or :meth:`from_dict`.

    To answer a pause for approval, call :meth:`approve` or :meth:`reject` for
    each entry of ``interruptions``, then pass the state to ``Runner.run``.
    """

    model_config = ConfigDict(defer_build=True)

    version: int = STATE_VERSION
    run_id: str = Field(default_factory=lambda: uuid.uuid4().hex)
    starting_agent: str
    current_agent: str
    input: list[Item]
    generated: list[Item] = Field(default_factory=list)
    turn: int = 0
    max_turns: int = 10
    usage: RunUsage = Field(default_factory=RunUsage)
    status: Literal["running", "awaiting_approval", "completed"] = "running"
    pending: PendingTools | None = None
    interruptions: list[ApprovalRequest] = Field(default_factory=list)
    approvals: dict[str, ApprovalDecision] = Field(default_factory=dict)
    agent_started: bool = False
    used_tools: list[str] = Field(default_factory=list)
    output_retries: int = 0
    guardrail_results: list[GuardrailResult] = Field(default_factory=list)
    final_output: Any = None  # JSON data; typed again by the result
    final_output_tool: str | None = None  # the tool whose value is the final output
    last_response_id: str | None = None
    # tools and handoffs of the current agent whose is_enabled said no on this turn
    disabled_tools: list[str] = Field(default_factory=list)
    server_conversation: ServerConversation | None = None
    # agent name -> the tools its MCP servers offered when this run listed them
    server_tools: dict[str, list[ServerTools]] = Field(default_factory=dict)

    # ---------------------------------------------------------------- approvals

    def approve(self, call: str | ApprovalRequest) -> None:
        """Approve one pending tool call (by call id or request)."""
        self._decide(call, ApprovalDecision(approved=True))

    def reject(self, call: str | ApprovalRequest, *, reason: str | None = None) -> None:
        """Reject one pending tool call; the model is told, with ``reason`` if given."""
        self._decide(call, ApprovalDecision(approved=False, reason=reason))

    def _decide(self, call: str | ApprovalRequest, decision: ApprovalDecision) -> None:
        call_id = call if isinstance(call, str) else call.call_id
        if call_id not in {request.call_id for request in self.interruptions}:
            raise UserError(f"no tool call {call_id!r} is waiting for approval in this run")
        self.approvals[call_id] = decision

    # ----------------------------------------------------------- serialization

    def to_json(self) -> str:
        """The state as JSON text (for a JSON object, to nest or ``json.dump``, use
        :meth:`to_dict`)."""
        return self.model_dump_json()

    def to_dict(self) -> dict[str, Any]:
        """The state as JSON-compatible data: ``json.dump(state.to_dict(), f)``
        writes it once, where ``json.dump(state.to_json(), f)`` would encode a string."""
        return self.model_dump(mode="json")

    @classmethod
    def from_json(cls, data: str | bytes | dict[str, Any]) -> RunState:
        """Restore a state from :meth:`to_json`'s text or :meth:`to_dict`'s data."""
        if isinstance(data, dict):
            return cls.from_dict(data)
        return cls._checked(cls.model_validate_json(data))

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> RunState:
        """Restore a state from :meth:`to_dict`'s data (as ``json.load`` reads it)."""
        if not isinstance(data, dict):
            raise UserError(
                f"RunState.from_dict takes a dict, not {type(data).__name__}; "
                "for JSON text use RunState.from_json"
            )
        return cls._checked(cls.model_validate(data))

    @classmethod
    def _checked(cls, state: RunState) -> RunState:
        if state.version > STATE_VERSION:
            raise UserError(
                f"this run state has format version {state.version}; this Ascent reads "
                f"versions up to {STATE_VERSION} (upgrade Ascent to resume it)"
            )
        return state

    def remote_tool_names(self, agent: str) -> set[str]:
        """Names of the MCP tools this run listed for ``agent``."""
        return {tool.name for listed in self.server_tools.get(agent, ()) for tool in listed.tools}

    @property
    def items(self) -> list[Item]:
        """The whole conversation: input, then what this run produced."""
        return [*self.input, *self.generated]
