"""Investigation report and verdict JSON: the seed's sections, cited evidence, no secrets; and secret scrubbing."""
from __future__ import annotations

import json
from pathlib import Path

import pytest

from tasks.triage import (AttemptRecord, EvidenceLine, render_report, triage_evidence, verdict_for_category,
                          write_report)

# Built in pieces so that no committed line looks like a live webhook to secret scanners.
SLACK_HOOK = "https://hooks.slack.com/" + "services/"

SEED = Path(__file__).parent / "data" / "triage" / "evidence" / "seed_data_not_found"
SECTIONS = ["## Job Information", "## Root Cause", "## Error Details", "## Timeline", "## Recommendations",
            "## Next Steps"]


def _seed_job() -> dict:
    return json.loads((SEED / "job.json").read_text(encoding="utf-8"))


def test_report_has_the_seed_sections_in_order(tmp_path):
    verdict = triage_evidence(SEED)
    attempts = [AttemptRecord(1, "stoic_kitchen_mz0lhlfq29", "Failed", verdict.category, verdict.action, "no retry")]
    paths = write_report(verdict, tmp_path / "run", job=_seed_job(), attempts=attempts)
    text = paths.markdown.read_text(encoding="utf-8")
    positions = [text.index(section) for section in SECTIONS]
    assert positions == sorted(positions)
    assert "## Remediation Attempts" in text and "| 1 | stoic_kitchen_mz0lhlfq29 | Failed | `data_not_found`" in text
    assert "**Duration**: 25s" in text and "**Compute**: llava-a100-low-priority" in text
    assert "system_logs/data_capability/data-capability.log:6: Error Code: ScriptExecution.StreamAccess.NotFound" in text
    assert "| 2025-07-21 06:45:33 | Job ended (Failed) |" in text
    assert "az ml data list --resource-group llava-resourcegroup --workspace-name llava-workspace" in text


def test_verdict_json_is_machine_readable_beside_the_report(tmp_path):
    verdict = triage_evidence(SEED)
    paths = write_report(verdict, tmp_path, job=_seed_job())
    assert paths.verdict_json.parent == paths.markdown.parent
    data = json.loads(paths.verdict_json.read_text(encoding="utf-8"))
    for key in ("category", "retryable", "action", "summary", "evidence", "timeline", "recommendations", "job"):
        assert key in data
    assert data["category"] == "data_not_found" and data["job"]["Job name"] == "stoic_kitchen_mz0lhlfq29"
    assert data["evidence"][0] == {"file": "job.json", "line": None, "text": "ScriptExecution.StreamAccess.NotFound"}


def test_no_secret_reaches_the_report_or_the_json(tmp_path):
    verdict = triage_evidence(SEED)
    secret_job = {**_seed_job(), "studio_url": "https://ml.azure.com/runs/x?token=abcdef0123456789abcdef"}
    extra = {"Alert": "posted to " + SLACK_HOOK + "T000/B000/" + "X" * 24}
    paths = write_report(verdict, tmp_path, job=secret_job, extra_sections=extra)
    for path in (paths.markdown, paths.verdict_json):
        text = path.read_text(encoding="utf-8")
        assert "fake-sas-signature" not in text  # SAS signature in lifecycler.log
        assert "abcdef0123456789abcdef" not in text
        assert "XXXXXXXXXXXXXXXXXXXXXXXX" not in text
    assert "## Alert" in paths.markdown.read_text(encoding="utf-8")


def test_preflight_verdict_without_a_job(tmp_path):
    verdict = verdict_for_category(
        "storage_auth_key_disabled", "The storage account refuses key access; preflight retried with identity",
        evidence=[EvidenceLine("preflight", None, "403 KeyBasedAuthenticationNotPermitted AccountKey=" + "A" * 86 + "==")],
        error_details={"storage_account": "llavaworstoragea223ed2d6"})
    assert (verdict.retryable, verdict.action, verdict.rule_id) == (True, "resubmit_with_identity", None)
    assert "A" * 86 not in verdict.evidence[0].text
    assert any("--name llavaworstoragea223ed2d6 --query allowSharedKeyAccess" in r for r in verdict.recommendations)
    text = render_report(verdict)
    assert text.startswith("# Investigation report: preflight (no job submitted)")
    assert "No job was submitted." in text and "No timestamps in the evidence." in text


def test_unknown_category_is_refused():
    with pytest.raises(KeyError, match="unknown failure category"):
        verdict_for_category("gremlins", "x")


def test_unfilled_placeholders_are_shown_for_the_reader():
    verdict = verdict_for_category("quota_exceeded", "no quota")
    assert any("--resource-group <resource_group> --workspace-name <workspace>" in r for r in verdict.recommendations)


def test_write_report_into_an_unwritable_place_raises(tmp_path):
    blocker = tmp_path / "file"
    blocker.write_text("x")
    with pytest.raises(OSError):
        write_report(verdict_for_category("other", "x"), blocker / "sub")
