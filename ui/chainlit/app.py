"""Ascent's chat front end: a Chainlit app over the Ascent service's HTTP API.

Run it next to a running service (``ascent serve ...``)::

    uv run --directory ui/chainlit chainlit run app.py --port 8001

``ASCENT_URL`` (default http://127.0.0.1:8000), ``ASCENT_API_KEY`` and
``ASCENT_AGENT`` (default: the first agent the service lists) say whom to talk
to. Each chat is one service session (the chat's thread id is the
``session_id``), so follow-up messages continue the conversation. Answers
stream in token by token, tool calls and handoffs show as steps, and tool calls
that need a person's approval ask with Approve / Reject buttons, then the run
goes on. ``/session ID`` switches the chat to an existing service session and
shows what was said in it.
"""

from __future__ import annotations

import contextlib
import json
import os
import re
from typing import Any

import chainlit as cl
from ascent_client import AscentClient, AscentError, Event
from chainlit.utils import utc_now

APPROVAL_TIMEOUT = float(os.environ.get("ASCENT_APPROVAL_TIMEOUT", "3600"))
SESSION_COMMAND = re.compile(r"^/session\s+(\S+)\s*$")


def _pretty(text: str) -> str:
    """JSON text indented for reading; anything else as it is."""
    try:
        return json.dumps(json.loads(text), indent=2, ensure_ascii=False)
    except (TypeError, ValueError):
        return text


def _message_text(item: dict[str, Any]) -> str:
    content = item.get("content", "")
    if isinstance(content, str):
        return content
    return "".join(part.get("text", "") for part in content if isinstance(part, dict))


class RunView:
    """Shows one conversation turn's run events in the chat: messages, steps, errors."""

    def __init__(self) -> None:
        self.run_id: str | None = None
        self.last_seq = 0
        self.record: dict[str, Any] | None = None
        self.messages: dict[str, cl.Message] = {}  # streamed message per item id (or agent)
        self.steps: dict[str, cl.Step] = {}  # tool or handoff step per call id
        self.answered = False

    async def show(self, event: Event) -> None:
        data = event.data
        if event.seq is not None:
            self.last_seq = event.seq
            self.run_id = data.get("run_id", self.run_id)
        if event.name == "run":
            self.record = data
            self.run_id = data.get("id", self.run_id)
            return
        body = data.get("data") or {}
        if event.name == "text_delta":
            await self._delta(body)
        elif event.name == "item":
            await self._item(body)
        elif event.name == "response_discarded":
            await self._discard(body)
        elif event.name == "run_failed":
            await cl.Message(content=f"The run failed: {body.get('error')}", author="Error").send()

    async def _delta(self, body: dict[str, Any]) -> None:
        if body.get("parent_call_id"):
            return  # an agent used as a tool: its words reach the chat as the tool's output
        key = body.get("item_id") or body.get("agent", "")
        message = self.messages.get(key)
        if message is None:
            author = body.get("agent", "Ascent")
            message = self.messages[key] = cl.Message(content="", author=author)
        await message.stream_token(body.get("delta", ""))

    async def _discard(self, body: dict[str, Any]) -> None:
        agent = body.get("agent")
        for key, message in list(self.messages.items()):
            if message.author == agent:
                await message.remove()
                del self.messages[key]

    async def _item(self, body: dict[str, Any]) -> None:
        name, item, agent = body.get("name"), body.get("item") or {}, body.get("agent", "Ascent")
        parent = self.steps.get(body.get("parent_call_id") or "")
        if name == "message":
            if parent is not None:
                return
            key = item.get("id") or agent
            message = self.messages.pop(key, None) or self.messages.pop(agent, None)
            if message is None:
                message = cl.Message(content=_message_text(item), author=agent)
                await message.send()
            else:
                await message.update()
            self.answered = True
        elif name in ("tool_call", "handoff_call", "hosted_tool_call"):
            handoff = name == "handoff_call"
            if parent is None:
                parent = cl.context.current_step  # the turn, so steps sit among its messages
            step = cl.Step(
                name=item.get("name", "tool"),
                type="tool",
                parent_id=parent.id if parent is not None else None,
                language="json",
            )
            step.metadata = {"agent": agent, "handoff": handoff}
            step.start = utc_now()
            step.input = _pretty(item.get("arguments", ""))
            await step.send()
            self.steps[item.get("call_id", step.id)] = step
        elif name in ("tool_output", "handoff"):
            step = self.steps.get(item.get("call_id", ""))
            if step is None:
                return
            if name == "handoff":
                # Plain words: Chainlit looks the step's avatar up by its name.
                step.name = f"Handoff to {item.get('handoff_to')}"
                step.output = f"{agent} hands the conversation to {item.get('handoff_to')}."
            else:
                step.output = _pretty(str(item.get("output", "")))
            step.is_error = bool(item.get("is_error"))
            step.end = utc_now()
            await step.update()

    async def close(self) -> None:
        """End any message still streaming (a run that stopped midway)."""
        for message in self.messages.values():
            await message.update()
        self.messages.clear()


def _client() -> AscentClient:
    client = cl.user_session.get("client")
    if client is None:
        client = AscentClient()
        cl.user_session.set("client", client)
    return client


async def _agent() -> str:
    agent = cl.user_session.get("agent")
    if not agent:
        agent = os.environ.get("ASCENT_AGENT") or ""
        if not agent:
            agents = await _client().agents()
            if not agents:
                raise AscentError("the Ascent service serves no agents")
            agent = agents[0]
        cl.user_session.set("agent", agent)
    return str(agent)


@cl.on_chat_start
async def start() -> None:
    cl.user_session.set("session_id", cl.context.session.thread_id)
    try:
        await _agent()
    except AscentError as exc:
        await cl.Message(content=str(exc), author="Error").send()


@cl.on_chat_resume
async def resume(thread: dict[str, Any]) -> None:
    """With Chainlit's data persistence on, a resumed thread continues its session."""
    cl.user_session.set("session_id", thread["id"])


@cl.on_stop
async def stop() -> None:
    run_id = cl.user_session.get("run_id")
    if run_id:
        with contextlib.suppress(AscentError):
            await _client().cancel(run_id)


@cl.on_chat_end
async def end() -> None:
    client = cl.user_session.get("client")
    if client is not None:
        await client.aclose()


@cl.on_message
async def on_message(message: cl.Message) -> None:
    command = SESSION_COMMAND.match(message.content)
    if command:
        await _switch_session(command.group(1))
        return
    client = _client()
    view = RunView()
    try:
        agent = await _agent()
        session_id = cl.user_session.get("session_id") or cl.context.session.thread_id
        events = client.start_run(agent, message.content, session_id)
        while True:
            async for event in events:
                await view.show(event)
                cl.user_session.set("run_id", view.run_id)
            await view.close()
            record = view.record or {}
            if record.get("status") != "awaiting_approval":
                break
            decisions = await _ask(record.get("pending_approvals") or [])
            if decisions is None:
                await cl.Message(
                    content="No decision came in time: the run waits for approval.",
                    author="Ascent",
                ).send()
                return
            await client.decide(record["id"], decisions)
            view.record = None
            events = client.follow(record["id"], after=view.last_seq)
    except AscentError as exc:
        await view.close()
        await cl.Message(content=str(exc), author="Error").send()
        return
    finally:
        cl.user_session.set("run_id", None)
    status = (view.record or {}).get("status")
    if status == "completed" and not view.answered and (view.record or {}).get("output"):
        await cl.Message(content=str(view.record["output"]), author=agent).send()
    elif status == "cancelled":
        await cl.Message(content="The run was cancelled.", author="Ascent").send()


async def _ask(requests: list[dict[str, Any]]) -> list[dict[str, Any]] | None:
    """Ask for a decision on each pending tool call; ``None`` if one never came."""
    decisions = []
    for request in requests:
        call_id = request["call_id"]
        arguments = _pretty(request.get("arguments", ""))
        answer = await cl.AskActionMessage(
            content=(
                f"**{request.get('agent', 'The agent')}** wants to call "
                f"`{request.get('tool_name')}`:\n```json\n{arguments}\n```\nApprove it?"
            ),
            actions=[
                cl.Action(name="approve", payload={"call_id": call_id}, label="Approve"),
                cl.Action(name="reject", payload={"call_id": call_id}, label="Reject"),
            ],
            author="Approval",
            timeout=APPROVAL_TIMEOUT,
        ).send()
        if answer is None:
            return None
        approved = answer.get("name") == "approve"
        decision: dict[str, Any] = {"call_id": call_id, "approved": approved}
        if not approved:
            decision["reason"] = "A person rejected this call in the chat."
        decisions.append(decision)
        verdict = "approved" if approved else "rejected"
        await cl.Message(content=f"`{request.get('tool_name')}` {verdict}.", author="You").send()
    return decisions


async def _switch_session(session_id: str) -> None:
    """Continue service session ``session_id`` in this chat, showing what was said."""
    items = await _client().session_items(session_id)
    cl.user_session.set("session_id", session_id)
    lines = []
    for item in items:
        if item.get("type") == "message" and item.get("role") in ("user", "assistant"):
            who = "You" if item["role"] == "user" else item.get("agent") or "Ascent"
            lines.append(f"**{who}:** {_message_text(item)}")
    said = "\n\n".join(lines) if lines else "(nothing yet)"
    await cl.Message(
        content=f"This chat now continues session `{session_id}`.\n\n{said}", author="Ascent"
    ).send()
