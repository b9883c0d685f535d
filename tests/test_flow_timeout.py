"""issue 11 item 9: the flow has a timeout of its own. A hung local job with no queue or run budget still ends: the
in-flow deadline (flow_timeout_minutes, on by default) cancels it, and Prefect's timeout_seconds is set from the
run's config as a backstop behind it."""
from __future__ import annotations

import sys

import pytest

from flows.sample_data import make_sample_dataset
from tasks.backends.local import LocalBackend
from tasks.config import RunConfig


def test_prefect_timeout_follows_the_runs_config_and_is_never_unbounded():
    from flows.ghost_probing import MAX_FLOW_SECONDS, TIMEOUT_GRACE_SECONDS, flow_for, ghost_probing

    assert RunConfig(video_uri="/data").flow_timeout_minutes == 1440  # on by default: no budget is not "forever"
    config = RunConfig(video_uri="/data", flow_timeout_minutes=30, queue_budget_minutes=None, run_budget_minutes=None)
    bounded = flow_for(config)
    assert bounded.timeout_seconds == 30 * 60 + TIMEOUT_GRACE_SECONDS
    assert bounded.on_failure_hooks and bounded.on_crashed_hooks and bounded.on_cancellation_hooks  # hooks kept
    assert ghost_probing.timeout_seconds == MAX_FLOW_SECONDS  # deployments: the longest flow_timeout_minutes allows


def test_a_hung_local_job_without_budgets_ends_at_the_flows_deadline(prefect_harness, tmp_path, monkeypatch):
    from flows import ghost_probing as module
    from flows.run import run_and_describe

    data = make_sample_dataset(tmp_path / "videos", videos=2, seed=2, width=64, height=48, fps=10, seconds=1)
    backends: list[LocalBackend] = []

    def hung_backend(config, run_folder):
        backend = LocalBackend(run_folder / "jobs", python=sys.executable, job_module="tests.support.scripted_job")
        backends.append(backend)
        return backend

    monkeypatch.setenv("GW_SCRIPTED_JOB", "sleep")
    monkeypatch.setattr(module, "make_backend", hung_backend)
    config = RunConfig(video_uri=str(data.folder), expected_count=2, run_dir=str(tmp_path / "runs"),
                       queue_budget_minutes=None, run_budget_minutes=None, flow_timeout_minutes=0.1,
                       poll_initial_seconds=0.5, poll_max_seconds=1, max_attempts=3)

    summary, ok = run_and_describe(config)

    assert not ok and summary["state"] == "Failed"
    assert summary["category"] == "timeout", summary["text"]
    assert len(summary["attempts"]) == 1  # out of time: no second attempt
    [backend] = backends
    job = summary["attempts"][0]["job_name"]
    from tasks.backends.base import JobHandle
    assert backend.get(JobHandle("local", job, 1, {})).state.value == "Canceled"
