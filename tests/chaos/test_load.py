"""Clients following runs' event streams: no errors, and the service gives back what it took.

See :func:`~tests.chaos._harness.sse_load`. After the load the service's open
file descriptors and RSS must be back near what it held before (after a warm-up
as busy as the load): within ``LOAD_FD_SLACK`` descriptors and ``LOAD_RSS_SLACK``
bytes, whose reasons the harness gives.
"""

from __future__ import annotations

import pytest

from ascent.testing.mock_openai import MockOpenAIServer

from ._harness import LOAD_FD_SLACK, LOAD_RSS_SLACK, Service, sse_load

pytestmark = [pytest.mark.chaos, pytest.mark.asyncio]


async def test_streams_under_load_end_whole_and_leave_nothing_open(
    service: Service, mock_openai: MockOpenAIServer, seed: int
) -> None:
    report = await sse_load(
        service, mock_openai, clients=40, seconds=8, seed=seed, warmup=3, fd_slack=LOAD_FD_SLACK
    )
    print(report)
    assert report.problems == [] and report.traffic.errors == []
    assert set(report.traffic.statuses) == {200}
    assert report.runs >= 40  # each client followed at least one run to its end
    meter = report.meter
    assert meter.fds[1] >= meter.fds[0] + 40  # the streams were open at once
    assert meter.fds[2] <= meter.fds[0] + LOAD_FD_SLACK, meter.fds
    assert meter.rss[2] <= meter.rss[0] + LOAD_RSS_SLACK, meter.rss
