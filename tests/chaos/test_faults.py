"""A misbehaving model, through the service: every run ends, with its reason if it fails.

Three in ten of the model's answers are a fault (429 with Retry-After, 500, a
hang past the model timeout, malformed JSON, a stream cut mid-answer, a
dropped connection), drawn by a seeded RNG; clients start runs streamed and
plain and follow them to the end (see :func:`~tests.chaos._harness.fault_chaos`).
"""

from __future__ import annotations

import pytest

from ascent.testing.mock_openai import MockOpenAIServer

from ._harness import FAULTS, Service, fault_chaos

pytestmark = [pytest.mark.chaos, pytest.mark.asyncio]


async def test_a_faulty_model_never_makes_the_service_fail_or_hang(
    service: Service, mock_openai: MockOpenAIServer, seed: int
) -> None:
    report = await fault_chaos(service, mock_openai, runs=100, clients=20, seed=seed)
    print(report)
    assert report.problems == []
    assert report.traffic.server_errors == 0, report.traffic.errors
    assert report.traffic.cut_streams == 0
    assert report.traffic.errors == []
    assert report.log_problems == []
    assert set(report.faults) == set(FAULTS)  # every kind of fault was met
    assert report.statuses["completed"] >= 90  # a run fails only when 4 attempts in a row fail
    assert set(report.statuses) <= {"completed", "failed"}
