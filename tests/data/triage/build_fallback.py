"""Train the naive Bayes fallback (tasks/triage/fallback.py) on the corpus's development half and write its model.

    python tests/data/triage/build_fallback.py

Only `split == "dev"` records are read. The posterior threshold is chosen by leave-one-out on the development half:
the lowest threshold at which the held-out guesses were right at least TARGET_PRECISION of the time.
"""
from __future__ import annotations

import json
import sys
from collections import Counter, defaultdict
from pathlib import Path

import yaml

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE.parents[2]))

from tasks.triage.fallback import MODEL, NaiveBayes, words  # noqa: E402

CORPUS = HERE / "corpus.jsonl"
EXCERPTS = HERE / "excerpts.yaml"  # its `unknown` texts are no failure: the fallback must not guess on them
# Tried and not kept (TRIAGE_TABLE.md): CamelCase parts with alpha 0.1 win in leave-one-out on the dev half (77.6 % vs
# 70.9 % as a plain classifier) but guess on prose that is no failure unless the threshold rises to 0.7, and there
# they tie with this model on the test half (85.9 %); a tie does not stay.
ALPHA = 1.0
MIN_WORDS = 2
TARGET_PRECISION = 0.70
THRESHOLDS = (0.3, 0.4, 0.5, 0.6, 0.7, 0.8, 0.9, 0.95)


def counts(rows: list[dict]) -> dict:
    classes: Counter = Counter()
    per_class: dict[str, Counter] = defaultdict(Counter)
    for row in rows:
        classes[row["category"]] += 1
        per_class[row["category"]].update(words(row["message"]))
    return {"class_counts": dict(sorted(classes.items())),
            "word_counts": {c: dict(sorted(per_class[c].items())) for c in sorted(per_class)}}


def choose_threshold(dev: list[dict], not_failures: list[str]) -> tuple[float, dict[float, tuple[int, int]]]:
    """Leave-one-out on the development half: (threshold, {threshold: (right, guesses)}). The threshold is also above
    the posterior of every text that is no failure at all (the catalogue's `unknown` examples): a guess on prose
    about the weather would be a guess made to look sure."""
    held_out = []
    for index, row in enumerate(dev):
        model = NaiveBayes({**counts(dev[:index] + dev[index + 1:]), "threshold": 0.0, "min_words": MIN_WORDS,
                            "alpha": ALPHA})
        guess = model.guess(row["message"])
        if guess is not None:
            held_out.append((guess.probability, guess.category == row["category"]))
    table = {}
    for threshold in THRESHOLDS:
        picked = [right for p, right in held_out if p >= threshold]
        table[threshold] = (sum(picked), len(picked))
    whole = NaiveBayes({**counts(dev), "threshold": 0.0, "min_words": MIN_WORDS, "alpha": ALPHA})
    noise = max((g.probability for g in map(whole.guess, not_failures) if g is not None), default=0.0)
    good = [t for t in THRESHOLDS if table[t][1] and table[t][0] / table[t][1] >= TARGET_PRECISION and t > noise]
    return (min(good) if good else max(THRESHOLDS)), table


def main() -> int:
    dev = [json.loads(line) for line in CORPUS.read_text(encoding="utf-8").splitlines()
           if line.strip() and json.loads(line)["split"] == "dev"]
    not_failures = yaml.safe_load(EXCERPTS.read_text(encoding="utf-8"))["unknown"]
    threshold, table = choose_threshold(dev, not_failures)
    for t, (right, total) in table.items():
        print(f"  leave-one-out on dev, posterior >= {t}: {right}/{total} right")
    model = {"trained_on": f"{CORPUS.name}, split=dev ({len(dev)} messages)", "threshold": threshold,
             "min_words": MIN_WORDS, "alpha": ALPHA, **counts(dev)}
    MODEL.write_text(json.dumps(model, ensure_ascii=False, sort_keys=False) + "\n", encoding="utf-8")
    print(f"threshold {threshold}; wrote {MODEL}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
