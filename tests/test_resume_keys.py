"""Resume keys and failed videos (issue 11 items 4 and 5): a rerun never mixes predictions made another way, and a
video that failed is tried once more rather than counted as done. No model is loaded: the checks come first."""
from __future__ import annotations

import json
from pathlib import Path

import pytest

from inference.llava_ghost_probing_batch import JobError, parse_args, run
from inference.outputs import PredictionLog, resume_key


def folder_with_videos(root: Path, names=("a.avi", "b.avi", "c.avi")) -> Path:
    folder = root / "videos"
    folder.mkdir()
    for name in names:
        (folder / name).write_bytes(b"not decoded in these tests")
    return folder


def write_records(output: Path, records: list[dict]) -> None:
    output.mkdir(parents=True, exist_ok=True)
    with open(output / "predictions.jsonl", "w") as f:
        for record in records:
            f.write(json.dumps(record) + "\n")


def record(video: str, model="model-a", family="llava-next-video", frames=8, prompt=None, error=None, tries=1):
    from inference.outputs import prompt_sha256

    return {"video": video, "verdict": None if error else "no", "error": error, "model": model,
            "model_family": family, "num_frames": frames, "prompt_sha256": prompt or prompt_sha256(None), "tries": tries}


@pytest.mark.parametrize("change, argument", [
    ({"model": "model-b"}, ["--model", "model-b"]),
    ({"family": "llava-onevision"}, ["--model-family", "llava-onevision"]),
    ({"frames": 16}, ["--num-frames", "16"]),
])
def test_rerun_with_another_model_family_or_frames_refuses_to_mix(tmp_path, change, argument):
    videos = folder_with_videos(tmp_path)
    output = tmp_path / "out"
    write_records(output, [record("a.avi"), record("b.avi")])
    base = {"--model": "model-a", "--model-family": "llava-next-video", "--num-frames": "8"}
    base.update(dict(zip(argument[::2], argument[1::2])))
    args = parse_args(["--video-folder", str(videos), "--output-folder", str(output),
                       *[x for kv in base.items() for x in kv]])
    with pytest.raises(JobError) as caught:
        run(args)
    message = str(caught.value)
    assert "2 predictions" in message and "another" in message and "--output-folder" in message
    assert len((output / "predictions.jsonl").read_text().splitlines()) == 2, "nothing was appended"


def test_rerun_with_another_prompt_refuses_to_mix(tmp_path):
    videos = folder_with_videos(tmp_path)
    output = tmp_path / "out"
    write_records(output, [record("a.avi")])
    prompt = tmp_path / "prompt.txt"
    prompt.write_text("Is there ghost probing in these $num_frames frames? Answer JSON.")
    args = parse_args(["--video-folder", str(videos), "--output-folder", str(output), "--model", "model-a",
                       "--num-frames", "8", "--prompt", str(prompt)])
    with pytest.raises(JobError, match="prompt"):
        run(args)


def test_resume_key_is_what_produced_the_prediction():
    assert resume_key(record("a.avi")) == ("model-a", "llava-next-video", 8, record("a.avi")["prompt_sha256"])


def test_a_failed_video_is_retried_once_then_counted_as_done(tmp_path):
    output = tmp_path / "out"
    write_records(output, [record("a.avi"), record("b.avi", error="decode failed"),
                           record("c.avi", error="decode failed", tries=2)])
    log = PredictionLog(output / "predictions.jsonl")
    assert log.done() == {"a.avi", "c.avi"}, "b failed once: it is tried again; c failed twice: it is done"
    assert log.tries("b.avi") == 1 and log.tries("new.avi") == 0
