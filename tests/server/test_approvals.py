"""Approving, rejecting and cancelling runs through the API."""

from __future__ import annotations

import asyncio
import uuid

import httpx
import pytest

from .served_agents import ARRIVED, GATES

pytestmark = pytest.mark.asyncio(loop_scope="package")


async def _paused_refund(client: httpx.AsyncClient) -> dict[str, object]:
    response = await client.post("/v1/agents/Shop/runs", json={"input": "Refund order A-1042"})
    run = response.json()
    assert run["status"] == "awaiting_approval", run
    [pending] = run["pending_approvals"]
    assert pending["tool_name"] == "refund"
    assert pending["arguments"] == '{"order_id": "A-1042"}'
    return run


async def test_an_approved_tool_call_runs_and_the_run_completes(acme: httpx.AsyncClient) -> None:
    run = await _paused_refund(acme)
    call_id = run["pending_approvals"][0]["call_id"]
    response = await acme.post(
        f"/v1/runs/{run['id']}/approvals",
        json={"decisions": [{"call_id": call_id, "approved": True}]},
    )
    assert response.status_code == 200, response.text
    done = response.json()
    assert done["status"] == "completed"
    assert done["output"] == "Here is what I found: refund: refunded A-1042"
    assert done["pending_approvals"] == []


async def test_a_rejected_tool_call_does_not_run(acme: httpx.AsyncClient) -> None:
    run = await _paused_refund(acme)
    call_id = run["pending_approvals"][0]["call_id"]
    decision = {"call_id": call_id, "approved": False, "reason": "refunds need a receipt"}
    response = await acme.post(f"/v1/runs/{run['id']}/approvals", json={"decisions": [decision]})
    done = response.json()
    assert done["status"] == "completed"
    assert "refunded A-1042" not in done["output"]
    assert "refunds need a receipt" in done["output"]


async def test_deciding_without_wait_returns_before_the_run_ends(acme: httpx.AsyncClient) -> None:
    run = await _paused_refund(acme)
    call_id = run["pending_approvals"][0]["call_id"]
    response = await acme.post(
        f"/v1/runs/{run['id']}/approvals",
        json={"decisions": [{"call_id": call_id, "approved": True}], "wait": False},
    )
    assert response.status_code == 200
    assert response.json()["id"] == run["id"]
    await acme.get(f"/v1/runs/{run['id']}/events")  # follow it to the end
    assert (await acme.get(f"/v1/runs/{run['id']}")).json()["status"] == "completed"


async def test_unknown_call_ids_and_runs_not_waiting_are_409(acme: httpx.AsyncClient) -> None:
    run = await _paused_refund(acme)
    wrong = await acme.post(
        f"/v1/runs/{run['id']}/approvals",
        json={"decisions": [{"call_id": "call_nope", "approved": True}]},
    )
    assert wrong.status_code == 409
    assert "call_nope" in wrong.json()["error"]["message"]
    assert (await acme.get(f"/v1/runs/{run['id']}")).json()["status"] == "awaiting_approval"

    finished = (
        await acme.post("/v1/agents/Shop/runs", json={"input": "Status of order A-1042?"})
    ).json()
    late = await acme.post(
        f"/v1/runs/{finished['id']}/approvals",
        json={"decisions": [{"call_id": "call_x", "approved": True}]},
    )
    assert late.status_code == 409
    assert late.json()["error"] == {
        "type": "conflict",
        "message": f"run {finished['id']!r} is completed, not awaiting approval",
    }


@pytest.mark.parametrize(
    "body",
    [{}, {"decisions": []}, {"decisions": [{"call_id": "c"}]}, {"decisions": "yes"}],
)
async def test_malformed_decisions_are_422(acme: httpx.AsyncClient, body: object) -> None:
    run = await _paused_refund(acme)
    response = await acme.post(f"/v1/runs/{run['id']}/approvals", json=body)
    assert response.status_code == 422
    assert response.json()["error"]["type"] == "invalid_request"


async def test_a_waiting_run_can_be_cancelled(acme: httpx.AsyncClient) -> None:
    run = await _paused_refund(acme)
    response = await acme.post(f"/v1/runs/{run['id']}/cancel")
    assert response.status_code == 200
    assert response.json()["status"] == "cancelled"
    again = await acme.post(f"/v1/runs/{run['id']}/cancel")  # cancelling twice is harmless
    assert again.status_code == 200 and again.json()["status"] == "cancelled"
    call_id = run["pending_approvals"][0]["call_id"]
    late = await acme.post(
        f"/v1/runs/{run['id']}/approvals",
        json={"decisions": [{"call_id": call_id, "approved": True}]},
    )
    assert late.status_code == 409


async def test_a_run_busy_in_a_tool_can_be_cancelled(acme: httpx.AsyncClient) -> None:
    item = f"bolt-{uuid.uuid4().hex[:6]}"
    GATES[item] = asyncio.Event()  # never opened: the tool waits until cancelled
    ARRIVED[item] = arrived = asyncio.Event()
    run = (
        await acme.post(
            "/v1/agents/Warehouse/runs",
            json={"input": f'Count the inventory of "{item}"', "wait": False},
        )
    ).json()
    await asyncio.wait_for(arrived.wait(), timeout=10)
    assert (await acme.get(f"/v1/runs/{run['id']}")).json()["status"] == "running"
    response = await acme.post(f"/v1/runs/{run['id']}/cancel")
    assert response.status_code == 200
    assert response.json()["status"] == "cancelled"
    events = await acme.get(f"/v1/runs/{run['id']}/events")
    assert "event: run_cancelled" in events.text
    assert "7 in stock" not in events.text


async def test_a_finished_run_cannot_be_cancelled(acme: httpx.AsyncClient) -> None:
    run = (await acme.post("/v1/agents/Echo/runs", json={"input": "hello"})).json()
    response = await acme.post(f"/v1/runs/{run['id']}/cancel")
    assert response.status_code == 409
    assert response.json()["error"]["message"] == (
        f"run {run['id']!r} cannot be cancelled: it is completed already"
    )


async def test_of_an_approve_and_a_reject_sent_at_once_exactly_one_wins(
    acme: httpx.AsyncClient,
) -> None:
    for _ in range(8):  # the race was lost about half the time: repeat it
        run = await _paused_refund(acme)
        call_id = run["pending_approvals"][0]["call_id"]
        answers = await asyncio.gather(
            *(
                acme.post(
                    f"/v1/runs/{run['id']}/approvals",
                    json={"decisions": [{"call_id": call_id, "approved": approved}]},
                )
                for approved in (True, False)
            )
        )
        codes = sorted(a.status_code for a in answers)
        assert codes == [200, 409], [a.text for a in answers]
        loser = next(a for a in answers if a.status_code == 409)
        assert "not awaiting approval" in loser.json()["error"]["message"]
        winner = next(a for a in answers if a.status_code == 200).json()
        final = (await acme.get(f"/v1/runs/{run['id']}")).json()
        assert final["status"] == winner["status"] == "completed"
        events = (await acme.get(f"/v1/runs/{run['id']}/events")).text
        assert events.count("event: run_resumed") == 1  # the run followed one decision
