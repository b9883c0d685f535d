"""Evidence that shows the fatal line, and recommendations filled with the path that was actually missing."""
from __future__ import annotations

import json
from pathlib import Path

from tasks.backends.base import JobSpec, JobState
from tasks.backends.local import LocalBackend
from tasks.backends.watch import PollPolicy, watch_job
from tasks.triage import triage_evidence

FAST = PollPolicy(initial_seconds=0.05, max_seconds=0.2, jitter=0.0)


def _write(folder: Path, rel: str, text: str) -> None:
    path = folder / rel
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text, encoding="utf-8")


def _job(folder: Path, **record) -> None:
    base = {"handle": {"backend": "azureml", "name": "job_1", "attempt": 1, "details": {}}, "state": "Failed",
            "started_at": "2025-07-21T06:45:08+00:00", "ended_at": "2025-07-21T07:45:08+00:00"}
    base.update(record)
    _write(folder, "job.json", json.dumps(base))


def test_crash_cites_the_explaining_line_and_the_final_exception(tmp_path):
    folder = tmp_path / "ev"
    _job(folder, error={"code": "UserError", "message": "Execution failed. User process 'python' exited with status code 1."})
    _write(folder, "user_logs/std_log.txt", "\n".join([
        "2025-07-21T06:50:00Z INFO loading llava-hf/LLaVA-NeXT-Video-7B-hf",
        "Some weights of LlavaNextVideoForConditionalGeneration were not initialized from the model checkpoint at "
        "./ckpt and are newly initialized: ['vision_tower.proj.weight']",
        "2025-07-21T06:50:09Z INFO model loaded in 8.1s",
        "Traceback (most recent call last):",
        '  File "llava_ghost_probing_batch.py", line 88, in main',
        "    processor = AutoProcessor.from_pretrained(args.model)",
        "OSError: ./ckpt does not appear to have a file named preprocessor_config.json. Checkout "
        "'https://huggingface.co/./ckpt/tree/main' for available files.",
    ]) + "\n")
    verdict = triage_evidence(folder)
    assert verdict.category == "model_load_failed"
    cited = {(e.file, e.line) for e in verdict.evidence}
    assert ("user_logs/std_log.txt", 2) in cited, "the line that explains the crash"
    assert ("user_logs/std_log.txt", 7) in cited, "the exception the process ended in"
    lines = [e.line for e in verdict.evidence if e.file == "user_logs/std_log.txt"]
    assert lines.index(7) == lines.index(2) + 1 or lines.index(2) == lines.index(7) + 1, "cited side by side"


def test_real_job_bundle_ending_in_a_traceback_cites_its_final_exception(tmp_path):
    # A real child process (LocalBackend) that raises: the same evidence layout an Azure ML job leaves.
    backend = LocalBackend(tmp_path / "jobs", env={"GW_SCRIPTED_JOB": "fail"}, job_module="tests.support.scripted_job")
    spec = JobSpec(name="gw-fatal-a1", video_input=str(tmp_path / "videos"), output_dir=str(tmp_path / "out"), model="m")
    outcome = watch_job(backend, backend.submit(spec), tmp_path / "evidence", FAST)
    assert outcome.state is JobState.FAILED
    log = (tmp_path / "evidence" / "user_logs" / "std_log.txt").read_text(encoding="utf-8").splitlines()
    final = max(i for i, text in enumerate(log, 1) if text.startswith("RuntimeError: scripted failure"))
    verdict = triage_evidence(tmp_path / "evidence")
    assert verdict.category == "user_script_error"
    assert ("user_logs/std_log.txt", final) in {(e.file, e.line) for e in verdict.evidence}


def test_data_not_found_prefix_is_the_input_not_the_output(tmp_path):
    folder = tmp_path / "ev"
    _job(folder,
         handle={"backend": "azureml", "name": "job_2", "attempt": 1,
                 "details": {"output_uri": "azureml://datastores/outputstore/paths/ghostwatch/run-42/",
                             "compute": "gpu-cluster"}},
         inputs={"video_data": {"type": "uri_folder", "path": "azureml://datastores/videostore/paths/DADA-100-videos/"}},
         outputs={"results": {"type": "uri_folder", "path": "azureml://datastores/outputstore/paths/ghostwatch/run-42/"}},
         error={"code": "ScriptExecution.StreamAccess.NotFound",
                "message": "The requested stream was not found. Please make sure the request uri is correct.",
                "target": "UriMountSession:INPUT_video_data"})
    verdict = triage_evidence(folder)
    assert verdict.category == "data_not_found"
    listing = next(r for r in verdict.recommendations if "az storage blob list" in r)
    assert "--prefix DADA-100-videos/" in listing and "run-42" not in listing
    datastore = next(r for r in verdict.recommendations if "az ml datastore show" in r)
    assert "--name videostore" in datastore
