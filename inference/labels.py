"""Ground-truth labels: one reader for the users' label files, shared by the job and the orchestrator.

Pure Python (no numpy, no torch): `tasks/` imports it so that preflight and the job read labels the same way.

Two real shapes are accepted (see shared/fixtures/dada100/README.md):
  - tab-separated with a `video_id<TAB>ground_truth_label` header (saved with a .csv name);
  - comma-separated with a UTF-8 byte-order mark, CRLF line ends and a trailing comma on every row.
Videos match labels by `video_key`: the file name without folder and without a video extension, case-folded,
so `images_1_001`, `images_1_001.avi` and `dir/images_1_001.AVI` are the same video.

The users' evaluation rule: `none` and `cut-in` are negatives; a label containing `ghost probing` is positive
(`potential ghost probing` too), and the number before `s:` (or `:`) is the second at which the event starts.
"""
from __future__ import annotations

import csv
import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Iterable

from inference.videos import video_extension


# "5s: ghost probing", "13: cut-in", "2.5 s - ghost probing", "ghost probing at 5s"
_LEADING_SECOND = re.compile(r"^\s*(?P<second>\d+(?:\.\d+)?)\s*(?:s|sec|secs|seconds?)?\s*[:\-]\s*(?P<event>.*)$", re.I)
_TRAILING_SECOND = re.compile(r"^(?P<event>.*?)\s*(?:at|@)\s*(?P<second>\d+(?:\.\d+)?)\s*(?:s|sec|secs|seconds?)?\s*$", re.I)
_NEGATIVE_EVENTS = {"none", "no", "normal", "cut-in", "cut in", "cutin", "cut_in", "no ghost probing", "not ghost probing"}
_POSITIVE_MARK = "ghost probing"
_VIDEO_HEADERS = ("video_id", "video", "video_name", "filename", "file", "name", "id")
_LABEL_HEADERS = ("ground_truth_label", "label", "ground_truth", "groundtruth", "gt", "annotation")


@dataclass(frozen=True)
class Label:
    """One labelled video as the file states it."""

    video_id: str  # as written in the file
    key: str  # video_key(video_id)
    raw: str  # the label text as written (stripped)
    positive: bool
    start_second: float | None  # when the ghost probing starts; None for negatives or when the file gives none
    line: int  # 1-based line in the file


@dataclass(frozen=True)
class LabelProblem:
    """A row that could not be used, with its 1-based line number and why."""

    line: int
    text: str
    reason: str


@dataclass
class LabelTable:
    """All usable labels of one file, keyed by video_key, plus the rows that were not usable."""

    path: str
    labels: dict[str, Label] = field(default_factory=dict)
    problems: list[LabelProblem] = field(default_factory=list)
    duplicates: list[LabelProblem] = field(default_factory=list)


@dataclass
class LabelMatch:
    """Videos of a folder paired with labels of a table."""

    matched: dict[str, Label] = field(default_factory=dict)  # video file name -> label
    unlabelled: list[str] = field(default_factory=list)  # video file names without a label
    labels_without_video: list[str] = field(default_factory=list)  # video_id as written in the file


def video_key(name: str) -> str:
    """The matching key of a video name: no folder, no video extension, case-folded.

    Args:
        name: a file name, a path (either slash) or a bare id, e.g. 'dir/images_1_001.AVI'.

    Returns:
        The key, e.g. 'images_1_001'.
    """
    base = name.strip().lstrip("\ufeff").replace("\\", "/").rsplit("/", 1)[-1]
    lowered = base.casefold()
    extension = video_extension(lowered)
    return lowered[: -len(extension)] if extension else lowered


def parse_label(text: str) -> tuple[bool, float | None]:
    """Apply the users' evaluation rule to one label text.

    Args:
        text: e.g. 'none', 'cut-in', '5s: ghost probing', '13: cut-in', 'potential ghost probing'.

    Returns:
        (positive, start_second); start_second is None for negatives and for positives without a time.

    Raises:
        ValueError: the text is empty or names no event the rule knows (the message says which).
    """
    cleaned = " ".join(text.strip().split())
    if not cleaned:
        raise ValueError("empty label (expected e.g. 'none', 'cut-in' or '5s: ghost probing')")
    second: float | None = None
    event = cleaned
    for pattern in (_LEADING_SECOND, _TRAILING_SECOND):
        found = pattern.match(cleaned)
        if found:
            second, event = float(found.group("second")), found.group("event").strip()
            break
    event = event.casefold().strip(" .;,")
    if event in _NEGATIVE_EVENTS:
        return False, None
    if _POSITIVE_MARK in event:
        return True, second
    raise ValueError(
        f"unknown label {text.strip()!r} (expected 'none', 'cut-in' or a label containing 'ghost probing', "
        "optionally preceded by the start second as in '5s: ghost probing')"
    )


def read_labels(path: str | Path) -> LabelTable:
    """Read a label file of either real shape; bad rows are recorded, never raised.

    Args:
        path: the label file (tab- or comma-separated, with or without byte-order mark and trailing commas).

    Returns:
        A LabelTable: usable labels keyed by video_key, problems (by line) and duplicate rows (first row wins).

    Raises:
        FileNotFoundError: the file does not exist.
        ValueError: the file is empty, not text, or has no recognisable two-column shape.
    """
    file = Path(path)
    if not file.is_file():
        raise FileNotFoundError(f"labels file not found: {file} (pass --labels with the users' groundtruth_labels file)")
    try:
        text = file.read_bytes().decode("utf-8-sig")
    except UnicodeDecodeError as error:
        raise ValueError(f"labels file {file} is not UTF-8 text ({error}); expected a TSV or CSV of video_id,label") from None
    lines = text.splitlines()
    first = next((i for i, line in enumerate(lines) if line.strip()), None)
    if first is None:
        raise ValueError(f"labels file {file} is empty; expected a header 'video_id<TAB>ground_truth_label' and rows")
    delimiter = _sniff_delimiter(lines[first], file)
    header = [cell.strip().casefold() for cell in _cells(lines[first], delimiter)]
    video_col, label_col, has_header = _columns(header)
    table = LabelTable(path=str(file))
    for index in range(first + 1 if has_header else first, len(lines)):
        _read_row(table, index + 1, lines[index], delimiter, video_col, label_col)
    return table


def match_labels(table: LabelTable, video_names: Iterable[str]) -> LabelMatch:
    """Pair video file names with labels by video_key.

    Args:
        table: labels from read_labels.
        video_names: file names (or paths) of the videos at hand.

    Returns:
        A LabelMatch; lists are sorted.
    """
    match = LabelMatch()
    seen_keys: set[str] = set()
    for name in video_names:
        key = video_key(name)
        seen_keys.add(key)
        label = table.labels.get(key)
        if label is None:
            match.unlabelled.append(name)
        else:
            match.matched[name] = label
    match.unlabelled.sort()
    match.labels_without_video = sorted(label.video_id for key, label in table.labels.items() if key not in seen_keys)
    return match


def _sniff_delimiter(first_line: str, file: Path) -> str:
    if "\t" in first_line:
        return "\t"
    if "," in first_line:
        return ","
    if ";" in first_line:
        return ";"
    raise ValueError(
        f"labels file {file}: first line {first_line[:80]!r} has no tab, comma or semicolon; "
        "expected two columns video_id and ground_truth_label"
    )


def _cells(line: str, delimiter: str) -> list[str]:
    return next(csv.reader([line], delimiter=delimiter), [])


def _columns(header: list[str]) -> tuple[int, int, bool]:
    """Column indexes of video and label, and whether the first line is a header."""
    video_col = next((i for i, cell in enumerate(header) if cell in _VIDEO_HEADERS), None)
    label_col = next((i for i, cell in enumerate(header) if cell in _LABEL_HEADERS), None)
    if video_col is not None and label_col is not None:
        return video_col, label_col, True
    return 0, 1, False


def _read_row(table: LabelTable, line_no: int, line: str, delimiter: str, video_col: int, label_col: int) -> None:
    if not line.strip():
        return
    cells = [cell.strip() for cell in _cells(line, delimiter)]
    width = max(video_col, label_col) + 1
    if len(cells) < width:
        table.problems.append(LabelProblem(line_no, line, f"expected {width} columns, found {len(cells)}"))
        return
    video_id, raw = cells[video_col], cells[label_col]
    if not video_id:
        table.problems.append(LabelProblem(line_no, line, "no video id in the first column"))
        return
    try:
        positive, start = parse_label(raw)
    except ValueError as error:
        table.problems.append(LabelProblem(line_no, line, str(error)))
        return
    key = video_key(video_id)
    earlier = table.labels.get(key)
    if earlier is not None:
        same = "same label" if earlier.raw == raw else f"different label {earlier.raw!r}"
        table.duplicates.append(
            LabelProblem(line_no, line, f"{video_id} already labelled on line {earlier.line} ({same}); first row kept")
        )
        return
    table.labels[key] = Label(video_id, key, raw, positive, start, line_no)
