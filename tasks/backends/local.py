"""LocalBackend: run the inference job as a separate process on this machine, in Azure ML's evidence layout.

It runs the very module an Azure ML job runs (`python -m inference.llava_ghost_probing_batch`), so the embedded default
exercises the production job. The process's stdout and stderr go to `user_logs/std_log.txt`; a lifecycler log records
start and exit like Azure ML's `system_logs/lifecycler/`, so triage and its timeline read one shape whatever ran the job.
"""
from __future__ import annotations

import datetime as dt
import json
import os
import shutil
import signal
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path

from tasks.backends.base import JobHandle, JobSpec, JobState, JobStatus

JOB_MODULE = "inference.llava_ghost_probing_batch"
PID_FILE = "job.pid.json"
# Where the job's code snapshot lives: the folder holding the `inference` package.
CODE_ROOT = Path(__file__).resolve().parents[2]


def _utcnow() -> str:
    return dt.datetime.now(dt.timezone.utc).strftime("%Y-%m-%dT%H:%M:%S.%fZ")


def _process_start(pid: int | str) -> str | None:
    """The kernel's start time of a process (field 22 of /proc/<pid>/stat): with the pid, it names one process."""
    try:
        stat = Path(f"/proc/{int(pid)}/stat").read_text()
    except (OSError, ValueError):
        return None
    # The command name (field 2) may hold spaces and parentheses: count fields after its closing parenthesis.
    return stat.rsplit(")", 1)[1].split()[19]


@dataclass
class _LocalJob:
    process: subprocess.Popen
    spec: JobSpec
    work_dir: Path
    started_at: str
    ended_at: str | None = None
    cancelled: bool = False


class LocalBackend:
    """Runs each job attempt as a child process; `work_root/<job name>/` holds its logs while it runs.

    Args:
        work_root: folder for the jobs' logs (one sub-folder per job name).
        python: interpreter for the job (default: this one), e.g. a separate venv with `.[inference]`.
        env: extra environment for every job (e.g. HF_HUB_OFFLINE=1).
        job_module: the module run with `python -m` (the inference job; tests may point it at a scripted stand-in).
    """

    name = "local"

    def __init__(
        self,
        work_root: str | Path,
        python: str | None = None,
        env: dict[str, str] | None = None,
        job_module: str = JOB_MODULE,
    ) -> None:
        self.work_root = Path(work_root)
        self.python = python or sys.executable
        self.env = dict(env or {})
        self.job_module = job_module
        self._jobs: dict[str, _LocalJob] = {}

    def command(self, spec: JobSpec) -> list[str]:
        """The job's command line."""
        return [self.python, "-u", "-m", self.job_module, *spec.job_arguments()]

    def check_workspace(self, spec: JobSpec) -> list[str]:
        """Problems that would stop the job before it starts: the interpreter and the job's input folder."""
        problems = []
        if not Path(self.python).exists():
            problems.append(f"the job's Python interpreter {self.python} does not exist")
        if not Path(spec.video_input).is_dir():
            problems.append(f"the job's video folder {spec.video_input} does not exist on this machine")
        return problems

    def planned_handle(self, spec: JobSpec) -> JobHandle:
        """The handle of a job not started yet: its work folder, where submit writes the process's pid first thing."""
        return JobHandle(self.name, spec.name, spec.attempt, {"work_dir": str(self.work_root / spec.name),
                                                             "output_dir": spec.output_dir, "planned": True})

    def submit(self, spec: JobSpec) -> JobHandle:
        """Start the job's process; a job of the same name that is still known re-attaches instead."""
        if spec.name in self._jobs:
            return self._handle(spec.name, spec.attempt)
        work_dir = self.work_root / spec.name
        (work_dir / "user_logs").mkdir(parents=True, exist_ok=True)
        (work_dir / "system_logs" / "lifecycler").mkdir(parents=True, exist_ok=True)
        Path(spec.output_dir).mkdir(parents=True, exist_ok=True)
        env = {**os.environ, "PYTHONUNBUFFERED": "1", **self.env, **spec.env}
        env["PYTHONPATH"] = os.pathsep.join(p for p in (str(CODE_ROOT), env.get("PYTHONPATH", "")) if p)
        started_at = _utcnow()
        self._lifecycle(work_dir, started_at, f"Starting job {spec.name} (attempt {spec.attempt}) on local process backend")
        with open(work_dir / "user_logs" / "std_log.txt", "ab") as log_file:
            process = subprocess.Popen(
                self.command(spec),
                cwd=str(CODE_ROOT),
                stdout=log_file,
                stderr=subprocess.STDOUT,
                stdin=subprocess.DEVNULL,
                env=env,
                start_new_session=True,  # its own process group, so cancel stops the job's children too
            )
        # A hook in another process may hold only the planned handle: the pid file lets it stop this process.
        (work_dir / PID_FILE).write_text(json.dumps({"pid": process.pid, "process_start": _process_start(process.pid)}))
        self._lifecycle(work_dir, _utcnow(), f"Process started (pid {process.pid}); running user command")
        self._jobs[spec.name] = _LocalJob(process=process, spec=spec, work_dir=work_dir, started_at=started_at)
        return self._handle(spec.name, spec.attempt)

    def get(self, handle: JobHandle) -> JobStatus:
        """The process's state: Running until it exits, then Completed (exit 0), Canceled or Failed."""
        job = self._job(handle)
        code = job.process.poll()
        if code is None:
            return JobStatus(handle=handle, state=JobState.RUNNING, started_at=job.started_at)
        if job.ended_at is None:
            job.ended_at = _utcnow()
            self._lifecycle(job.work_dir, job.ended_at, f"User process exited with exit code {code}")
        if job.cancelled:
            state = JobState.CANCELED
        else:
            state = JobState.COMPLETED if code == 0 else JobState.FAILED
        error = None
        if state is JobState.FAILED:
            error = {
                "code": "UserError",
                "category": "UserError",
                "message": f"Execution failed. User process '{self.job_module}' exited with status code {code}.",
                "target": "user_process",
            }
        return JobStatus(
            handle=handle, state=state, started_at=job.started_at, ended_at=job.ended_at, exit_code=code, error=error
        )

    def cancel(self, handle: JobHandle) -> None:
        """Stop the job's process group: SIGTERM, then SIGKILL after a grace period.

        A handle from another process (a cancellation hook run by a worker) is stopped through its recorded pid, but
        only while that pid is still the process that was started (same kernel start time): a recycled pid is never
        signalled.
        """
        job = self._jobs.get(handle.name)
        if job is None:
            self._cancel_foreign(handle)
            return
        if job.process.poll() is not None:
            return
        job.cancelled = True
        self._lifecycle(job.work_dir, _utcnow(), "Cancel requested; stopping the user process")
        try:
            os.killpg(job.process.pid, signal.SIGTERM)
            job.process.wait(timeout=10)
        except subprocess.TimeoutExpired:
            os.killpg(job.process.pid, signal.SIGKILL)
            job.process.wait(timeout=10)
        except ProcessLookupError:
            pass

    def _cancel_foreign(self, handle: JobHandle) -> None:
        work_dir = Path(handle.details.get("work_dir", self.work_root / handle.name))
        recorded = dict(handle.details)
        if not recorded.get("pid") and (work_dir / PID_FILE).exists():
            recorded.update(json.loads((work_dir / PID_FILE).read_text()))
        pid = recorded.get("pid")
        if not pid or _process_start(pid) != recorded.get("process_start"):
            return  # gone, or the pid now belongs to another process
        if (work_dir / "system_logs" / "lifecycler").exists():
            self._lifecycle(work_dir, _utcnow(), "Cancel requested; stopping the user process")
        try:
            os.killpg(int(pid), signal.SIGTERM)
        except ProcessLookupError:
            pass

    def collect_evidence(self, handle: JobHandle, dest: Path) -> Path:
        """Copy logs and outputs into the evidence layout under `dest`."""
        job = self._job(handle)
        dest = Path(dest)
        dest.mkdir(parents=True, exist_ok=True)
        for part in ("user_logs", "system_logs"):
            if (job.work_dir / part).exists():
                shutil.copytree(job.work_dir / part, dest / part, dirs_exist_ok=True)
        outputs = Path(job.spec.output_dir)
        if outputs.exists():
            shutil.copytree(outputs, dest / "outputs", dirs_exist_ok=True)
        else:
            (dest / "outputs").mkdir(exist_ok=True)
            (dest / "outputs" / "NOT_COLLECTED.txt").write_text(f"the job's output folder {outputs} does not exist\n")
        return dest

    def _job(self, handle: JobHandle) -> _LocalJob:
        try:
            return self._jobs[handle.name]
        except KeyError:
            raise KeyError(
                f"no local job named {handle.name!r} in this process; local jobs cannot be re-attached after the "
                "orchestrator restarts (run the flow again: the job resumes from its predictions)"
            ) from None

    def _handle(self, name: str, attempt: int) -> JobHandle:
        job = self._jobs[name]
        return JobHandle(
            backend=self.name,
            name=name,
            attempt=attempt,
            details={
                "pid": job.process.pid,
                "process_start": _process_start(job.process.pid),
                "work_dir": str(job.work_dir),
                "output_dir": job.spec.output_dir,
            },
        )

    @staticmethod
    def _lifecycle(work_dir: Path, timestamp: str, message: str) -> None:
        with open(work_dir / "system_logs" / "lifecycler" / "lifecycler.log", "a") as log:
            log.write(f"{timestamp} INFO lifecycler {message}\n")
