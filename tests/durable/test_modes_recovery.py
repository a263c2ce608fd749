"""``run`` durability survives ``kill -9`` too: it re-runs from its last checkpoint.

The engines run in child processes with ``ASCENT_DURABILITY=run``; the mock
model server in this process counts every model call, so each test shows what
a crash repeats: what came after the last checkpoint (here, the run's start or
its pause for approval), and nothing before it.
"""

from __future__ import annotations

from collections.abc import Callable

from ascent.durable import DURABILITY_ENV
from ascent.durable._store import RunStore
from ascent.testing.mock_openai import MockOpenAIServer, Reply, ToolCall

from .conftest import Workers, paused, wait_for


def _run_mode(group: Workers) -> Workers:
    group.env[DURABILITY_ENV] = "run"
    return group


def _lookup() -> Reply:
    return Reply(tool_calls=[ToolCall(name="slow_lookup", arguments={"order_id": "A-1"})])


def _contents(request_body: dict[str, object]) -> list[object]:
    messages = request_body["messages"]
    assert isinstance(messages, list)
    return [m.get("content") for m in messages]


def test_killed_before_any_checkpoint_the_run_runs_again_from_its_start(
    sqlite_url: str, workers: Callable[[str], Workers], mock_openai: MockOpenAIServer
) -> None:
    mock_openai.add(_lookup(), _lookup(), Reply(text="Order A-1 has shipped."))
    group = _run_mode(workers(sqlite_url))
    first = group.spawn("replica-1", start="run-1", delay=60)
    wait_for(lambda: (group.marks / f"started-{first.pid}").exists(), "the tool to start")
    group.kill(first)
    assert len(mock_openai.requests) == 1
    assert RunStore(sqlite_url).read_events("run-1", after=0)[0].type == "run_started"

    second = group.spawn("replica-1", wait="run-1")
    record = group.result(second)

    assert record.status == "completed", record.error
    assert record.output == "Order A-1 has shipped."
    # no checkpoint came before the crash: the first model call was made again
    assert len(mock_openai.requests) == 3
    assert mock_openai.requests[1].body["messages"] == mock_openai.requests[0].body["messages"]
    calls = (group.marks / "calls").read_text().split()
    assert calls == [str(first.pid), str(second.pid)]
    events = RunStore(sqlite_url).read_events("run-1", after=0)
    types = [e.type for e in events]
    assert [e.seq for e in events] == list(range(1, len(events) + 1))
    assert types[0] == "run_started" and types[-1] == "run_completed"
    assert types.count("run_started") == 1 and types.count("run_completed") == 1
    assert "response_discarded" in types  # what the cut attempt streamed is void


def test_killed_after_a_pause_the_run_resumes_from_the_pause_not_its_start(
    sqlite_url: str, workers: Callable[[str], Workers], mock_openai: MockOpenAIServer
) -> None:
    mock_openai.add(
        Reply(tool_calls=[ToolCall(name="refund", arguments={"order_id": "A-9"})]),
        _lookup(),
        _lookup(),
        Reply(text="Refunded A-9; A-1 has shipped."),
    )
    group = _run_mode(workers(sqlite_url))
    first = group.spawn("replica-1", start="run-2", input="Refund A-9", approve="run-2", delay=60)
    wait_for(lambda: (group.marks / f"started-{first.pid}").exists(), "the tool to start")
    group.kill(first)
    assert len(mock_openai.requests) == 2  # the call that asked for the refund, and the next

    second = group.spawn("replica-1", wait="run-2")
    record = group.result(second)

    assert record.status == "completed", record.error
    assert record.output == "Refunded A-9; A-1 has shipped."
    # the pause was the last checkpoint: the call before it was not made again, the
    # decided refund and the call after it were (side effects after a checkpoint repeat)
    assert len(mock_openai.requests) == 4
    assert _contents(mock_openai.requests[2].body) == _contents(mock_openai.requests[1].body)
    calls = (group.marks / "calls").read_text().split()
    assert calls == [str(first.pid), str(second.pid)]
    types = [e.type for e in RunStore(sqlite_url).read_events("run-2", after=0)]
    assert types.count("approval_required") == 1 and types.count("run_resumed") == 1


def test_a_replica_decides_a_run_that_waits_on_another_on_postgres(
    postgres_url: str, workers: Callable[[str], Workers], mock_openai: MockOpenAIServer
) -> None:
    mock_openai.add(
        Reply(tool_calls=[ToolCall(name="refund", arguments={"order_id": "A-9"})]),
        Reply(text="Refunded."),
    )
    group = _run_mode(workers(postgres_url))
    waiting = group.spawn("replica-a", start="run-x", input="Refund A-9")

    wait_for(paused(postgres_url, "run-x"), "the run to ask for approval")
    deciding = group.spawn("replica-b", approve="run-x", wait="run-x")
    record = group.result(deciding)
    assert record.status == "completed", record.error
    assert waiting.is_alive()  # the run went on where it waited, on replica-a
    assert [r.headers.get("x-worker-pid") for r in mock_openai.requests] == [str(waiting.pid)] * 2
