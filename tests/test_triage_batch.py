"""`--classify-jsonl` in several processes writes the same bytes, in the same order, as in one."""
from __future__ import annotations

import json
from pathlib import Path

from tasks.triage.batch import classify_lines
from tasks.triage.evaluate import load_corpus

CORPUS = Path(__file__).parent / "data" / "triage" / "corpus.jsonl"


def _lines() -> list[str]:
    records = load_corpus(CORPUS)
    lines = [json.dumps({"id": r["id"], "message": r["message"]}) + "\n" for r in records]
    # per-line errors must come back at their place too
    return lines[:5] + ["not json\n", "\n", '{"message": "no id"}\n', "[1, 2]\n"] + lines[5:]


def test_parallel_output_is_byte_identical_to_one_process():
    lines = _lines() * 4  # more than one chunk per worker
    one = list(classify_lines(lines, jobs=1))
    many = list(classify_lines(lines, jobs=2, min_parallel_lines=1))
    assert many == one
    assert "".join(row for _, row, _ in many if row) == "".join(row for _, row, _ in one if row)
    problems = [(n, p) for n, _, p in one if p]
    assert [n for n, _ in problems[:3]] == [6, 8, 9]  # line 7 is blank: skipped, not an error
    assert "not valid JSON" in problems[0][1] and "expected an object" in problems[1][1]


def test_small_input_stays_in_one_process(monkeypatch):
    import multiprocessing

    def no_pool(*args, **kwargs):
        raise AssertionError("a pool was started for a small input")

    monkeypatch.setattr(multiprocessing.context.BaseContext, "Pool", no_pool)
    rows = list(classify_lines(_lines()[:50], jobs=8))
    assert len(rows) == 49 and all(n > 0 for n, _, _ in rows)


def test_cli_jobs_flag_same_file(tmp_path):
    from flows.cli import triage as triage_command
    from flows.cli.common import standalone_parser

    source = tmp_path / "in.jsonl"
    source.write_text("".join(_lines()), encoding="utf-8")
    outputs = []
    for jobs in ("1", "2"):
        out = tmp_path / f"out{jobs}.jsonl"
        args = standalone_parser(triage_command).parse_args(["--classify-jsonl", str(source), "--output", str(out),
                                                             "--jobs", jobs])
        assert triage_command.main(args) == 2  # the four bad lines
        outputs.append(out.read_bytes())
    assert outputs[0] == outputs[1] and outputs[0].count(b"\n") == len(load_corpus(CORPUS))


def test_raw_control_characters_inside_a_message_are_read_not_refused():
    # Not strict JSON (a raw NUL and tab inside the string), but what a naive dump of a binary log looks like.
    line = '{"id": 3, "message": "\x00\tRuntimeError: CUDA out of memory. Tried to allocate 2.00 GiB"}'
    [(number, row, problem)] = list(classify_lines([line]))
    assert problem is None and json.loads(row)["category"] == "cuda_oom"
    [(_, _, problem)] = list(classify_lines(['{"id": 4, "message": "cut off']))
    assert problem.startswith("not valid JSON")
