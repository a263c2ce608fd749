"""Bad input, stateful: schemathesis follows the links between the service's operations.

See :func:`~tests.chaos._harness.stateful_fuzz`: sequences of calls, authenticated,
with valid and invalid data, a started run's id (and its first pending call)
carried into the next calls. No 5xx, no answer off the schema, no cut stream.
"""

from __future__ import annotations

from pathlib import Path

import httpx
import pytest

from ascent.testing.mock_openai import MockOpenAIServer

from ._app import AGENT
from ._harness import HEADERS, ChaosModel, RunPlan, Service, log_problems, stateful_fuzz

pytestmark = [
    pytest.mark.chaos,
    # schemathesis's own strategies use `random`; not this suite's concern
    pytest.mark.filterwarnings("ignore::hypothesis.errors.HypothesisDeprecationWarning"),
]


def test_call_sequences_with_bad_input_get_no_server_error_and_no_cut_stream(
    service: Service, mock_openai: MockOpenAIServer, seed: int, tmp_path: Path
) -> None:
    report = stateful_fuzz(
        service, mock_openai, scenarios=100, steps=8, seed=seed, hypothesis_home=tmp_path
    )
    print(report)
    assert report.problems == []
    assert report.server_errors == 0 and report.cut_streams == 0
    assert report.log_problems == []
    operations = {call.rsplit(" -> ", 1)[0] for call in report.calls}
    assert len(operations) >= 6  # the runs' operations, reached through the links
    # runs paused and went on: approved through the link, or by the janitor
    assert report.approved or any(call.endswith("/approvals -> 200") for call in report.calls)


@pytest.mark.parametrize(
    ("query", "headers"),
    [("?after=3000000000", {}), ("", {"Last-Event-ID": "9833856397967187968"})],
)
def test_a_resume_point_past_any_sequence_number_is_422_not_a_cut_stream(
    service: Service, mock_openai: MockOpenAIServer, query: str, headers: dict[str, str]
) -> None:
    """What the fuzz found: a resume point beyond the event log's 32-bit sequence
    numbers failed in the database after the stream had started (PostgreSQL:
    integer out of range), so the stream was cut and the log showed the error."""
    plan = RunPlan(key="resume-point")
    mock_openai.responder = ChaosModel({plan.key: plan})
    log_start = len(service.log_text())
    with httpx.Client(base_url=service.url, headers=HEADERS, timeout=30) as http:
        run = http.post(f"/v1/agents/{AGENT}/runs", json={"input": plan.input}).json()
        answer = http.get(f"/v1/runs/{run['id']}/events{query}", headers=headers)
    assert answer.status_code == 422, answer.text
    assert log_problems(service.log_text()[log_start:]) == []
