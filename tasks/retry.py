"""The one retry loop: exponential backoff with full jitter, honouring Retry-After, sleeping on the injectable clock.

Every outside call that retries (storage, Azure ML, the Slack webhook) goes through `call_with_retries`. What is
worth a retry is the caller's decision, made by a `classify` function: it maps an exception onto the error to raise,
which is retried when it has `retryable = True` (and waits at least its `retry_after`, in seconds, when it has one).
"""
from __future__ import annotations

import logging
import random
from dataclasses import dataclass
from typing import Callable, TypeVar

from tasks.clock import Clock, SystemClock

log = logging.getLogger(__name__)
T = TypeVar("T")


@dataclass(frozen=True)
class RetryPolicy:
    """How transient errors are retried.

    Attempt n (from 0) waits a random time in [0, min(max_seconds, base_seconds * 2**n)] ("full jitter", so many
    clients throttled together do not return together); a Retry-After the service sent is honoured when longer,
    up to `max_retry_after_seconds`.
    """

    attempts: int = 5
    base_seconds: float = 0.5
    max_seconds: float = 30.0
    max_retry_after_seconds: float = 120.0

    def delay(self, attempt: int, retry_after: float | None, rng: random.Random) -> float:
        """Seconds to wait before retry number `attempt + 1`."""
        backoff = rng.uniform(0, min(self.max_seconds, self.base_seconds * 2**attempt))
        return max(backoff, min(retry_after or 0.0, self.max_retry_after_seconds))


def _as_is(exc: BaseException) -> BaseException:
    return exc


def call_with_retries(
    operation: Callable[[], T],
    policy: RetryPolicy,
    *,
    classify: Callable[[BaseException], BaseException] = _as_is,
    clock: Clock | None = None,
    rng: random.Random | None = None,
    what: str = "request",
    on_retry: Callable[[BaseException, float], None] | None = None,
) -> T:
    """Run `operation`, retrying it while its failures classify as retryable.

    Args:
        operation: the request; called again from scratch on each attempt.
        policy: attempts and backoff.
        classify: maps an exception to the error that is retried or raised (default: the exception itself).
            The error is retried when `getattr(error, "retryable", False)` is true.
        clock: where sleeping happens (tests pass a FakeClock).
        rng: jitter source.
        what: names the request in log lines.
        on_retry: told of every retry and its delay.

    Returns:
        What `operation` returned.

    Raises:
        The classified error: a non-retryable one at once, the last retryable one after `policy.attempts` tries
        (with `gave_up_after` set to the number of tries when the error allows attributes).
    """
    clock = clock or SystemClock()
    rng = rng or random.Random()
    attempt = 0
    while True:
        try:
            return operation()
        except Exception as exc:  # noqa: BLE001 - every failure is classified; the classifier decides
            error = classify(exc)
            retryable = bool(getattr(error, "retryable", False))
            if not retryable or attempt + 1 >= policy.attempts:
                if retryable:
                    try:
                        error.gave_up_after = attempt + 1
                    except AttributeError:  # an error type with slots; the log line still says it
                        pass
                if error is exc:
                    raise
                raise error from exc
            delay = policy.delay(attempt, getattr(error, "retry_after", None), rng)
            log.warning("%s failed (%s); retry %d/%d in %.1fs", what, error, attempt + 1, policy.attempts - 1, delay)
            if on_retry:
                on_retry(error, delay)
            clock.sleep(delay)
            attempt += 1
