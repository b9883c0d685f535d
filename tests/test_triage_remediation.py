"""Remediation policy: bounded, recorded, and never for data or configuration errors."""
from __future__ import annotations

import pytest

from tasks.triage import AttemptRecord, classify_message, plan_remediation, verdict_for_category

SETTINGS = {"batch_size": 1, "num_frames": 16, "use_identity": False, "compute": "llava-a100-low-priority"}


def _attempts(*categories: str) -> list[AttemptRecord]:
    return [AttemptRecord(i, f"job_{i}", "Failed", c, "stop") for i, c in enumerate(categories, start=1)]


def test_key_auth_refusal_resubmits_with_identity_once():
    verdict = verdict_for_category("storage_auth_key_disabled", "key access refused")
    step = plan_remediation(verdict, _attempts("storage_auth_key_disabled"), SETTINGS, max_attempts=3)
    assert step is not None and step.action == "resubmit_with_identity" and step.overrides == {"use_identity": True}
    again = plan_remediation(verdict, _attempts("storage_auth_key_disabled", "storage_auth_key_disabled"),
                             {**SETTINGS, "use_identity": True}, max_attempts=3)
    assert again is None


def test_key_auth_refusal_while_already_on_identity_stops():
    verdict = verdict_for_category("storage_auth_key_disabled", "key access refused")
    assert plan_remediation(verdict, _attempts("storage_auth_key_disabled"), {**SETTINGS, "use_identity": True}, 3) is None


def test_preemption_resubmits_and_moves_to_dedicated_after_n():
    verdict = classify_message("PreemptionError: Nodes of this job got pre-empted.")
    first = plan_remediation(verdict, _attempts("preempted_low_priority"), SETTINGS, max_attempts=5,
                             dedicated_compute="a100-dedicated", dedicated_after_preemptions=2)
    assert first.action == "resubmit" and first.overrides == {} and "resumes" in first.reason
    second = plan_remediation(verdict, _attempts("preempted_low_priority", "preempted_low_priority"), SETTINGS,
                              max_attempts=5, dedicated_compute="a100-dedicated", dedicated_after_preemptions=2)
    assert second.overrides == {"compute": "a100-dedicated"}
    no_dedicated = plan_remediation(verdict, _attempts("preempted_low_priority", "preempted_low_priority"), SETTINGS,
                                    max_attempts=5)
    assert no_dedicated.overrides == {}


def test_preemption_is_bounded_by_max_attempts():
    verdict = classify_message("PreemptionError: Nodes of this job got pre-empted.")
    assert plan_remediation(verdict, _attempts(*["preempted_low_priority"] * 3), SETTINGS, max_attempts=3) is None


def test_cuda_oom_halves_the_batch_then_the_frames_then_stops():
    verdict = classify_message("torch.OutOfMemoryError: CUDA out of memory. Tried to allocate 2.00 GiB")
    step = plan_remediation(verdict, _attempts("cuda_oom"), {**SETTINGS, "batch_size": 4}, max_attempts=5)
    assert (step.action, step.overrides) == ("resubmit_smaller_batch", {"batch_size": 2})
    step = plan_remediation(verdict, _attempts("cuda_oom"), {**SETTINGS, "batch_size": 1, "num_frames": 32}, 5)
    assert step.overrides == {"num_frames": 16}
    assert plan_remediation(verdict, _attempts("cuda_oom"), {**SETTINGS, "num_frames": 4}, 5) is None
    # max_retries 2 in the catalogue: a third OOM stops even with room to shrink
    assert plan_remediation(verdict, _attempts("cuda_oom", "cuda_oom", "cuda_oom"), {**SETTINGS, "batch_size": 8}, 9) is None


@pytest.mark.parametrize("message", [
    "AzureMLCompute job failed. {\"Code\":\"ServiceError\"}",
    "FailedPullingImage: Unable to pull docker image",
])
def test_transient_errors_retry_once(message):
    verdict = classify_message(message)
    step = plan_remediation(verdict, _attempts(verdict.category), SETTINGS, max_attempts=5)
    assert step is not None and step.action == "resubmit"
    assert plan_remediation(verdict, _attempts(verdict.category, verdict.category), SETTINGS, max_attempts=5) is None


@pytest.mark.parametrize("category", [
    "data_not_found", "storage_permission_denied", "credential_invalid_or_expired", "job_config_invalid",
    "script_or_code_missing", "dependency_missing", "quota_exceeded", "output_invalid", "model_load_failed",
    "image_build_failed", "timeout", "other", "none",
])
def test_everything_else_stops(category):
    verdict = verdict_for_category(category, "x")
    assert plan_remediation(verdict, _attempts(category), SETTINGS, max_attempts=10) is None


def test_a_verdict_marked_retryable_by_hand_is_still_bounded_by_the_catalogue():
    verdict = verdict_for_category("service_error", "blip")
    history = _attempts("service_error", "cuda_oom", "service_error")  # the last attempt is the one judged
    assert plan_remediation(verdict, history, SETTINGS, max_attempts=10) is None
