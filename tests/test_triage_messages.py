"""One message at a time: the layers (structured error, signatures, generic signals), confidence and runner-up, and
bad input that must never crash triage."""
from __future__ import annotations

import json

import pytest

from tasks.triage import classify_message, classify_record
from tasks.triage.structured import MAX_MESSAGE_CHARS, message_lines, normalise
from flows.cli import triage as triage_command
from flows.cli.common import standalone_parser


def _run(argv: list[str]) -> int:
    return triage_command.main(standalone_parser(triage_command).parse_args(list(argv)))


# --- layers --------------------------------------------------------------------------------------------------------

def test_inner_error_code_beats_the_outer_user_error():
    message = json.dumps({"error": {"code": "UserError", "message": "Job submission failed",
                                    "innerError": {"code": "Conflict", "innerError": {"code": "QuotaExceeded"}}}})
    verdict = classify_message(message)
    assert verdict.category == "quota_exceeded" and verdict.rule_id == "code.quota"
    assert verdict.confidence == "high"
    # two structured codes that disagree and are about as specific: still decided, but not `high`
    both = json.dumps({"error": {"code": "InvalidInputBinding", "innerError": {"code": "QuotaExceeded"}}})
    verdict = classify_message(both)
    assert (verdict.category, verdict.confidence, verdict.runner_up) == ("quota_exceeded", "medium", "job_config_invalid")
    # a generic wrapper code (ARM answers BadArgument around a quota refusal) is no close competitor
    wrapped = json.dumps({"error": {"code": "BadArgument", "innerError": {"code": "QuotaExceeded"}}})
    verdict = classify_message(wrapped)
    assert (verdict.category, verdict.confidence, verdict.runner_up) == ("quota_exceeded", "high", "job_config_invalid")


def test_json_in_a_string_in_json_is_read():
    inner = json.dumps({"error": {"code": "UserError", "message": "Traceback (most recent call last):\n"
                                  "  File \"score.py\", line 3\nModuleNotFoundError: No module named 'decord'"}})
    outer = json.dumps({"status": "Failed", "error": {"message": inner}})
    assert "ModuleNotFoundError" not in outer.replace('\\"', '"').splitlines()[0][:20]
    verdict = classify_message(outer)
    assert verdict.category == "dependency_missing"


def test_final_exception_type_is_a_generic_signal():
    traceback = ("Traceback (most recent call last):\n  File \"run.py\", line 9, in <module>\n"
                 "    frames = [decode(v) for v in videos]\n  File \"run.py\", line 4, in decode\n"
                 "    return np.zeros((n, 1080, 1920, 3))\nMemoryError\n")
    verdict = classify_message(traceback)
    assert (verdict.category, verdict.rule_id, verdict.confidence) == ("host_oom_killed", "exc.host_memory", "medium")


@pytest.mark.parametrize(("text", "category"), [
    ("OSError: [Errno 28] while writing checkpoint", "disk_full"),
    ("process exited with exit code 137", "host_oom_killed"),
    ("Segmentation fault (core dumped); exit status 139", "user_script_error"),
    ("TimeoutError: operation did not complete", "timeout"),
])
def test_errno_exit_code_and_exception_tables(text, category):
    assert classify_message(text).category == category


def test_keyword_in_context_needs_its_context():
    assert classify_message("the job could not start: not enough quota for this VM family").category == "quota_exceeded"
    assert classify_message("quota: 3 files were read", fallback=False).category == "other"
    # No rule reads it; the learned fallback may still guess, and then only ever with `low` confidence.
    assert classify_message("quota: 3 files were read").confidence == "low"


def test_runner_up_names_the_other_category_that_matched():
    text = ("Execution failed. User process 'python' exited with status code 1.\n"
            "torch.OutOfMemoryError: CUDA out of memory. Tried to allocate 2.00 GiB")
    verdict = classify_message(text)
    assert verdict.category == "cuda_oom" and verdict.runner_up == "user_script_error"
    assert verdict.to_dict()["confidence"] == "high" and verdict.to_dict()["runner_up"] == "user_script_error"


def test_other_means_nothing_matched():
    verdict = classify_message("The weather was fine and the job said nothing useful")
    assert (verdict.category, verdict.confidence, verdict.runner_up, verdict.rule_id) == ("other", "low", None, None)


# --- bad input -----------------------------------------------------------------------------------------------------

@pytest.mark.parametrize("message", [
    "", None, 42, 3.5, True, ["a", "list"], {"error": {"code": "QuotaExceeded"}},
    b"\x00\x01\xff\xfe binary \x80\x81 CUDA out of memory",
    "\ud800 lone surrogate and \x00 NUL",
    "{" * 5000,
    '{"error": {"message": "' + "\\" * 3000 + '"}}',
])
def test_bad_messages_get_a_verdict(message):
    row = classify_record({"id": "x", "message": message})
    assert row["category"] and row["confidence"] in ("high", "medium", "low")
    verdict = classify_message(message)
    assert verdict.category and json.dumps(verdict.to_dict())


def test_huge_message_keeps_its_tail():
    message = ("INFO step ok\n" * 400_000) + "torch.OutOfMemoryError: CUDA out of memory. Tried to allocate 2 GiB\n"
    assert len(message) > MAX_MESSAGE_CHARS
    assert len(normalise(message)) <= MAX_MESSAGE_CHARS + 10
    assert classify_record({"id": 1, "message": message})["category"] == "cuda_oom"


def test_one_enormous_line_is_cut_not_truncated():
    message = "x" * 50_000 + " ModuleNotFoundError: No module named 'av'"
    assert all(len(line) <= 4000 for line in message_lines(message))
    assert classify_message(message).category == "dependency_missing"


def test_classify_jsonl_survives_bad_lines_and_reports_them(tmp_path, capsys):
    corpus = tmp_path / "corpus.jsonl"
    lines = [
        json.dumps({"id": "ok", "message": "Job failed: ImagePullBackOff"}).encode(),
        b'{"id": "latin1", "message": "caf\xe9 No space left on device"}',
        json.dumps({"id": "empty", "message": ""}).encode(),
        json.dumps({"id": "nested", "message": {"error": {"code": "UserError", "innerError": {"code": "AllocationFailed"}}}}).encode(),
        b"[" * 100_000 + b"]" * 100_000,
        b"\x00\x01\x02 not json",
    ]
    corpus.write_bytes(b"\n".join(lines) + b"\n")
    out_file = tmp_path / "out.jsonl"
    status = _run(["--classify-jsonl", str(corpus), "--output", str(out_file)])
    err = capsys.readouterr().err
    rows = {r["id"]: r for r in map(json.loads, out_file.read_text().splitlines())}
    assert status == 2 and ":5:" in err and ":6:" in err
    assert rows["ok"]["category"] == "image_pull_failed"
    assert rows["latin1"]["category"] == "disk_full"
    assert (rows["empty"]["category"], rows["empty"]["confidence"]) == ("other", "low")
    assert rows["nested"]["category"] == "compute_unavailable"
    assert all({"confidence", "runner_up"} <= set(r) for r in rows.values())


# --- taxonomy decisions (round 3) ------------------------------------------------------------------------------------

def test_newly_initialised_weights_then_garbage_is_the_load_not_the_outputs():
    # model_load_failed's definition: weights left newly initialised make every answer noise. The cause wins over
    # the symptom, as output_checks.py decides for a Completed job whose summary lists fresh weights.
    message = ("Some weights of LlavaForConditionalGeneration were not initialized from the model checkpoint at ./ckpt "
               "and are newly initialized: ['multi_modal_projector.linear_1.weight'] ... the outputs are gibberish")
    assert classify_record({"id": 1, "message": message})["category"] == "model_load_failed"
    # checkpoint weights the class did not use leave the model whole: not a load failure by that definition
    unused = ("Some weights of the model checkpoint were not used when initializing the model ... "
              "the model only generates empty strings")
    assert classify_record({"id": 2, "message": unused})["category"] == "output_invalid"


@pytest.mark.parametrize("message, category", [
    ("Job timed out while queued: no nodes were allocated within 3600 seconds", "compute_unavailable"),
    ("Failed to flush task queue within 120 seconds", "timeout"),  # a task queue, not the job queue
    ("limits.timeout must be a positive integer", "job_config_invalid"),
    ("yaml.scanner.ScannerError: mapping values are not allowed here", "job_config_invalid"),
    ("Exception: no videos matched the pattern", "user_script_error"),
    ("Evicted: The node was low on resource: memory.", "host_oom_killed"),
    ("HTTP 503 Service Unavailable from https://management.azure.com/subscriptions/...", "service_error"),
    ("Trained for 500 steps; the response is always the same sentence", "output_invalid"),
])
def test_round_three_vocabulary(message, category):
    assert classify_record({"id": 0, "message": message})["category"] == category
