"""One job attempt's lifecycle, so that no job runs for nobody and no second job starts beside the first.

Rules (issue 11):
- the active-job record is written BEFORE submit (the job's name is known), then completed with what submit returns;
- an attempt is over only when its job is Completed, Failed or Canceled. NotResponding and Paused are final for the
  service but still hold their job: they are cancelled, and the cancel confirmed, like a job the watch gave up on;
- the record is cleared only once the job is over; a job that cannot be confirmed over stays on record (the hooks
  find it) and no further attempt starts;
- a retried flow run (same flow run, same run folder) re-attaches to a job that is still running and makes a new
  attempt after one that ended: it never re-triages and re-alerts an old failure.

Plain Python over the JobBackend seam and the run folder's state files; the flow calls it, tests drive it directly.
"""
from __future__ import annotations

import json
import logging
from dataclasses import dataclass
from pathlib import Path
from typing import Callable

from flows.run_state import STATE_DIR, active_job, clear_active_job, record_active_job
from tasks.backends.base import JobBackend, JobHandle, JobSpec, JobState, JobStatus
from tasks.backends.watch import TransientBackendError
from tasks.clock import Clock, SystemClock

log = logging.getLogger(__name__)

OVER = frozenset({JobState.COMPLETED, JobState.FAILED, JobState.CANCELED})
LEDGER = "attempts.json"


class JobNotSettledError(RuntimeError):
    """A job could not be confirmed over (cancel not confirmed, or the service unreachable): it may still run."""


def settle(backend: JobBackend, handle: JobHandle, clock: Clock | None = None, timeout_seconds: float = 300,
           poll_seconds: float = 5.0) -> JobStatus:
    """Make sure a job is over: cancel it unless it is Completed, Failed or Canceled, and wait until it is.

    Returns:
        The job's status once over.

    Raises:
        JobNotSettledError: not over within `timeout_seconds` (the message says to cancel it by hand).
    """
    clock = clock or SystemClock()
    deadline = clock.now() + timeout_seconds
    cancelled = False
    last: str = "no answer from the service"
    while True:
        try:
            status = backend.get(handle)
        except TransientBackendError as exc:
            last = f"last poll failed: {exc}"
        except KeyError as exc:  # a local job from another process: only its pid can be signalled
            if not cancelled:
                backend.cancel(handle)
            raise JobNotSettledError(f"job {handle.name} cannot be watched from this process ({exc}); "
                                     "it was sent a cancel") from None
        else:
            if status.state in OVER:
                return status
            last = f"state {status.state.value}"
            if not cancelled:
                log.warning("job %s is %s; cancelling it before anything else starts", handle.name, status.state.value)
                try:
                    backend.cancel(handle)
                    cancelled = True
                except TransientBackendError as exc:
                    last = f"cancel failed: {exc}"
        if clock.now() >= deadline:
            raise JobNotSettledError(
                f"job {handle.name} could not be confirmed stopped within {timeout_seconds:.0f} s ({last}); it may "
                "still be running: cancel it (Azure ML Studio, or `az ml job cancel -n NAME`) before running again")
        clock.sleep(poll_seconds)


class AttemptLedger:
    """Every job this flow run submitted, oldest first (`.ghostwatch/attempts.json` in the run folder)."""

    def __init__(self, run_folder: Path) -> None:
        self.path = Path(run_folder) / STATE_DIR / LEDGER

    def handles(self) -> list[JobHandle]:
        if not self.path.exists():
            return []
        return [JobHandle(d["backend"], d["name"], d.get("attempt", 1), d.get("details") or {})
                for d in json.loads(self.path.read_text())]

    def add(self, handle: JobHandle) -> None:
        rows = [h for h in self.handles() if h.name != handle.name] + [handle]
        self.path.parent.mkdir(parents=True, exist_ok=True)
        temporary = self.path.with_suffix(".tmp")
        temporary.write_text(json.dumps([{"backend": h.backend, "name": h.name, "attempt": h.attempt,
                                          "details": h.details} for h in rows], default=str))
        temporary.replace(self.path)


@dataclass
class ResumePlan:
    """Where a (retried) flow run starts: re-attach to a running job, and the number of its next attempt."""

    next_attempt: int = 1
    reattach: JobHandle | None = None


class Attempts:
    """The attempt lifecycle of one flow run over a backend and its run folder."""

    def __init__(self, backend: JobBackend, run_folder: Path, clock: Clock | None = None,
                 settle_timeout_seconds: float = 300, poll_seconds: float = 5.0) -> None:
        self.backend = backend
        self.run_folder = Path(run_folder)
        self.clock = clock or SystemClock()
        self.settle_timeout_seconds = settle_timeout_seconds
        self.poll_seconds = poll_seconds
        self.ledger = AttemptLedger(run_folder)

    def planned_handle(self, spec: JobSpec) -> JobHandle:
        planned = getattr(self.backend, "planned_handle", None)
        if planned is not None:
            return planned(spec)
        return JobHandle(self.backend.name, spec.name, spec.attempt, {"planned": True})

    def start(self, spec: JobSpec, submit: Callable[[JobSpec], JobHandle]) -> JobHandle:
        """Record the job, then submit it (through `submit`, e.g. the flow's retrying task); returns its handle.

        A submit that raises leaves the record in place unless the error says the service refused the job.
        """
        planned = self.planned_handle(spec)
        record_active_job(self.run_folder, planned)
        self.ledger.add(planned)
        try:
            handle = submit(spec)
        except TransientBackendError:
            raise  # the job may exist: the record stays for the hooks and for a retried flow run
        except Exception:
            if not self._exists(planned):
                clear_active_job(self.run_folder)
            raise
        record_active_job(self.run_folder, handle)
        self.ledger.add(handle)
        return handle

    def _exists(self, handle: JobHandle) -> bool:
        """Whether the service knows the job (a refused submit creates none); unsure counts as yes."""
        try:
            self.backend.get(handle)
        except TransientBackendError:
            return True
        except Exception:
            return False
        return True

    def finish(self, handle: JobHandle) -> JobStatus:
        """The attempt is over: its job confirmed over (cancelled first if need be), then the record cleared.

        Raises:
            JobNotSettledError: the job may still run; the record stays for the hooks, and no new attempt may start.
        """
        status = settle(self.backend, handle, self.clock, self.settle_timeout_seconds, self.poll_seconds)
        clear_active_job(self.run_folder)
        return status

    def resume(self) -> ResumePlan:
        """What a retried flow run does with its earlier tries' jobs.

        A job still queued or running is re-attached (watched, not resubmitted). A job that ended (or one that hung:
        NotResponding, Paused, cancelled and confirmed here) is done with: the next attempt gets a new job.

        Raises:
            JobNotSettledError: an earlier job could not be confirmed over.
        """
        handles = self.ledger.handles()
        recorded = active_job(self.run_folder)
        if recorded is not None and all(h.name != recorded.name for h in handles):
            handles.append(recorded)
        if not handles:
            return ResumePlan()
        last = handles[-1]
        try:
            status = self.backend.get(last)
        except KeyError:  # a local process of a killed orchestrator: stop it; the next attempt resumes its outputs
            self.backend.cancel(last)
            clear_active_job(self.run_folder)
            return ResumePlan(next_attempt=last.attempt + 1)
        except Exception as exc:  # not found: the submit never reached the service
            if "not found" in str(exc).lower() or "does not exist" in str(exc).lower():
                clear_active_job(self.run_folder)
                return ResumePlan(next_attempt=last.attempt)
            raise
        if not status.state.is_final and status.state is not JobState.UNKNOWN:
            record_active_job(self.run_folder, last)
            return ResumePlan(next_attempt=last.attempt, reattach=last)
        self.finish(last)
        return ResumePlan(next_attempt=last.attempt + 1)
