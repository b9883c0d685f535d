"""inference.tiny_fit: target answers the job's parser reads back, a short fit that lowers the loss and saves weights
the job's loader accepts, and a clear error for a bad labels file."""
from __future__ import annotations

import json

import pytest

from inference.labels import Label
from inference.tiny_fit import EXIT_BAD_INPUT, FIT_RECORD, fit, load_examples, main, save_weights, target_answer
from inference.verdicts import parse_verdict


@pytest.mark.parametrize("positive, second", [(True, 3.0), (True, 2.5), (False, None)])
def test_target_answer_reads_back_through_the_jobs_parser(positive, second):
    label = Label("v", "v", "x", positive, second, 1)
    verdict = parse_verdict(target_answer(label))
    assert verdict.parsed_by == "json"
    assert verdict.positive is positive
    assert verdict.start_second == second
    assert verdict.actor == ("pedestrian" if positive else None)


@pytest.mark.slow
def test_short_fit_lowers_the_loss_and_saves_weights_the_job_loads(tmp_path):
    import torch

    from inference.models import FAMILIES, load_model
    from inference.tiny_model import build_tiny_model
    from flows.sample_data import make_sample_dataset

    clips = make_sample_dataset(tmp_path / "clips", videos=4, seed=3, seconds=3)
    folder = build_tiny_model(tmp_path / "model").folder
    family = FAMILIES["llava-next-video"]
    loaded = load_model(str(folder), family, "cpu", "fp32")
    before = {name: value.clone() for name, value in loaded.model.state_dict().items()}
    examples = load_examples(loaded, clips.folder, clips.labels_path, num_frames=4)
    assert len(examples) == 4
    assert {example.label.positive for example in examples} == {True, False}

    torch.set_num_threads(1)
    losses = fit(loaded, examples, steps=12, lr=5e-3, batch_size=4, seed=0, decision_weight=5.0)
    assert len(losses) == 12
    assert sum(losses[-3:]) / 3 < losses[0] * 0.8

    save_weights(loaded.model, folder)
    reloaded = load_model(str(folder), family, "cpu", "fp32")  # raises on any newly initialised weight
    assert reloaded.load_info == {"missing_keys": 0, "mismatched_keys": 0, "unexpected_keys": 0}
    after = reloaded.model.state_dict()
    assert after.keys() == before.keys()
    changed = [name for name in before if not torch.equal(before[name], after[name])]
    assert any("language_model" in name for name in changed)
    assert not any("vision_tower" in name for name in changed)  # frozen by default
    assert not list(folder.glob(".tiny_fit-*"))  # the staging folder is gone


@pytest.mark.slow  # loads torch and transformers in the fit's start-up
def test_bad_labels_file_exits_2_with_what_to_fix(tmp_path, capsys):
    from inference.tiny_model import build_tiny_model
    from flows.sample_data import make_sample_dataset

    clips = make_sample_dataset(tmp_path / "clips", videos=1, seed=3, seconds=2)
    folder = build_tiny_model(tmp_path / "model").folder
    weights = (folder / "model.safetensors").read_bytes()
    status = main([str(folder), "--video-folder", str(clips.folder), "--labels", str(tmp_path / "missing.csv")])
    assert status == EXIT_BAD_INPUT
    last = capsys.readouterr().out.strip().splitlines()[-1]
    assert last.startswith("ERROR: ") and "missing.csv" in last
    assert (folder / "model.safetensors").read_bytes() == weights  # nothing touched
    assert not (folder / FIT_RECORD).exists()
    assert json.loads((folder / "config.json").read_text())["model_type"] == "llava_next_video"
