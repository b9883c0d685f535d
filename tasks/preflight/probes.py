"""Probe one video file with decord, the reader the job uses: if decord cannot decode it, neither can the job."""
from __future__ import annotations

from dataclasses import asdict, dataclass
from pathlib import Path


@dataclass(frozen=True)
class VideoProbe:
    """What decord saw in one file; `error` says why it is unreadable."""

    readable: bool
    fps: float | None = None
    frames: int | None = None
    duration: float | None = None
    width: int | None = None
    height: int | None = None
    error: str | None = None

    def to_dict(self) -> dict:
        return asdict(self)


def probe_video(path: str | Path) -> VideoProbe:
    """Open a video with decord and decode its first and middle frames.

    Decoding (not only opening) matters: a truncated upload opens fine and fails on the first frame the job asks for.

    Args:
        path: a local video file.

    Returns:
        A VideoProbe; never raises for a bad file (the reason is in `error`).
    """
    try:
        from decord import VideoReader, cpu
    except ImportError as exc:  # the orchestrator's install includes decord; say so if it is missing
        return VideoProbe(readable=False, error=f"decord is not installed ({exc}); pip install decord==0.6.0")
    try:
        reader = VideoReader(str(path), ctx=cpu(0), num_threads=1)
        frames = len(reader)
        if frames < 1:
            return VideoProbe(readable=False, frames=0, error="no frames")
        fps = float(reader.get_avg_fps())
        height, width = reader[0].shape[:2]
        reader[frames // 2]
        duration = frames / fps if fps > 0 else None
        return VideoProbe(True, round(fps, 3), frames, round(duration, 3) if duration else None, int(width), int(height))
    except Exception as exc:  # noqa: BLE001 - decord raises DECORDError/RuntimeError/IndexError for bad input
        message = " ".join(str(exc).split())[:300] or type(exc).__name__
        return VideoProbe(readable=False, error=f"{type(exc).__name__}: {message}")
