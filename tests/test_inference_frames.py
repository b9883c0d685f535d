"""Frame sampling: decord first (whatever its bridge returns), PyAV when decord cannot open a file."""
from __future__ import annotations

import numpy as np
import pytest

from inference.frames import VideoReadError, find_videos, read_clip, read_clip_decoding_all, sample_indices, to_numpy
from tests.inference_fixtures import write_plain_clip


def test_sample_indices_are_uniform_segment_centres():
    assert sample_indices(60, 8) == [3, 11, 18, 26, 33, 41, 48, 56]
    assert sample_indices(3, 5) == [0, 0, 1, 2, 2]  # short videos repeat frames: one frame count per batch
    with pytest.raises(ValueError):
        sample_indices(0, 4)


def test_decord_reads_sampled_frames_with_timestamps(tmp_path):
    clip = read_clip(write_plain_clip(tmp_path / "grey.avi", 96, 64, frames=20, fps=10), 4)
    assert clip.backend == "decord"
    assert clip.frames.shape == (4, 64, 96, 3) and clip.frames.dtype == np.uint8
    assert clip.indices == [2, 7, 12, 17] and clip.timestamps == pytest.approx([0.2, 0.7, 1.2, 1.7])
    assert clip.duration == pytest.approx(2.0)
    # frame i was painted grey level 10*i: the pixels prove which frames were read
    assert np.abs(clip.frames.reshape(4, -1).mean(axis=1) - [20, 70, 120, 170]).max() < 6


@pytest.mark.slow  # imports torch (seconds on 2 cores)
def test_torch_bridge_is_converted_not_crashed_on(tmp_path):
    """The users' job died on `'Tensor' object has no attribute 'asnumpy'` with decord's torch bridge."""
    import decord

    path = write_plain_clip(tmp_path / "grey.avi", 96, 64)
    decord.bridge.set_bridge("torch")
    try:
        clip = read_clip(path, 4, backend="decord")
    finally:
        decord.bridge.set_bridge("native")
    assert isinstance(clip.frames, np.ndarray) and clip.frames.shape == (4, 64, 96, 3)


def test_to_numpy_accepts_each_bridge_type():
    import torch

    array = np.zeros((2, 3, 4, 3), dtype=np.uint8)
    assert to_numpy(torch.from_numpy(array)).shape == (2, 3, 4, 3)
    assert to_numpy(array) is array


def test_pyav_takes_over_when_decord_cannot_open_the_file(tmp_path):
    path = write_plain_clip(tmp_path / "narrow.avi", 48, 32)  # decord 0.6 fails on 48-px-wide frames
    with pytest.raises(VideoReadError, match="decord"):
        read_clip(path, 4, backend="decord")
    clip = read_clip(path, 4)
    assert clip.backend == "pyav" and clip.frames.shape == (4, 32, 48, 3) and clip.indices == [2, 7, 12, 17]
    assert np.abs(clip.frames.reshape(4, -1).mean(axis=1) - [20, 70, 120, 170]).max() < 6


def test_decoding_everything_gives_the_same_frames(tmp_path):
    path = write_plain_clip(tmp_path / "grey.avi", 96, 64)
    seek, every = read_clip(path, 4), read_clip_decoding_all(path, 4)
    assert seek.indices == every.indices
    assert np.abs(seek.frames.astype(int) - every.frames.astype(int)).mean() < 3


def test_unreadable_file_names_each_backend(tmp_path):
    path = tmp_path / "broken.avi"
    path.write_bytes(b"RIFF\x00\x00\x00\x00AVI LIST" + bytes(range(256)) * 8)
    with pytest.raises(VideoReadError) as caught:
        read_clip(path, 4)
    assert "broken.avi" in str(caught.value) and "decord:" in str(caught.value) and "pyav:" in str(caught.value)


def test_find_videos_lists_only_videos_sorted(tmp_path):
    for name in ("b.AVI", "a.mp4", "groundtruth_labels.csv", "notes.txt"):
        (tmp_path / name).write_bytes(b"")
    (tmp_path / "sub").mkdir()
    assert [p.name for p in find_videos(tmp_path)] == ["a.mp4", "b.AVI"]
    with pytest.raises(FileNotFoundError, match="video folder not found"):
        find_videos(tmp_path / "missing")
