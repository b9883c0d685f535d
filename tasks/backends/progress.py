"""How far a running job is: videos done of total, seconds per video and the ETA, read from its predictions.jsonl.

The job appends one line per video as soon as it is done (inference/outputs.py), into its output folder: a local
folder, or the output datastore path of an Azure ML job. Reading that file is all the watch needs for a progress bar.
"""
from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path
from typing import Callable, Iterable


@dataclass(frozen=True)
class Progress:
    """A snapshot of a job's progress; `eta_seconds` is the estimated time left (None until a video is done)."""

    done: int
    failed: int
    total: int | None
    per_video_seconds: float | None
    eta_seconds: float | None
    overdue_seconds: float = 0.0  # how long past the estimate the job is (a slow last video, a stall)

    @property
    def fraction(self) -> float:
        """0..1; 0 while the total is unknown."""
        if not self.total:
            return 0.0
        return min(1.0, self.done / self.total)

    def describe(self) -> str:
        """One line for people: '5 of 8 videos done (1 failed), 2.1 s per video, about 6 s left'."""
        total = f" of {self.total}" if self.total else ""
        text = f"{self.done}{total} videos done"
        if self.failed:
            text += f" ({self.failed} failed)"
        if self.per_video_seconds is not None:
            text += f", {self.per_video_seconds:.1f} s per video"
        if self.eta_seconds is not None and not (self.total and self.done >= self.total):
            text += f", about {_duration(self.eta_seconds)} left" if self.eta_seconds > 0 else ", finishing"
        return text


def _duration(seconds: float) -> str:
    seconds = max(0, int(round(seconds)))
    if seconds < 90:
        return f"{seconds} s"
    if seconds < 5400:
        return f"{seconds // 60} min"
    return f"{seconds // 3600} h {seconds % 3600 // 60:02d} min"


def progress_from_lines(lines: Iterable[str], total: int | None, since_last_change: float = 0.0) -> Progress:
    """Progress from predictions.jsonl lines (a partial last line is ignored: the job may be writing it).

    Args:
        lines: the file's lines.
        total: how many videos the job has to do (preflight's count, capped by `limit`), if known.
        since_last_change: seconds since the done count last changed, taken off the estimate.
    """
    done = failed = 0
    seconds = []
    for line in lines:
        try:
            record = json.loads(line)
        except ValueError:
            continue
        if not isinstance(record, dict):
            continue
        done += 1
        failed += bool(record.get("error"))
        if isinstance(record.get("seconds"), (int, float)):
            seconds.append(float(record["seconds"]))
    per_video = sum(seconds) / len(seconds) if seconds else None
    eta = None
    overdue = 0.0
    if per_video is not None and total:
        left = (total - done) * per_video - since_last_change
        eta, overdue = max(0.0, left), max(0.0, -left)
    return Progress(done=done, failed=failed, total=total, per_video_seconds=per_video, eta_seconds=eta,
                    overdue_seconds=overdue)


class ProgressReader:
    """Reads a job's progress from a predictions.jsonl reachable through `read_text` (a local file, a blob).

    Args:
        read_text: returns the file's text, or None when it does not exist yet.
        total: the job's number of videos, if known.
        now: the clock's now(), to age the estimate between polls.
    """

    def __init__(self, read_text: Callable[[], str | None], total: int | None, now: Callable[[], float]) -> None:
        self._read_text = read_text
        self.total = total
        self._now = now
        self._last_done: int | None = None
        self._changed_at = 0.0
        self.reads = 0

    def read(self) -> Progress | None:
        """The current progress, or None when the job has written nothing yet (or the file cannot be read)."""
        self.reads += 1
        try:
            text = self._read_text()
        except Exception:  # a transient storage error: no progress this time, the watch goes on
            return None
        if text is None:
            return None
        lines = text.splitlines() if text.endswith("\n") else text.splitlines()[:-1]
        now = self._now()
        done = len(lines)
        if done != self._last_done:
            self._last_done, self._changed_at = done, now
        return progress_from_lines(lines, self.total, since_last_change=now - self._changed_at)


def local_predictions(output_dir: str | Path) -> Callable[[], str | None]:
    """A `read_text` for a local output folder."""
    path = Path(output_dir) / "predictions.jsonl"

    def read() -> str | None:
        return path.read_text(errors="replace") if path.exists() else None

    return read


def datastore_predictions(open_store: Callable[[], object | None]) -> Callable[[], str | None]:
    """A `read_text` for an output folder on a datastore (an Azure ML job's output datastore path).

    Args:
        open_store: returns the Datastore rooted at the output folder, or None while it cannot be opened (the job has
            written nothing yet); called until it returns one.
    """
    from tasks.datastore.base import StorageError

    store = None

    def read() -> str | None:
        nonlocal store
        if store is None:
            store = open_store()
            if store is None:
                return None
        try:
            with store.open_read("predictions.jsonl") as handle:
                return handle.read().decode(errors="replace")
        except FileNotFoundError:
            return None
        except StorageError as error:
            if error.category == "data_not_found":
                return None
            raise

    return read
