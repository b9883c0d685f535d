"""Synthetic clips: named and labelled like the users' data, decodable by decord, deterministic for a seed."""
import hashlib

import decord
import numpy as np
import pytest

from inference.labels import read_labels
from flows.sample_data import make_sample_dataset


def digest(paths):
    return [hashlib.sha256(p.read_bytes()).hexdigest() for p in paths]


def test_clips_labels_and_determinism(tmp_path):
    a = make_sample_dataset(tmp_path / "a", videos=4, seed=3)
    b = make_sample_dataset(tmp_path / "b", videos=4, seed=3)
    assert [p.name for p in a.videos] == ["images_1_001.avi", "images_1_002.avi", "images_1_003.avi", "images_1_004.avi"]
    assert digest(a.videos) == digest(b.videos) and a.labels == b.labels
    positives = [v for v in a.labels.values() if v.endswith("s: ghost probing")]
    assert len(positives) == 2 and sum(v == "none" for v in a.labels.values()) == 2
    table = read_labels(a.labels_path)  # the users' own label reader accepts it
    assert not table.problems and len(table.labels) == 4
    reader = decord.VideoReader(str(a.videos[0]))
    assert len(reader) == 60 and reader[0].shape == (96, 160, 3)


def test_a_positive_clip_shows_something_emerging_at_its_labelled_second(tmp_path):
    data = make_sample_dataset(tmp_path, videos=2, seed=1)
    name, label = next((n, v) for n, v in data.labels.items() if v != "none")
    second = int(label.split("s:")[0])
    reader = decord.VideoReader(str(tmp_path / name))
    before = reader[second * 10 - 3].asnumpy().astype(int)
    after = reader[second * 10 + 8].asnumpy().astype(int)
    # The pedestrian is saturated red; before it emerges no pixel in the road area is.
    red = lambda f: ((f[..., 0] > 140) & (f[..., 1] < 100) & (f[..., 2] < 100))[40:].sum()
    assert red(before) == 0 and red(after) > 10


def test_corrupt_clips_cannot_be_decoded(tmp_path):
    data = make_sample_dataset(tmp_path, videos=3, seed=0, corrupt=1)
    assert data.corrupt == [data.videos[-1]]
    with pytest.raises(Exception):
        decord.VideoReader(str(data.corrupt[0]))


@pytest.mark.parametrize("kwargs", [{"videos": 0}, {"corrupt": 9}, {"width": 48}, {"height": 95}])
def test_bad_arguments_say_what_is_wrong(tmp_path, kwargs):
    with pytest.raises(ValueError):
        make_sample_dataset(tmp_path, **{"videos": 2, **kwargs})
