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


# Why the job passes over a file of its input folder (None: it reads it). The job and preflight both apply this rule,
# so preflight counts, probes and warns about exactly the files the job will (and will not) read.
NOT_A_VIDEO = "not a video"
IN_SUB_FOLDER = "in a sub-folder (the job reads only the top folder)"
HIDDEN = "hidden: a dot file, e.g. a macOS AppleDouble '._' file, holds no video"


def why_not_read(name: str) -> str | None:
    """Why the job will not read the file `name` (a path relative to its input folder), or None when it will.

    The job reads a file when it lies directly in the input folder, is not hidden (a leading '.'; macOS leaves a
    '._clip.avi' beside every clip copied from its disks, which no decoder can read) and has a video extension.
    """
    parts = [part for part in name.replace("\\", "/").split("/") if part]
    if not parts:
        return NOT_A_VIDEO
    if not is_video_name(parts[-1]):
        return NOT_A_VIDEO
    if parts[-1].startswith("."):
        return HIDDEN
    if len(parts) > 1:
        return IN_SUB_FOLDER
    return None


def job_reads(name: str) -> bool:
    """Whether the job reads the file `name` (relative to its input folder) as one of its videos."""
    return why_not_read(name) is None
