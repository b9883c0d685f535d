"""Classify JSON lines in bulk (`ghostwatch triage --classify-jsonl`), in one process or spread over several.

Lines go to the workers in chunks of `CHUNK_LINES` and come back in order, so the output is the same bytes whatever
the number of processes (tests/test_triage_batch.py checks it on the corpus). Small inputs stay in one process: a
pool's start-up would cost more than it saves.

Two things keep the cost per message down:
  - the Hyperscan prefilter (prefilter.py) names the rules that may match a message in one pass; it is used when
    its compiled database is in the disk cache (`make install` puts it there), or when the input is large enough
    for the seconds of compiling to pay for themselves;
  - a failure repeats word for word across the jobs it hits (every preempted job says the same thing): each
    distinct message text is classified once per process and its row reused for the other ids.
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
PREFILTER_COMPILE_MIN_LINES = 50_000  # compiling the prefilter (~3 s) saves ~40-60 us a message: pays off about here
_MEMO_LIMIT = 50_000        # distinct messages whose rows are remembered (then forgotten all at once)
_MEMO_MAX_CHARS = 4_000     # longer messages are not remembered (memory)
_ROWS: dict[str, str] = {}  # message text -> the row's JSON after its id
PREFILTER_SWITCH = "GHOSTWATCH_TRIAGE_PREFILTER"  # set to 0/off to classify without the Hyperscan prefilter

# One result per input line that is not blank: (line number, output JSON line or None, what was wrong or None).
LineResult = tuple[int, "str | None", "str | None"]
# json.dumps(row, ensure_ascii=False) builds a new encoder on every call; one encoder, the same bytes.
_encode = json.JSONEncoder(ensure_ascii=False).encode
# Raw control characters (a tab, a NUL from a binary log) inside a JSON string are not strict JSON, but a message
# that holds them is still a message: read it rather than refuse the line.
_decode = json.JSONDecoder(strict=False).decode


def classify_line(number: int, line: str) -> LineResult | None:
    """The output row of one raw input line, or the reason it cannot be used; None for a blank line."""
    if not line.strip():
        return None
    try:
        record = _decode(line)
    except json.JSONDecodeError as exc:
        return number, None, f"not valid JSON ({exc.msg})"
    except RecursionError:
        return number, None, "JSON nested too deeply to read"
    if not isinstance(record, dict) or "id" not in record or "message" not in record:
        return number, None, "expected an object with `id` and `message`"
    message = record["message"]
    rest = _ROWS.get(message) if isinstance(message, str) else None
    if rest is not None:
        identifier = record["id"]
        return number, '{"id": ' + (str(identifier) if type(identifier) is int else _encode(identifier)) + rest, None
    row = classify_record(record)
    if "error" in row:
        return number, None, row["error"]
    encoded = _encode(row) + "\n"
    if isinstance(message, str) and len(message) <= _MEMO_MAX_CHARS:
        if len(_ROWS) >= _MEMO_LIMIT:
            _ROWS.clear()
        # The id comes first and the category second; within the id's JSON every quote is escaped, so the first
        # `, "category": ` ends it. What follows is the same for every record with this message.
        _ROWS[message] = encoded[encoded.index(', "category": '):]
    return number, encoded, None


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
    # Read ahead just far enough to know whether the input is big enough for a pool, and, when the prefilter is not
    # cached, whether it is big enough to compile it.
    cached = prepare_matcher()
    enough = max(min_parallel_lines if jobs > 1 else 0, 0 if cached else PREFILTER_COMPILE_MIN_LINES)
    for chunk in pieces if enough else ():
        head.append(chunk)
        seen += len(chunk)
        if seen >= enough:
            break
    if not cached and seen >= PREFILTER_COMPILE_MIN_LINES:
        prepare_matcher(compile_prefilter=True)
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


def prepare_matcher(*, compile_prefilter: bool = False) -> bool:
    """Switch the shipped catalogue's matcher to the Hyperscan prefilter when it is cached (or compile it when
    asked); True when the prefilter is on. Without it the literal gates do the same job, a little slower."""
    from tasks.triage.catalogue import default_catalogue
    from tasks.triage.message_scan import matcher_for

    if os.environ.get(PREFILTER_SWITCH, "").strip().lower() in ("0", "off", "false", "no"):
        return False  # the literal gates alone: to compare, or to rule the engine out when a verdict looks wrong
    return matcher_for(default_catalogue()).use_prefilter(compile=compile_prefilter)


def forget_rows() -> None:
    """Forget the rows remembered per message text (benchmarks measure classifying, not remembering)."""
    _ROWS.clear()


def _warm() -> None:
    """Compile the catalogue's matcher and load the fallback model in this process before the workers start."""
    classify_record({"id": 0, "message": "warm-up: nothing recognisable"})
    classify_record({"id": 0, "message": "torch.OutOfMemoryError: CUDA out of memory."})
