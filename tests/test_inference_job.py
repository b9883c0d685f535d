"""The batch job end to end with tiny models: done-when, resume after a kill, bad inputs, shards."""
from __future__ import annotations

import json
import os
import shutil
import signal
import subprocess
import sys
from pathlib import Path

import pytest

from inference.llava_ghost_probing_batch import (
    EXIT_ALL_FAILED, EXIT_BAD_INPUT, EXIT_MODEL, EXIT_OK, main,
)
from inference.merge import merge_shards
from inference.models import FAMILIES, ModelLoadError, build_inputs, check_family, generate, load_model
from inference.outputs import read_predictions
from tests.inference_fixtures import REPO_ROOT, tiny_models, twelve_clips  # noqa: F401 - fixtures

RECORD_FIELDS = {"video", "verdict", "positive", "start_second", "actor", "reason", "raw_text", "error", "seconds",
                 "frames", "label", "model", "model_family", "timings", "frame_times", "parsed_by", "label_positive"}
SUMMARY_FIELDS = {"videos_total", "videos_done", "videos_failed", "verdict_counts", "positive_rate", "model",
                  "model_family", "num_frames", "timings", "metrics", "load_warnings", "newly_initialized",
                  "started_at", "ended_at", "shard_index", "num_shards"}


def job_args(videos, output, model, *extra):
    return ["--video-folder", str(videos), "--output-folder", str(output), "--model", str(model),
            "--num-frames", "8", "--max-new-tokens", "12", "--device", "cpu", *extra]


def last_line(text: str) -> str:
    return [line for line in text.splitlines() if line.strip()][-1]


def lines_of(path: Path) -> list[dict]:
    return [json.loads(line) for line in path.read_text().splitlines()]


@pytest.mark.slow
def test_done_when_twelve_clips_one_corrupt(tmp_path, tiny_models, twelve_clips, capsys):
    labels = tmp_path / "labels.tsv"
    labels.write_text(twelve_clips.labels_path.read_text() + "images_1_013.avi\tbanana\n\t3s: ghost probing\n")
    output = tmp_path / "out"
    status = main(job_args(twelve_clips.folder, output, tiny_models(), "--labels", str(labels), "--save-interval", "5"))
    log = capsys.readouterr().out
    assert status == EXIT_OK, log
    records = lines_of(output / "predictions.jsonl")
    assert len(records) == 12 and len({r["video"] for r in records}) == 12
    failed = [r for r in records if r["error"]]
    assert [r["video"] for r in failed] == [twelve_clips.corrupt[0].name]
    assert failed[0]["verdict"] is None and failed[0]["positive"] is None and "cannot read" in failed[0]["error"]
    for record in records:
        assert RECORD_FIELDS <= set(record)
        assert record["label"] == twelve_clips.labels[record["video"]]
        if not record["error"]:
            assert record["verdict"] in ("yes", "potential", "no", "unparsed") and record["frames"] == 8
            assert record["raw_text"] is not None
    summary = json.loads((output / "summary.json").read_text())
    assert SUMMARY_FIELDS <= set(summary)
    assert (summary["videos_total"], summary["videos_done"], summary["videos_failed"]) == (12, 11, 1)
    assert sum(summary["verdict_counts"].values()) == 11 and summary["newly_initialized"] == 0
    metrics = summary["metrics"]
    positives = sum(1 for r in records if not r["error"] and r["label_positive"])
    assert metrics["n"] == 11 and metrics["positives"] == positives and metrics["failed_excluded"] == 1
    assert metrics["baseline_always_positive"]["recall"] == 1.0
    assert [(p["line"], p["reason"].split(" (")[0]) for p in summary["labels"]["problems"]] == [
        (14, "unknown label 'banana'"), (15, "no video id in the first column")]
    assert (output / "predictions.csv").read_text().count("\n") == 13
    assert (output / "confusion_matrix.png").stat().st_size > 1000
    assert (output / "verdicts_timeline.png").stat().st_size > 1000
    assert "INFO [12/12]" in log and "labels " in log and "line 14 unusable" in log
    assert last_line(log).split(" ", 3)[3].startswith("done: 11 videos predicted, 1 failed")

    # A rerun retries the failed video once (issue 11 item 4); after that it counts as done.
    again = main(job_args(twelve_clips.folder, output, tiny_models(), "--labels", str(labels)))
    assert again == EXIT_OK
    assert "11 already done" in capsys.readouterr().out
    third = main(job_args(twelve_clips.folder, output, tiny_models(), "--labels", str(labels)))
    assert third == EXIT_OK
    assert "12 already done" in capsys.readouterr().out
    assert len({record["video"] for record in lines_of(output / "predictions.jsonl")}) == 12


def run_until(command, env, progress: str, sig: int) -> tuple[int, str]:
    """Start the job, send `sig` once it logs `progress` (logged after that prediction is on disk)."""
    process = subprocess.Popen(command, cwd=REPO_ROOT, stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True,
                               env=env)
    seen = []
    try:
        for line in process.stdout:
            seen.append(line)
            if progress in line:
                process.send_signal(sig)
                break
        seen.extend(process.stdout)
    finally:
        process.kill()
        process.wait()
    return process.returncode, "".join(seen)


@pytest.mark.slow
def test_preempted_then_killed_then_rerun_ends_with_exactly_twelve_lines(tmp_path, tiny_models, twelve_clips):
    output = tmp_path / "out"
    command = [sys.executable, "-m", "inference.llava_ghost_probing_batch",
               *job_args(twelve_clips.folder, output, tiny_models(), "--labels", str(twelve_clips.labels_path))]
    env = {**os.environ, "PYTHONUNBUFFERED": "1"}

    status, log = run_until(command, env, "[3/12]", signal.SIGTERM)  # what Azure ML sends before preempting
    assert status == 143
    assert last_line(log).startswith("ERROR: terminated by SIGTERM (node preempted or job cancelled)")
    after_term = (output / "predictions.jsonl").read_text()

    status, _ = run_until(command, env, "[6/12]", signal.SIGKILL)  # no chance to clean up at all
    assert status == -signal.SIGKILL
    before = (output / "predictions.jsonl").read_text()
    done_before = len(before.splitlines())
    assert before.startswith(after_term) and 6 <= done_before < 12

    second = subprocess.run(command, cwd=REPO_ROOT, capture_output=True, text=True, env=env, timeout=600)
    assert second.returncode == 0, second.stdout[-2000:] + second.stderr[-2000:]
    after = (output / "predictions.jsonl").read_text()
    assert after.startswith(before)  # nothing written before the kill was lost or rewritten
    videos = [json.loads(line)["video"] for line in after.splitlines()]
    assert len(videos) == 12 and sorted(videos) == sorted(p.name for p in twelve_clips.videos)
    assert f"{done_before} already done" in second.stdout


def test_missing_folder_fails_without_writing_predictions(tmp_path, capsys):
    output = tmp_path / "out"
    status = main(job_args(tmp_path / "inputs" / "video_data", output, "unused-model"))
    assert status == EXIT_BAD_INPUT
    assert last_line(capsys.readouterr().out).startswith(f"ERROR: video folder not found: {tmp_path / 'inputs'}")
    assert not (output / "predictions.jsonl").exists() and not (output / "summary.json").exists()


def test_folder_without_videos_says_what_was_looked_for(tmp_path, capsys):
    (tmp_path / "videos").mkdir()
    (tmp_path / "videos" / "groundtruth_labels.csv").write_text("video_id\tground_truth_label\n")
    assert main(job_args(tmp_path / "videos", tmp_path / "out", "unused-model")) == EXIT_BAD_INPUT
    assert last_line(capsys.readouterr().out).startswith(f"ERROR: no videos found in {tmp_path / 'videos'} (looked for *.avi")


def test_missing_labels_file_is_bad_input(tmp_path, twelve_clips, capsys):
    status = main(job_args(twelve_clips.folder, tmp_path / "out", "unused", "--labels", str(tmp_path / "nope.tsv")))
    assert status == EXIT_BAD_INPUT
    assert "ERROR: labels file not found" in last_line(capsys.readouterr().out)


def test_missing_model_path_fails_before_any_video(tmp_path, twelve_clips, capsys):
    status = main(job_args(twelve_clips.folder, tmp_path / "out", tmp_path / "models" / "llava"))
    assert status == EXIT_MODEL
    assert "ERROR: model did not load properly: model folder not found" in last_line(capsys.readouterr().out)
    assert not (tmp_path / "out" / "predictions.jsonl").exists()


def test_uncached_hub_id_offline_is_refused_clearly():
    with pytest.raises(ModelLoadError, match="not found: not a local folder"):
        check_family("ghostwatch-test/no-such-model", FAMILIES["llava-next-video"])


def test_original_llava_repo_checkpoint_is_refused_with_the_port_to_use(tmp_path, twelve_clips, capsys):
    """The users' checkpoint: lmms-lab's LLaVA-Video in the original repository's format."""
    folder = tmp_path / "LLaVA-Video-7B-Qwen2"
    folder.mkdir()
    (folder / "config.json").write_text(json.dumps({"model_type": "llava_qwen", "architectures": ["LlavaQwenForCausalLM"]}))
    status = main(job_args(twelve_clips.folder, tmp_path / "out", folder))
    line = last_line(capsys.readouterr().out)
    assert status == EXIT_MODEL
    assert "original LLaVA repository's format" in line and "--model-family llava-video-qwen2" in line
    assert not (tmp_path / "out" / "predictions.jsonl").exists()


@pytest.mark.slow
def test_checkpoint_of_another_family_is_refused(tmp_path, tiny_models, twelve_clips, capsys):
    status = main(job_args(twelve_clips.folder, tmp_path / "out", tiny_models("llava-onevision")))
    line = last_line(capsys.readouterr().out)
    assert status == EXIT_MODEL
    assert "declares model_type 'llava_onevision'" in line and "expects llava_next_video" in line
    assert "use --model-family llava-onevision or llava-video-qwen2" in line
    assert not (tmp_path / "out" / "predictions.jsonl").exists()
    assert check_family(str(tiny_models("llava-onevision")), FAMILIES["llava-video-qwen2"]) == "llava_onevision"


@pytest.mark.slow
def test_newly_initialised_weights_fail_loudly(tmp_path, tiny_models, twelve_clips, capsys):
    """Weights the checkpoint lacks would be randomly initialised: the users' silent failure."""
    from safetensors.torch import load_file, save_file

    folder = tmp_path / "stripped"
    shutil.copytree(tiny_models(), folder)
    weights = load_file(folder / "model.safetensors")
    kept = {name: tensor for name, tensor in weights.items() if "language_model" not in name}
    assert 0 < len(kept) < len(weights)
    save_file(kept, folder / "model.safetensors", metadata={"format": "pt"})
    with pytest.raises(ModelLoadError, match="newly initialised"):
        load_model(str(folder), FAMILIES["llava-next-video"], "cpu")
    status = main(job_args(twelve_clips.folder, tmp_path / "out", folder))
    assert status == EXIT_MODEL
    assert "newly initialised" in last_line(capsys.readouterr().out)
    assert not (tmp_path / "out" / "predictions.jsonl").exists()


@pytest.mark.slow
def test_every_video_failing_exits_non_zero(tmp_path, tiny_models, capsys):
    videos = tmp_path / "videos"
    videos.mkdir()
    for name in ("images_1_001.avi", "images_1_002.avi"):
        (videos / name).write_bytes(b"RIFF\x00\x00\x00\x00AVI LIST" + bytes(range(256)) * 4)
    status = main(job_args(videos, tmp_path / "out", tiny_models()))
    assert status == EXIT_ALL_FAILED
    assert last_line(capsys.readouterr().out).startswith("ERROR: every video failed (2 of 2)")
    assert len(lines_of(tmp_path / "out" / "predictions.jsonl")) == 2


@pytest.mark.slow
def test_shards_batches_and_the_users_index_arguments(tmp_path, tiny_models, twelve_clips, capsys):
    output = tmp_path / "out"
    for index in (0, 1):
        status = main(job_args(twelve_clips.folder, output, tiny_models(), "--start-index", "2", "--limit", "5",
                               "--batch-size", "2", "--shard-index", str(index), "--num-shards", "2"))
        assert status == EXIT_OK, capsys.readouterr().out
    shard0 = [r["video"] for r in read_predictions(output / "predictions.shard-00-of-02.jsonl")]
    shard1 = [r["video"] for r in read_predictions(output / "predictions.shard-01-of-02.jsonl")]
    expected = sorted(p.name for p in twelve_clips.videos)[2:7]
    assert shard0 == expected[0::2] and shard1 == expected[1::2]
    summary = merge_shards(output)
    assert summary["videos_recorded"] == 5 and summary["missing_shards"] == []
    assert [r["video"] for r in read_predictions(output / "predictions.jsonl")] == expected


@pytest.mark.slow
@pytest.mark.parametrize("family", ["llava-next-video", "llava-onevision", "qwen2.5-vl"])
def test_tiny_model_of_each_family_loads_offline_and_generates_a_left_padded_batch(family, tiny_models):
    import numpy as np
    from transformers import AutoModelForImageTextToText, AutoProcessor

    from inference.frames import Clip

    folder = tiny_models(family)
    assert type(AutoModelForImageTextToText.from_pretrained(folder)).__name__.endswith("ForConditionalGeneration")
    assert AutoProcessor.from_pretrained(folder).chat_template
    loaded = load_model(str(folder), FAMILIES[family], "cpu")
    rng = np.random.default_rng(0)
    clips = [Clip(rng.integers(0, 256, (8, 96, 160, 3), dtype=np.uint8), list(range(0, 60, 8))[:8],
                  [i / 10 for i in range(0, 60, 8)][:8], 10.0, 60, "test") for _ in range(2)]
    inputs = build_inputs(loaded, clips, ["Is there ghost probing?", "Is there ghost probing in this long clip now?"])
    pad = loaded.processor.tokenizer.pad_token_id
    assert inputs["input_ids"][0, 0] == pad and inputs["input_ids"][0, -1] != pad  # padded on the left
    answers = generate(loaded, inputs, max_new_tokens=6)
    assert len(answers) == 2 and all(isinstance(answer, str) for answer in answers)


@pytest.mark.slow
def test_gpu_check_runs_the_tiny_model_and_reports_throughput(tiny_models, capsys):
    from inference import gpu_check

    status = gpu_check.main(["--model", str(tiny_models()), "--device", "cpu", "--dtype", "fp32", "--videos", "2",
                             "--num-frames", "4", "--batch-size", "2", "--max-new-tokens", "4"])
    out = capsys.readouterr().out
    assert status == 0 and "2 videos x 4 frames, batch 2:" in out and "frames/s" in out


def test_gpu_check_without_cuda_says_so():
    import torch

    from inference import gpu_check

    if torch.cuda.is_available():
        pytest.skip("this machine has CUDA")
    assert gpu_check.main([]) == 2
