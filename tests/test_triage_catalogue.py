"""The shipped failure catalogue: loads as production loads it, every rule proven by a real excerpt, bad rules refused."""
from __future__ import annotations

import json
from pathlib import Path

import pytest
import yaml

from tasks.triage import CatalogueError, classify_message, default_catalogue, load_catalogue
from tasks.triage.catalogue import CATEGORIES, DEFAULT_CATALOGUE

DATA = Path(__file__).parent / "data" / "triage"
TABLE = yaml.safe_load((DATA / "excerpts.yaml").read_text(encoding="utf-8"))
EXCERPTS = TABLE["excerpts"]
BENIGN = TABLE["benign"]


def test_shipped_catalogue_loads_as_production_does():
    catalogue = default_catalogue()  # what classify_message / triage_evidence use
    assert catalogue.source == DEFAULT_CATALOGUE
    assert set(catalogue.categories) == set(CATEGORIES)
    assert len(catalogue.rules) >= 40
    assert all(rule.keywords for rule in catalogue.rules), "a rule without a literal is tried on every log line"
    assert load_catalogue().rules == catalogue.rules  # the file on disk, loaded fresh, is the same catalogue


@pytest.mark.parametrize("excerpt", EXCERPTS, ids=[f"{e['rule']}#{i}" for i, e in enumerate(EXCERPTS)])
def test_each_excerpt_is_decided_by_its_rule(excerpt):
    catalogue = default_catalogue()
    verdict = classify_message(excerpt["text"])
    assert verdict.rule_id == excerpt["rule"], f"{excerpt['text']!r} went to {verdict.rule_id}"
    assert verdict.category == catalogue.rule(excerpt["rule"]).category
    assert verdict.retryable == catalogue.category(verdict.category).retryable
    assert verdict.action == catalogue.category(verdict.category).action


def test_keywords_derived_from_each_pattern_are_present_in_its_excerpts():
    # The block prefilter skips text holding none of a rule's keywords; a wrong keyword would hide real failures.
    catalogue = default_catalogue()
    for excerpt in EXCERPTS:
        keywords = catalogue.rule(excerpt["rule"]).keywords
        assert any(k in excerpt["text"].lower() for k in keywords), (excerpt["rule"], sorted(keywords))


def test_no_rule_is_untested_and_every_excerpt_cites_a_source():
    # Specific signatures are proven by excerpts; the structured and generic tables by the corpus (test_triage_corpus).
    covered = {e["rule"] for e in EXCERPTS}
    rule_ids = {r.id for r in default_catalogue().rules if r.tier == "signature"}
    assert rule_ids - covered == set(), "rules without an excerpt"
    assert covered - rule_ids == set(), "excerpts for rules that do not exist"
    for excerpt in EXCERPTS:
        assert excerpt.get("source", "").strip(), f"excerpt for {excerpt['rule']} has no source"


def test_most_excerpts_are_real_not_synthetic():
    synthetic = [e for e in EXCERPTS if e.get("synthetic")]
    assert len(synthetic) <= len(EXCERPTS) // 8, [e["rule"] for e in synthetic]


@pytest.mark.parametrize("text", TABLE["unknown"])
def test_unknown_text_falls_to_other(text):
    verdict = classify_message(text)
    assert (verdict.category, verdict.rule_id, verdict.retryable, verdict.action) == ("other", None, False, "stop")


@pytest.mark.parametrize("sample", BENIGN, ids=[b["benign"] for b in BENIGN])
def test_benign_noise_never_decides(sample):
    catalogue = default_catalogue()
    text = sample["text"]
    benign = next(b for b in catalogue.benign if b.id == sample["benign"])
    assert benign.regex.search(text)
    assert "error" in text.lower() or "fail" in text.lower() or "notfound" in text.lower()  # alarming to a grep
    shadowed = [r.id for r in catalogue.rules if r.regex.search(text)]
    assert shadowed, "a benign pattern that shadows no rule is dead weight"
    assert classify_message(text).category == "other"


def test_every_benign_pattern_has_a_sample():
    assert {b.id for b in default_catalogue().benign} == {b["benign"] for b in BENIGN}


def test_priority_decides_between_layers_of_specificity():
    # A generic non-zero exit and a specific CUDA OOM in one message: the specific signature wins.
    text = ("Execution failed. User process 'python' exited with status code 1.\n"
            "torch.OutOfMemoryError: CUDA out of memory. Tried to allocate 2.00 GiB")
    assert classify_message(text).category == "cuda_oom"


def _write_catalogue(tmp_path: Path, mutate) -> Path:
    data = yaml.safe_load(DEFAULT_CATALOGUE.read_text(encoding="utf-8"))
    mutate(data)
    path = tmp_path / "catalogue.yaml"
    path.write_text(yaml.safe_dump(data, sort_keys=False), encoding="utf-8")
    return path


def _rule(data, rule_id):
    return next(r for r in data["rules"] if r["id"] == rule_id)


@pytest.mark.parametrize(("mutate", "message"), [
    (lambda d: _rule(d, "gpu.cuda_out_of_memory").update(pattern="CUDA out of (memory"), "does not compile"),
    (lambda d: _rule(d, "gpu.cuda_out_of_memory").update(category="gpu_melted"), "not a failure category"),
    (lambda d: _rule(d, "gpu.cuda_out_of_memory").pop("priority"), "priority"),
    (lambda d: _rule(d, "gpu.cuda_out_of_memory").update(priority=500), "priority"),
    (lambda d: _rule(d, "gpu.cuda_out_of_memory").update(pattern="x*"), "empty string"),
    (lambda d: _rule(d, "gpu.cuda_out_of_memory").update(summary="OOM in {buffer}"), "no such named group"),
    (lambda d: _rule(d, "gpu.cuda_out_of_memory").update(layers=["kernel"]), "layers"),
    (lambda d: _rule(d, "gpu.cuda_out_of_memory").update(colour="red"), "unknown keys"),
    (lambda d: d["rules"].append(dict(_rule(d, "gpu.cuda_out_of_memory"))), "used twice"),
    (lambda d: d["categories"].pop("disk_full"), "have no defaults"),
    (lambda d: d["categories"]["data_not_found"].update(action="resubmit"), "must be `stop`"),
    (lambda d: d["categories"]["cuda_oom"].update(action="pray"), "is not one of"),
    (lambda d: d.update(version=2), "version: 1"),
])
def test_a_bad_rule_stops_start_up(tmp_path, mutate, message):
    path = _write_catalogue(tmp_path, mutate)
    with pytest.raises(CatalogueError, match=message):
        load_catalogue(path)


def _keyword(data, rule_id):
    return next(e for e in data["keywords"] if e["id"] == rule_id)


@pytest.mark.parametrize(("mutate", "message"), [
    (lambda d: _keyword(d, "kw.quota").update(words="quota(s"), "`words` does not compile"),
    (lambda d: _keyword(d, "kw.quota").update(near="exceed(ed"), "does not compile"),
    (lambda d: _keyword(d, "kw.quota").update(unless="disk quota|(?<=a+)b"), "does not compile"),
])
def test_a_bad_words_in_context_entry_stops_start_up_even_when_an_earlier_version_was_checked(tmp_path, monkeypatch,
                                                                                                mutate, message):
    monkeypatch.setenv("GHOSTWATCH_CACHE_DIR", str(tmp_path / "cache"))
    load_catalogue(_write_catalogue(tmp_path, lambda d: None))  # the shipped text: checked, remembered
    path = _write_catalogue(tmp_path, mutate)
    with pytest.raises(CatalogueError, match=message):
        load_catalogue(path)
    with pytest.raises(CatalogueError, match=message):  # a failed check is never remembered as passed
        load_catalogue(path)


def test_a_checked_catalogue_version_leaves_compiling_to_first_use(tmp_path, monkeypatch):
    from tasks.triage.signals import ContextPattern

    monkeypatch.setenv("GHOSTWATCH_CACHE_DIR", str(tmp_path / "cache"))
    path = _write_catalogue(tmp_path, lambda d: None)
    load_catalogue(path)
    assert len(list((tmp_path / "cache").glob("catalogue-*.checked"))) == 1
    again = load_catalogue(path)
    in_context = [r.regex for r in again.rules if isinstance(r.regex, ContextPattern)]
    assert in_context and all(p._compiled is None for p in in_context)
    quota = again.rule("kw.quota").regex
    assert quota.search("the job exceeded its quota of cores") and quota._compiled is not None
    assert [r.keywords for r in again.rules] == [r.keywords for r in load_catalogue(DEFAULT_CATALOGUE).rules]


def test_an_unreadable_marker_only_costs_a_new_check(tmp_path, monkeypatch):
    monkeypatch.setenv("GHOSTWATCH_CACHE_DIR", str(tmp_path / "cache"))
    path = _write_catalogue(tmp_path, lambda d: None)
    first = load_catalogue(path)
    (marker,) = (tmp_path / "cache").glob("catalogue-*.checked")
    marker.write_text('{"literals": [1, 2', encoding="utf-8")
    assert load_catalogue(path).rules == first.rules
    assert json.loads(marker.read_text(encoding="utf-8"))["literals"], "the marker is written again, whole"


def test_unreadable_catalogue_is_a_clear_error(tmp_path):
    with pytest.raises(CatalogueError, match="cannot read catalogue"):
        load_catalogue(tmp_path / "missing.yaml")
    broken = tmp_path / "broken.yaml"
    broken.write_text("rules: [unclosed", encoding="utf-8")
    with pytest.raises(CatalogueError, match="not valid YAML"):
        load_catalogue(broken)


def test_data_and_configuration_errors_are_never_retryable():
    catalogue = default_catalogue()
    for name in ("data_not_found", "storage_permission_denied", "credential_invalid_or_expired", "job_config_invalid",
                 "script_or_code_missing", "dependency_missing", "quota_exceeded", "output_invalid", "other"):
        info = catalogue.category(name)
        assert (info.retryable, info.action) == (False, "stop"), name


@pytest.mark.parametrize("words, text, expected", [
    ("'charmap' codec", "UnicodeDecodeError: 'charmap' codec can't decode byte 0x9d", True),
    (r"\(400\)", "the service answered (400) Bad Request", True),
    ("-inf|nan", "loss became -inf at step 12", True),
    ("KeyError: ", "KeyError: 'video_id'", True),
    ("oom", "the room was booked", False),          # a word still needs its boundaries
    (r"\.py", "python: can't open file 'train.py'", True),
])
def test_keyword_edges_of_punctuation_match_where_they_read(words, text, expected):
    import re

    from tasks.triage.signals import bounded

    assert (re.search(bounded(words, right=True), text, re.IGNORECASE) is not None) is expected
