"""issue 11 item 5 / fault matrix 'a rerun with another model into the same folder': the orchestrator reads the output
folder's resume keys before anything is queued, and stops with job_config_invalid (or moves to a fresh sub-folder)."""
from __future__ import annotations

import json

from inference.outputs import prompt_sha256
from tasks.config import RunConfig
from tasks.output_folder import conflict_verdict, find_conflict, run_resume_key

FIRST = ("llava-hf/LLaVA-NeXT-Video-7B-hf", "llava-next-video", 16)


def write_predictions(folder, model, family, frames, name="predictions.jsonl", videos=("a.avi", "b.avi")):
    folder.mkdir(parents=True, exist_ok=True)
    rows = [{"video": v, "model": model, "model_family": family, "num_frames": frames,
             "prompt_sha256": prompt_sha256(None), "verdict": "no"} for v in videos]
    (folder / name).write_text("".join(json.dumps(r) + "\n" for r in rows))


def test_predictions_of_another_model_are_a_conflict_named_field_by_field(tmp_path):
    write_predictions(tmp_path / "out", *FIRST)
    write_predictions(tmp_path / "out", *FIRST, name="predictions.shard-1-of-2.jsonl", videos=("c.avi",))
    ours = run_resume_key("llava-hf/llava-onevision-qwen2-7b-ov-hf", "llava-onevision", 16)

    conflict = find_conflict(str(tmp_path / "out"), ours)

    assert conflict is not None and conflict.count == 3
    assert "model 'llava-hf/LLaVA-NeXT-Video-7B-hf' (this run: 'llava-hf/llava-onevision-qwen2-7b-ov-hf')" in conflict.differences()
    assert "num_frames" not in conflict.differences()
    verdict = conflict_verdict(conflict)
    assert verdict.category == "job_config_invalid"
    assert "no job was queued" in verdict.summary and "output_conflict: new_folder" in verdict.summary


def test_the_same_key_a_new_folder_and_an_unreadable_folder_are_no_conflict(tmp_path):
    write_predictions(tmp_path / "out", *FIRST)
    assert find_conflict(str(tmp_path / "out"), run_resume_key(*FIRST)) is None  # a resume of the same run
    assert find_conflict(str(tmp_path / "new"), run_resume_key(*FIRST)) is None
    assert find_conflict(str(tmp_path / "out"), run_resume_key(FIRST[0], FIRST[1], 8)) is not None  # frames differ


def test_run_config_says_how_to_choose_and_defaults_to_stop():
    config = RunConfig(video_uri="/data")
    assert config.output_conflict == "stop"
    assert RunConfig(video_uri="/data", output_conflict="new_folder").output_conflict == "new_folder"
