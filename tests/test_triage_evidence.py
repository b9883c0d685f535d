"""Whole evidence folders through triage: the seed failure, degenerate and healthy completed jobs, the layering."""
from __future__ import annotations

import dataclasses
import json
import re
import shutil
from pathlib import Path

import pytest

from tasks.triage import TriageContext, load_catalogue, triage_evidence

EVIDENCE = Path(__file__).parent / "data" / "triage" / "evidence"
SEED = EVIDENCE / "seed_data_not_found"


def _job(folder: Path, state: str, error: dict | None = None, **extra) -> None:
    record = {"handle": {"backend": "azureml", "name": "test_job_1", "attempt": 1, "details": {}}, "state": state,
              "started_at": "2025-07-21T06:45:08+00:00", "ended_at": "2025-07-21T07:45:08+00:00", "exit_code": None,
              "error": error, "studio_url": None, "properties": {}}
    record.update(extra)
    folder.mkdir(parents=True, exist_ok=True)
    (folder / "job.json").write_text(json.dumps(record), encoding="utf-8")


def _write(folder: Path, rel: str, text: str) -> Path:
    path = folder / rel
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text, encoding="utf-8")
    return path


def _predictions(folder: Path, rows: list[dict]) -> None:
    _write(folder, "outputs/predictions.jsonl", "".join(json.dumps(r) + "\n" for r in rows))


# --- the seed ----------------------------------------------------------------------------------------------------

def test_seed_failure_is_data_not_found_citing_the_streamaccess_line():
    verdict = triage_evidence(SEED)
    assert verdict.category == "data_not_found"
    assert (verdict.retryable, verdict.action) == (False, "stop")
    assert verdict.rule_id == "data.streamaccess_not_found"
    log = "system_logs/data_capability/data-capability.log"
    lines = (SEED / log).read_text(encoding="utf-8").splitlines()
    expected_line = next(i for i, text in enumerate(lines, 1) if "ScriptExecution.StreamAccess.NotFound" in text)
    cited = [e for e in verdict.evidence if e.file == log and e.line == expected_line]
    assert cited and "ScriptExecution.StreamAccess.NotFound" in cited[0].text
    assert verdict.evidence[0].file == "job.json"  # the structured error comes first


def test_seed_recommendations_match_the_hand_written_report_without_its_bad_advice():
    verdict = triage_evidence(SEED)
    text = "\n".join(verdict.recommendations)
    assert "az ml data list --resource-group llava-resourcegroup --workspace-name llava-workspace" in text
    assert "az storage blob list --auth-mode login" in text and "--prefix DADA-100-videos/" in text
    assert "az ml data create" in text
    assert "Storage Blob Data Reader" in text and "managed identity" in text
    assert "az ml datastore show --name workspaceblobstore" in text
    assert not any(re.match(r"(?i)\W*(remove|comment out|use local code|create test videos)", r)
                   for r in verdict.recommendations)
    assert any("Keep the input" in r for r in verdict.recommendations)


def test_seed_timeline_follows_the_logs():
    verdict = triage_evidence(SEED)
    events = dict((event, stamp) for stamp, event in verdict.timeline)
    assert verdict.timeline[0] == ("2025-07-21T06:45:08", "Job started")
    assert verdict.timeline[-1] == ("2025-07-21T06:45:33", "Job ended (Failed)")
    assert events["data_capability started"] == "2025-07-21T06:45:11"
    assert events["lifecycler started"] == "2025-07-21T06:45:09"
    failure = [(s, e) for s, e in verdict.timeline if e.startswith("Failure:")]
    assert failure and failure[0][0] == "2025-07-21T06:45:12" and "data-capability.log" in failure[0][1]
    assert [s for s, _ in verdict.timeline] == sorted(s for s, _ in verdict.timeline)


def test_seed_other_signals_and_no_secret_in_the_verdict():
    verdict = triage_evidence(SEED)
    others = verdict.error_details["other_signals"]
    assert [o["category"] for o in others] == ["storage_auth_key_disabled"]
    dumped = json.dumps(verdict.to_dict())
    assert "sig=" not in dumped or "sig=[REDACTED]" in dumped
    assert "fake-sas-signature" not in dumped  # the fake SAS signature in lifecycler.log


def test_seed_noise_does_not_leak_into_the_evidence():
    verdict = triage_evidence(SEED)
    files = {e.file for e in verdict.evidence}
    assert not any(name in f for f in files for name in ("metrics_capability", "hosttools", "rslex"))


# --- completed jobs ----------------------------------------------------------------------------------------------

def test_completed_job_with_all_one_class_is_not_a_success():
    verdict = triage_evidence(EVIDENCE / "completed_degenerate")
    assert verdict.category == "output_invalid"
    assert verdict.rule_id == "output.degenerate_distribution"
    assert "100" in verdict.summary and "both classes" in verdict.summary
    assert verdict.error_details["outputs"]["verdicts"] == {"no": 100}


def test_healthy_completed_job_comes_out_none():
    verdict = triage_evidence(EVIDENCE / "healthy_completed")
    assert (verdict.category, verdict.retryable, verdict.action) == ("none", False, "stop")
    assert verdict.evidence == [] and verdict.recommendations == []
    assert verdict.error_details["outputs"]["predictions"] == 100


def test_healthy_folder_downloaded_by_hand_comes_out_none(tmp_path):
    folder = tmp_path / "download"
    shutil.copytree(EVIDENCE / "healthy_completed", folder)
    (folder / "job.json").unlink()  # `az ml job download --all` writes no job.json
    verdict = triage_evidence(folder)
    assert verdict.category == "none"


def test_benign_list_is_load_bearing(tmp_path):
    # Without job.json every failure rule is live; only the benign list keeps the noisy system logs from deciding.
    folder = tmp_path / "download"
    shutil.copytree(EVIDENCE / "healthy_completed", folder)
    (folder / "job.json").unlink()
    data = load_catalogue()
    without_benign = dataclasses.replace(data, benign=())
    assert triage_evidence(folder, catalogue=without_benign).category != "none"


def test_completed_with_newly_initialised_weights_is_model_load_failed(tmp_path):
    folder = tmp_path / "ev"
    shutil.copytree(EVIDENCE / "healthy_completed", folder)
    summary = json.loads((folder / "outputs/summary.json").read_text())
    summary["newly_initialized"] = ["language_model.lm_head.weight", "multi_modal_projector.linear_1.weight"]
    (folder / "outputs/summary.json").write_text(json.dumps(summary))
    verdict = triage_evidence(folder)
    assert verdict.category == "model_load_failed"
    assert any("lm_head" in e.text for e in verdict.evidence)


def test_completed_with_newly_initialised_warning_in_std_log(tmp_path):
    folder = tmp_path / "ev"
    shutil.copytree(EVIDENCE / "healthy_completed", folder)
    with (folder / "user_logs/std_log.txt").open("a") as log:
        log.write("Some weights of LlavaNextVideoForConditionalGeneration were not initialized from the model checkpoint "
                  "at llava-hf/LLaVA-NeXT-Video-7B-hf and are newly initialized: ['lm_head.weight']\n")
    verdict = triage_evidence(folder)
    assert (verdict.category, verdict.rule_id) == ("model_load_failed", "model.newly_initialized_weights")
    assert verdict.evidence[0].file == "user_logs/std_log.txt"


def test_completed_without_predictions(tmp_path):
    folder = tmp_path / "ev"
    _job(folder, "Completed")
    verdict = triage_evidence(folder)
    assert (verdict.category, verdict.rule_id) == ("output_invalid", "output.predictions_missing")


def test_completed_with_empty_predictions(tmp_path):
    folder = tmp_path / "ev"
    _job(folder, "Completed")
    _write(folder, "outputs/predictions.jsonl", "")
    assert triage_evidence(folder).rule_id == "output.predictions_empty"


def test_completed_with_fewer_predictions_than_inputs(tmp_path):
    folder = tmp_path / "ev"
    _job(folder, "Completed")
    _predictions(folder, [{"video": f"v{i}.avi", "verdict": "yes" if i % 2 else "no"} for i in range(10)])
    assert triage_evidence(folder).category == "none"
    verdict = triage_evidence(folder, TriageContext(expected_videos=12))
    assert (verdict.category, verdict.rule_id) == ("output_invalid", "output.predictions_incomplete")
    assert "10 of 12" in verdict.summary


def test_completed_with_every_video_failed(tmp_path):
    folder = tmp_path / "ev"
    _job(folder, "Completed")
    _predictions(folder, [{"video": f"v{i}.avi", "verdict": None, "error": "cannot decode"} for i in range(5)])
    verdict = triage_evidence(folder)
    assert (verdict.category, verdict.rule_id) == ("output_invalid", "output.all_videos_failed")
    assert verdict.evidence[0].file == "outputs/predictions.jsonl" and verdict.evidence[0].line == 1


def test_degenerate_needs_a_labelled_set_with_both_classes(tmp_path):
    folder = tmp_path / "ev"
    _job(folder, "Completed")
    _predictions(folder, [{"video": f"v{i}.avi", "verdict": "no"} for i in range(6)])
    assert triage_evidence(folder).category == "none"  # unlabelled: all "no" may be right
    verdict = triage_evidence(folder, TriageContext(labels_have_both_classes=True))
    assert verdict.rule_id == "output.degenerate_distribution"


def test_resumed_job_counts_each_video_once(tmp_path):
    folder = tmp_path / "ev"
    _job(folder, "Completed")
    rows = [{"video": "a.avi", "verdict": None, "error": "preempted"}, {"video": "a.avi", "verdict": "yes"},
            {"video": "b.avi", "verdict": "no"}]
    _predictions(folder, rows)
    verdict = triage_evidence(folder, TriageContext(expected_videos=2))
    assert verdict.category == "none"


# --- failed jobs: layering -------------------------------------------------------------------------------------

def test_generic_structured_error_defers_to_the_cuda_oom_in_std_log(tmp_path):
    folder = tmp_path / "ev"
    _job(folder, "Failed", {"code": "UserError", "category": "UserError",
                            "message": "Execution failed. User process 'python' exited with status code 5."})
    _write(folder, "user_logs/std_log.txt", "2025-07-21T06:50:00Z INFO [1/100] images_1_001.avi 3.0s verdict=no\n"
           "Traceback (most recent call last):\n  File \"x.py\", line 3, in <module>\n"
           "torch.OutOfMemoryError: CUDA out of memory. Tried to allocate 2.00 GiB. GPU 0 has a total capacity of 39.39 GiB\n"
           "ERROR: CUDA out of memory with --batch-size 4 and --num-frames 32; rerun with a smaller --batch-size\n")
    verdict = triage_evidence(folder)
    assert (verdict.category, verdict.action, verdict.retryable) == ("cuda_oom", "resubmit_smaller_batch", True)
    assert verdict.evidence[0].file == "user_logs/std_log.txt" and verdict.evidence[0].line == 4


def test_specific_structured_error_wins_over_a_user_traceback(tmp_path):
    folder = tmp_path / "ev"
    _job(folder, "Failed", {"code": "ServiceError", "message": "AzureMLCompute job failed. PreemptionError: Nodes of "
                            "this job got pre-empted. Reason: Received pre-emption warning signal"})
    _write(folder, "user_logs/std_log.txt", "Traceback (most recent call last):\nKeyboardInterrupt: SIGTERM\n")
    verdict = triage_evidence(folder)
    assert (verdict.category, verdict.action) == ("preempted_low_priority", "resubmit")
    assert verdict.evidence[0].file == "job.json"


def test_unknown_failure_is_other_with_the_std_log_tail(tmp_path):
    folder = tmp_path / "ev"
    _job(folder, "Failed", {"code": "UserError", "message": "Something odd happened"})
    _write(folder, "user_logs/std_log.txt", "".join(f"2025-07-21T06:50:{i:02d}Z INFO step {i}\n" for i in range(30)))
    verdict = triage_evidence(folder)
    assert (verdict.category, verdict.rule_id, verdict.action) == ("other", None, "stop")
    assert "Something odd happened" in verdict.summary
    tail = verdict.error_details["std_log_tail"]
    assert tail["file"] == "user_logs/std_log.txt" and len(tail["lines"]) == 20 and tail["lines"][-1].startswith("30:")


def test_watch_budget_reasons_in_job_json(tmp_path):
    folder = tmp_path / "ev"
    _job(folder, "Canceled", properties={"gave_up_reason": "still running after 36000 s (budget 36000 s); cancelled"})
    assert triage_evidence(folder).category == "timeout"
    folder2 = tmp_path / "ev2"
    _job(folder2, "Canceled", gave_up_reason="not running after 14400 s in the queue (budget 14400 s); cancelled")
    assert triage_evidence(folder2).category == "compute_unavailable"


def test_exit_code_137_without_a_message_is_host_oom(tmp_path):
    folder = tmp_path / "ev"
    _job(folder, "Failed", exit_code=137)
    verdict = triage_evidence(folder)
    assert (verdict.category, verdict.rule_id) == ("host_oom_killed", "host.exit_137")


def test_key_based_auth_refusal_is_retryable_with_identity(tmp_path):
    folder = tmp_path / "ev"
    _job(folder, "Failed", {"code": "ScriptExecution.StreamAccess.Authentication", "message": "Failed to mount URI"})
    _write(folder, "system_logs/data_capability/rslex.log.2025-07-21-06",
           "2025-07-21T06:45:12Z WARN rslex: HEAD request_uri=https://acct.blob.core.windows.net/c/p "
           "response_status_code=403 KeyBasedAuthenticationNotPermitted\n")
    verdict = triage_evidence(folder)
    assert (verdict.category, verdict.action) == ("storage_auth_key_disabled", "resubmit_with_identity")


def test_malformed_job_json_is_reported_and_the_logs_still_decide(tmp_path):
    folder = tmp_path / "ev"
    _write(folder, "job.json", "{not json")
    _write(folder, "user_logs/std_log.txt", "ModuleNotFoundError: No module named 'decord'\n")
    verdict = triage_evidence(folder)
    assert verdict.category == "dependency_missing" and "decord" in verdict.summary
    assert any("job.json is not valid JSON" in w for w in verdict.error_details["warnings"])


def test_missing_folder_is_a_clear_error(tmp_path):
    with pytest.raises(FileNotFoundError, match="does not exist"):
        triage_evidence(tmp_path / "nope")
    file = _write(tmp_path, "file.txt", "x")
    with pytest.raises(NotADirectoryError, match="is a file"):
        triage_evidence(file)


def test_large_std_log_is_streamed_and_the_last_signature_found(tmp_path):
    folder = tmp_path / "ev"
    _job(folder, "Failed", {"code": "UserError", "message": "Execution failed. User process 'python' exited with status code 1."})
    line = ("2025-07-21T06:50:00Z INFO [1/100] images_1_001.avi 3.0s verdict=no reason=\"a pedestrian stays on the "
            "sidewalk while the ego car passes a parked van; no one steps out\" frames=16 decoder=decord\n") * 2
    (folder / "user_logs").mkdir()
    with (folder / "user_logs" / "std_log.txt").open("w") as log:
        for _ in range(10_000):  # 20,000 lines, ~4 MB
            log.write(line)
        log.write("OSError: [Errno 28] No space left on device: '/tmp/frames/000123.png'\n")
    verdict = triage_evidence(folder)
    assert verdict.category == "disk_full"
    assert verdict.evidence[0].line == 20_001
    assert verdict.error_details["scanned"]["lines"] >= 20_001


@pytest.mark.parametrize("block_chars", [64, 97, 1000, 1 << 20])
def test_block_scanning_finds_every_line_with_its_number(tmp_path, block_chars):
    # Signatures at random lines, CRLF endings, a final line without a newline: block boundaries must not matter.
    import random

    from tasks.triage.catalogue import default_catalogue
    from tasks.triage.classify import Scanner

    rng = random.Random(block_chars)
    lines = [f"2025-07-21T06:{i // 60 % 60:02d}:{i % 60:02d}Z INFO step {i} " + "y" * rng.randint(0, 120)
             for i in range(3000)]
    planted = sorted(rng.sample(range(3000), 6))
    for index in planted:
        lines[index] = f"2025-07-21T07:00:00Z torch.OutOfMemoryError: CUDA out of memory (line {index + 1})"
    path = _write(tmp_path, "user_logs/std_log.txt", "\r\n".join(lines))
    scanner = Scanner(default_catalogue(), failed=True, block_chars=block_chars)
    scanner.scan_file("user_log", "user_logs/std_log.txt", path, tail=True)
    hits = [h for h in scanner.result.hits if h.rule.id == "gpu.cuda_out_of_memory"]
    assert [h.line for h in hits] == [i + 1 for i in planted[:5]]  # five kept per rule
    assert scanner.result.hit_counts["gpu.cuda_out_of_memory"] == 6
    assert all(h.text.endswith(f"(line {h.line})") for h in hits)
    assert scanner.result.lines == 3000
    tail = list(scanner.result.tail)
    assert [n for n, _ in tail] == list(range(2981, 3001)) and tail[-1][1] == lines[-1]
    assert scanner.result.timeline.first_by_file["user_logs/std_log.txt"] == "2025-07-21T06:00:00"


def test_context_job_state_overrides_job_json_and_accepts_the_enum(tmp_path):
    from tasks.backends.base import JobState

    folder = tmp_path / "ev"
    shutil.copytree(EVIDENCE / "healthy_completed", folder)
    (folder / "job.json").unlink()
    with (folder / "user_logs/std_log.txt").open("a") as log:
        log.write("Traceback (most recent call last):\nValueError: bad frame\n")
    assert triage_evidence(folder, TriageContext(job_state=JobState.COMPLETED)).category == "none"
    assert triage_evidence(folder, TriageContext(job_state=JobState.FAILED)).category == "user_script_error"
