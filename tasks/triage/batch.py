"""Classify JSON lines in bulk (`ghostwatch triage --classify-jsonl`), in one process or spread over several.

Lines go to the workers in chunks of `CHUNK_LINES` and come back in order, so the output is the same bytes whatever
the number of processes (tests/test_triage_batch.py checks it on the corpus). Small inputs stay in one process: a
pool's start-up would cost more than it saves.
"""
from __future__ import annotations

import json
import multiprocessing
import os
from itertools import chain, islice
from typing import Iterable, Iterator

from tasks.triage.classify import classify_record

CHUNK_LINES = 1_000
PARALLEL_MIN_LINES = 4_000  # below this, one process is faster than starting a pool

# One result per input line that is not blank: (line number, output JSON line or None, what was wrong or None).
LineResult = tuple[int, "str | None", "str | None"]
# json.dumps(row, ensure_ascii=False) builds a new encoder on every call; one encoder, the same bytes.
_encode = json.JSONEncoder(ensure_ascii=False).encode


def classify_line(number: int, line: str) -> LineResult | None:
    """The output row of one raw input line, or the reason it cannot be used; None for a blank line."""
    if not line.strip():
        return None
    try:
        record = json.loads(line)
    except json.JSONDecodeError as exc:
        return number, None, f"not valid JSON ({exc.msg})"
    except RecursionError:
        return number, None, "JSON nested too deeply to read"
    if not isinstance(record, dict) or "id" not in record or "message" not in record:
        return number, None, "expected an object with `id` and `message`"
    row = classify_record(record)
    if "error" in row:
        return number, None, row["error"]
    return number, _encode(row) + "\n", None


def classify_chunk(chunk: list[tuple[int, str]]) -> list[LineResult]:
    """classify_line over a chunk of (line number, line); what a worker process runs."""
    return [r for r in (classify_line(n, line) for n, line in chunk) if r is not None]


def chunks(lines: Iterable[str], size: int = CHUNK_LINES) -> Iterator[list[tuple[int, str]]]:
    """Numbered lines (from 1) in lists of `size`."""
    numbered = enumerate(lines, start=1)
    while chunk := list(islice(numbered, size)):
        yield chunk


def default_jobs() -> int:
    """The processes to use when the user does not say: the CPUs this process may run on."""
    try:
        return max(1, len(os.sched_getaffinity(0)))
    except AttributeError:  # not on Linux
        return max(1, os.cpu_count() or 1)


def classify_lines(lines: Iterable[str], jobs: int = 1, *,
                   min_parallel_lines: int = PARALLEL_MIN_LINES) -> Iterator[LineResult]:
    """Classify raw JSON lines in order, with up to `jobs` processes when there are at least `min_parallel_lines`.

    Args:
        lines: the input's lines (an open text file works).
        jobs: processes to use (1: this process only).
        min_parallel_lines: inputs shorter than this stay in this process.

    Yields:
        (line number, output JSON line, None) or (line number, None, the problem), in input order.
    """
    pieces = chunks(lines)
    head: list[list[tuple[int, str]]] = []
    seen = 0
    if jobs > 1:  # read ahead just far enough to know whether the input is big enough for a pool
        for chunk in pieces:
            head.append(chunk)
            seen += len(chunk)
            if seen >= min_parallel_lines:
                break
    if jobs <= 1 or seen < min_parallel_lines:
        for chunk in chain(head, pieces):
            yield from classify_chunk(chunk)
        return
    _warm()
    # fork where there is one: the children inherit the compiled matcher instead of compiling it again each.
    method = "fork" if "fork" in multiprocessing.get_all_start_methods() else None
    with multiprocessing.get_context(method).Pool(jobs) as pool:
        for results in pool.imap(classify_chunk, chain(head, pieces)):
            yield from results


def _warm() -> None:
    """Compile the catalogue's matcher and load the fallback model in this process before the workers start."""
    classify_record({"id": 0, "message": "warm-up: nothing recognisable"})
    classify_record({"id": 0, "message": "torch.OutOfMemoryError: CUDA out of memory."})
