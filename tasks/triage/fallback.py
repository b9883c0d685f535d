"""A small learned fallback for single messages that no catalogue rule matched: two models over the same words.

Trained on the development half of tests/data/triage/corpus.jsonl only (tests/data/triage/build_fallback.py writes
fallback_model.json; the test half is never read). It speaks only when no rule matched, with confidence `low`:

- a multinomial naive Bayes decides WHETHER the words say enough to guess: its posterior for its best category must
  reach the threshold chosen on the development half by leave-one-out (the threshold at which its guesses were right
  about 70 % of the time there, and above what it says of any text that is no failure); otherwise the verdict stays
  `other`, which therefore still means that nothing matched with any confidence;
- a logistic regression decides WHICH category: it is right more often than naive Bayes (10-fold cross-validation on
  the development half), but too sure of itself on prose that is no failure to decide whether to speak.

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
# Words that say how a failure is packaged, not what it is: every failure says error and failed, and Azure ML wraps the
# job's error in a JSON error ({"error": {"code", "message", "details", "innerError", "message_format", ...}}) or in
# "UserError: User program failed with ..." / "Execution failed. User process ... exited with status code 1". Read as
# words, they made the same failure look different inside a wrapper. 10-fold cross-validation on the dev half, as the
# fallback for every message: plain 898 -> 899 of 1,179; inside a JSON error 835 -> 882, inside two nested ones
# 854 -> 882, after "UserError: User program failed with" 872 -> 899.
PACKAGING_WORDS = frozenset("""error message details innererror message_format message_parameters reference_code
    additionalinfo debuginfo usererror user program failed execution process exited status""".split())
STOP_WORDS = frozenset("the a an to of in is on at for with and or be was were it this that i my we you".split()) \
    | PACKAGING_WORDS


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

    def guess(self, text: str, found: set[str] | None = None) -> Guess | None:
        """The best category when the posterior reaches the threshold, else None (the verdict stays `other`);
        `found`: the message's words, when the caller has them already."""
        known = (words(text) if found is None else found) & self.vocabulary
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


class LogisticRegression:
    """Multinomial logistic regression over the distinct words of a message, scaled by one over the square root of
    their number (a long log does not shout louder); weights learned by build_fallback.py. Scoring needs no numpy."""

    def __init__(self, data: dict):
        self.classes: list[str] = list(data["classes"])
        self.bias: list[float] = [float(b) for b in data["bias"]]
        self.weights: dict[str, list[float]] = data["weights"]  # word -> one weight per class, in `classes` order

    def probabilities(self, text: str, found: set[str] | None = None) -> dict[str, float] | None:
        """Each category's probability for the message; None when it holds no word the model knows. `found`: the
        message's words, when the caller has them already."""
        known = [self.weights[w] for w in (words(text) if found is None else found) if w in self.weights]
        if not known:
            return None
        scale = 1.0 / math.sqrt(len(known))
        scores = [b + scale * sum(column) for b, column in zip(self.bias, zip(*known))]
        top = max(scores)
        exps = [math.exp(s - top) for s in scores]
        total = sum(exps)
        return {c: e / total for c, e in zip(self.classes, exps)}


class Fallback:
    """Naive Bayes decides whether to guess, logistic regression which category (see the module docstring)."""

    def __init__(self, data: dict):
        self.gate = NaiveBayes(data["naive_bayes"])
        self.chooser = LogisticRegression(data["logistic_regression"])

    def guess(self, text: str) -> Guess | None:
        """The category for a message no rule matched, or None (the verdict stays `other`)."""
        found = words(text)  # both models read the same words
        gated = self.gate.guess(text, found)
        if gated is None:
            return None
        probabilities = self.chooser.probabilities(text, found)
        if not probabilities:
            return gated
        category = max(probabilities, key=probabilities.get)
        # `other` is no guess to make here (the gate said the words point somewhere): naive Bayes's category stands.
        return gated if category == "other" else Guess(category, probabilities[category])


@lru_cache(maxsize=2)
def load_fallback(path: Path = MODEL) -> Fallback | None:
    """The trained models, loaded once per process; None when the file is absent (no fallback)."""
    try:
        return Fallback(json.loads(path.read_text(encoding="utf-8")))
    except FileNotFoundError:
        return None
