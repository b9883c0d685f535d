"""Poll a job to a final state with a backoff that starts fast and settles, within queue and run budgets."""
from __future__ import annotations

import logging
import random
from dataclasses import dataclass
from pathlib import Path
from typing import Callable

from tasks.backends.base import JobBackend, JobHandle, JobOutcome, JobState, JobStatus, write_job_record
from tasks.clock import Clock, SystemClock

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class PollPolicy:
    """How often to ask, and how long to wait at most.

    The interval starts at `initial_seconds` and grows by `factor` up to `max_seconds`: a job that fails in its first
    seconds (the seed's died after 4) is noticed at once, and a long job costs few API calls per hour.
    """

    initial_seconds: float = 2.0
    factor: float = 1.5
    max_seconds: float = 30.0
    jitter: float = 0.1
    queue_budget_seconds: float | None = None  # cancel if not running after this long
    run_budget_seconds: float | None = None  # cancel if still running after this long
    max_consecutive_errors: int = 20  # transient API errors tolerated in a row before giving up
    deadline_seconds: float | None = None  # cancel when the watch has lasted this long (what is left of the flow's time)

    def intervals(self):
        """Yield successive poll intervals (without jitter)."""
        interval = self.initial_seconds
        while True:
            yield interval
            interval = min(self.max_seconds, interval * self.factor)


class TransientBackendError(Exception):
    """A backend error worth retrying (throttling, 5xx, connection reset); `retry_after` in seconds if known."""

    retryable = True  # read by tasks.retry.call_with_retries

    def __init__(self, message: str, retry_after: float | None = None) -> None:
        super().__init__(message)
        self.retry_after = retry_after


def _cancel_quietly(backend: JobBackend, handle: JobHandle) -> None:
    try:
        backend.cancel(handle)
    except Exception as exc:  # the service is what failed; settle() retries and reports
        log.error("could not cancel job %s after giving up on it: %s", handle.name, exc)


def watch_job(
    backend: JobBackend,
    handle: JobHandle,
    evidence_dir: Path,
    policy: PollPolicy = PollPolicy(),
    clock: Clock | None = None,
    on_status: Callable[[JobStatus], None] | None = None,
    rng: random.Random | None = None,
    on_poll: Callable[[JobStatus], None] | None = None,
    schedule: Callable[[float], float] | None = None,
) -> JobOutcome:
    """Poll `backend` until the job reaches a final state or a budget runs out, then collect its evidence.

    Transient errors (TransientBackendError) are tolerated and retried; after `max_consecutive_errors` in a row the
    watch gives up, cancels the job and the outcome says why. When a budget is exceeded the job is cancelled.
    `on_poll` sees every status read (progress, log lines); `schedule` turns the backoff's next interval into the one
    to wait (an ETA-aware policy, tasks/backends/eta_poll.py).
    """
    clock = clock or SystemClock()
    rng = rng or random.Random()
    started = clock.now()
    running_since: float | None = None
    intervals = policy.intervals()
    polls = 0
    errors_in_row = 0
    last_state: JobState | None = None
    status: JobStatus | None = None
    gave_up: str | None = None
    while True:
        try:
            status = backend.get(handle)
            polls += 1
            errors_in_row = 0
        except TransientBackendError as exc:
            polls += 1
            errors_in_row += 1
            log.warning("transient error while watching %s (%d in a row): %s", handle.name, errors_in_row, exc)
            if errors_in_row >= policy.max_consecutive_errors:
                gave_up = f"gave up after {errors_in_row} transient errors in a row; last: {exc}"
                status = status or JobStatus(handle=handle, state=JobState.UNKNOWN)
                # Nobody watches the job any more: ask it to stop. The flow confirms the cancel before it resubmits
                # (flows/attempts.py); a cancel that fails here leaves that confirmation to fail loudly.
                _cancel_quietly(backend, handle)
                break
            clock.sleep(max(exc.retry_after or 0.0, next(intervals)))
            continue
        if on_poll:
            on_poll(status)
        if status.state != last_state:
            log.info("job %s is %s", handle.name, status.state.value)
            last_state = status.state
            if on_status:
                on_status(status)
        if status.state.is_final:
            break
        now = clock.now()
        if status.state.is_running and running_since is None:
            running_since = now
        if running_since is None and policy.queue_budget_seconds is not None:
            if now - started > policy.queue_budget_seconds:
                gave_up = f"not running after {now - started:.0f} s in the queue (budget {policy.queue_budget_seconds:.0f} s); cancelled"
        if running_since is not None and policy.run_budget_seconds is not None:
            if now - running_since > policy.run_budget_seconds:
                gave_up = f"still running after {now - running_since:.0f} s (budget {policy.run_budget_seconds:.0f} s); cancelled"
        if policy.deadline_seconds is not None and now - started > policy.deadline_seconds:
            gave_up = f"the flow's time ran out after {now - started:.0f} s of watching; cancelled"
        if gave_up:
            backend.cancel(handle)
            break
        base = next(intervals)
        if schedule:
            base = schedule(base)
        clock.sleep(base * (1 + rng.uniform(-policy.jitter, policy.jitter)))
    evidence = backend.collect_evidence(handle, evidence_dir)
    if gave_up:
        # Triage reads this: a budget cancel is a timeout (running) or capacity problem (queued), not a user cancel.
        status.properties["gave_up_reason"] = gave_up
    write_job_record(status, evidence)
    return JobOutcome(status=status, evidence_dir=evidence, polls=polls, watch_seconds=clock.now() - started, gave_up_reason=gave_up)
