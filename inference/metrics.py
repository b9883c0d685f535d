"""Binary classification metrics for ghost-probing verdicts, always beside the always-positive baseline.

Pure Python (the orchestrator imports it). "potential" counts as positive, as in the users' evaluation; the caller
turns verdicts into booleans before calling `evaluate`.
"""
from __future__ import annotations

import math
from dataclasses import asdict, dataclass
from typing import Iterable


@dataclass(frozen=True)
class Confusion:
    """Counts of a binary confusion matrix (positive = ghost probing)."""

    tp: int = 0
    fp: int = 0
    fn: int = 0
    tn: int = 0

    @property
    def total(self) -> int:
        return self.tp + self.fp + self.fn + self.tn


def confusion(pairs: Iterable[tuple[bool, bool]]) -> Confusion:
    """Count (predicted, actual) pairs.

    Args:
        pairs: (predicted positive, labelled positive) per video.

    Returns:
        The confusion counts.
    """
    tp = fp = fn = tn = 0
    for predicted, actual in pairs:
        if predicted and actual:
            tp += 1
        elif predicted:
            fp += 1
        elif actual:
            fn += 1
        else:
            tn += 1
    return Confusion(tp, fp, fn, tn)


def _ratio(numerator: float, denominator: float) -> float | None:
    return numerator / denominator if denominator else None


def scores(counts: Confusion) -> dict[str, float | None]:
    """Precision, recall, F1, accuracy, specificity, balanced accuracy and MCC of a confusion matrix.

    Args:
        counts: the confusion counts.

    Returns:
        Metric name -> value; None where the metric is undefined (e.g. precision with no positive prediction).
    """
    tp, fp, fn, tn = counts.tp, counts.fp, counts.fn, counts.tn
    precision = _ratio(tp, tp + fp)
    recall = _ratio(tp, tp + fn)
    specificity = _ratio(tn, tn + fp)
    f1 = _ratio(2 * tp, 2 * tp + fp + fn)
    balanced = (recall + specificity) / 2 if recall is not None and specificity is not None else None
    denominator = math.sqrt((tp + fp) * (tp + fn) * (tn + fp) * (tn + fn))
    # MCC is 0 by convention when a row or column is empty (a constant predictor carries no information).
    mcc = (tp * tn - fp * fn) / denominator if denominator else 0.0
    return {
        "precision": precision,
        "recall": recall,
        "f1": f1,
        "accuracy": _ratio(tp + tn, counts.total),
        "specificity": specificity,
        "balanced_accuracy": balanced,
        "mcc": mcc,
    }


def evaluate(pairs: Iterable[tuple[bool, bool]]) -> dict:
    """Metrics of the predictions and of the always-positive baseline on the same videos.

    Args:
        pairs: (predicted positive, labelled positive) per labelled video.

    Returns:
        {"n", "positives", "negatives", "confusion", <metrics>..., "baseline_always_positive": {"confusion", <metrics>}}.
    """
    pairs = list(pairs)
    counts = confusion(pairs)
    baseline = confusion((True, actual) for _, actual in pairs)
    return {
        "n": counts.total,
        "positives": counts.tp + counts.fn,
        "negatives": counts.fp + counts.tn,
        "confusion": asdict(counts),
        **scores(counts),
        "baseline_always_positive": {"confusion": asdict(baseline), **scores(baseline)},
    }
