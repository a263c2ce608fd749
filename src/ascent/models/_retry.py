"""Retries for model calls, shared by every provider.

Providers create their clients with the SDK's own retries off, so that one
policy (exponential backoff with full jitter, Retry-After honoured) applies to
every provider and every failure ends as one :class:`~ascent.errors.ModelAPIError`
that says how many attempts were made.
"""

from __future__ import annotations

import asyncio
import email.utils
import random
import time
from collections.abc import AsyncGenerator, AsyncIterator, Awaitable, Callable, Mapping
from dataclasses import dataclass, field
from typing import TypeVar

from ..errors import ModelAPIError
from .base import StreamRestarted

__all__ = [
    "Classifier",
    "RetryPolicy",
    "call_with_retries",
    "is_retryable_status",
    "parse_retry_after",
    "stream_with_retries",
]

T = TypeVar("T")
E = TypeVar("E")

Classifier = Callable[[BaseException], ModelAPIError | None]
"""Maps a provider exception to a ``ModelAPIError`` (``None``: not a provider error, re-raise)."""


@dataclass(kw_only=True, frozen=True)
class RetryPolicy:
    """How often and how patiently a model call is retried.

    The n-th retry waits a random time in ``[0, min(max_delay, initial_delay *
    multiplier**(n-1))]`` ("full jitter", so many clients hitting one rate limit
    spread out), unless the provider said how long to wait (Retry-After), which
    is honoured up to ``max_retry_after`` seconds. ``sleep`` is swappable so
    tests need not wait.
    """

    max_attempts: int = 4
    initial_delay: float = 0.5
    max_delay: float = 20.0
    multiplier: float = 2.0
    jitter: bool = True
    max_retry_after: float = 60.0
    sleep: Callable[[float], Awaitable[None]] = field(
        default=asyncio.sleep, repr=False, compare=False
    )

    def __post_init__(self) -> None:
        if self.max_attempts < 1:
            raise ValueError("RetryPolicy.max_attempts must be at least 1")

    def delay(self, retry: int, retry_after: float | None = None) -> float:
        """Seconds to wait before retry number ``retry`` (1 for the first retry)."""
        if retry_after is not None and retry_after >= 0:
            return min(retry_after, self.max_retry_after)
        ceiling = min(self.max_delay, self.initial_delay * self.multiplier ** (retry - 1))
        return random.uniform(0, ceiling) if self.jitter else ceiling


NO_RETRY = RetryPolicy(max_attempts=1)


def is_retryable_status(status: int) -> bool:
    """Rate limits, request timeouts, lock conflicts and server errors are worth retrying."""
    return status in (408, 409, 429) or status >= 500


def parse_retry_after(headers: Mapping[str, str] | None) -> float | None:
    """Seconds the provider asked us to wait, from ``retry-after-ms`` or ``retry-after``.

    ``retry-after`` may be seconds or an HTTP date; anything unreadable is ignored.
    """
    if not headers:
        return None
    millis = headers.get("retry-after-ms")
    if millis:
        try:
            return max(float(millis) / 1000, 0.0)
        except ValueError:
            pass
    value = headers.get("retry-after")
    if not value:
        return None
    try:
        return max(float(value), 0.0)
    except ValueError:
        pass
    try:
        when = email.utils.parsedate_to_datetime(value)
    except (TypeError, ValueError):
        return None
    return max(when.timestamp() - time.time(), 0.0)


def _final(error: ModelAPIError, attempts: int, provider: str) -> ModelAPIError:
    """The error raised to the caller: the provider's message, status and attempt count."""
    return ModelAPIError(
        error.message,
        provider=error.provider or provider,
        status_code=error.status_code,
        attempts=attempts,
        retryable=error.retryable,
        retry_after=error.retry_after,
    )


async def call_with_retries(
    call: Callable[[], Awaitable[T]],
    *,
    policy: RetryPolicy,
    classify: Classifier,
    provider: str,
) -> T:
    """Await ``call()``, retrying retryable failures; raise ``ModelAPIError`` at the end.

    Exceptions ``classify`` does not recognise (bugs, cancellation) propagate as
    they are: retrying them would only hide them.
    """
    attempt = 0
    while True:
        attempt += 1
        try:
            return await call()
        except Exception as exc:
            error = classify(exc)
            if error is None:
                raise
            if not error.retryable or attempt >= policy.max_attempts:
                raise _final(error, attempt, provider) from exc
        await policy.sleep(policy.delay(attempt, error.retry_after))


async def stream_with_retries(
    open_stream: Callable[[], AsyncGenerator[E, None]],
    *,
    policy: RetryPolicy,
    classify: Classifier,
    provider: str,
) -> AsyncIterator[E | StreamRestarted]:
    """Yield the events of ``open_stream()``, retrying retryable failures.

    A stream that breaks after some events (a cut connection, a server error
    mid-answer) is opened again within the same budget of attempts; a
    :class:`StreamRestarted` tells the caller that what it received so far is
    void, so nothing is shown twice.
    """
    attempt = 0
    while True:
        attempt += 1
        events = open_stream()
        started = False
        try:
            while True:
                try:
                    event = await anext(events)
                except StopAsyncIteration:
                    return
                except Exception as exc:
                    error = classify(exc)
                    if error is None:
                        raise
                    if not error.retryable or attempt >= policy.max_attempts:
                        raise _final(error, attempt, provider) from exc
                    break
                started = True
                yield event
        finally:
            await events.aclose()
        if started:
            yield StreamRestarted(
                reason=f"the model's stream broke ({error.message}); asking again"
            )
        await policy.sleep(policy.delay(attempt, error.retry_after))
