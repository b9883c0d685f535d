"""The JobBackend seam: submit, get, cancel, collect evidence. Every backend writes one evidence layout.

Evidence layout (what `az ml job download --all` produces, plus one file of ours):
    <evidence>/user_logs/std_log.txt
    <evidence>/system_logs/<capability>/*.log     (data_capability, lifecycler, ...)
    <evidence>/outputs/...                       (predictions.jsonl, summary.json, ...)
    <evidence>/job.json                          (ghostwatch's record of the job: JobStatus.to_dict())
Triage reads this one shape whatever ran the job; job.json is optional for triage (a folder downloaded by hand has none).
"""
from __future__ import annotations

import enum
import json
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any, Protocol


class JobState(str, enum.Enum):
    """Azure ML's job states; the local backend uses the same names."""

    NOT_STARTED = "NotStarted"
    QUEUED = "Queued"
    PREPARING = "Preparing"
    PROVISIONING = "Provisioning"
    STARTING = "Starting"
    RUNNING = "Running"
    FINALIZING = "Finalizing"
    CANCEL_REQUESTED = "CancelRequested"
    COMPLETED = "Completed"
    FAILED = "Failed"
    CANCELED = "Canceled"
    NOT_RESPONDING = "NotResponding"
    PAUSED = "Paused"
    UNKNOWN = "Unknown"

    @property
    def is_final(self) -> bool:
        return self in FINAL_STATES

    @property
    def is_running(self) -> bool:
        """True once the job's process has started (run-time budget applies, not queue-time)."""
        return self in (JobState.RUNNING, JobState.FINALIZING)

    @classmethod
    def parse(cls, value: str | None) -> "JobState":
        """Map a service's status string onto a JobState; unknown strings become UNKNOWN."""
        for state in cls:
            if value and state.value.lower() == str(value).lower():
                return state
        return cls.UNKNOWN


FINAL_STATES = frozenset(
    {JobState.COMPLETED, JobState.FAILED, JobState.CANCELED, JobState.NOT_RESPONDING, JobState.PAUSED}
)


@dataclass(frozen=True)
class JobSpec:
    """What to run: everything a backend needs to start one attempt of the inference job.

    `video_input` is what the job reads: a local folder for LocalBackend; an `azureml://` / https URI for Azure ML.
    `output_dir` is stable for a flow run (not per attempt), so a resubmitted job resumes from earlier predictions.
    """

    name: str
    video_input: str
    output_dir: str
    model: str
    model_family: str = "llava-next-video"
    num_frames: int = 16
    batch_size: int = 1
    max_new_tokens: int = 160
    labels: str | None = None
    start_index: int = 0
    limit: int | None = None
    use_identity: bool = False
    attempt: int = 1
    extra_args: tuple[str, ...] = ()
    env: dict[str, str] = field(default_factory=dict)

    def job_arguments(self) -> list[str]:
        """The inference job's command-line arguments (the contract of inference/llava_ghost_probing_batch.py)."""
        args = [
            "--video-folder", self.video_input,
            "--output-folder", self.output_dir,
            "--model", self.model,
            "--model-family", self.model_family,
            "--num-frames", str(self.num_frames),
            "--batch-size", str(self.batch_size),
            "--max-new-tokens", str(self.max_new_tokens),
            "--start-index", str(self.start_index),
        ]
        if self.limit is not None:
            args += ["--limit", str(self.limit)]
        if self.labels:
            args += ["--labels", self.labels]
        return args + list(self.extra_args)


@dataclass(frozen=True)
class JobHandle:
    """Identifies a submitted job to the backend that submitted it."""

    backend: str
    name: str
    attempt: int = 1
    details: dict[str, Any] = field(default_factory=dict)


@dataclass
class JobStatus:
    """One observation of a job: its state and what the service says about it."""

    handle: JobHandle
    state: JobState
    started_at: str | None = None
    ended_at: str | None = None
    exit_code: int | None = None
    error: dict[str, Any] | None = None  # structured error: code, message, category, target
    studio_url: str | None = None
    properties: dict[str, Any] = field(default_factory=dict)

    def to_dict(self) -> dict[str, Any]:
        data = asdict(self)
        data["state"] = self.state.value
        return data


@dataclass
class JobOutcome:
    """A job at its final state (or given up on), with the folder holding its evidence."""

    status: JobStatus
    evidence_dir: Path
    polls: int = 0
    watch_seconds: float = 0.0
    gave_up_reason: str | None = None  # set when the watch cancelled the job (budget exceeded)

    @property
    def state(self) -> JobState:
        return self.status.state


class JobBackend(Protocol):
    """Where the inference job runs. One small seam: implement these five methods."""

    name: str

    def check_workspace(self, spec: JobSpec) -> list[str]:
        """Problems that would stop this job before it runs (compute, environment, paths); empty means go."""

    def submit(self, spec: JobSpec) -> JobHandle:
        """Start one attempt of the job (or re-attach to an identical one already submitted)."""

    def get(self, handle: JobHandle) -> JobStatus:
        """The job's current status."""

    def cancel(self, handle: JobHandle) -> None:
        """Ask the job to stop; returns without waiting for it."""

    def collect_evidence(self, handle: JobHandle, dest: Path) -> Path:
        """Write the evidence layout under `dest` and return it; says in the evidence what could not be fetched."""


def write_job_record(status: JobStatus, evidence_dir: Path) -> Path:
    """Write `job.json` (the job's last observed status) into an evidence folder."""
    evidence_dir.mkdir(parents=True, exist_ok=True)
    path = evidence_dir / "job.json"
    path.write_text(json.dumps(status.to_dict(), indent=2, default=str))
    return path
