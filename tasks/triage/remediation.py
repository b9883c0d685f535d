"""Remediation policy: a verdict and the attempts so far -> the next attempt's overrides, or stop.

Pure: no I/O, no clock. The flow runs the loop and records each attempt; this module only decides. Data and
configuration errors are never retried (their catalogue entries say `retryable: false`); retries per category are
bounded by the catalogue's `max_retries`, and every plan by the flow's `max_attempts`.
"""
from __future__ import annotations

from dataclasses import dataclass, field

from tasks.triage.catalogue import Catalogue, default_catalogue
from tasks.triage.verdict import Verdict

MIN_FRAMES = 4  # below this a video model sees too little of a clip to judge ghost probing


@dataclass
class AttemptRecord:
    """One job attempt as the flow saw it."""

    attempt: int
    job_name: str
    state: str
    category: str
    action: str
    note: str = ""


@dataclass
class RemediationStep:
    """What to change for the next attempt, and why."""

    action: str
    reason: str
    overrides: dict = field(default_factory=dict)


def plan_remediation(
    verdict: Verdict,
    attempts: list[AttemptRecord],
    current: dict,
    max_attempts: int,
    dedicated_compute: str | None = None,
    dedicated_after_preemptions: int = 2,
    *,
    catalogue: Catalogue | None = None,
) -> RemediationStep | None:
    """Decide the next attempt.

    Args:
        verdict: triage's verdict on the attempt that just ended.
        attempts: every attempt so far, oldest first, the last one being the attempt `verdict` describes.
        current: the settings of that attempt: `batch_size`, `num_frames`, `use_identity`, `compute`.
        max_attempts: attempts allowed in all, remediation included.
        dedicated_compute: non-preemptible compute to move to after repeated preemptions (None: stay).
        dedicated_after_preemptions: preemptions after which to move there.
        catalogue: default: the shipped catalogue (for `max_retries`).

    Returns:
        The step to take, or None to stop (and alert).
    """
    catalogue = catalogue or default_catalogue()
    if verdict.category == "none" or not verdict.retryable or verdict.action == "stop":
        return None
    if len(attempts) >= max_attempts:
        return None
    info = catalogue.category(verdict.category)
    same = sum(1 for a in attempts if a.category == verdict.category)
    retries_used = same - 1 if attempts and attempts[-1].category == verdict.category else same
    if info.max_retries is not None and retries_used >= info.max_retries:
        return None
    planner = _PLANNERS.get(verdict.action)
    if planner is None:
        return None
    return planner(verdict, attempts, current, same, dedicated_compute, dedicated_after_preemptions)


def _with_identity(verdict, attempts, current, same, dedicated, after) -> RemediationStep | None:
    if current.get("use_identity"):
        # Already reading with an identity: a second refusal is a missing role, which a resubmit cannot fix.
        return None
    return RemediationStep("resubmit_with_identity",
                           "the storage account refuses key-based access; read the data with the job's managed identity",
                           {"use_identity": True})


def _resubmit(verdict, attempts, current, same, dedicated, after) -> RemediationStep | None:
    if verdict.category == "preempted_low_priority":
        preemptions = max(same, 1)
        if dedicated and preemptions >= after and current.get("compute") != dedicated:
            return RemediationStep("resubmit", f"preempted {preemptions} time(s); moving to dedicated compute "
                                   f"{dedicated}; the job resumes from its predictions", {"compute": dedicated})
        return RemediationStep("resubmit", "the low-priority node was preempted; the job resumes from its predictions", {})
    return RemediationStep("resubmit", f"{verdict.category.replace('_', ' ')} is usually transient; retrying once", {})


def _smaller_batch(verdict, attempts, current, same, dedicated, after) -> RemediationStep | None:
    batch = int(current.get("batch_size") or 1)
    frames = int(current.get("num_frames") or 16)
    if batch > 1:
        smaller = max(1, batch // 2)
        return RemediationStep("resubmit_smaller_batch", f"CUDA out of memory at batch size {batch}; halving it",
                               {"batch_size": smaller})
    if frames > MIN_FRAMES:
        fewer = max(MIN_FRAMES, frames // 2)
        return RemediationStep("resubmit_smaller_batch",
                               f"CUDA out of memory at batch size 1 with {frames} frames; sampling {fewer} frames",
                               {"num_frames": fewer})
    return None


def _wait_and_resubmit(verdict, attempts, current, same, dedicated, after) -> RemediationStep | None:
    return RemediationStep("wait_and_resubmit", f"{verdict.category.replace('_', ' ')}: waiting, then resubmitting", {})


_PLANNERS = {
    "resubmit_with_identity": _with_identity,
    "resubmit": _resubmit,
    "resubmit_smaller_batch": _smaller_batch,
    "wait_and_resubmit": _wait_and_resubmit,
    # rebuild_environment needs a changed environment definition, which only a person can provide.
}
