"""LocalBackend: a real child process per job, Azure ML's evidence layout, cancel that stops the process group."""
import json
import time

from tasks.backends.base import JobSpec, JobState
from tasks.backends.local import LocalBackend
from tasks.backends.watch import PollPolicy, watch_job

FAST = PollPolicy(initial_seconds=0.05, max_seconds=0.2, jitter=0.0)


def spec(tmp_path, name="gw-test-a1"):
    return JobSpec(name=name, video_input=str(tmp_path / "videos"), output_dir=str(tmp_path / "outputs"), model="m")


def backend(tmp_path, mode):
    return LocalBackend(tmp_path / "jobs", env={"GW_SCRIPTED_JOB": mode}, job_module="tests.support.scripted_job")


def test_completed_job_writes_the_evidence_layout(tmp_path):
    b = backend(tmp_path, "ok")
    handle = b.submit(spec(tmp_path))
    outcome = watch_job(b, handle, tmp_path / "evidence", FAST)
    assert outcome.state is JobState.COMPLETED
    ev = tmp_path / "evidence"
    assert "scripted job starting" in (ev / "user_logs" / "std_log.txt").read_text()
    lifecycle = (ev / "system_logs" / "lifecycler" / "lifecycler.log").read_text()
    assert "exit code 0" in lifecycle
    assert json.loads((ev / "outputs" / "predictions.jsonl").read_text().splitlines()[0])["video"] == "images_1_001.avi"
    assert json.loads((ev / "job.json").read_text())["state"] == "Completed"


def test_failed_job_carries_exit_code_and_traceback(tmp_path):
    b = backend(tmp_path, "fail")
    outcome = watch_job(b, b.submit(spec(tmp_path)), tmp_path / "evidence", FAST)
    assert outcome.state is JobState.FAILED
    assert outcome.status.exit_code == 1
    assert "RuntimeError: scripted failure" in (tmp_path / "evidence" / "user_logs" / "std_log.txt").read_text()
    assert "exited with status code 1" in outcome.status.error["message"]


def test_submit_with_the_same_name_reattaches(tmp_path):
    b = backend(tmp_path, "sleep")
    first = b.submit(spec(tmp_path))
    second = b.submit(spec(tmp_path))
    try:
        assert first.details["pid"] == second.details["pid"]
    finally:
        b.cancel(first)


def test_cancel_stops_the_process(tmp_path):
    b = backend(tmp_path, "sleep")
    handle = b.submit(spec(tmp_path))
    deadline = time.monotonic() + 30
    while b.get(handle).state is not JobState.RUNNING and time.monotonic() < deadline:
        time.sleep(0.05)
    b.cancel(handle)
    status = b.get(handle)
    assert status.state is JobState.CANCELED
    assert "Cancel requested" in (tmp_path / "jobs" / "gw-test-a1" / "system_logs" / "lifecycler" / "lifecycler.log").read_text()


def test_missing_output_folder_is_said_in_the_evidence(tmp_path):
    b = backend(tmp_path, "fail")
    s = spec(tmp_path)
    handle = b.submit(s)
    watch_job(b, handle, tmp_path / "ev1", FAST)
    (tmp_path / "outputs").rmdir()
    ev = b.collect_evidence(handle, tmp_path / "ev2")
    assert "does not exist" in (ev / "outputs" / "NOT_COLLECTED.txt").read_text()


def test_cancel_from_another_process_uses_the_recorded_pid(tmp_path):
    b = backend(tmp_path, "sleep")
    handle = b.submit(spec(tmp_path))
    # A hook in another process knows only the recorded handle: a fresh backend object stands in for it.
    other = backend(tmp_path, "sleep")
    other.cancel(handle)
    b._jobs["gw-test-a1"].process.wait(timeout=30)
    assert b._jobs["gw-test-a1"].process.returncode == -15


def test_cancel_never_signals_a_recycled_pid(tmp_path):
    import os
    import subprocess
    import sys

    bystander = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(60)"], start_new_session=True)
    try:
        from tasks.backends.base import JobHandle

        # The job that had this pid started at another time: the bystander merely reuses its number.
        handle = JobHandle(backend="local", name="gone", details={"pid": bystander.pid, "process_start": "1"})
        backend(tmp_path, "sleep").cancel(handle)
        assert bystander.poll() is None
    finally:
        os.killpg(bystander.pid, 9)
