"""watch_job: backoff, every final state, budgets, transient errors — on a fake clock, never waiting."""
from pathlib import Path

import pytest

from tasks.backends.base import JobHandle, JobState, JobStatus
from tasks.backends.watch import PollPolicy, TransientBackendError, watch_job
from tasks.clock import FakeClock


class ScriptedBackend:
    """Answers `get` from a script of states (or exceptions); records cancels."""

    name = "scripted"

    def __init__(self, script):
        self.script = list(script)
        self.cancelled = False
        self.gets = 0

    def submit(self, spec):
        raise NotImplementedError

    def get(self, handle):
        self.gets += 1
        item = self.script.pop(0) if len(self.script) > 1 else self.script[0]
        if isinstance(item, Exception):
            raise item
        if self.cancelled:
            item = JobState.CANCELED
        return JobStatus(handle=handle, state=item)

    def cancel(self, handle):
        self.cancelled = True

    def collect_evidence(self, handle, dest: Path) -> Path:
        dest.mkdir(parents=True, exist_ok=True)
        return dest


HANDLE = JobHandle(backend="scripted", name="gw-test-a1")
NO_JITTER = dict(jitter=0.0)


@pytest.mark.parametrize("final", [JobState.COMPLETED, JobState.FAILED, JobState.CANCELED, JobState.NOT_RESPONDING, JobState.PAUSED])
def test_every_final_state_ends_the_watch(tmp_path, final):
    backend = ScriptedBackend([JobState.QUEUED, JobState.RUNNING, final])
    outcome = watch_job(backend, HANDLE, tmp_path / "ev", PollPolicy(**NO_JITTER), clock=FakeClock())
    assert outcome.state is final
    assert outcome.polls == 3
    assert (tmp_path / "ev" / "job.json").exists()


def test_backoff_starts_fast_and_settles(tmp_path):
    clock = FakeClock()
    backend = ScriptedBackend([JobState.RUNNING] * 12 + [JobState.COMPLETED])
    watch_job(backend, HANDLE, tmp_path, PollPolicy(initial_seconds=2, factor=2, max_seconds=10, **NO_JITTER), clock=clock)
    assert clock.sleeps[:4] == [2, 4, 8, 10]
    assert set(clock.sleeps[3:]) == {10}


def test_transient_errors_are_tolerated_and_retry_after_honoured(tmp_path):
    clock = FakeClock()
    backend = ScriptedBackend([TransientBackendError("429", retry_after=20), JobState.RUNNING, JobState.COMPLETED])
    outcome = watch_job(backend, HANDLE, tmp_path, PollPolicy(initial_seconds=1, **NO_JITTER), clock=clock)
    assert outcome.state is JobState.COMPLETED
    assert clock.sleeps[0] == 20


def test_too_many_transient_errors_give_up_with_a_reason(tmp_path):
    backend = ScriptedBackend([TransientBackendError("503 Service Unavailable")])
    outcome = watch_job(backend, HANDLE, tmp_path, PollPolicy(max_consecutive_errors=3, **NO_JITTER), clock=FakeClock())
    assert outcome.state is JobState.UNKNOWN
    assert "3 transient errors" in outcome.gave_up_reason


def test_queue_budget_cancels_a_job_that_never_starts(tmp_path):
    backend = ScriptedBackend([JobState.QUEUED])
    policy = PollPolicy(initial_seconds=10, max_seconds=60, queue_budget_seconds=300, **NO_JITTER)
    outcome = watch_job(backend, HANDLE, tmp_path, policy, clock=FakeClock())
    assert backend.cancelled
    assert "in the queue" in outcome.gave_up_reason
    import json

    assert "in the queue" in json.loads((tmp_path / "job.json").read_text())["properties"]["gave_up_reason"]


def test_run_budget_counts_from_when_the_job_started_running(tmp_path):
    backend = ScriptedBackend([JobState.QUEUED] * 20 + [JobState.RUNNING])
    policy = PollPolicy(initial_seconds=10, max_seconds=10, queue_budget_seconds=1000, run_budget_seconds=100, **NO_JITTER)
    clock = FakeClock()
    outcome = watch_job(backend, HANDLE, tmp_path, policy, clock=clock)
    assert backend.cancelled and "still running" in outcome.gave_up_reason
    # 20 queued polls (200 s) did not count against the run budget.
    assert clock.now() > 300
