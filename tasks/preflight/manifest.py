"""Build the preflight manifest: one row per video of the listing, with decord probes for a sample and its label."""
from __future__ import annotations

import tempfile
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path, PurePosixPath
from typing import Callable

from inference.labels import LabelTable, match_labels, video_key
from inference.videos import NOT_A_VIDEO, why_not_read
from tasks.datastore.base import BlobInfo, Datastore, StorageError
from tasks.preflight.probes import VideoProbe, probe_video

DEFAULT_BLOB_SAMPLE = 10


def extension_of(name: str) -> str:
    """The lower-cased last suffix ('.avi'), or '' when there is none."""
    return PurePosixPath(name).suffix.lower()


def split_listing(listing: list[BlobInfo], sidecar_extensions: list[str]) -> tuple[list[BlobInfo], list[BlobInfo]]:
    """(videos, files): videos are the files the job reads (inference.videos.job_reads); files are everything except
    hidden files and sidecars (label files, notes)."""
    sidecars = {extension.lower() for extension in sidecar_extensions}
    files = [info for info in listing if extension_of(info.name) not in sidecars and not _hidden(info.name)]
    videos = [info for info in listing if why_not_read(info.name) is None]
    return videos, files


def videos_not_read(listing: list[BlobInfo]) -> dict[str, list[str]]:
    """Files with a video's name that the job will NOT read, by reason (in a sub-folder, hidden): what preflight
    warns about, so nobody expects them in the results."""
    skipped: dict[str, list[str]] = {}
    for info in listing:
        reason = why_not_read(info.name)
        if reason is not None and reason != NOT_A_VIDEO:
            skipped.setdefault(reason, []).append(info.name)
    return skipped


def _hidden(name: str) -> bool:
    return any(part.startswith(".") for part in name.replace("\\", "/").split("/"))


def choose_sample(names: list[str], sample: int | None) -> list[str]:
    """`sample` names spread evenly over the sorted list (every category of DADA-style names gets its share); all when
    `sample` is None or at least the count."""
    if sample is None or sample >= len(names):
        return list(names)
    if sample <= 0:
        return []
    step = len(names) / sample
    return [names[int(index * step)] for index in range(sample)]


def probe_names(store: Datastore, names: list[str], concurrency: int = 4) -> dict[str, VideoProbe]:
    """Decode each named file with decord, `concurrency` at a time.

    A local folder's files are read in place. Remote files are downloaded one by one into a private temporary folder
    (never the user's), probed and deleted at once, so disk use stays at `concurrency` videos.

    Returns:
        name -> VideoProbe; a file that cannot be fetched is unreadable with the storage error as its reason.
    """
    local_path: Callable[[str], Path] | None = getattr(store, "local_path", None)
    with tempfile.TemporaryDirectory(prefix="ghostwatch-probe-") as scratch:

        def probe_one(indexed: tuple[int, str]) -> tuple[str, VideoProbe]:
            index, name = indexed
            if local_path is not None:
                return name, probe_video(local_path(name))
            target = Path(scratch) / f"{index}{extension_of(name)}"
            try:
                store.download(name, target)
                return name, probe_video(target)
            except StorageError as error:
                return name, VideoProbe(readable=False, error=f"could not download: {error}")
            finally:
                target.unlink(missing_ok=True)

        with ThreadPoolExecutor(max_workers=max(1, concurrency), thread_name_prefix="probe") as pool:
            return dict(pool.map(probe_one, enumerate(names)))


def build_manifest(videos: list[BlobInfo], probes: dict[str, VideoProbe], labels: LabelTable | None) -> list[dict]:
    """One row per video: listing fields, probe fields (None when not probed), and its label (None when unlabelled)."""
    matched = match_labels(labels, [info.name for info in videos]).matched if labels else {}
    rows = []
    for info in videos:
        probe = probes.get(info.name)
        label = matched.get(info.name)
        rows.append({
            "name": info.name,
            "key": video_key(info.name),
            "extension": extension_of(info.name),
            "size": info.size,
            "modified": info.modified.isoformat() if info.modified else None,
            "probed": probe is not None,
            "readable": probe.readable if probe else None,
            "fps": probe.fps if probe else None,
            "frames": probe.frames if probe else None,
            "duration": probe.duration if probe else None,
            "width": probe.width if probe else None,
            "height": probe.height if probe else None,
            "probe_error": probe.error if probe else None,
            "label": label.raw if label else None,
            "positive": label.positive if label else None,
        })
    return rows

