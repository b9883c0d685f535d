"""ETA-aware poll scheduling: slow through the long middle of a job, fast near its expected end.

The plain backoff (PollPolicy) settles at `max_seconds` and asks at that pace for the whole job: many calls for a
multi-hour job, and up to `max_seconds` of delay in noticing it ended. With the job's progress (tasks/backends/
progress.py) the watch knows roughly when the job will end: it waits half the remaining time (at most `max_seconds`),
so the intervals shrink as the end nears, and polls every `near_end_seconds` once it is close (backing off again
the longer it is overdue).
Until the first video is done there is no ETA: the backoff applies, capped at `max_seconds_without_eta`, and
restarts from fast at each change of the job's state.
"""
from __future__ import annotations

from dataclasses import dataclass, field
from typing import Callable

from tasks.backends.progress import Progress


@dataclass
class EtaPollSchedule:
    """A `schedule` for watch_job: maps the backoff's next interval to the one to wait, given the latest progress.

    Args:
        progress: returns the latest progress (or None); called once per interval.
        on_progress: called with each progress read (the progress artifact, logs).
    """

    progress: Callable[[], Progress | None]
    on_progress: Callable[[Progress], None] | None = None
    max_seconds: float = 300.0
    max_seconds_without_eta: float = 120.0
    near_end_seconds: float = 5.0
    lead_fraction: float = 0.5
    initial_seconds: float = 2.0
    factor: float = 1.5
    _backoff: float = field(default=0.0, init=False)
    _state: str | None = field(default=None, init=False)
    last: Progress | None = field(default=None, init=False)

    def observe(self, state: str) -> None:
        """Called with every polled state: a new phase (Queued → Running) starts the backoff again from fast, so a
        job that dies right after it starts is noticed in seconds whatever its time in the queue."""
        if state != self._state:
            self._state, self._backoff = state, 0.0

    def __call__(self, backoff_seconds: float) -> float:
        progress = self.progress()
        if progress is not None:
            self.last = progress
            if self.on_progress:
                self.on_progress(progress)
        return self.interval(progress)

    def interval(self, progress: Progress | None) -> float:
        """Seconds to wait before the next poll."""
        if progress is None or progress.eta_seconds is None:
            # Fast at first (a job that dies in its first seconds is noticed at once), then settle.
            self._backoff = self.initial_seconds if not self._backoff else min(
                self.max_seconds_without_eta, self._backoff * self.factor)
            return self._backoff
        if progress.total and progress.done >= progress.total:
            return self.near_end_seconds  # every video done: the job is writing its summary and exiting
        remaining = progress.eta_seconds
        if remaining <= 2 * self.near_end_seconds:
            # Past the estimate the job is slow or stuck: back off gently so a stall costs few calls.
            return min(self.max_seconds, self.near_end_seconds + progress.overdue_seconds * self.lead_fraction / 2)
        return max(self.near_end_seconds, min(self.max_seconds, remaining * self.lead_fraction))
