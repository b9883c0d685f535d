"""Fixtures for the inference tests: the users' real label files, sample clips, and tiny models built once."""
from __future__ import annotations

from fractions import Fraction
from pathlib import Path

import numpy as np
import pytest

REPO_ROOT = Path(__file__).resolve().parents[1]
DADA100 = Path(__file__).resolve().parent / "data" / "dada100"


def dada_fixture(name: str) -> Path:
    """A real label file of the users, carried in tests/data/dada100 (see its README for where it comes from)."""
    path = DADA100 / name
    assert path.is_file(), f"{path} is missing from the repository"
    return path


def write_plain_clip(path: Path, width: int, height: int, frames: int = 20, fps: int = 10) -> Path:
    """A short clip whose frame i is filled with grey level 10*i (so sampled indices can be checked from pixels)."""
    import av

    with av.open(str(path), "w", format="avi") as container:
        stream = container.add_stream("mpeg4", rate=Fraction(fps, 1))
        stream.width, stream.height, stream.pix_fmt = width, height, "yuv420p"
        stream.bit_rate = 400_000
        for index in range(frames):
            image = np.full((height, width, 3), min(255, index * 10), dtype=np.uint8)
            for packet in stream.encode(av.VideoFrame.from_ndarray(image, format="rgb24")):
                container.mux(packet)
        for packet in stream.encode():
            container.mux(packet)
    return path


@pytest.fixture(scope="session")
def tiny_models(tmp_path_factory):
    """Build tiny models lazily, one per family per session: tiny_models("llava-onevision") -> folder."""
    from inference.tiny_model import build_tiny_model

    root = tmp_path_factory.mktemp("tiny-models")
    built: dict[str, Path] = {}

    def get(family: str = "llava-next-video") -> Path:
        if family not in built:
            built[family] = build_tiny_model(root / family, family).folder
        return built[family]

    return get


@pytest.fixture(scope="session")
def twelve_clips(tmp_path_factory):
    """The done-when dataset: 12 synthetic clips (the last one corrupt) with the users' TSV labels."""
    from flows.sample_data import make_sample_dataset

    return make_sample_dataset(tmp_path_factory.mktemp("twelve") / "videos", videos=12, corrupt=1, seconds=4)
