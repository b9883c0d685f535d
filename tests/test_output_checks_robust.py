"""Triage's output checks (issue 11 items 4, 11, 12): the failure budget, outputs that could not be fetched, and
sharded outputs. Evidence folders are written by hand in the `az ml job download` layout."""
from __future__ import annotations

import json
from pathlib import Path

from tasks.triage import TriageContext, triage_evidence
from tasks.triage.output_checks import check_outputs


def evidence(tmp_path: Path, files: dict[str, list[dict] | dict], state: str = "Completed") -> Path:
    root = tmp_path / "evidence"
    (root / "outputs").mkdir(parents=True)
    (root / "job.json").write_text(json.dumps({"state": state, "handle": {"name": "gw-x-a1"}}))
    for name, content in files.items():
        path = root / name
        path.parent.mkdir(parents=True, exist_ok=True)
        if isinstance(content, list):
            path.write_text("".join(json.dumps(r) + "\n" for r in content))
        else:
            path.write_text(json.dumps(content))
    return root


def rows(total: int, failed: int, error: str = "decord: cannot decode video stream") -> list[dict]:
    out = []
    for i in range(total):
        bad = i < failed
        out.append({"video": f"images_{i:03d}.avi", "verdict": None if bad else "no", "positive": None if bad else False,
                    "error": (error if i % 3 else "moov atom not found") if bad else None})
    return out


def test_95_of_100_failed_videos_is_output_invalid_naming_them_and_their_commonest_error(tmp_path):
    root = evidence(tmp_path, {"outputs/predictions.jsonl": rows(100, 95)})
    verdict = triage_evidence(root, TriageContext(expected_videos=100))
    assert verdict.category == "output_invalid"
    assert "95 of 100" in verdict.summary and "5%" in verdict.summary
    text = json.dumps(verdict.to_dict())
    assert "images_000.avi" in text and "decord: cannot decode video stream" in text


def test_failures_within_the_budget_are_healthy(tmp_path):
    root = evidence(tmp_path, {"outputs/predictions.jsonl": rows(100, 5)})
    findings, stats = check_outputs(root, TriageContext(expected_videos=100))
    assert findings == [] and stats.failed == 5


def test_the_budget_is_a_run_parameter(tmp_path):
    root = evidence(tmp_path, {"outputs/predictions.jsonl": rows(100, 5)})
    findings, _ = check_outputs(root, TriageContext(expected_videos=100, max_failed_fraction=0.0))
    assert [f.check for f in findings] == ["failure_budget"]


def test_outputs_that_could_not_be_listed_say_so_and_why(tmp_path):
    root = evidence(tmp_path, {"collection.json": {"job": "gw-x-a1", "fetched": [], "missing": [
        {"what": "outputs", "why": "cannot list azureml://datastores/workspaceblobstore/paths/gw/: HttpResponseError: "
                                   "This request is not authorized to perform this operation using this permission. "
                                   "ErrorCode:AuthorizationPermissionMismatch"}]}})
    verdict = triage_evidence(root, TriageContext(expected_videos=4))
    assert verdict.category == "storage_permission_denied"
    assert "could not be fetched" in verdict.summary and "wrote no" not in verdict.summary


def test_outputs_unreachable_for_a_network_reason_is_a_service_error(tmp_path):
    root = evidence(tmp_path, {"collection.json": {"job": "gw-x-a1", "fetched": [], "missing": [
        {"what": "outputs", "why": "cannot list azureml://datastores/workspaceblobstore/paths/gw/: "
                                   "ServiceRequestError: Connection reset by peer"}]}})
    verdict = triage_evidence(root, TriageContext(expected_videos=4))
    assert verdict.category == "service_error" and "could not be fetched" in verdict.summary


def test_a_sharded_run_is_read_from_every_shard_file(tmp_path):
    shard0 = rows(4, 0)[:2]
    shard1 = rows(4, 0)[2:]
    root = evidence(tmp_path, {"outputs/predictions.shard-00-of-02.jsonl": shard0,
                               "outputs/predictions.shard-01-of-02.jsonl": shard1})
    findings, stats = check_outputs(root, TriageContext(expected_videos=4))
    assert findings == [] and stats.predictions == 4
