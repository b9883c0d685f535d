"""Read a video as a few uniformly sampled RGB frames (T×H×W×3 uint8) with their timestamps.

decord reads first, seeking only to the sampled frames; PyAV is the fallback when decord cannot open a file (decord
0.6 fails on some codecs and on 48-px-wide frames). Whatever decord's bridge returns (its NDArray, a torch tensor
when someone set the torch bridge, a numpy array) is converted to numpy: the users' job died on `.asnumpy()` there.
"""
from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np

from inference.videos import VIDEO_EXTENSIONS, job_reads



class VideoReadError(RuntimeError):
    """A video that no backend could read; the message names each backend's error."""


@dataclass
class Clip:
    """Sampled frames of one video and where they came from."""

    frames: np.ndarray  # T×H×W×3 uint8
    indices: list[int]
    timestamps: list[float]  # seconds of each sampled frame
    fps: float
    total_frames: int
    backend: str  # "decord" or "pyav"

    @property
    def duration(self) -> float:
        return self.total_frames / self.fps if self.fps else 0.0


def find_videos(folder: str | Path) -> list[Path]:
    """The videos the job reads in a folder (inference.videos.job_reads: directly in it, not hidden, a video
    extension), sorted by name (the order every shard agrees on).

    Args:
        folder: the folder to list.

    Returns:
        Sorted paths.

    Raises:
        FileNotFoundError: the folder does not exist or is not a folder.
    """
    root = Path(folder)
    if not root.is_dir():
        raise FileNotFoundError(f"video folder not found: {root} (check --video-folder and that the data is mounted)")
    return sorted(p for p in root.iterdir() if p.is_file() and job_reads(p.name))


def sample_indices(total_frames: int, num_frames: int) -> list[int]:
    """Uniform frame indices: the centre of each of `num_frames` equal segments.

    Short videos repeat frames so that every clip of a batch has the same frame count.

    Args:
        total_frames: frames in the video (>= 1).
        num_frames: frames wanted (>= 1).

    Returns:
        `num_frames` indices in [0, total_frames).
    """
    if total_frames < 1 or num_frames < 1:
        raise ValueError(f"need at least one frame (video has {total_frames}, asked for {num_frames})")
    step = total_frames / num_frames
    return [min(total_frames - 1, int(step * (i + 0.5))) for i in range(num_frames)]


def to_numpy(batch) -> np.ndarray:
    """Convert what decord returned (NDArray, torch tensor, numpy) into a numpy uint8 array."""
    if hasattr(batch, "asnumpy"):
        return batch.asnumpy()
    if hasattr(batch, "detach"):
        return batch.detach().cpu().numpy()
    return np.asarray(batch)


def read_clip(path: str | Path, num_frames: int, backend: str = "auto") -> Clip:
    """Sample `num_frames` frames of a video uniformly.

    Args:
        path: the video file.
        num_frames: how many frames.
        backend: "auto" (decord, then PyAV), "decord" or "pyav".

    Returns:
        The Clip.

    Raises:
        VideoReadError: no backend could read the video (the message has each backend's reason).
    """
    readers = {"decord": _read_decord, "pyav": _read_pyav}
    order = list(readers) if backend == "auto" else [backend]
    errors = []
    for name in order:
        try:
            return readers[name](Path(path), num_frames)
        except Exception as error:  # noqa: BLE001 - any decoder failure means "try the next backend"
            errors.append(f"{name}: {type(error).__name__}: {_first_line(error)}")
    raise VideoReadError(f"cannot read {Path(path).name}: " + "; ".join(errors))


def read_clip_decoding_all(path: str | Path, num_frames: int) -> Clip:
    """Decode every frame with PyAV, then keep the sampled ones (the benchmark's baseline for seek sampling)."""
    import av

    with av.open(str(path)) as container:
        stream = container.streams.video[0]
        frames = [frame.to_ndarray(format="rgb24") for frame in container.decode(stream)]
        fps = float(stream.average_rate or 0) or 25.0
    if not frames:
        raise VideoReadError(f"cannot read {Path(path).name}: no frames decoded")
    indices = sample_indices(len(frames), num_frames)
    return Clip(np.stack([frames[i] for i in indices]), indices, [i / fps for i in indices], fps, len(frames), "pyav-all")


def _read_decord(path: Path, num_frames: int) -> Clip:
    import decord

    reader = decord.VideoReader(str(path), ctx=decord.cpu(0), num_threads=1)
    total = len(reader)
    fps = float(reader.get_avg_fps()) or 25.0
    indices = sample_indices(total, num_frames)
    frames = to_numpy(reader.get_batch(indices))
    return Clip(np.ascontiguousarray(frames, dtype=np.uint8), indices, [i / fps for i in indices], fps, total, "decord")


def _read_pyav(path: Path, num_frames: int) -> Clip:
    import av

    with av.open(str(path)) as container:
        if not container.streams.video:
            raise VideoReadError("no video stream in the file")
        stream = container.streams.video[0]
        fps = float(stream.average_rate or 0) or 25.0
        total = stream.frames or _count_frames(container, stream)
        if total < 1:
            raise VideoReadError("no frames")
        indices = sample_indices(total, num_frames)
        wanted = set(indices)
        kept: dict[int, np.ndarray] = {}
        container.seek(0)
        for position, frame in enumerate(container.decode(stream)):
            if position in wanted:
                kept[position] = frame.to_ndarray(format="rgb24")
            if position >= indices[-1]:
                break
    if not kept:
        raise VideoReadError("no frames decoded")
    # A header that overstates the frame count leaves late indices unread: reuse the last frame decoded.
    last = kept[max(kept)]
    frames = np.stack([kept.get(i, last) for i in indices])
    return Clip(frames, indices, [i / fps for i in indices], fps, total, "pyav")


def _count_frames(container, stream) -> int:
    count = sum(1 for _ in container.decode(stream))
    container.seek(0)
    return count


def _first_line(error: BaseException) -> str:
    text = str(error).strip().splitlines()
    return text[0][:300] if text else type(error).__name__
