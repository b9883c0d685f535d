"""The one retry loop (tasks/retry.py): its whole contract in one place, on a fake clock."""
from __future__ import annotations

import random

import pytest

from tasks.clock import FakeClock
from tasks.retry import RetryPolicy, call_with_retries


class Transient(Exception):
    retryable = True

    def __init__(self, message="busy", retry_after=None):
        super().__init__(message)
        self.retry_after = retry_after


class Permanent(Exception):
    retryable = False


def _flaky(failures: list[BaseException], result="done"):
    calls = []

    def operation():
        calls.append(1)
        if failures:
            raise failures.pop(0)
        return result

    return operation, calls


def test_retryable_errors_are_retried_with_full_jitter_under_the_exponential_cap():
    clock = FakeClock()
    operation, calls = _flaky([Transient(), Transient(), Transient()])
    retried = []
    result = call_with_retries(operation, RetryPolicy(attempts=5, base_seconds=1, max_seconds=30), clock=clock,
                               rng=random.Random(7), on_retry=lambda error, delay: retried.append(delay))
    assert result == "done" and len(calls) == 4
    assert retried == clock.sleeps and len(clock.sleeps) == 3
    for attempt, slept in enumerate(clock.sleeps):
        assert 0 <= slept <= 2**attempt


def test_retry_after_is_honoured_when_longer_and_capped():
    clock = FakeClock()
    operation, _ = _flaky([Transient(retry_after=7), Transient(retry_after=10_000)])
    call_with_retries(operation, RetryPolicy(base_seconds=0.5, max_retry_after_seconds=60), clock=clock,
                      rng=random.Random(1))
    assert clock.sleeps == [7, 60]


def test_gives_up_after_the_policy_with_the_last_error_and_the_count():
    clock = FakeClock()
    operation, calls = _flaky([Transient("one"), Transient("two"), Transient("three"), Transient("four")])
    with pytest.raises(Transient, match="three") as failure:
        call_with_retries(operation, RetryPolicy(attempts=3), clock=clock)
    assert len(calls) == 3 and len(clock.sleeps) == 2 and failure.value.gave_up_after == 3


def test_errors_that_are_not_retryable_are_raised_at_once():
    for error in (Permanent("no"), ValueError("plain errors are not retried")):
        clock = FakeClock()
        operation, calls = _flaky([error])
        with pytest.raises(type(error)):
            call_with_retries(operation, RetryPolicy(attempts=5), clock=clock)
        assert len(calls) == 1 and clock.sleeps == []


def test_classify_decides_and_its_error_is_raised_from_the_original():
    clock = FakeClock()
    operation, calls = _flaky([ConnectionResetError("reset"), KeyError("gone")])

    def classify(exc):
        return Transient(str(exc)) if isinstance(exc, ConnectionResetError) else Permanent(f"permanent: {exc!r}")

    with pytest.raises(Permanent, match="permanent") as failure:
        call_with_retries(operation, RetryPolicy(attempts=5), classify=classify, clock=clock)
    assert len(calls) == 2 and isinstance(failure.value.__cause__, KeyError)
