"""Scripted job lifecycles for the fake Azure ML: which states a job passes through, for how long, and what it leaves.

A lifecycle is data: phases (state, seconds) on the fake's clock, the run-history error of a failed job, the log
folder (under logs/) its log files come from, and how many predictions it has written when it ends. Predictions go
to the job's `results` output path, one line per video in the real job's format (verdict, positive, error, ...);
a job finds what an earlier attempt wrote there and only adds the rest, as the real inference job does.
"""
from __future__ import annotations

import json
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

LOGS_ROOT = Path(__file__).parent / "logs"


@dataclass(frozen=True)
class Phase:
    """A state the job holds for `seconds` (None: holds it for good; a final state always does)."""

    state: str
    seconds: float | None = None


@dataclass(frozen=True)
class Lifecycle:
    """One scripted job: phases, error, logs and outputs."""

    name: str
    phases: tuple[Phase, ...]
    error: dict[str, Any] | None = None
    logs: str | None = None
    predictions_total: int = 0  # predictions.jsonl lines present when the job ends (earlier attempts' included)
    write_summary: bool = False
    failing: int = 0  # how many of the videos this job predicts are written with an error (a corrupt file, say)
    extra_logs: tuple[tuple[str, str], ...] = ()  # (run-history name, text) appended to the job's log files
    videos: tuple[str, ...] = field(default_factory=lambda: tuple(f"images_{i // 10 + 1}_{i % 10 + 1:03d}.avi" for i in range(10)))

    def state_at(self, elapsed: float) -> str:
        """The state `elapsed` seconds after submission."""
        for phase in self.phases:
            if phase.seconds is None or elapsed < phase.seconds:
                return phase.state
            elapsed -= phase.seconds
        return self.phases[-1].state

    def seconds_until(self, state: str) -> float:
        """Seconds from submission until the job first enters `state`."""
        total = 0.0
        for phase in self.phases:
            if phase.state == state:
                return total
            total += phase.seconds or 0.0
        raise ValueError(f"lifecycle {self.name} never reaches {state}")

    def log_files(self) -> dict[str, bytes]:
        """The job's log files by their run-history name (user_logs/..., system_logs/...)."""
        files: dict[str, bytes] = {}
        if self.logs:
            root = LOGS_ROOT / self.logs
            files = {p.relative_to(root).as_posix(): p.read_bytes() for p in sorted(root.rglob("*")) if p.is_file()}
        for name, text in self.extra_logs:
            files[name] = files.get(name, b"") + text.encode()
        return files

    def outputs(self, existing_predictions: bytes | None) -> dict[str, bytes]:
        """Files the job leaves in its output folder, resuming after `existing_predictions` (predictions.jsonl)."""
        lines = [ln for ln in (existing_predictions or b"").decode().splitlines() if ln.strip()]
        done = {json.loads(ln)["video"] for ln in lines}
        for video in self.videos:
            if len(lines) >= self.predictions_total:
                break
            if video not in done:
                # The real job's line format (inference/outputs.py), which triage's output checks read.
                verdict = "yes" if sum(map(ord, video)) % 2 else "no"
                if self.videos.index(video) < self.failing:
                    lines.append(json.dumps({
                        "video": video, "verdict": None, "positive": None, "raw_text": None,
                        "error": "decord: cannot decode video stream (Invalid data found when processing input)",
                        "model": "llava-hf/LLaVA-NeXT-Video-7B-hf", "model_family": "llava-next-video", **_KEY_REST,
                    }))
                    continue
                lines.append(json.dumps({
                    "video": video, "verdict": verdict, "positive": verdict == "yes", "error": None,
                    "raw_text": json.dumps({"ghost_probing": verdict, "start_second": 1.0 if verdict == "yes" else None}),
                    "model": "llava-hf/LLaVA-NeXT-Video-7B-hf", "model_family": "llava-next-video", **_KEY_REST,
                }))
        files: dict[str, bytes] = {}
        if lines:
            files["predictions.jsonl"] = ("\n".join(lines) + "\n").encode()
        if self.write_summary:
            files["summary.json"] = json.dumps({
                "videos": len(lines), "videos_total": len(self.videos), "failed": 0,
                "model": "llava-hf/LLaVA-NeXT-Video-7B-hf",
            }).encode()
        return files


def _default_key_rest() -> dict:
    """The rest of the real job's resume key for the default RunConfig (16 frames, the default prompt)."""
    from inference.outputs import prompt_sha256

    return {"num_frames": 16, "prompt_sha256": prompt_sha256(None)}


_KEY_REST = _default_key_rest()


def stream_not_found() -> Lifecycle:
    """The seed's job: the input mount fails four seconds into running, before the script starts."""
    message = "The requested stream was not found. Please make sure the request uri is correct."
    return Lifecycle(
        name="stream_not_found",
        phases=(Phase("NotStarted", 2), Phase("Queued", 10), Phase("Preparing", 8), Phase("Starting", 5), Phase("Running", 4), Phase("Failed")),
        error={
            "code": "ScriptExecution.StreamAccess.NotFound",
            "severity": None,
            "message": message,
            "messageFormat": None,
            "messageParameters": {},
            "referenceCode": None,
            "detailsUri": None,
            "target": "UriMountSession:INPUT_video_data",
            "details": [],
            "innerError": None,
            "additionalInfo": [{"type": "ErrorCategory", "info": {"category": "UserError"}}],
        },
        logs="stream_not_found",
    )


def preempted(predictions_total: int = 4) -> Lifecycle:
    """A low-priority node is pre-empted after the job has written `predictions_total` predictions."""
    return Lifecycle(
        name="preempted",
        phases=(Phase("Queued", 60), Phase("Preparing", 20), Phase("Running", 700), Phase("Failed")),
        error={
            "code": "UserError",
            "message": "AzureMLCompute job failed.\nPreemptionError: Nodes of this job got pre-empted. Check if the run "
            "has failed or restarted. Reason: Received pre-emption warning signal",
            "target": None,
            "details": [],
            "innerError": None,
            "messageParameters": {},
        },
        logs="preempted",
        predictions_total=predictions_total,
    )


def not_responding() -> Lifecycle:
    """The node stops sending heartbeats; the service gives up on the job."""
    return Lifecycle(
        name="not_responding",
        phases=(Phase("Queued", 30), Phase("Preparing", 20), Phase("Running", 2500), Phase("NotResponding")),
        logs="not_responding",
    )


def completed(predictions_total: int = 10, running_seconds: float = 2400) -> Lifecycle:
    """A healthy job: every video predicted, summary written."""
    return Lifecycle(
        name="completed",
        phases=(Phase("Queued", 45), Phase("Preparing", 30), Phase("Running", running_seconds), Phase("Finalizing", 15), Phase("Completed")),
        logs="completed",
        predictions_total=predictions_total,
        write_summary=True,
    )


def stuck_in_queue() -> Lifecycle:
    """No capacity for low-priority A100s: the job never leaves the queue."""
    return Lifecycle(name="stuck_in_queue", phases=(Phase("Queued"),))


def long_running(seconds: float) -> Lifecycle:
    """A job that runs for `seconds` and completes, for the benchmark's job-hours."""
    return Lifecycle(
        name="long_running",
        phases=(Phase("Queued", 120), Phase("Preparing", 60), Phase("Running", seconds), Phase("Completed")),
        logs="completed",
        predictions_total=10,
        write_summary=True,
    )


def cuda_oom() -> Lifecycle:
    """The model and a batch of frames do not fit in the A100's memory: the job exits 5 (inference's EXIT_OOM)."""
    return Lifecycle(
        name="cuda_oom",
        phases=(Phase("Queued", 30), Phase("Running", 300), Phase("Failed")),
        error={"code": "UserError", "message": "Execution failed. User process 'python' exited with status code 5. "
               "Please check log file 'user_logs/std_log.txt' for error details. Error: torch.OutOfMemoryError: "
               "CUDA out of memory. Tried to allocate 2.50 GiB. GPU 0 has a total capacity of 79.15 GiB",
               "target": None, "details": [], "innerError": None, "messageParameters": {}},
        logs="completed",
        extra_logs=(("user_logs/std_log.txt", "torch.OutOfMemoryError: CUDA out of memory. Tried to allocate 2.50 GiB. "
                     "GPU 0 has a total capacity of 79.15 GiB of which 1.02 GiB is free.\n"
                     "CUDA out of memory at batch size 4; rerun with a smaller --batch-size (videos already done are kept)\n"),),
    )


def key_refused() -> Lifecycle:
    """The job mounts its input with the datastore's stored key; the account refuses key-based auth."""
    return Lifecycle(
        name="key_refused",
        phases=(Phase("Queued", 30), Phase("Preparing", 20), Phase("Running", 5), Phase("Failed")),
        error={"code": "ScriptExecution.StreamAccess.Authentication", "message": "Failed to mount URI: "
               "KeyBasedAuthenticationNotPermitted: Key based authentication is not permitted on this storage account.",
               "target": "UriMountSession:INPUT_video_data", "details": [], "innerError": None, "messageParameters": {}},
    )


def refused_foreign_predictions(folder: str, count: int, theirs: str, ours: str) -> Lifecycle:
    """The real job's refusal (inference/llava_ghost_probing_batch.py) to resume predictions made another way."""
    message = (f"{folder}/predictions.jsonl holds {count} predictions made another way: model {theirs!r} (this run: "
               f"{ours!r}). Refusing to mix them: use a fresh --output-folder, or move the old predictions aside to redo them")
    return Lifecycle(
        name="refused_foreign_predictions",
        phases=(Phase("Queued", 0.3), Phase("Running", 0.3), Phase("Failed")),
        error={"code": "UserError", "message": f"Execution failed. User process 'python' exited with status code 2. "
               f"Error: JobError: {message}", "target": None, "details": [], "innerError": None, "messageParameters": {}},
        extra_logs=(("user_logs/std_log.txt", f"ERROR ghost-probing job: {message}\n"),),
    )
