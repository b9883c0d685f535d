"""An injectable clock, so that polling and backoff code can be tested without waiting."""
from __future__ import annotations

import time
from typing import Protocol


class Clock(Protocol):
    """Where time comes from and how waiting is done."""

    def now(self) -> float:
        """Seconds since an arbitrary origin (monotonic)."""

    def sleep(self, seconds: float) -> None:
        """Wait for `seconds`."""


class SystemClock:
    """The real clock."""

    def now(self) -> float:
        return time.monotonic()

    def sleep(self, seconds: float) -> None:
        if seconds > 0:
            time.sleep(seconds)


class FakeClock:
    """A clock that advances only when something sleeps on it; `sleeps` records every wait."""

    def __init__(self, start: float = 0.0) -> None:
        self._now = start
        self.sleeps: list[float] = []

    def now(self) -> float:
        return self._now

    def sleep(self, seconds: float) -> None:
        self.sleeps.append(seconds)
        self._now += max(0.0, seconds)

    def advance(self, seconds: float) -> None:
        self._now += seconds
