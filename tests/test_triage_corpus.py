"""The corpus of real failure messages: its shape, its fixed split, and the floor the catalogue keeps on its test half.

Rules are written against the `dev` half only; the `test` half says how triage does on failures it was not written
from. bench/bench_triage.py prints the same numbers with the confusion matrix (`make bench`).
"""
from __future__ import annotations

from collections import Counter
from pathlib import Path

import pytest

from tasks.triage.catalogue import CATEGORIES, default_catalogue
from tasks.triage.evaluate import format_confusion, format_table, load_corpus, score

CORPUS = Path(__file__).parent / "data" / "triage" / "corpus.jsonl"
RECORDS = load_corpus(CORPUS)
FAILURES = [c for c in CATEGORIES if c != "none"]
# Floors: what the catalogue holds today (raise them as it improves; never lower them to let a change in).
# Issue 10 asks for 90 % on the test half and no category below 70 %: not met yet (README "### Triage" has the table).
# Round 4 (corpus grown to 485: 240 dev / 245 test): 84.9 % with the fallback retrained on the 240 dev messages,
# 81.2 % rules only; the weakest test category is `other` (50 %), then compute_unavailable, service_error (70 %).
# Round 5 (corpus grown to 637: 321 dev / 316 test, 152 new Azure ML-flavoured messages in both halves): 85.4 % with
# the fallback retrained on the 321 dev messages, 81.0 % rules only (dev rules only 94.7 %); the weakest test category
# is `other` (66.7 %), then job_config_invalid (68.2 %) and compute_unavailable (69.2 %).
# Round 6 (corpus grown to 730: 367 dev / 363 test, 93 new messages for the weakest categories): 87.1 % with the
# fallback retrained on the 367 dev messages, 82.6 % rules only (dev rules only 96.2 %); the weakest test category is
# `other` (68.8 %), then job_config_invalid (70.4 %) and compute_unavailable (78.9 %).
# Rounds 7-11 (corpus grown to 1,958: 979 dev / 979 test): 85.9 % with the fallback retrained on the 979 dev messages,
# 81.6 % rules only (dev rules only 93.9 %); the weakest test category is preempted_low_priority (62.5 %), then `other`
# (66.7 %) and service_error (72.5 %). With the naive Bayes gate + logistic regression chooser: 86.8 %; weakest `other`
# (66.7 %), then service_error (70.0 %).
# Rounds 12-14 (corpus grown to 2,358: 1,179 dev / 1,179 test; the new messages scored 88.5 %, 71.7 %, 69.0 % before any
# rule saw them): 86.7 % with the fallback (also behind Azure ML's wrappers), 81.6 % rules only (dev 94.0 %); the
# weakest test category is `other` (68.3 %), then preempted_low_priority (72.4 %) and service_error (73.6 %).
TEST_FLOOR = 0.86            # with the learned fallback, as `--classify-jsonl` runs
TEST_FLOOR_RULES_ONLY = 0.80
DEV_FLOOR = 0.93             # rules only (the fallback was trained on the dev half, so dev with it proves nothing)
CATEGORY_FLOOR = 0.65        # the weakest category on the test half (`other`)
HIGH_CONFIDENCE_FLOOR = 0.90


def test_corpus_shape():
    assert len(RECORDS) >= 250
    assert len({r["id"] for r in RECORDS}) == len(RECORDS), "ids are unique"
    assert len({" ".join(r["message"].split()) for r in RECORDS}) == len(RECORDS), "messages are deduplicated"
    for record in RECORDS:
        assert set(record) >= {"id", "message", "category", "source", "split"}
        assert record["category"] in FAILURES, record["id"]
        assert record["source"].startswith(("https://", "http://")), record["id"]
        assert record["split"] in ("dev", "test"), record["id"]
        assert record["message"].strip(), record["id"]


def test_every_category_is_in_both_halves():
    counts = Counter((r["category"], r["split"]) for r in RECORDS)
    for category in FAILURES:
        total = counts[(category, "dev")] + counts[(category, "test")]
        assert total >= 8, f"{category}: {total} messages; the corpus needs at least 8 per category"
        assert counts[(category, "dev")] and counts[(category, "test")], category
        # stratified: each half holds about half of each category
        assert abs(counts[(category, "dev")] - counts[(category, "test")]) <= max(2, total // 4), category


def test_accuracy_on_the_test_half_keeps_its_floor():
    catalogue = default_catalogue()
    dev = score("dev", [r for r in RECORDS if r["split"] == "dev"], catalogue, fallback=False)
    test = score("test", [r for r in RECORDS if r["split"] == "test"], catalogue)
    rules_only = score("test, rules only", [r for r in RECORDS if r["split"] == "test"], catalogue, fallback=False)
    report = format_table([dev, test, rules_only]) + "\n" + format_confusion(test)
    assert test.accuracy >= TEST_FLOOR, report
    assert rules_only.accuracy >= TEST_FLOOR_RULES_ONLY, report
    assert dev.accuracy >= DEV_FLOOR, report
    assert min(test.category_accuracy(c) for c in test.per_category) >= CATEGORY_FLOOR, report
    right, wrong = test.confidence[("high", True)], test.confidence[("high", False)]
    assert right / max(1, right + wrong) >= HIGH_CONFIDENCE_FLOOR, "a `high` verdict must be right almost always"


def test_the_learned_fallback_earns_its_place_on_the_test_half():
    """The fallback stays only while it raises test accuracy (issue 10): with it, never worse than without."""
    catalogue = default_catalogue()
    test = [r for r in RECORDS if r["split"] == "test"]
    assert score("with", test, catalogue).correct > score("without", test, catalogue, fallback=False).correct


@pytest.mark.parametrize("section", ["error_codes", "exceptions", "keywords"])
def test_tables_are_rules_with_keywords(section):
    prefix = {"error_codes": "code.", "exceptions": "exc.", "keywords": "kw."}[section]
    rules = [r for r in default_catalogue().rules if r.id.startswith(prefix) and r.tier != "signature"]
    assert rules and all(r.keywords and r.tier in ("structured", "generic") for r in rules)
