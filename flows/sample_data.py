"""Synthetic dashcam-like clips for demos, tests and benchmarks, named and labelled like the users' DADA-100 subset.

Each clip is a road seen from the ego vehicle: sky, asphalt with moving lane dashes, and a parked vehicle by the kerb
acting as the occluder. In a positive clip a pedestrian emerges from behind the occluder at second N and walks into the
ego lane; its label is `Ns: ghost probing`. Negative clips have the same scene with no one emerging (`none`).
Clips are AVI (MPEG-4 Part 2, as DADA-2000's RGB clips are AVI), written with PyAV. Everything is deterministic for a seed.
"""
from __future__ import annotations

import random
from dataclasses import dataclass, field
from fractions import Fraction
from pathlib import Path

import numpy as np

LABELS_FILE_NAME = "groundtruth_labels.csv"
# decord 0.6 cannot decode frames 48 px wide; keep widths well clear of that and even (codec requirement).
MIN_WIDTH = 64


@dataclass
class SampleDataset:
    """What `make_sample_dataset` wrote."""

    folder: Path
    videos: list[Path]
    labels_path: Path
    labels: dict[str, str] = field(default_factory=dict)  # video file name -> label as written
    corrupt: list[Path] = field(default_factory=list)


def _draw_frame(t: float, width: int, height: int, rng_state: dict, emerge_at: float | None) -> np.ndarray:
    """One RGB frame of the scene at time `t` seconds."""
    frame = np.empty((height, width, 3), dtype=np.uint8)
    horizon = height * 2 // 5
    frame[:horizon] = rng_state["sky"]
    frame[horizon:] = (70, 70, 74)
    # Lane dashes scroll towards the viewer: the ego vehicle is moving.
    centre = width // 2
    for k in range(6):
        phase = (t * 1.5 + k / 6) % 1.0
        y = int(horizon + (height - horizon) * phase**1.6)
        half = max(1, int(1 + 3 * phase))
        frame[y : min(height, y + 2 + half), centre - half : centre + half] = (235, 235, 220)
    # The occluder: a parked vehicle at the kerb, right of the ego lane.
    ox0, ox1 = int(width * 0.66), int(width * 0.86)
    oy0, oy1 = int(height * 0.50), int(height * 0.80)
    frame[oy0:oy1, ox0:ox1] = rng_state["occluder"]
    frame[oy0 : oy0 + 3, ox0:ox1] = (30, 30, 30)
    if emerge_at is not None and t >= emerge_at:
        # The pedestrian steps out from behind the occluder's left edge and crosses into the ego lane.
        walked = (t - emerge_at) * width * 0.12
        px = int(ox0 - 2 - walked)
        pw, ph = max(3, width // 28), max(8, height // 5)
        py1 = int(height * 0.82)
        px0, px1 = max(0, px - pw), max(0, px)
        if px1 > px0:
            frame[py1 - ph : py1, px0:px1] = rng_state["actor"]
            frame[py1 - ph - pw : py1 - ph, px0:px1] = (225, 190, 160)
    noise = rng_state["noise"].integers(0, 6, size=frame.shape, dtype=np.uint8)
    return np.clip(frame.astype(np.int16) + noise, 0, 255).astype(np.uint8)


def write_clip(path: Path, *, seed: int, width: int, height: int, fps: int, seconds: float, emerge_at: float | None) -> None:
    """Encode one synthetic clip to `path` (AVI, MPEG-4)."""
    import av  # imported here: only sample-data generation needs the encoder

    if width < MIN_WIDTH or width % 2 or height % 2:
        raise ValueError(f"width must be an even number >= {MIN_WIDTH} and height even; got {width}x{height}")
    rng = random.Random(seed)
    state = {
        "sky": (rng.randint(120, 180), rng.randint(150, 200), rng.randint(200, 240)),
        "occluder": (rng.randint(20, 200), rng.randint(20, 200), rng.randint(20, 200)),
        "actor": (rng.randint(150, 255), rng.randint(0, 80), rng.randint(0, 80)),
        "noise": np.random.default_rng(seed),
    }
    n_frames = int(round(fps * seconds))
    with av.open(str(path), mode="w", format="avi") as container:
        stream = container.add_stream("mpeg4", rate=Fraction(fps, 1))
        stream.width, stream.height = width, height
        stream.pix_fmt = "yuv420p"
        stream.bit_rate = 400_000
        for i in range(n_frames):
            image = _draw_frame(i / fps, width, height, state, emerge_at)
            for packet in stream.encode(av.VideoFrame.from_ndarray(image, format="rgb24")):
                container.mux(packet)
        for packet in stream.encode():
            container.mux(packet)


def make_sample_dataset(
    folder: str | Path,
    videos: int = 8,
    seed: int = 0,
    width: int = 160,
    height: int = 96,
    fps: int = 10,
    seconds: float = 6.0,
    corrupt: int = 0,
) -> SampleDataset:
    """Write `videos` clips and the users' tab-separated `groundtruth_labels.csv` into `folder`.

    Args:
        folder: created if missing; existing clips of the same names are overwritten.
        videos: how many clips; about half are positives.
        seed: the same seed gives the same names, labels and pixels.
        corrupt: how many of the clips (the last ones) are replaced by bytes no decoder accepts; they keep their labels.

    Returns:
        SampleDataset with the clip paths and the labels written.
    """
    if videos < 1:
        raise ValueError("videos must be at least 1")
    if not 0 <= corrupt <= videos:
        raise ValueError(f"corrupt must be between 0 and videos ({videos}); got {corrupt}")
    folder = Path(folder)
    folder.mkdir(parents=True, exist_ok=True)
    rng = random.Random(seed)
    positives = set(rng.sample(range(videos), k=(videos + 1) // 2))
    dataset = SampleDataset(folder=folder, videos=[], labels_path=folder / LABELS_FILE_NAME)
    for index in range(videos):
        category = 1 + index // 50  # DADA-style: images_<category>_<clip>.avi, clips numbered within a category
        name = f"images_{category}_{index % 50 + 1:03d}.avi"
        emerge_at = None
        if index in positives:
            emerge_at = float(rng.randint(1, max(1, int(seconds) - 2)))
            dataset.labels[name] = f"{int(emerge_at)}s: ghost probing"
        else:
            dataset.labels[name] = "none"
        path = folder / name
        write_clip(path, seed=seed * 100_003 + index, width=width, height=height, fps=fps, seconds=seconds, emerge_at=emerge_at)
        dataset.videos.append(path)
    for path in dataset.videos[videos - corrupt :]:
        path.write_bytes(b"RIFF\x00\x00\x00\x00AVI LIST" + bytes(random.Random(path.name).randbytes(2048)))
        dataset.corrupt.append(path)
    lines = ["video_id\tground_truth_label"] + [f"{name}\t{label}" for name, label in dataset.labels.items()]
    dataset.labels_path.write_text("\n".join(lines) + "\n")
    return dataset
