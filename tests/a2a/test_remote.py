"""Remote A2A agents as tools and handoff targets, over real loopback servers."""

from __future__ import annotations

import base64
import json
from collections.abc import Callable
from typing import Any

import pytest
from a2a.helpers import new_text_message
from a2a.server.agent_execution import AgentExecutor, RequestContext
from a2a.server.events import EventQueue
from a2a.server.request_handlers import DefaultRequestHandler
from a2a.server.routes import create_agent_card_routes, create_jsonrpc_routes
from a2a.server.tasks import InMemoryTaskStore
from a2a.types import AgentCapabilities, AgentCard, AgentInterface, AgentSkill
from pydantic import BaseModel
from starlette.applications import Starlette

from ascent import Agent, ModelAPIError, Runner, UserError, function_tool
from ascent.a2a import RemoteAgent, create_a2a_app
from ascent.items import InputFile, InputText, Message
from ascent.run import ItemEvent, TextDeltaEvent
from ascent.testing import LoopbackServer, ScriptedModel, Step, ToolCall

from .test_server import final_task, sdk_client, send

Serve = Callable[[Any], str]


def specialist(model: ScriptedModel, **options: Any) -> Agent[Any]:
    return Agent(
        name="Specialist",
        handoff_description="Knows everything about shipping.",
        model=model,
        **options,
    )


# ------------------------------------------------------------------ as a tool


@pytest.mark.parametrize("streamed", [False, True])
async def test_a_remote_agent_as_a_tool(serve: Serve, streamed: bool) -> None:
    remote_model = ScriptedModel([Step(text="Ships on Monday.", chunks=3)])
    remote = await RemoteAgent.from_card_url(serve(create_a2a_app(specialist(remote_model))))
    assert remote.name == "Specialist"
    model = ScriptedModel([ToolCall("specialist", {"input": "When does A-1 ship?"}), "Monday."])
    agent = Agent(name="Front", model=model, tools=[remote.as_tool()])

    if streamed:
        run = Runner.run_streamed(agent, "When does my order ship?")
        events = [event async for event in run.stream_events()]
        result = run.result
        deltas = [e for e in events if isinstance(e, TextDeltaEvent) and e.agent == "Specialist"]
        assert "".join(e.delta for e in deltas) == "Ships on Monday."
        assert len(deltas) == 3  # the remote's own chunks, as they came
        assert all(e.parent_call_id is not None for e in deltas)
    else:
        result = await Runner.run(agent, "When does my order ship?")

    assert result.final_output == "Monday."
    assert model.requests[1].input[-1].output == "Ships on Monday."
    (sent,) = [i for i in remote_model.requests[0].input if isinstance(i, Message)]
    assert sent.content == [InputText(text="When does A-1 ship?")]
    assert remote.model.context_id  # kept for the next exchange


async def test_two_ascent_servers_one_calls_the_other(serve: Serve) -> None:
    back = ScriptedModel(["Stock: 12 units."])
    remote = await RemoteAgent.from_card_url(serve(create_a2a_app(specialist(back))))
    front_model = ScriptedModel([ToolCall("specialist", {"input": "stock of X?"}), "12 left."])
    front = Agent(name="Front", model=front_model, tools=[remote.as_tool()])
    client = await sdk_client(serve(create_a2a_app(front)), streaming=False)

    task = final_task(await send(client, *[_text("How many X are left?")]))

    assert [part.text for part in task.artifacts[0].parts] == ["12 left."]
    assert front_model.requests[1].input[-1].output == "Stock: 12 units."
    back.assert_done()
    await client.close()


def _text(text: str) -> Any:
    from a2a.helpers import new_text_part

    return new_text_part(text)


class Quote(BaseModel):
    item: str
    price: int


async def test_a_remote_structured_output_reaches_the_caller_as_json(serve: Serve) -> None:
    back = specialist(ScriptedModel([Quote(item="tent", price=250)]), output_type=Quote)
    remote = await RemoteAgent.from_card_url(serve(create_a2a_app(back)))
    model = ScriptedModel([ToolCall("specialist", {"input": "price of a tent"}), "250."])
    await Runner.run(Agent(name="Front", model=model, tools=[remote.as_tool()]), "tent?")
    assert json.loads(model.requests[1].input[-1].output) == {"item": "tent", "price": 250}


# ---------------------------------------------------------------- as a handoff


@pytest.mark.parametrize("streamed", [False, True])
async def test_a_remote_agent_as_a_handoff_target(serve: Serve, streamed: bool) -> None:
    back = ScriptedModel([Step(text="I will take it from here.", chunks=2), "Still here."])
    remote = await RemoteAgent.from_card_url(serve(create_a2a_app(specialist(back))))
    triage = Agent(
        name="Triage",
        model=ScriptedModel([ToolCall("transfer_to_specialist", {})]),
        handoffs=[remote.as_agent()],
    )

    if streamed:
        run = Runner.run_streamed(triage, "Shipping question")
        events = [event async for event in run.stream_events()]
        result = run.result
        deltas = [e.delta for e in events if isinstance(e, TextDeltaEvent)]
        assert len(deltas) == 2 and "".join(deltas) == "I will take it from here."
        assert any(isinstance(e, ItemEvent) and e.name == "handoff" for e in events)
    else:
        result = await Runner.run(triage, "Shipping question")

    assert result.final_output == "I will take it from here."
    assert result.last_agent.name == "Specialist"

    # a follow-up goes to the same remote conversation, which remembers the first
    follow_up = await Runner.run(result.last_agent, [*result.to_input_list(), _user("And?")])
    assert follow_up.final_output == "Still here."
    remembered = [i.text for i in back.requests[1].input if isinstance(i, Message)]
    assert remembered == ["Shipping question", "I will take it from here.", "And?"]


def _user(text: str) -> Message:
    return Message(role="user", content=text)


async def test_files_go_to_the_remote_agent_as_file_parts(serve: Serve) -> None:
    back = ScriptedModel(["Got the file."])
    remote = await RemoteAgent.from_card_url(serve(create_a2a_app(specialist(back))))
    data_url = "data:text/csv;base64," + base64.b64encode(b"a,b\n1,2\n").decode()
    message = Message(
        role="user",
        content=[InputText(text="Summarize"), InputFile(file_data=data_url, filename="t.csv")],
    )
    result = await Runner.run(remote.as_agent(), [message])
    assert result.final_output == "Got the file."
    (received,) = [i for i in back.requests[0].input if isinstance(i, Message)]
    assert received.content == [
        InputText(text="Summarize"),
        InputFile(file_data=data_url, filename="t.csv"),
    ]


async def test_a_remote_approval_is_answered_in_the_same_task(serve: Serve) -> None:
    ran: list[str] = []

    @function_tool(needs_approval=True)
    def refund(order_id: str) -> str:
        """Refund an order."""
        ran.append(order_id)
        return "refunded"

    back = ScriptedModel([ToolCall("refund", {"order_id": "A-3"}), "Refunded A-3."])
    app = create_a2a_app(specialist(back, tools=[refund]))
    remote = await RemoteAgent.from_card_url(serve(app))
    agent = remote.as_agent()

    first = await Runner.run(agent, "Refund A-3")
    assert "Approval needed" in first.final_output and ran == []
    waiting = remote.model.task_id
    assert waiting

    second = await Runner.run(agent, [*first.to_input_list(), _user("yes")])
    assert second.final_output == "Refunded A-3."
    assert ran == ["A-3"]
    assert remote.model.task_id is None  # that task is finished


# ------------------------------------------------------------------------ auth


async def test_the_client_sends_its_bearer_token(serve: Serve) -> None:
    url = serve(create_a2a_app(specialist(ScriptedModel(["ok"])), token="t0ken"))
    good = await RemoteAgent.from_card_url(url, token="t0ken")  # the card itself is public
    assert (await Runner.run(good.as_agent(), "hi")).final_output == "ok"

    for token in (None, "wrong"):
        bad = await RemoteAgent.from_card_url(url, token=token)
        with pytest.raises(ModelAPIError) as caught:
            await Runner.run(bad.as_agent(), "hi")
        assert caught.value.status_code == 401


async def test_a_missing_card_is_a_clear_error(serve: Serve) -> None:
    url = serve(Starlette())
    with pytest.raises(UserError, match="no A2A agent card"):
        await RemoteAgent.from_card_url(url)


# ------------------------------------------------ interop: a plain SDK server


class EchoExecutor(AgentExecutor):
    """An echo agent written with a2a-sdk alone: it answers with one message."""

    async def execute(self, context: RequestContext, event_queue: EventQueue) -> None:
        await event_queue.enqueue_event(
            new_text_message(f"echo: {context.get_user_input()}", context_id=context.context_id)
        )

    async def cancel(self, context: RequestContext, event_queue: EventQueue) -> None:
        raise NotImplementedError


def echo_app(url: str, *, streaming: bool) -> Starlette:
    card = AgentCard(
        name="Echo",
        description="Repeats what it is told.",
        version="1.0.0",
        supported_interfaces=[AgentInterface(url=url, protocol_binding="JSONRPC")],
        capabilities=AgentCapabilities(streaming=streaming),
        default_input_modes=["text/plain"],
        default_output_modes=["text/plain"],
        skills=[AgentSkill(id="echo", name="echo", description="Echo", tags=["echo"])],
    )
    handler = DefaultRequestHandler(
        agent_executor=EchoExecutor(), task_store=InMemoryTaskStore(), agent_card=card
    )
    routes = create_agent_card_routes(card) + create_jsonrpc_routes(handler, rpc_url="/")
    return Starlette(routes=routes)


@pytest.mark.parametrize("streaming", [False, True])
async def test_an_ascent_agent_calls_a_plain_sdk_echo_server(serve: Serve, streaming: bool) -> None:
    # the card names the server's URL, known once it listens: the app is made then
    inner: list[Starlette] = []

    async def app(scope: Any, receive: Any, send: Any) -> None:
        await inner[0](scope, receive, send)

    url = serve(app)
    inner.append(echo_app(url + "/", streaming=streaming))

    echo = await RemoteAgent.from_card_url(url)
    model = ScriptedModel([ToolCall("echo", {"input": "hello there"}), "It said hello."])
    agent = Agent(name="Caller", model=model, tools=[echo.as_tool()])
    run = Runner.run_streamed(agent, "Say hello to the echo agent")
    events = [event async for event in run.stream_events()]
    assert run.result.final_output == "It said hello."
    assert model.requests[1].input[-1].output == "echo: hello there"
    deltas = [e.delta for e in events if isinstance(e, TextDeltaEvent) and e.agent == "Echo"]
    assert deltas == ["echo: hello there"]


async def test_an_unreachable_remote_is_a_tool_error_the_model_sees(serve: Serve) -> None:
    server = LoopbackServer(create_a2a_app(specialist(ScriptedModel([])))).start()
    remote = await RemoteAgent.from_card_url(server.url)
    server.stop()  # the remote agent goes away after discovery
    model = ScriptedModel([ToolCall("specialist", {"input": "hi"}), "It is not answering."])
    result = await Runner.run(Agent(name="Front", model=model, tools=[remote.as_tool()]), "hi")
    assert result.final_output == "It is not answering."
    output = model.requests[1].input[-1]
    assert output.is_error and "ModelAPIError" in output.output
