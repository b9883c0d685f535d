"""The job's output files: an append-only predictions.jsonl (the resume record), predictions.csv and summary.json.

predictions.jsonl: one JSON object per line, one line per video, written whole (a single O_APPEND write, then fsync)
as soon as the video is done. A rerun skips every video already done, so a job resubmitted after preemption does only
what is left; a video that failed is tried once more (`tries`). Predictions are resumed only when they were made the
same way: the resume key is (model, model_family, num_frames, prompt_sha256); a folder holding predictions made
another way is refused, never mixed. A line cut short by a kill is removed before appending.

Line format (stable; the orchestrator's triage reads it):
    video         str         file name, e.g. "images_1_003.avi" (the resume key)
    verdict       str | null  "yes" | "potential" | "no" | "unparsed"; null when the video failed (see error)
    positive      bool | null yes/potential -> true, no -> false; null when unparsed or failed
    start_second  float|null  second the model says ghost probing starts
    actor         str | null  who, as the model says (pedestrian, cyclist, ...)
    reason        str | null  the model's short reason
    parsed_by     str         "json", "keywords:<rule id>" or "none"
    raw_text      str | null  the model's whole answer (kept even when unparsed)
    error         str | null  null, or why this video produced no answer (unreadable file, ...)
    seconds       float       wall seconds spent on the video (its share of its batch)
    timings       object      {"decode": s, "preprocess": s, "generate": s} for this video
    frames        int         frames sampled (0 when the file could not be read)
    frame_times   list[float] second of each sampled frame
    duration      float|null  length of the video in seconds
    decoder       str | null  "decord" or "pyav"
    label         str | null  the ground-truth label as written in the labels file, or null
    label_positive bool|null  the users' rule applied to `label`
    label_start_second float|null
    model         str         model id or folder
    model_family  str
    num_frames    int         frames asked for (--num-frames); with model, model_family and prompt_sha256, the resume key
    prompt_sha256 str         first 16 hex digits of the prompt template's SHA-256
    tries         int         how many times this video was tried (a failed video is tried twice at most)
    shard         str         "<index>/<count>"
    finished_at   str         ISO 8601 UTC
"""
from __future__ import annotations

import csv
import json
import os
import tempfile
from pathlib import Path
from typing import Any, Iterable

PREDICTIONS_FILE = "predictions.jsonl"
SUMMARY_FILE = "summary.json"
CSV_FILE = "predictions.csv"
CSV_COLUMNS = (
    "video", "verdict", "positive", "start_second", "actor", "reason", "label", "label_positive",
    "label_start_second", "error", "seconds", "frames", "decoder", "model", "raw_text",
)


def shard_file_name(base: str, shard_index: int, num_shards: int) -> str:
    """`predictions.jsonl` for one shard, `predictions.shard-02-of-04.jsonl` for shard 2 of 4."""
    if num_shards <= 1:
        return base
    stem, dot, extension = base.partition(".")
    return f"{stem}.shard-{shard_index:02d}-of-{num_shards:02d}{dot}{extension}"


def read_predictions(path: str | Path) -> list[dict[str, Any]]:
    """Read a predictions file, ignoring a last line cut short by a kill.

    Args:
        path: predictions.jsonl (missing file: empty list).

    Returns:
        One dict per complete line; when a video appears twice (only after a hand edit), the last line wins.

    Raises:
        ValueError: a complete line (not the last) is not a JSON object: the file was damaged by something else.
    """
    file = Path(path)
    if not file.exists():
        return []
    records: dict[str, dict[str, Any]] = {}
    lines = file.read_bytes().split(b"\n")
    for number, line in enumerate(lines, start=1):
        if not line.strip():
            continue
        try:
            record = json.loads(line)
        except ValueError:
            if number == len(lines):  # the unterminated tail a kill leaves
                continue
            raise ValueError(f"{file}: line {number} is not valid JSON; move the file aside or fix the line") from None
        if not isinstance(record, dict) or "video" not in record:
            raise ValueError(f"{file}: line {number} is not a prediction object with a 'video' field")
        records[record["video"]] = record
    return list(records.values())


RESUME_FIELDS = ("model", "model_family", "num_frames", "prompt_sha256")
MAX_TRIES = 2  # a video that failed is tried once more on resume, then counted as done with its error


def prompt_sha256(path: str | Path | None) -> str:
    """The first 16 hex digits of the prompt template's SHA-256 (the default template when `path` is None)."""
    import hashlib

    from .prompts import DEFAULT_PROMPT

    return hashlib.sha256(Path(path or DEFAULT_PROMPT).read_bytes()).hexdigest()[:16]


def resume_key(record: dict[str, Any]) -> tuple:
    """What produced a prediction: (model, model family, frames asked for, prompt hash). A rerun resumes only
    predictions with its own key; the video name alone would let another model's answers pass for this one's."""
    return tuple(record.get(name) for name in RESUME_FIELDS)


class PredictionLog:
    """The append-only predictions file of one shard."""

    def __init__(self, path: str | Path) -> None:
        self.path = Path(path)
        self.path.parent.mkdir(parents=True, exist_ok=True)
        self._drop_partial_tail()
        self.records = {record["video"]: record for record in read_predictions(self.path)}

    def done(self) -> set[str]:
        """Videos already done: answered, or failed `MAX_TRIES` times (a video that failed once is tried again)."""
        return {video for video, record in self.records.items()
                if not record.get("error") or self.tries(video) >= MAX_TRIES}

    def tries(self, video: str) -> int:
        """How many times `video` was tried (0: never)."""
        record = self.records.get(video)
        return 0 if record is None else int(record.get("tries") or 1)

    def foreign(self, key: tuple) -> list[dict[str, Any]]:
        """Records made with another resume key than `key` (another model, family, frame count or prompt)."""
        return [record for record in self.records.values() if resume_key(record) != key]

    def append(self, record: dict[str, Any]) -> None:
        """Write one record as one whole line and make it durable before returning."""
        data = (json.dumps(record, ensure_ascii=False, default=_jsonable) + "\n").encode("utf-8")
        descriptor = os.open(self.path, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o644)
        try:
            written = os.write(descriptor, data)
            if written != len(data):
                raise OSError(f"short write to {self.path}: {written} of {len(data)} bytes (disk full?)")
            os.fsync(descriptor)
        finally:
            os.close(descriptor)
        self.records[record["video"]] = record

    def _drop_partial_tail(self) -> None:
        """Cut an unterminated last line (a kill mid-write) so the next append starts on a fresh line."""
        if not self.path.exists():
            return
        data = self.path.read_bytes()
        if data and not data.endswith(b"\n"):
            with open(self.path, "r+b") as handle:
                handle.truncate(data.rfind(b"\n") + 1)


def write_json_atomic(path: str | Path, value: Any) -> None:
    """Write JSON through a temporary file and rename, so readers never see half a file."""
    target = Path(path)
    target.parent.mkdir(parents=True, exist_ok=True)
    with tempfile.NamedTemporaryFile("w", dir=target.parent, delete=False, suffix=".tmp", encoding="utf-8") as handle:
        json.dump(value, handle, indent=2, default=_jsonable)
        handle.write("\n")
        temporary = handle.name
    os.replace(temporary, target)


def write_csv(records: Iterable[dict[str, Any]], path: str | Path) -> None:
    """predictions.csv for people: one row per video, sorted by video name."""
    target = Path(path)
    temporary = target.with_suffix(".csv.tmp")
    with open(temporary, "w", newline="", encoding="utf-8") as handle:
        writer = csv.DictWriter(handle, fieldnames=CSV_COLUMNS, extrasaction="ignore")
        writer.writeheader()
        for record in sorted(records, key=lambda r: r["video"]):
            writer.writerow({column: _csv_cell(record.get(column)) for column in CSV_COLUMNS})
    os.replace(temporary, target)


def _csv_cell(value: Any) -> Any:
    if value is None:
        return ""
    if isinstance(value, str):
        return " ".join(value.split())  # answers with newlines stay on one spreadsheet row
    return value


def _jsonable(value: Any) -> Any:
    if hasattr(value, "item"):
        return value.item()
    if isinstance(value, Path):
        return str(value)
    raise TypeError(f"not JSON serialisable: {type(value).__name__}")
