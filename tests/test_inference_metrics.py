"""Metrics, their baseline, and the summary's counting rules."""
from __future__ import annotations

import math

import pytest

from inference.labels import match_labels, read_labels
from inference.metrics import Confusion, confusion, evaluate, scores
from inference.summary import build_summary
from tests.inference_fixtures import dada_fixture
from tests.test_inference_labels import users_folder


def test_scores_of_a_known_confusion_matrix():
    result = scores(Confusion(tp=6, fp=2, fn=3, tn=9))
    assert result["precision"] == pytest.approx(6 / 8)
    assert result["recall"] == pytest.approx(6 / 9)
    assert result["specificity"] == pytest.approx(9 / 11)
    assert result["f1"] == pytest.approx(12 / 17)
    assert result["accuracy"] == pytest.approx(15 / 20)
    assert result["balanced_accuracy"] == pytest.approx((6 / 9 + 9 / 11) / 2)
    assert result["mcc"] == pytest.approx((6 * 9 - 2 * 3) / math.sqrt(8 * 9 * 11 * 12))


def test_undefined_metrics_are_none_not_zero():
    result = scores(Confusion(tp=0, fp=0, fn=4, tn=5))
    assert result["precision"] is None
    assert result["recall"] == 0.0 and result["f1"] == 0.0 and result["mcc"] == 0.0


def test_confusion_counts_pairs():
    assert confusion([(True, True), (True, False), (False, True), (False, False), (False, False)]) == Confusion(1, 1, 1, 2)


def test_always_positive_baseline_on_the_users_99_labelled_videos_is_f1_0_689():
    """The users' claim: answering "yes" to everything scores F1 0.689 on their 99 labelled videos."""
    table = read_labels(dada_fixture("groundtruth_labels.tsv"))
    match = match_labels(table, users_folder(table))
    result = evaluate((False, label.positive) for label in match.matched.values())
    baseline = result["baseline_always_positive"]
    assert (result["n"], result["positives"], result["negatives"]) == (99, 52, 47)
    assert baseline["f1"] == pytest.approx(104 / 151)
    assert round(baseline["f1"], 3) == 0.689
    assert baseline["precision"] == pytest.approx(52 / 99) and baseline["recall"] == 1.0
    assert baseline["mcc"] == 0.0 and baseline["balanced_accuracy"] == 0.5
    # The best API model's 0.712 is only 0.023 above this baseline.
    assert 0.712 - baseline["f1"] == pytest.approx(0.0233, abs=1e-3)


def test_the_v2_label_file_gives_a_different_baseline():
    """The two copies disagree: with the v2 CSV the same folder has 100 labelled videos, 51 positive."""
    table = read_labels(dada_fixture("groundtruth_labels_v2.csv"))
    tsv = read_labels(dada_fixture("groundtruth_labels.tsv"))
    match = match_labels(table, users_folder(tsv))
    result = evaluate((True, label.positive) for label in match.matched.values())
    assert (result["n"], result["positives"]) == (100, 51)
    assert result["f1"] == pytest.approx(102 / 151)


def _record(video, verdict, label_positive, error=None):
    positive = None if verdict in (None, "unparsed") else verdict in ("yes", "potential")
    return {"video": video, "verdict": None if error else verdict, "positive": None if error else positive,
            "label_positive": label_positive, "error": error, "seconds": 1.0, "frames": 8,
            "timings": {"decode": 0.1, "preprocess": 0.2, "generate": 0.7}}


def test_summary_counts_potential_as_positive_unparsed_as_negative_and_excludes_failures():
    records = [
        _record("a.avi", "yes", True), _record("b.avi", "potential", False), _record("c.avi", "no", True),
        _record("d.avi", "unparsed", False), _record("e.avi", None, True, error="cannot read e.avi"),
        _record("f.avi", "no", None),
    ]
    summary = build_summary(records, run={"model": "m"}, labels={"path": "x"})
    assert summary["verdict_counts"] == {"yes": 1, "potential": 1, "no": 2, "unparsed": 1}
    assert (summary["videos_done"], summary["videos_failed"]) == (5, 1)
    assert summary["positive_rate"] == pytest.approx(2 / 5)
    assert summary["label_distribution"] == {"positive": 3, "negative": 2, "unlabelled": 1}
    metrics = summary["metrics"]
    assert metrics["confusion"] == {"tp": 1, "fp": 1, "fn": 1, "tn": 1}
    assert (metrics["unparsed_counted_negative"], metrics["failed_excluded"]) == (1, 1)
    assert summary["timings"]["mean_stage_seconds"]["generate"] == pytest.approx(0.7)
    assert summary["failures"] == [{"video": "e.avi", "error": "cannot read e.avi"}]


def test_summary_without_labels_has_no_metrics():
    assert build_summary([_record("a.avi", "yes", None)], run={}, labels=None)["metrics"] is None
