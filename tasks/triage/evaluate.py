"""Accuracy of the catalogue on a labelled corpus of failure messages, per category, with the confusion matrix.

Used by bench/bench_triage.py (`make bench`) and tests/test_triage_corpus.py on tests/data/triage/corpus.jsonl, whose
`split` field fixes a development half (rules may be written against it) and a test half (never read to write rules).
The gap between the halves is how much the rules are fitted to the messages they were written from.
"""
from __future__ import annotations

import json
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path
from typing import Iterable

from tasks.triage.catalogue import Catalogue, default_catalogue
from tasks.triage.classify import classify_record


@dataclass
class Score:
    """Accuracy on one set of labelled messages."""

    name: str
    total: int = 0
    correct: int = 0
    per_category: dict[str, list[int]] = field(default_factory=dict)   # category -> [correct, total]
    confusion: Counter = field(default_factory=Counter)                  # (expected, predicted) -> count
    confidence: Counter = field(default_factory=Counter)                 # (confidence, right?) -> count

    @property
    def accuracy(self) -> float:
        return self.correct / self.total if self.total else 0.0

    def category_accuracy(self, category: str) -> float:
        right, total = self.per_category.get(category, [0, 0])
        return right / total if total else 0.0


def load_corpus(path: Path | str) -> list[dict]:
    """The corpus's records (id, message, category, source, split)."""
    return [json.loads(line) for line in Path(path).read_text(encoding="utf-8").splitlines() if line.strip()]


def score(name: str, records: Iterable[dict], catalogue: Catalogue | None = None, fallback: bool = True) -> Score:
    """Classify every record's message and compare with its `category` (`fallback`: let the learned fallback speak
    when no rule matched, as `--classify-jsonl` does)."""
    catalogue = catalogue or default_catalogue()
    result = Score(name)
    for record in records:
        row = classify_record(record, catalogue=catalogue, fallback=fallback)
        predicted = row.get("category", "error")
        expected = record["category"]
        right = predicted == expected
        result.total += 1
        result.correct += right
        cell = result.per_category.setdefault(expected, [0, 0])
        cell[0] += right
        cell[1] += 1
        result.confusion[(expected, predicted)] += 1
        result.confidence[(row.get("confidence"), right)] += 1
    return result


def format_table(scores: list[Score]) -> str:
    """A markdown table: accuracy per category for each score side by side, then the overall line."""
    categories = sorted({c for s in scores for c in s.per_category})
    head = "| category | " + " | ".join(f"{s.name} (n)" for s in scores) + " |"
    lines = [head, "|" + "---|" * (len(scores) + 1)]
    for category in categories:
        cells = []
        for s in scores:
            right, total = s.per_category.get(category, [0, 0])
            cells.append(f"{100 * right / total:.0f} % ({total})" if total else "-")
        lines.append(f"| {category} | " + " | ".join(cells) + " |")
    lines.append("| **all** | " + " | ".join(f"**{100 * s.accuracy:.1f} %** ({s.total})" for s in scores) + " |")
    return "\n".join(lines)


def format_confusion(s: Score) -> str:
    """The off-diagonal cells of the confusion matrix (expected -> predicted: count), largest first."""
    misses = sorted(((n, e, p) for (e, p), n in s.confusion.items() if e != p), reverse=True)
    if not misses:
        return f"{s.name}: no confusions"
    return f"{s.name} confusions (expected -> predicted: count):\n" + "\n".join(
        f"  {e} -> {p}: {n}" for n, e, p in misses)


def format_matrix(s: Score) -> str:
    """The full confusion matrix, rows expected, columns predicted (abbreviated category names)."""
    labels = sorted({e for e, _ in s.confusion} | {p for _, p in s.confusion})
    short = {c: "".join(w[0] for w in c.split("_"))[:4] for c in labels}
    width = max(len(c) for c in labels)
    out = [" " * (width + 1) + " ".join(f"{short[c]:>4}" for c in labels)]
    for e in labels:
        out.append(f"{e:>{width}} " + " ".join(f"{s.confusion.get((e, p), 0) or '.':>4}" for p in labels))
    return f"{s.name} confusion matrix (rows: expected, columns: predicted)\n" + "\n".join(out)


def format_confidence(s: Score) -> str:
    """How often each confidence level was right."""
    parts = []
    for level in ("high", "medium", "low"):
        right, wrong = s.confidence.get((level, True), 0), s.confidence.get((level, False), 0)
        if right + wrong:
            parts.append(f"{level} {100 * right / (right + wrong):.0f} % right of {right + wrong}")
    return f"{s.name} confidence: " + "; ".join(parts)
