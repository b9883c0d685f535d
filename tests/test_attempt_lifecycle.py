"""The attempt lifecycle: record before submit, settle (cancel and confirm) before any resubmit, clear only then;
per-try alert markers; what a retried flow run does with the jobs of its earlier tries. No Prefect, fake clock."""
from __future__ import annotations

from pathlib import Path

import pytest

from flows.attempts import AttemptLedger, JobNotSettledError, Attempts, settle
from flows.run_state import active_job, mark_alerted, was_alerted
from tasks.backends.base import JobHandle, JobSpec, JobState, JobStatus
from tasks.backends.watch import PollPolicy, TransientBackendError, watch_job
from tasks.clock import FakeClock


class Backend:
    """A scripted JobBackend: states per job name; records submits and cancels; a cancel ends a job after `lag` polls."""

    name = "scripted"

    def __init__(self, states: dict[str, list] | None = None, lag: int = 1, run_folder: Path | None = None):
        self.states = {k: list(v) for k, v in (states or {}).items()}
        self.lag = lag
        self.submitted: list[str] = []
        self.cancels: list[str] = []
        self._since_cancel: dict[str, int] = {}
        self.run_folder = run_folder
        self.recorded_at_submit: list[JobHandle | None] = []

    def planned_handle(self, spec: JobSpec) -> JobHandle:
        return JobHandle(self.name, spec.name, spec.attempt, {"planned": True})

    def submit(self, spec: JobSpec) -> JobHandle:
        if self.run_folder is not None:
            self.recorded_at_submit.append(active_job(self.run_folder))
        self.submitted.append(spec.name)
        self.states.setdefault(spec.name, [JobState.RUNNING])
        return JobHandle(self.name, spec.name, spec.attempt, {"pid": 1})

    def get(self, handle: JobHandle) -> JobStatus:
        script = self.states.setdefault(handle.name, [JobState.RUNNING])
        if handle.name in self._since_cancel:
            self._since_cancel[handle.name] += 1
            if self._since_cancel[handle.name] > self.lag:
                return JobStatus(handle=handle, state=JobState.CANCELED)
            return JobStatus(handle=handle, state=JobState.CANCEL_REQUESTED)
        item = script.pop(0) if len(script) > 1 else script[0]
        if isinstance(item, Exception):
            raise item
        return JobStatus(handle=handle, state=item)

    def cancel(self, handle: JobHandle) -> None:
        self.cancels.append(handle.name)
        self._since_cancel.setdefault(handle.name, 0)

    def collect_evidence(self, handle, dest: Path) -> Path:
        dest.mkdir(parents=True, exist_ok=True)
        return dest


def spec(name: str, attempt: int = 1) -> JobSpec:
    return JobSpec(name=name, video_input="/v", output_dir="/o", model="m", attempt=attempt)


# ---- item 1: the watch gives up without cancelling
def test_watch_that_gives_up_on_transient_errors_cancels_the_job(tmp_path):
    backend = Backend({"gw-a1": [TransientBackendError("503")]})
    outcome = watch_job(backend, JobHandle("scripted", "gw-a1"), tmp_path, PollPolicy(max_consecutive_errors=3, jitter=0),
                        clock=FakeClock())
    assert outcome.gave_up_reason and "3 transient errors" in outcome.gave_up_reason
    assert backend.cancels == ["gw-a1"], "a watch that stops watching must not leave the job running"


def test_settle_waits_for_the_cancel_to_be_confirmed(tmp_path):
    backend = Backend({"gw-a1": [JobState.RUNNING]}, lag=3)
    status = settle(backend, JobHandle("scripted", "gw-a1"), clock=FakeClock(), timeout_seconds=600)
    assert backend.cancels == ["gw-a1"] and status.state is JobState.CANCELED


def test_settle_that_cannot_confirm_raises_and_keeps_the_record(tmp_path):
    backend = Backend({"gw-a1": [TransientBackendError("503")]})
    attempts = Attempts(backend, tmp_path, clock=FakeClock(), settle_timeout_seconds=60)
    handle = attempts.start(spec("gw-a1"), backend.submit)
    with pytest.raises(JobNotSettledError, match="gw-a1"):
        attempts.finish(handle)
    assert active_job(tmp_path).name == "gw-a1", "a job that may still run stays on record for the hooks"


# ---- item 2: NotResponding and Paused are not over until cancelled
@pytest.mark.parametrize("state", [JobState.NOT_RESPONDING, JobState.PAUSED])
def test_not_responding_or_paused_job_is_cancelled_and_confirmed_before_the_record_is_cleared(tmp_path, state):
    backend = Backend({"gw-a1": [state]})
    attempts = Attempts(backend, tmp_path, clock=FakeClock())
    handle = attempts.start(spec("gw-a1"), backend.submit)
    final = attempts.finish(handle)
    assert backend.cancels == ["gw-a1"] and final.state is JobState.CANCELED
    assert active_job(tmp_path) is None


@pytest.mark.parametrize("state", [JobState.COMPLETED, JobState.FAILED, JobState.CANCELED])
def test_a_job_that_is_really_over_is_not_cancelled(tmp_path, state):
    backend = Backend({"gw-a1": [state]})
    attempts = Attempts(backend, tmp_path, clock=FakeClock())
    attempts.finish(attempts.start(spec("gw-a1"), backend.submit))
    assert backend.cancels == [] and active_job(tmp_path) is None


# ---- item 3: the record is written before submit
def test_active_job_is_recorded_before_submit_is_called(tmp_path):
    backend = Backend(run_folder=tmp_path)
    attempts = Attempts(backend, tmp_path, clock=FakeClock())
    attempts.start(spec("gw-a1"), backend.submit)
    assert backend.recorded_at_submit[0] is not None and backend.recorded_at_submit[0].name == "gw-a1"
    assert active_job(tmp_path).details.get("pid") == 1, "the record is completed with what submit returned"


# ---- item 8: a retried flow run
def test_retry_reattaches_to_a_job_that_is_still_running(tmp_path):
    backend = Backend({"gw-a1": [JobState.RUNNING]})
    first = Attempts(backend, tmp_path, clock=FakeClock())
    first.start(spec("gw-a1"), backend.submit)  # ... and the orchestrator is killed here
    retry = Attempts(backend, tmp_path, clock=FakeClock())
    plan = retry.resume()
    assert plan.reattach is not None and plan.reattach.name == "gw-a1" and plan.next_attempt == 1
    assert backend.cancels == [] and backend.submitted == ["gw-a1"]


def test_retry_after_a_failed_job_makes_a_new_attempt(tmp_path):
    backend = Backend({"gw-a1": [JobState.FAILED]})
    first = Attempts(backend, tmp_path, clock=FakeClock())
    first.finish(first.start(spec("gw-a1"), backend.submit))
    plan = Attempts(backend, tmp_path, clock=FakeClock()).resume()
    assert plan.reattach is None and plan.next_attempt == 2


def test_retry_after_a_not_responding_job_cancels_it_then_makes_a_new_attempt(tmp_path):
    backend = Backend({"gw-a1": [JobState.NOT_RESPONDING]})
    Attempts(backend, tmp_path, clock=FakeClock()).start(spec("gw-a1"), backend.submit)
    plan = Attempts(backend, tmp_path, clock=FakeClock()).resume()
    assert backend.cancels == ["gw-a1"] and plan.reattach is None and plan.next_attempt == 2
    assert active_job(tmp_path) is None


def test_alerted_marker_is_per_try(tmp_path):
    mark_alerted(tmp_path, 1)
    assert was_alerted(tmp_path, 1)
    assert not was_alerted(tmp_path, 2), "a retry that fails again alerts once more"


def test_ledger_lists_every_attempt_in_order(tmp_path):
    ledger = AttemptLedger(tmp_path)
    ledger.add(JobHandle("scripted", "gw-a1", 1))
    ledger.add(JobHandle("scripted", "gw-a2", 2))
    assert [h.name for h in AttemptLedger(tmp_path).handles()] == ["gw-a1", "gw-a2"]
