"""What counts as a video: the one list of extensions that the job, its label reader and preflight all use.

Pure Python (no numpy, no decoders), so the orchestrator imports it without the job's environment.
"""
from __future__ import annotations

VIDEO_EXTENSIONS = (".avi", ".mp4", ".mov", ".mkv", ".webm", ".m4v", ".mpg", ".mpeg", ".wmv", ".flv", ".ts")


def video_extension(name: str) -> str | None:
    """The video extension `name` ends with (lower-cased), or None when it is not a video's name.

    Args:
        name: a file name or path, either slash ('dir/images_1_001.AVI').
    """
    lowered = name.replace("\\", "/").rsplit("/", 1)[-1].casefold()
    for extension in VIDEO_EXTENSIONS:
        if lowered.endswith(extension) and len(lowered) > len(extension):
            return extension
    return None


def is_video_name(name: str) -> bool:
    """Whether a file of this name is read as a video."""
    return video_extension(name) is not None
