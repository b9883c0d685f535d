"""A small learned fallback for single messages that no catalogue rule matched: multinomial naive Bayes over words.

Trained on the development half of tests/data/triage/corpus.jsonl only (tests/data/triage/build_fallback.py writes
fallback_model.json; the test half is never read). It speaks only when no rule matched, with confidence `low`, and
only when its posterior for the best category reaches the threshold chosen on the development half by
leave-one-out (the threshold at which its guesses were right about 70 % of the time there); otherwise the verdict
stays `other`, which therefore still means that nothing matched with any confidence.
It stays only while it raises accuracy on the test half (bench/bench_triage.py prints both numbers).
"""
from __future__ import annotations

import json
import math
import re
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path

MODEL = Path(__file__).with_name("fallback_model.json")
_WORD = re.compile(r"[a-z][a-z0-9_]+")
STOP_WORDS = frozenset("the a an to of in is on at for with and or be was were it this that i my we you".split())


def words(text: str) -> set[str]:
    """The distinct words the model reads: lower-case, starting with a letter, no stop words."""
    return {w for w in _WORD.findall(text.lower()) if w not in STOP_WORDS and len(w) <= 30}


@dataclass(frozen=True)
class Guess:
    """The fallback's category for a message and its posterior probability."""

    category: str
    probability: float


class NaiveBayes:
    """Bernoulli-style counts (a word counts once per message) with add-`alpha` smoothing."""

    def __init__(self, data: dict):
        self.threshold = float(data["threshold"])
        self.min_words = int(data["min_words"])
        alpha = float(data["alpha"])
        classes = data["class_counts"]
        total = sum(classes.values())
        vocabulary = {w for counts in data["word_counts"].values() for w in counts}
        self.vocabulary = frozenset(vocabulary)
        self.prior = {c: math.log(n / total) for c, n in classes.items()}
        self.unseen: dict[str, float] = {}
        # A word's log-probability in a category, as the difference from an unseen word's: most words were seen in
        # one or two categories only, so a message costs a few additions per word instead of one per category.
        self.delta: dict[str, dict[str, float]] = {}
        for category, counts in data["word_counts"].items():
            mass = sum(counts.values()) + alpha * len(vocabulary)
            self.unseen[category] = math.log(alpha / mass)
            for w, n in counts.items():
                self.delta.setdefault(w, {})[category] = math.log((n + alpha) / alpha)
        for category in self.prior:
            self.unseen.setdefault(category, 0.0)

    def guess(self, text: str) -> Guess | None:
        """The best category when the posterior reaches the threshold, else None (the verdict stays `other`)."""
        known = words(text) & self.vocabulary
        if len(known) < self.min_words:
            return None
        n = len(known)
        scores = {c: prior + n * self.unseen[c] for c, prior in self.prior.items()}
        for w in known:
            for c, d in self.delta[w].items():
                scores[c] += d
        best = max(scores, key=scores.get)
        top = scores[best]
        probability = 1.0 / sum(math.exp(s - top) for s in scores.values())
        return Guess(best, probability) if probability >= self.threshold and best != "other" else None


@lru_cache(maxsize=2)
def load_fallback(path: Path = MODEL) -> NaiveBayes | None:
    """The trained model, loaded once per process; None when the file is absent (no fallback)."""
    try:
        return NaiveBayes(json.loads(path.read_text(encoding="utf-8")))
    except FileNotFoundError:
        return None
