"""The retry policy and helpers every provider shares, without any network."""

from __future__ import annotations

import email.utils
import time
from collections.abc import AsyncGenerator
from typing import Any

import httpx2
import openai
import pytest

from ascent.errors import ModelAPIError
from ascent.models._openai_common import classify_openai_error
from ascent.models._retry import (
    RetryPolicy,
    call_with_retries,
    is_retryable_status,
    parse_retry_after,
    stream_with_retries,
)
from ascent.models.base import StreamRestarted


class Flaky(Exception):
    """A stand-in provider exception: retryable or not, with an optional Retry-After."""

    def __init__(self, retryable: bool = True, retry_after: float | None = None) -> None:
        super().__init__("flaky")
        self.retryable = retryable
        self.retry_after = retry_after


def classify(exc: BaseException) -> ModelAPIError | None:
    if isinstance(exc, Flaky):
        return ModelAPIError(
            "provider says no",
            status_code=503 if exc.retryable else 400,
            retryable=exc.retryable,
            retry_after=exc.retry_after,
        )
    return None


@pytest.fixture
def policy(retry: RetryPolicy) -> RetryPolicy:
    return retry


def test_backoff_grows_to_the_cap_without_jitter() -> None:
    policy = RetryPolicy(jitter=False, initial_delay=0.5, multiplier=2.0, max_delay=3.0)
    assert [policy.delay(n) for n in range(1, 6)] == [0.5, 1.0, 2.0, 3.0, 3.0]


def test_full_jitter_stays_within_the_ceiling() -> None:
    policy = RetryPolicy(initial_delay=1.0, multiplier=2.0, max_delay=20.0)
    samples = [policy.delay(3) for _ in range(500)]
    assert all(0.0 <= s <= 4.0 for s in samples)
    assert max(samples) - min(samples) > 1.0  # actually random, not a constant


def test_retry_after_wins_up_to_its_cap() -> None:
    policy = RetryPolicy(max_retry_after=10.0)
    assert policy.delay(1, retry_after=7.5) == 7.5
    assert policy.delay(1, retry_after=0.0) == 0.0
    assert policy.delay(1, retry_after=600.0) == 10.0


def test_max_attempts_must_be_positive() -> None:
    with pytest.raises(ValueError):
        RetryPolicy(max_attempts=0)


def test_parse_retry_after() -> None:
    assert parse_retry_after({"retry-after": "3"}) == 3.0
    assert parse_retry_after({"retry-after-ms": "250", "retry-after": "9"}) == 0.25
    assert parse_retry_after({"retry-after": "soon"}) is None
    assert parse_retry_after({}) is None
    assert parse_retry_after(None) is None
    in_a_minute = email.utils.formatdate(time.time() + 60, usegmt=True)
    parsed = parse_retry_after({"retry-after": in_a_minute})
    assert parsed is not None and 55 <= parsed <= 60


@pytest.mark.parametrize(
    ("status", "retryable"),
    [
        *[(status, False) for status in (400, 401, 403, 404, 422)],
        *[(status, True) for status in (408, 409, 429, 500, 502, 503)],
    ],
)
def test_retryable_statuses(status: int, retryable: bool) -> None:
    assert is_retryable_status(status) is retryable


async def test_retries_until_success(policy: RetryPolicy, sleeps: list[float]) -> None:
    failures = [Flaky(retry_after=2.0), Flaky()]

    async def call() -> str:
        if failures:
            raise failures.pop(0)
        return "done"

    assert await call_with_retries(call, policy=policy, classify=classify, provider="p") == "done"
    assert sleeps[0] == 2.0 and len(sleeps) == 2


async def test_gives_up_after_max_attempts(sleeps: list[float]) -> None:
    calls = 0

    async def fake_sleep(seconds: float) -> None:
        sleeps.append(seconds)

    async def call() -> str:
        nonlocal calls
        calls += 1
        raise Flaky()

    policy = RetryPolicy(max_attempts=3, sleep=fake_sleep)
    with pytest.raises(ModelAPIError) as caught:
        await call_with_retries(call, policy=policy, classify=classify, provider="acme")

    error = caught.value
    assert calls == 3 and len(sleeps) == 2
    assert (error.attempts, error.status_code, error.provider) == (3, 503, "acme")
    assert error.message == "provider says no"
    assert str(error) == "acme: provider says no (HTTP 503) after 3 attempts"
    assert isinstance(error.__cause__, Flaky)


async def test_non_retryable_fails_at_once(policy: RetryPolicy, sleeps: list[float]) -> None:
    calls = 0

    async def call() -> None:
        nonlocal calls
        calls += 1
        raise Flaky(retryable=False)

    with pytest.raises(ModelAPIError) as caught:
        await call_with_retries(call, policy=policy, classify=classify, provider="p")
    assert calls == 1 and sleeps == []
    assert caught.value.attempts == 1 and caught.value.status_code == 400


async def test_unknown_exceptions_propagate_untouched(policy: RetryPolicy) -> None:
    calls = 0

    async def call() -> None:
        nonlocal calls
        calls += 1
        raise KeyError("a bug")

    with pytest.raises(KeyError):
        await call_with_retries(call, policy=policy, classify=classify, provider="p")
    assert calls == 1


async def test_stream_retried_before_and_after_its_first_event(
    policy: RetryPolicy, sleeps: list[float]
) -> None:
    opened = 0

    async def open_stream() -> AsyncGenerator[str, None]:
        nonlocal opened
        opened += 1
        if opened == 1:
            raise Flaky()  # fails before any event: retried quietly
        yield "a"
        yield "b"
        if opened == 2:
            raise Flaky()  # fails after events: retried, and the caller is told

    seen: list[object] = []
    async for event in stream_with_retries(
        open_stream, policy=policy, classify=classify, provider="p"
    ):
        seen.append(event)

    assert seen[:2] == ["a", "b"] and seen[3:] == ["a", "b"]
    assert isinstance(seen[2], StreamRestarted)
    assert opened == 3 and len(sleeps) == 2


async def test_a_stream_that_always_breaks_fails_with_its_attempts(
    policy: RetryPolicy, sleeps: list[float]
) -> None:
    async def open_stream() -> AsyncGenerator[str, None]:
        yield "a"
        raise Flaky()

    restarts = 0
    with pytest.raises(ModelAPIError) as caught:
        async for event in stream_with_retries(
            open_stream, policy=policy, classify=classify, provider="p"
        ):
            restarts += isinstance(event, StreamRestarted)

    assert caught.value.attempts == policy.max_attempts
    assert restarts == policy.max_attempts - 1


async def test_stream_closes_each_attempt(policy: RetryPolicy) -> None:
    closed: list[int] = []
    attempt = 0

    async def open_stream() -> AsyncGenerator[int, None]:
        nonlocal attempt
        attempt += 1
        current = attempt
        try:
            if current == 1:
                raise Flaky()
            yield current
        finally:
            closed.append(current)

    stream = stream_with_retries(open_stream, policy=policy, classify=classify, provider="p")
    events = [event async for event in stream]

    assert events == [2]
    assert closed == [1, 2]


def _status_error(status: int, headers: dict[str, str], body: Any) -> openai.APIStatusError:
    request = httpx2.Request("POST", "http://127.0.0.1/v1/responses")
    response = httpx2.Response(status, headers=headers, request=request)
    return openai.APIStatusError("Error code", response=response, body=body)


def test_classify_openai_errors() -> None:
    limited = classify_openai_error(
        _status_error(429, {"retry-after-ms": "1200"}, {"message": "Slow down"}), provider="x"
    )
    assert limited is not None
    assert (limited.retryable, limited.retry_after, limited.message) == (True, 1.2, "Slow down")
    assert limited.provider == "x" and limited.status_code == 429

    told_not_to = classify_openai_error(_status_error(503, {"x-should-retry": "false"}, None))
    assert told_not_to is not None and not told_not_to.retryable

    html = classify_openai_error(_status_error(502, {}, "<html>Bad gateway</html>"))
    assert html is not None and html.message == "<html>Bad gateway</html>" and html.retryable

    request = httpx2.Request("POST", "http://127.0.0.1/v1/responses")
    timeout = classify_openai_error(openai.APITimeoutError(request))
    assert timeout is not None and timeout.retryable and timeout.status_code is None
    dropped = classify_openai_error(httpx2.RemoteProtocolError("peer closed"))
    assert dropped is not None and dropped.retryable
    assert classify_openai_error(ValueError("not a provider error")) is None
