"""Ascent agents served over A2A, driven by a client built only from a2a-sdk's own classes."""

from __future__ import annotations

import asyncio
import base64
import json
import uuid
from collections.abc import AsyncIterator, Callable
from typing import Any

import httpx
import pytest
from a2a.client import A2ACardResolver, Client, ClientConfig, ClientFactory
from a2a.helpers import new_data_part, new_raw_part, new_text_part, new_url_part
from a2a.types import (
    CancelTaskRequest,
    GetTaskRequest,
    Message,
    Part,
    Role,
    SendMessageConfiguration,
    SendMessageRequest,
    StreamResponse,
    SubscribeToTaskRequest,
    Task,
    TaskNotFoundError,
    TaskState,
)
from google.protobuf.json_format import MessageToDict
from pydantic import BaseModel

from ascent import Agent, function_tool
from ascent.a2a import create_a2a_app
from ascent.a2a._parts import data_of
from ascent.items import InputFile, InputImage, InputText
from ascent.items import Message as AscentMessage
from ascent.testing import ScriptedModel, Step, ToolCall

Serve = Callable[[Any], str]


def user_message(*parts: Part, task_id: str = "", context_id: str = "") -> Message:
    return Message(
        role=Role.ROLE_USER,
        message_id=uuid.uuid4().hex,
        parts=list(parts),
        task_id=task_id,
        context_id=context_id,
    )


async def sdk_client(url: str, *, streaming: bool = True, token: str | None = None) -> Client:
    headers = {"Authorization": f"Bearer {token}"} if token else {}
    http = httpx.AsyncClient(headers=headers, timeout=30)
    card = await A2ACardResolver(http, url).get_agent_card()
    return ClientFactory(ClientConfig(streaming=streaming, httpx_client=http)).create(card)


async def collect(stream: AsyncIterator[StreamResponse]) -> list[StreamResponse]:
    return [event async for event in stream]


async def send(client: Client, *parts: Part, **ids: str) -> list[StreamResponse]:
    request = SendMessageRequest(message=user_message(*parts, **ids))
    return await collect(client.send_message(request))


def final_task(events: list[StreamResponse]) -> Task:
    (event,) = events
    assert event.WhichOneof("payload") == "task"
    return event.task


def answer_of(task: Task) -> list[Part]:
    (artifact,) = task.artifacts
    assert artifact.artifact_id == "answer"
    return list(artifact.parts)


# ---------------------------------------------------------------- plain runs


async def test_send_message_runs_the_agent_and_get_task_reads_it_back(serve: Serve) -> None:
    @function_tool
    def order_status(order_id: str) -> str:
        """Where an order is."""
        return f"{order_id} shipped"

    model = ScriptedModel([ToolCall("order_status", {"order_id": "A-1"}), "A-1 has shipped."])
    agent = Agent(name="Support", model=model, tools=[order_status])
    url = serve(create_a2a_app(agent))
    client = await sdk_client(url, streaming=False)

    task = final_task(await send(client, new_text_part("Where is A-1?")))

    assert task.status.state == TaskState.TASK_STATE_COMPLETED
    assert [part.text for part in answer_of(task)] == ["A-1 has shipped."]
    assert model.requests[1].input[-1].output == "A-1 shipped"  # the tool really ran
    history = [MessageToDict(message) for message in task.history]
    assert any("Support calls order_status" in str(message) for message in history)

    stored = await client.get_task(GetTaskRequest(id=task.id))
    assert stored.status.state == TaskState.TASK_STATE_COMPLETED
    assert [part.text for part in answer_of(stored)] == ["A-1 has shipped."]
    await client.close()


async def test_another_replica_on_the_same_database_answers_get_task(serve: Serve) -> None:
    agent = Agent(name="Echo", model=ScriptedModel(["done"]))
    first = await sdk_client(serve(create_a2a_app(agent)), streaming=False)
    task = final_task(await send(first, new_text_part("hi")))

    replica = await sdk_client(serve(create_a2a_app(Agent(name="Echo"))), streaming=False)
    stored = await replica.get_task(GetTaskRequest(id=task.id))
    assert stored.status.state == TaskState.TASK_STATE_COMPLETED
    assert [part.text for part in answer_of(stored)] == ["done"]
    with pytest.raises(TaskNotFoundError):
        await replica.get_task(GetTaskRequest(id="no-such-task"))
    await first.close()
    await replica.close()


async def test_streaming_sends_status_updates_and_answer_chunks(serve: Serve) -> None:
    @function_tool
    def lookup(topic: str) -> str:
        """Look a topic up."""
        return "42"

    model = ScriptedModel(
        [ToolCall("lookup", {"topic": "life"}), Step(text="The answer is 42.", chunks=4)]
    )
    url = serve(create_a2a_app(Agent(name="Oracle", model=model, tools=[lookup])))
    client = await sdk_client(url)

    events = await send(client, new_text_part("What is the answer?"))
    kinds = [event.WhichOneof("payload") for event in events]

    assert kinds[0] == "task"
    states = [e.status_update.status.state for e in events if e.HasField("status_update")]
    assert states[0] == TaskState.TASK_STATE_WORKING
    assert states[-1] == TaskState.TASK_STATE_COMPLETED
    working = [
        e.status_update.status.message.parts[0].text
        for e in events
        if e.HasField("status_update") and e.status_update.status.HasField("message")
    ]
    assert working == ['Oracle calls lookup with {"topic": "life"}']
    chunks = [e.artifact_update for e in events if e.HasField("artifact_update")]
    streamed = [c for c in chunks if not c.last_chunk]
    assert len(streamed) == 4  # the model's deltas, as they came
    assert [c.append for c in streamed] == [False, True, True, True]
    assert "".join(c.artifact.parts[0].text for c in streamed) == "The answer is 42."
    assert chunks[-1].last_chunk and not chunks[-1].append  # the final answer replaces them
    stored = await client.get_task(GetTaskRequest(id=events[0].task.id))
    assert [part.text for part in answer_of(stored)] == ["The answer is 42."]
    await client.close()


async def test_a_failing_run_fails_the_task_with_the_error(serve: Serve) -> None:
    from ascent import ModelBehaviorError

    model = ScriptedModel([ModelBehaviorError("the model produced nonsense")])
    client = await sdk_client(serve(create_a2a_app(Agent(name="Broken", model=model))))
    events = await send(client, new_text_part("hello"))
    last = events[-1].status_update.status
    assert last.state == TaskState.TASK_STATE_FAILED
    assert "the model produced nonsense" in last.message.parts[0].text
    await client.close()


# ------------------------------------------------------------------- parts


async def test_data_and_file_parts_reach_the_agent(serve: Serve) -> None:
    model = ScriptedModel(["received"])
    client = await sdk_client(serve(create_a2a_app(Agent(name="Reader", model=model))))
    pdf = b"%PDF-1.4 tiny"
    await send(
        client,
        new_text_part("Please read these."),
        new_data_part({"order": "A-1", "quantity": 3, "tags": ["x"]}),
        new_raw_part(pdf, "application/pdf", "spec.pdf"),
        new_url_part("https://example.com/cat.png", "image/png", "cat.png"),
    )

    (message,) = [item for item in model.requests[0].input if isinstance(item, AscentMessage)]
    text, data, file, image = message.content  # type: ignore[misc]
    assert text == InputText(text="Please read these.")
    assert isinstance(data, InputText)  # as JSON text, whole numbers still whole
    assert json.loads(data.text) == {"order": "A-1", "quantity": 3, "tags": ["x"]}
    assert isinstance(file, InputFile) and file.filename == "spec.pdf"
    assert file.file_data == "data:application/pdf;base64," + base64.b64encode(pdf).decode()
    assert image == InputImage(image_url="https://example.com/cat.png")
    await client.close()


class Invoice(BaseModel):
    number: str
    total: int


async def test_a_structured_output_comes_back_as_a_data_part(serve: Serve) -> None:
    model = ScriptedModel([Invoice(number="INV-7", total=120)])
    agent = Agent(name="Billing", model=model, output_type=Invoice)
    client = await sdk_client(serve(create_a2a_app(agent)), streaming=False)

    task = final_task(await send(client, new_text_part("Invoice for A-1?")))

    (part,) = answer_of(task)
    assert part.WhichOneof("content") == "data"
    assert data_of(part) == {"number": "INV-7", "total": 120}
    await client.close()


# --------------------------------------------------------------- approvals


def approval_agent(ran: list[str], model: ScriptedModel) -> Agent[Any]:
    @function_tool(needs_approval=True)
    def refund(order_id: str) -> str:
        """Refund an order."""
        ran.append(order_id)
        return f"refunded {order_id}"

    return Agent(name="Billing", model=model, tools=[refund])


async def test_approval_pauses_in_input_required_and_yes_resumes(serve: Serve) -> None:
    ran: list[str] = []
    model = ScriptedModel([ToolCall("refund", {"order_id": "A-9"}), "Refund done."])
    client = await sdk_client(serve(create_a2a_app(approval_agent(ran, model))))

    events = await send(client, new_text_part("Refund A-9"))
    paused = events[-1].status_update
    assert paused.status.state == TaskState.TASK_STATE_INPUT_REQUIRED
    question, details = paused.status.message.parts
    assert "refund" in question.text and "yes or no" in question.text
    assert data_of(details)["approvals"][0]["tool_name"] == "refund"
    assert ran == []

    # something that is not an answer keeps the task waiting, and changes nothing
    events = await send(
        client, new_text_part("what?"), task_id=paused.task_id, context_id=paused.context_id
    )
    assert events[-1].status_update.status.state == TaskState.TASK_STATE_INPUT_REQUIRED
    assert "not an answer" in events[-1].status_update.status.message.parts[0].text
    assert ran == []

    events = await send(
        client,
        new_data_part({"approve": True}),
        task_id=paused.task_id,
        context_id=paused.context_id,
    )
    assert events[-1].status_update.status.state == TaskState.TASK_STATE_COMPLETED
    assert ran == ["A-9"]
    task = await client.get_task(GetTaskRequest(id=paused.task_id))
    assert [part.text for part in answer_of(task)] == ["Refund done."]
    model.assert_done()
    await client.close()


async def test_no_rejects_the_call_and_the_model_is_told(serve: Serve) -> None:
    ran: list[str] = []
    model = ScriptedModel([ToolCall("refund", {"order_id": "A-9"}), "No refund then."])
    client = await sdk_client(serve(create_a2a_app(approval_agent(ran, model))), streaming=False)

    paused = final_task(await send(client, new_text_part("Refund A-9")))
    assert paused.status.state == TaskState.TASK_STATE_INPUT_REQUIRED
    done = final_task(
        await send(client, new_text_part("no"), task_id=paused.id, context_id=paused.context_id)
    )

    assert done.status.state == TaskState.TASK_STATE_COMPLETED
    assert ran == []
    assert "reject" in model.requests[1].input[-1].output.lower()
    await client.close()


async def test_a_follow_up_naming_only_the_task_continues_in_its_context(serve: Serve) -> None:
    ran: list[str] = []
    model = ScriptedModel([ToolCall("refund", {"order_id": "A-9"}), "Refund done."])
    client = await sdk_client(serve(create_a2a_app(approval_agent(ran, model))), streaming=False)
    paused = final_task(await send(client, new_text_part("Refund A-9")))
    assert paused.status.state == TaskState.TASK_STATE_INPUT_REQUIRED

    # no contextId on either follow-up: the task's own context is the one continued
    waiting = final_task(await send(client, new_text_part("what?"), task_id=paused.id))
    assert waiting.status.state == TaskState.TASK_STATE_INPUT_REQUIRED
    assert waiting.context_id == paused.context_id
    done = final_task(await send(client, new_text_part("yes"), task_id=paused.id))

    assert done.status.state == TaskState.TASK_STATE_COMPLETED
    assert done.context_id == paused.context_id
    assert ran == ["A-9"]
    stored = await client.get_task(GetTaskRequest(id=paused.id))
    assert {message.context_id for message in stored.history} == {paused.context_id}
    await client.close()


# ------------------------------------------------------- cancel, subscribe


async def test_cancelling_a_task_waiting_for_approval_drops_the_paused_run(serve: Serve) -> None:
    from ascent.a2a import SQLTaskStore

    ran: list[str] = []
    model = ScriptedModel([ToolCall("refund", {"order_id": "A-9"})])
    client = await sdk_client(serve(create_a2a_app(approval_agent(ran, model))), streaming=False)
    paused = final_task(await send(client, new_text_part("Refund A-9")))
    assert await SQLTaskStore().load_run_state(paused.id) is not None

    cancelled = await client.cancel_task(CancelTaskRequest(id=paused.id))

    assert cancelled.status.state == TaskState.TASK_STATE_CANCELED
    assert await SQLTaskStore().load_run_state(paused.id) is None
    assert ran == []
    await client.close()


async def test_cancel_really_cancels_the_run(serve: Serve) -> None:
    started = asyncio.Event()
    finished: list[str] = []
    cancelled: list[str] = []
    loop = asyncio.get_running_loop()

    @function_tool
    async def slow_report(topic: str) -> str:
        """Write a long report."""
        loop.call_soon_threadsafe(started.set)  # the server runs in its own thread and loop
        try:
            await asyncio.sleep(30)
        except asyncio.CancelledError:
            cancelled.append(topic)
            raise
        finished.append(topic)
        return "report"

    model = ScriptedModel([ToolCall("slow_report", {"topic": "sales"}), "never said"])
    agent = Agent(name="Writer", model=model, tools=[slow_report])
    client = await sdk_client(serve(create_a2a_app(agent)), streaming=False)
    config = SendMessageConfiguration(return_immediately=True)  # answer at once, run on
    message = user_message(new_text_part("report"))
    request = SendMessageRequest(message=message, configuration=config)
    (first,) = await collect(client.send_message(request))
    task_id = first.task.id
    await asyncio.wait_for(started.wait(), 10)

    cancelled_task = await client.cancel_task(CancelTaskRequest(id=task_id))

    assert cancelled_task.status.state == TaskState.TASK_STATE_CANCELED
    assert cancelled == ["sales"] and finished == []
    assert model.remaining == 1  # the model was never called again
    stored = await client.get_task(GetTaskRequest(id=task_id))
    assert stored.status.state == TaskState.TASK_STATE_CANCELED
    await client.close()


async def test_subscribe_to_task_follows_a_running_task(serve: Serve) -> None:
    model = ScriptedModel([Step(text="slow answer", delay=0.3)])
    url = serve(create_a2a_app(Agent(name="Slow", model=model)))
    sender = await sdk_client(url, streaming=False)
    config = SendMessageConfiguration(return_immediately=True)
    request = SendMessageRequest(message=user_message(new_text_part("go")), configuration=config)
    (first,) = await collect(sender.send_message(request))
    assert first.task.status.state != TaskState.TASK_STATE_COMPLETED

    watcher = await sdk_client(url)
    events = await collect(watcher.subscribe(SubscribeToTaskRequest(id=first.task.id)))

    assert events[0].task.id == first.task.id
    assert events[-1].status_update.status.state == TaskState.TASK_STATE_COMPLETED
    chunks = [e.artifact_update for e in events if e.HasField("artifact_update")]
    texts = [chunk.artifact.parts[0].text for chunk in chunks]
    assert texts[-1] == "slow answer"
    await sender.close()
    await watcher.close()


# --------------------------------------------------------------------- auth


async def test_bearer_token_is_required_except_for_the_card(serve: Serve) -> None:
    agent = Agent(name="Private", model=ScriptedModel(["secret answer", "second answer"]))
    url = serve(create_a2a_app(agent, token="s3cret"))
    body = {
        "jsonrpc": "2.0",
        "id": 1,
        "method": "SendMessage",
        "params": {"message": {"role": "ROLE_USER", "messageId": "m1", "parts": [{"text": "hi"}]}},
    }
    async with httpx.AsyncClient(base_url=url, headers={"A2A-Version": "1.0"}) as http:
        assert (await http.get("/.well-known/agent-card.json")).status_code == 200
        assert (await http.get("/.well-known/agent.json")).status_code == 200
        missing = await http.post("/", json=body)
        assert missing.status_code == 401 and missing.json() == {"error": "missing bearer token"}
        wrong = await http.post("/", json=body, headers={"Authorization": "Bearer nope"})
        assert wrong.status_code == 401 and wrong.json() == {"error": "invalid bearer token"}
        basic = await http.post("/", json=body, headers={"Authorization": "Basic s3cret"})
        assert basic.status_code == 401
        good = await http.post("/", json=body, headers={"Authorization": "Bearer s3cret"})
        assert good.status_code == 200
        assert good.json()["result"]["task"]["status"]["state"] == "TASK_STATE_COMPLETED"

    client = await sdk_client(url, token="s3cret", streaming=False)
    task = final_task(await send(client, new_text_part("again")))
    assert task.status.state == TaskState.TASK_STATE_COMPLETED
    await client.close()


async def test_a_v0_3_client_is_understood_on_the_same_endpoint(serve: Serve) -> None:
    agent = Agent(name="Old", model=ScriptedModel(["old-style answer"]))
    url = serve(create_a2a_app(agent, a2a_v03_compat=True))
    message = {"role": "user", "messageId": "m1", "kind": "message", "parts": []}
    message["parts"] = [{"kind": "text", "text": "hi"}]
    body = {"jsonrpc": "2.0", "id": 1, "method": "message/send", "params": {"message": message}}
    async with httpx.AsyncClient(base_url=url) as http:  # no A2A-Version header: v0.3
        card = (await http.get("/.well-known/agent.json")).json()
        reply = (await http.post("/", json=body)).json()
    assert card["url"] == url + "/" and card["protocolVersion"] == "0.3"
    assert reply["result"]["status"]["state"] == "completed"
    assert reply["result"]["artifacts"][0]["parts"] == [
        {"kind": "text", "text": "old-style answer"}
    ]
