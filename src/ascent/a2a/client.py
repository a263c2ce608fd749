"""Call remote A2A agents: as a model, so tools, handoffs and streaming work unchanged.

:class:`RemoteAgent` is discovered through its card (the SDK's card resolver)
and talks through the SDK's client (``ClientFactory``). :class:`RemoteModel`
implements Ascent's ``Model`` protocol: each call sends the conversation's
latest user message to the remote agent and answers with what it returns,
streaming its text as deltas. ``RemoteAgent.as_agent()`` wraps that model in an
ordinary :class:`ascent.Agent`, so ``as_tool()`` and handoffs need nothing new.

A remote conversation is one A2A context: the model keeps the context id of its
last exchange, and the id of a task left waiting for input (an approval), so
the next call continues it. One ``RemoteAgent`` is therefore one conversation;
make another (or call :meth:`RemoteAgent.new_conversation`) for an independent one.
"""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from typing import Any

import httpx
from a2a.client import A2ACardResolver, ClientConfig, ClientFactory
from a2a.types import (
    AgentCard,
    Artifact,
    Role,
    SendMessageRequest,
    StreamResponse,
    Task,
    TaskState,
)
from a2a.types import Message as A2AMessage
from a2a.utils.errors import A2AError

from .._private.naming import slugify
from ..agent import Agent, AgentTool
from ..errors import ModelAPIError, UserError
from ..items import Message, Usage
from ..models.base import (
    ModelRequest,
    ModelResponse,
    ModelStreamEvent,
    ResponseCompleted,
    TextDelta,
)
from ._parts import content_to_parts, parts_to_text

__all__ = ["RemoteAgent", "RemoteModel"]

_DEFAULT_TIMEOUT = 300.0
_FAILED: dict[int, str] = {
    TaskState.TASK_STATE_FAILED: "failed",
    TaskState.TASK_STATE_REJECTED: "was rejected",
    TaskState.TASK_STATE_CANCELED: "was cancelled",
    TaskState.TASK_STATE_AUTH_REQUIRED: "requires authentication",
}


@dataclass(kw_only=True)
class RemoteAgent:
    """A remote A2A agent, known by its card. Build it with :meth:`from_card_url`.

    ``token`` is sent as ``Authorization: Bearer <token>``; ``timeout`` bounds
    each HTTP exchange (a streamed task may last longer between events only
    up to it).
    """

    card: AgentCard
    token: str | None = None
    timeout: float = _DEFAULT_TIMEOUT
    _model: RemoteModel | None = field(default=None, repr=False)

    @classmethod
    async def from_card_url(
        cls, url: str, *, token: str | None = None, timeout: float = _DEFAULT_TIMEOUT
    ) -> RemoteAgent:
        """Discover the agent at ``url``: its base URL or the card's own URL."""
        base, card_path = url, None
        if url.rstrip("/").endswith(".json"):
            base, _, card_path = url.rpartition("/.well-known/")
            card_path = f"/.well-known/{card_path}"
        async with httpx.AsyncClient(timeout=timeout) as http:
            resolver = A2ACardResolver(http, base)
            try:
                card = await resolver.get_agent_card(relative_card_path=card_path)
            except (A2AError, httpx.HTTPError) as exc:
                raise UserError(f"no A2A agent card at {url}: {exc}") from exc
        return cls(card=card, token=token, timeout=timeout)

    @property
    def name(self) -> str:
        return self.card.name

    @property
    def description(self) -> str:
        return self.card.description

    @property
    def model(self) -> RemoteModel:
        """The model that talks to this agent (one per ``RemoteAgent``: one conversation)."""
        if self._model is None:
            self._model = RemoteModel(self.card, token=self.token, timeout=self.timeout)
        return self._model

    def new_conversation(self) -> None:
        """Forget the remote context: the next message starts a new conversation."""
        self.model.context_id = None
        self.model.task_id = None

    def as_agent(self, *, name: str | None = None) -> Agent[Any]:
        """An Ascent agent whose model is this remote agent: use it as a handoff target."""
        return Agent(
            name=name or self.card.name,
            handoff_description=self.card.description or None,
            model=self.model,
        )

    def as_tool(
        self, *, name: str | None = None, description: str | None = None, **options: Any
    ) -> AgentTool:
        """This remote agent as a tool: the calling model sends a request, it answers."""
        return self.as_agent().as_tool(
            name=name or slugify(self.card.name),
            description=description or self.card.description or None,
            **options,
        )


class RemoteModel:
    """Ascent's ``Model`` protocol over A2A: one task of the remote agent per call."""

    supports_hosted_tools = False

    def __init__(
        self, card: AgentCard, *, token: str | None = None, timeout: float = _DEFAULT_TIMEOUT
    ) -> None:
        self.card = card
        self.name = f"a2a:{card.name}"
        self.timeout = timeout
        self._headers = {"Authorization": f"Bearer {token}"} if token else {}
        self.context_id: str | None = None
        self.task_id: str | None = None  # a remote task waiting for input, continued next call

    async def respond(self, request: ModelRequest) -> ModelResponse:
        response: ModelResponse | None = None
        async for event in self._exchange(request, streaming=False):
            if isinstance(event, ResponseCompleted):
                response = event.response
        assert response is not None
        return response

    def stream(self, request: ModelRequest) -> AsyncIterator[ModelStreamEvent]:
        return self._exchange(request, streaming=self.card.capabilities.streaming)

    async def _exchange(
        self, request: ModelRequest, *, streaming: bool
    ) -> AsyncIterator[ModelStreamEvent]:
        message = A2AMessage(
            role=Role.ROLE_USER,
            message_id=uuid.uuid4().hex,
            parts=content_to_parts(_latest_user_message(request, self.card.name)),
            context_id=self.context_id or "",
            task_id=self.task_id or "",
        )
        reply = _Reply()
        async with httpx.AsyncClient(headers=self._headers, timeout=self.timeout) as http:
            client = ClientFactory(ClientConfig(streaming=streaming, httpx_client=http)).create(
                self.card
            )
            try:
                async for event in client.send_message(SendMessageRequest(message=message)):
                    delta = reply.take(event)
                    if delta:
                        yield TextDelta(delta=delta)
            except (A2AError, httpx.HTTPError) as exc:
                self.task_id = None  # a waiting task that failed is not continued
                raise _api_error(exc, self.name) from exc
        self.context_id = reply.context_id or self.context_id
        waiting = reply.state == TaskState.TASK_STATE_INPUT_REQUIRED
        self.task_id = reply.task_id if waiting else None
        if reply.state in _FAILED:
            detail = f": {reply.status_text}" if reply.status_text else ""
            raise ModelAPIError(
                f"the remote task {_FAILED[reply.state]}{detail}", provider=self.name
            )
        text, already_streamed = reply.final()
        if text and not already_streamed:
            yield TextDelta(delta=text)
        yield ResponseCompleted(
            response=ModelResponse(
                output=[Message.assistant(text)], usage=Usage(requests=1), model=self.name
            )
        )


def _api_error(exc: Exception, provider: str) -> ModelAPIError:
    """The SDK's error (an HTTP status, a JSON-RPC error) as Ascent's model API error."""
    cause = exc if isinstance(exc, httpx.HTTPStatusError) else exc.__cause__
    status = cause.response.status_code if isinstance(cause, httpx.HTTPStatusError) else None
    message = str(exc) or type(exc).__name__
    if status is not None:
        message = f"HTTP {status} from {cause.request.url}"  # type: ignore[union-attr]
    return ModelAPIError(message, provider=provider, status_code=status)


def _latest_user_message(request: ModelRequest, remote: str) -> Message:
    for item in reversed(request.input):
        if isinstance(item, Message) and item.role == "user":
            return item
    raise UserError(
        f"nothing to send to the remote agent {remote!r}: the conversation has no user message"
    )


@dataclass
class _Reply:
    """What a remote agent answered, assembled from a task, its updates, or a message."""

    task_id: str = ""
    context_id: str = ""
    state: int = TaskState.TASK_STATE_UNSPECIFIED
    status_text: str = ""
    message_text: str | None = None
    artifacts: dict[str, list[str]] = field(default_factory=dict)
    streamed: bool = False

    def take(self, event: StreamResponse) -> str:
        """Fold one event in; returns the text to stream now, if any."""
        kind = event.WhichOneof("payload")
        if kind == "message":
            self.context_id = event.message.context_id or self.context_id
            self.message_text = parts_to_text(event.message.parts)
        elif kind == "task":
            self._task(event.task)
        elif kind == "status_update":
            update = event.status_update
            self.task_id, self.context_id = update.task_id, update.context_id
            self.state = update.status.state
            if update.status.HasField("message"):
                self.status_text = parts_to_text(update.status.message.parts)
        elif kind == "artifact_update":
            artifact = event.artifact_update
            self.task_id, self.context_id = artifact.task_id, artifact.context_id
            return self._artifact(artifact.artifact, append=artifact.append)
        return ""

    def _task(self, task: Task) -> None:
        self.task_id, self.context_id = task.id, task.context_id
        self.state = task.status.state
        if task.status.HasField("message"):
            self.status_text = parts_to_text(task.status.message.parts)
        for artifact in task.artifacts:
            self.artifacts[artifact.artifact_id] = [parts_to_text(artifact.parts)]

    def _artifact(self, artifact: Artifact, *, append: bool) -> str:
        chunk = parts_to_text(artifact.parts)
        if append and artifact.artifact_id in self.artifacts:
            self.artifacts[artifact.artifact_id].append(chunk)
            self.streamed = True
            return chunk
        seen = artifact.artifact_id in self.artifacts and self.streamed
        self.artifacts[artifact.artifact_id] = [chunk]
        if seen:
            return ""  # the final replacement of text already streamed
        self.streamed = True
        return chunk

    def final(self) -> tuple[str, bool]:
        """The answer's text, and whether it already went out as deltas.

        A direct message, or the status message of a task waiting for input
        (an approval question), is the answer; otherwise the artifacts are.
        """
        if self.message_text is not None:
            return self.message_text, False
        if self.state == TaskState.TASK_STATE_INPUT_REQUIRED or not self.artifacts:
            return self.status_text, False
        return "\n".join("".join(chunks) for chunks in self.artifacts.values()), self.streamed
