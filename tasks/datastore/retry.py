"""Retry transient storage failures with exponential backoff and full jitter, sleeping on the injectable clock."""
from __future__ import annotations

import logging
import random
from dataclasses import dataclass
from typing import Callable, TypeVar

from tasks.clock import Clock, SystemClock
from tasks.datastore.base import StorageError

log = logging.getLogger(__name__)
T = TypeVar("T")


@dataclass(frozen=True)
class RetryPolicy:
    """How transient errors are retried.

    Attempt n (from 0) waits a random time in [0, min(max_seconds, base_seconds * 2**n)] ("full jitter", so many
    clients throttled together do not return together); a Retry-After the service sent is honoured when longer.
    """

    attempts: int = 5
    base_seconds: float = 0.5
    max_seconds: float = 30.0

    def delay(self, attempt: int, retry_after: float | None, rng: random.Random) -> float:
        backoff = rng.uniform(0, min(self.max_seconds, self.base_seconds * 2**attempt))
        return max(backoff, min(retry_after or 0.0, self.max_seconds * 4))


def call_with_retries(
    operation: Callable[[], T],
    classify: Callable[[BaseException], StorageError],
    policy: RetryPolicy,
    clock: Clock | None = None,
    rng: random.Random | None = None,
    what: str = "storage request",
    on_retry: Callable[[StorageError, float], None] | None = None,
) -> T:
    """Run `operation`, retrying it while its failures classify as retryable.

    Args:
        operation: the request; called again from scratch on each attempt.
        classify: maps an exception to a StorageError (the catalogue decides what is retryable).
        policy: attempts and backoff.
        clock: where sleeping happens (tests pass a FakeClock).
        rng: jitter source.
        what: names the request in log lines.
        on_retry: told of every retry and its delay.

    Returns:
        What `operation` returned.

    Raises:
        StorageError: a non-retryable failure at once, or the last retryable one after `policy.attempts` tries.
    """
    clock = clock or SystemClock()
    rng = rng or random.Random()
    attempt = 0
    while True:
        try:
            return operation()
        except Exception as exc:  # noqa: BLE001 - every failure is classified; unknown ones fall to the catch-all rule
            error = classify(exc)
            if not error.retryable or attempt + 1 >= policy.attempts:
                if error.retryable:
                    error.detail = f"{error.detail} (gave up after {attempt + 1} attempts)"
                raise error from exc
            delay = policy.delay(attempt, error.retry_after, rng)
            log.warning("%s failed (%s); retry %d/%d in %.1fs", what, error, attempt + 1, policy.attempts - 1, delay)
            if on_retry:
                on_retry(error, delay)
            clock.sleep(delay)
            attempt += 1
