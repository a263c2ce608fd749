"""The exception tree. Catch ``AscentError`` broadly or a subclass narrowly.

::

    AscentError
    ├── UserError                 the program is set up wrongly (fix the code)
    │   ├── ProviderCapabilityError   e.g. hosted tools on a provider without them
    │   ├── AgentNotFound             no agent of that name is served
    │   ├── InvalidEvent              a message that cannot become a run (dead-lettered)
    │   └── MemoryNotFoundError       no memory of that id in that scope
    ├── RunNotFound               no such run (or it belongs to another tenant)
    ├── RunConflict               the run is not in a state to take that decision or cancellation
    ├── ModelError                the model could not be used
    │   ├── ModelAPIError             the provider failed (after retries)
    │   └── ModelBehaviorError        the model's output stayed unusable
    ├── ToolError                 a tool failed in a way the run cannot absorb
    │   └── ToolTimeoutError
    ├── GuardrailTripwireTriggered  a guardrail stopped the run
    │   ├── InputGuardrailTripwireTriggered
    │   ├── OutputGuardrailTripwireTriggered
    │   └── ToolGuardrailTripwireTriggered
    ├── MCPError                  an MCP server failed to start or its connection broke
    ├── EmbeddingError            an embedder failed or answered something unusable
    ├── MaxTurnsExceeded          the run used up ``max_turns``
    ├── RunTimeoutError           the run worked longer than ``RunConfig.run_timeout``
    └── PatternError              a multi-agent pattern could not finish
        └── BranchError               one branch of a parallel pattern failed

What the model gets wrong (an unknown tool, arguments that fail validation,
malformed JSON) is *not* raised: it goes back to the model as a tool error.
The service maps ``RunNotFound`` and ``AgentNotFound`` to 404 and
``RunConflict`` to 409, in one place.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from .items import Item

__all__ = [
    "AgentNotFound",
    "AscentError",
    "BranchError",
    "EmbeddingError",
    "GuardrailTripwireTriggered",
    "InputGuardrailTripwireTriggered",
    "InvalidEvent",
    "MCPError",
    "MaxTurnsExceeded",
    "MemoryNotFoundError",
    "ModelAPIError",
    "ModelBehaviorError",
    "ModelError",
    "OutputGuardrailTripwireTriggered",
    "PatternError",
    "ProviderCapabilityError",
    "RunConflict",
    "RunNotFound",
    "RunTimeoutError",
    "ToolError",
    "ToolGuardrailTripwireTriggered",
    "ToolTimeoutError",
    "UserError",
]


class AscentError(Exception):
    """Base of every error Ascent raises on purpose."""


class UserError(AscentError):
    """The program uses Ascent wrongly: a bad agent definition, an unknown model name."""


class ProviderCapabilityError(UserError):
    """An agent asks a provider for something it cannot do (hosted tools, for one)."""


class AgentNotFound(UserError):
    """No agent of that name is served (by a durable engine, the service, a registry)."""


class InvalidEvent(UserError):
    """A message that cannot become a run or a decision: not JSON, not a CloudEvent,
    too large, of an unknown type. The consumer dead-letters it with this reason."""


class MemoryNotFoundError(UserError):
    """No memory with that id in that scope (it may exist in another scope: we do not say)."""


class RunNotFound(AscentError):
    """No such run: the id is unknown, or belongs to another tenant.

    The two cases are deliberately indistinguishable, so one tenant cannot
    probe for another's run ids.
    """

    def __init__(self, run_id: str) -> None:
        super().__init__(f"no run with id {run_id!r}")
        self.run_id = run_id


class RunConflict(AscentError):
    """The run is not in a state to take this: a decision on a run that no longer
    waits for it (another decision won), a cancellation of a finished run.

    Not a programming error: between replicas, two callers can race for one run,
    and exactly one of them wins.
    """


class ModelError(AscentError):
    """The model could not produce a usable response."""


class ModelAPIError(ModelError):
    """The provider's API failed and retries did not help.

    ``status_code`` is the HTTP status when there was one; ``message`` is the
    provider's own message; ``attempts`` is how many calls were made.
    """

    def __init__(
        self,
        message: str,
        *,
        provider: str = "",
        status_code: int | None = None,
        attempts: int = 1,
        retryable: bool = False,
        retry_after: float | None = None,
    ) -> None:
        self.message = message
        self.provider = provider
        self.status_code = status_code
        self.attempts = attempts
        self.retryable = retryable
        self.retry_after = retry_after
        status = f" (HTTP {status_code})" if status_code is not None else ""
        where = f"{provider}: " if provider else ""
        tries = f" after {attempts} attempts" if attempts > 1 else ""
        super().__init__(f"{where}{message}{status}{tries}")


class ModelBehaviorError(ModelError):
    """The model kept producing output that could not be used (e.g. invalid structured output)."""


class ToolError(AscentError):
    """A tool failed. Inside a run this becomes a tool output the model sees."""


class ToolTimeoutError(ToolError):
    """A tool did not finish within its timeout."""


class GuardrailTripwireTriggered(AscentError):
    """A guardrail tripped. ``result`` is its verdict (``result.output_info`` holds
    what the guardrail reported, e.g. a classifier's structured output)."""

    def __init__(self, result: Any) -> None:
        self.result = result
        super().__init__(f"{result.stage} guardrail {result.name!r} tripped")


class InputGuardrailTripwireTriggered(GuardrailTripwireTriggered):
    """An input guardrail tripped; the model call beside it was cancelled."""


class OutputGuardrailTripwireTriggered(GuardrailTripwireTriggered):
    """An output guardrail rejected the final output."""


class ToolGuardrailTripwireTriggered(GuardrailTripwireTriggered):
    """A tool guardrail asked to stop the run."""


class MCPError(AscentError):
    """An MCP server could not be used: it failed to start, or its connection broke.

    Raised when a run starts (the run cannot list the server's tools); during a
    run, a broken connection becomes a tool error the model sees instead.
    """


class EmbeddingError(AscentError):
    """The embedder failed or answered something unusable (wrong count, wrong size)."""


class MaxTurnsExceeded(AscentError):
    """The run reached ``max_turns`` without a final output.

    ``items`` holds what the run produced so far and ``state`` the run state, so
    the caller can inspect the conversation or resume with a larger budget.
    """

    def __init__(self, max_turns: int, *, items: list[Item], state: Any = None) -> None:
        self.max_turns = max_turns
        self.items = items
        self.state = state
        super().__init__(f"the run reached max_turns={max_turns} without a final output")


class RunTimeoutError(AscentError):
    """The run spent longer than its ``run_timeout`` working (a hung model, a slow
    tool); time spent waiting for a person's approval does not count."""

    def __init__(self, seconds: float) -> None:
        self.seconds = seconds
        super().__init__(
            f"the run worked for more than {seconds:g}s without finishing "
            "(RunConfig.run_timeout); it was stopped"
        )


class PatternError(AscentError):
    """A multi-agent pattern (``ascent.patterns``) could not finish, e.g. a router
    chose a route that does not exist."""


class BranchError(PatternError):
    """One branch of a parallel pattern failed; its siblings were cancelled.

    ``branch`` names the branch, ``error`` is what it raised (also ``__cause__``).
    """

    def __init__(self, branch: str, error: BaseException) -> None:
        self.branch = branch
        self.error = error
        super().__init__(f"branch {branch!r} failed: {type(error).__name__}: {error}")
