"""Budgets on every backend and the flow's own limit (issue 11 item 9): a hung local job ends too."""
from __future__ import annotations

import sys

from tasks.backends.base import JobSpec, JobState
from tasks.backends.local import LocalBackend
from tasks.backends.watch import PollPolicy, watch_job
from tasks.clock import FakeClock
from tasks.config import AzureMLSettings, RunConfig


def test_local_runs_have_queue_and_run_budgets():
    from flows.ghost_probing import _poll_policy

    policy = _poll_policy(RunConfig(video_uri="/data", backend="local", run_budget_minutes=30))
    assert policy.run_budget_seconds == 1800 and policy.queue_budget_seconds is not None


def test_azureml_settings_may_override_the_runs_budgets():
    azure = AzureMLSettings(subscription_id="s", resource_group="r", workspace_name="w", run_budget_minutes=90)
    config = RunConfig(video_uri="azureml://datastores/x/paths/y", backend="azureml", azureml=azure, run_budget_minutes=30)
    assert config.budgets_seconds() == (240 * 60, 90 * 60)


def test_a_hung_local_job_is_cancelled_by_its_run_budget(tmp_path, monkeypatch):
    monkeypatch.setenv("GW_SCRIPTED_JOB", "sleep")
    backend = LocalBackend(tmp_path / "jobs", python=sys.executable, job_module="tests.support.scripted_job")
    handle = backend.submit(JobSpec(name="gw-hung-a1", video_input=str(tmp_path), output_dir=str(tmp_path / "out"), model="m"))
    clock = FakeClock()
    outcome = watch_job(backend, handle, tmp_path / "ev", PollPolicy(initial_seconds=5, run_budget_seconds=60, jitter=0),
                        clock=clock)
    assert "still running" in outcome.gave_up_reason
    assert backend.get(handle).state is JobState.CANCELED


def test_the_flows_deadline_cancels_the_watch(tmp_path, monkeypatch):
    monkeypatch.setenv("GW_SCRIPTED_JOB", "sleep")
    backend = LocalBackend(tmp_path / "jobs", python=sys.executable, job_module="tests.support.scripted_job")
    handle = backend.submit(JobSpec(name="gw-hung-a2", video_input=str(tmp_path), output_dir=str(tmp_path / "out"), model="m"))
    outcome = watch_job(backend, handle, tmp_path / "ev", PollPolicy(initial_seconds=5, deadline_seconds=30, jitter=0),
                        clock=FakeClock())
    assert "flow's time ran out" in outcome.gave_up_reason
    assert backend.get(handle).state is JobState.CANCELED
