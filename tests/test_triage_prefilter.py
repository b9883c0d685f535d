"""The Hyperscan prefilter changes how fast triage is, never what it says; its disk cache is a cache, nothing more.
And rows remembered per message text are the rows the message would get anew."""
from __future__ import annotations

import json
from pathlib import Path

import pytest

from tasks.triage import batch, default_catalogue, prefilter
from tasks.triage.classify import classify_record, message_lines
from tasks.triage.evaluate import load_corpus
from tasks.triage.message_scan import MessageMatcher
from tasks.triage.structured import normalise

DATA = Path(__file__).parent / "data" / "triage"
needs_hyperscan = pytest.mark.skipif(not prefilter.available(), reason="hyperscan has no wheel for this machine")


def _messages() -> list[str]:
    texts = [r["message"] for r in load_corpus(DATA / "corpus.jsonl")]
    # Shapes the corpus has few of: non-ASCII (read by the literal gates), several lines, empty, huge.
    texts += ["Fehler: CUDA out of memory. Tried to allocate 2.00 GiB (GPU 0; 39.39 GiB total capacity) – Größe",
              "Erreur : Job échoué — ‘prediction’: \"\"  ·  KeyError: 'vidéo'  ·  ſtorage Kelvin-K  ·  ２８ № ",
              "RuntimeError: déjà vu: invalid\u00a0yaml field «instance_type»\u2028No space left on device",
              "first line\nTraceback (most recent call last):\n  File \"x.py\", line 1\nKeyError: 'video_id'",
              "", "   ", "x" * 20_000 + " No space left on device"]
    return texts


@pytest.fixture(scope="module")
def both_ways(tmp_path_factory):
    """(literal-gate matcher, prefilter matcher) of the shipped catalogue, the prefilter compiled into a fresh cache."""
    cache = tmp_path_factory.mktemp("hs-cache")
    with pytest.MonkeyPatch.context() as patch:
        patch.setenv("GHOSTWATCH_CACHE_DIR", str(cache))
        fast = MessageMatcher(default_catalogue())
        assert fast.use_prefilter(compile=True)
    return MessageMatcher(default_catalogue()), fast, cache


def _key(hit):
    return None if hit is None else (hit.rule.id, hit.line, hit.text, hit.groups)


@needs_hyperscan
def test_prefilter_finds_the_same_hits_as_the_literal_gates(both_ways):
    literal, fast, _ = both_ways
    for text in _messages():
        lines = message_lines(normalise(text))
        assert [_key(h) for h in fast.best_and_runner(lines)] == [_key(h) for h in literal.best_and_runner(lines)], text[:80]
        assert [_key(h) for h in fast.all_hits(lines)] == [_key(h) for h in literal.all_hits(lines)], text[:80]


@needs_hyperscan
def test_the_cache_is_reused_and_a_broken_one_is_rebuilt(both_ways, monkeypatch):
    _, _, cache = both_ways
    monkeypatch.setenv("GHOSTWATCH_CACHE_DIR", str(cache))
    files = sorted(cache.glob("prefilter-*.hsdb"))
    assert len(files) == 1
    # Cached: it loads without compiling even when compiling is not allowed.
    assert MessageMatcher(default_catalogue()).use_prefilter(compile=False)
    files[0].write_bytes(b"not a hyperscan database")
    assert not MessageMatcher(default_catalogue()).use_prefilter(compile=False)  # unusable cache: no prefilter
    rebuilt = MessageMatcher(default_catalogue())
    assert rebuilt.use_prefilter(compile=True)
    lines = message_lines("torch.OutOfMemoryError: CUDA out of memory. Tried to allocate 2.00 GiB")
    assert rebuilt.best_and_runner(lines)[0].rule.category == "cuda_oom"
    assert files[0].read_bytes() != b"not a hyperscan database"


@needs_hyperscan
def test_an_unwritable_cache_only_costs_the_compile(tmp_path, monkeypatch):
    blocker = tmp_path / "a-file"
    blocker.write_text("not a folder")
    monkeypatch.setenv("GHOSTWATCH_CACHE_DIR", str(blocker / "cache"))
    built = prefilter.Prefilter([(r"\bno space left on device\b", False), (r"cuda out of memory", False)])
    assert built.compile()
    assert built.scan("oserror: [errno 28] no space left on device") == {0}


def test_switched_off_by_the_environment(monkeypatch):
    monkeypatch.setenv(batch.PREFILTER_SWITCH, "off")
    assert batch.prepare_matcher(compile_prefilter=True) is False


def test_remembered_rows_equal_fresh_rows_whatever_the_id():
    batch.forget_rows()
    message = "Job was preempted: the low priority node was reclaimed"
    ids = [1, "run-7", 'a, "category": "evil"', None, 2.5, {"nested": [1]}, "ünïcode"]
    lines = [json.dumps({"id": i, "message": message}) for i in ids]
    remembered = [row for _, row, _ in batch.classify_lines(lines)]
    assert len(batch._ROWS) == 1
    fresh = []
    for line in lines:
        batch.forget_rows()
        fresh.append(batch.classify_line(1, line)[1])
    assert remembered == fresh
    for identifier, row in zip(ids, remembered):
        decoded = json.loads(row)
        assert decoded["id"] == identifier
        assert decoded == {**classify_record({"id": identifier, "message": message}), "id": identifier}
    batch.forget_rows()


@needs_hyperscan
def test_old_databases_are_pruned(tmp_path, monkeypatch):
    import os

    monkeypatch.setenv("GHOSTWATCH_CACHE_DIR", str(tmp_path))
    for age, name in enumerate(["a", "b", "c", "d", "e", "f"]):
        stale = tmp_path / f"prefilter-{name}.hsdb"
        stale.write_bytes(b"old")
        stale.with_suffix(".refused").write_text("")
        os.utime(stale, (1_000_000 + age, 1_000_000 + age))
    assert prefilter.Prefilter([(r"\bkilled\b", False)]).compile()
    left = sorted(p.name for p in tmp_path.glob("prefilter-*.hsdb"))
    assert len(left) == 4 and "prefilter-f.hsdb" in left and "prefilter-a.hsdb" not in left
    assert len(list(tmp_path.glob("prefilter-*.refused"))) == 4


@needs_hyperscan
def test_threads_scanning_at_once_get_the_answers_of_one(both_ways):
    from concurrent.futures import ThreadPoolExecutor

    _, fast, _ = both_ways
    texts = [t.lower() for t in _messages() if t.isascii()] * 3
    alone = [fast._prefilter.scan(t) for t in texts]
    with ThreadPoolExecutor(4) as pool:
        together = list(pool.map(fast._prefilter.scan, texts))
    assert together == alone


def test_the_ascii_stand_in_keeps_length_and_the_classes_a_regex_reads():
    text = "Größe déjà ſ K ı ２８ \u00a0\u2028 – « » ‘ ’ 日本 ☃ ok"
    stand_in = prefilter.ascii_stand_in(text)
    assert stand_in.isascii() and len(stand_in) == len(text)
    assert prefilter.ascii_stand_in("plain ascii, untouched") == "plain ascii, untouched"
    import re

    for original, replaced in zip(text, stand_in):
        for element in (r"\w", r"\d", r"\s", r"\W", r"\D", r"\S", "."):
            if re.fullmatch(element, original):
                assert re.fullmatch(element, replaced), (original, element, replaced)
        for letter in "abcdefghijklmnopqrstuvwxyz":
            if not original.isascii() and re.fullmatch(letter, original, re.IGNORECASE):  # the long s and the Kelvin sign fold to ASCII
                assert replaced == letter, (original, replaced)


@needs_hyperscan
def test_an_exact_hit_of_a_context_regex_is_a_match(both_ways):
    # The matcher skips its own search for a rule's context words when the database ran their regex exactly and hit:
    # that is only right if an exact hit always means a match.
    _, fast, _ = both_ways
    exact_near = [(i, item) for i, (item, role, _) in enumerate(fast._roles)
                  if role == "near" and i in fast._prefilter.exact]
    assert len(exact_near) > 20
    checked = 0
    for text in _messages():
        lowered = text.lower()
        if not lowered.isascii():
            continue
        hits = fast._prefilter.scan(lowered)
        for i, item in exact_near:
            regex = item.rule.regex.near
            assert (i in hits) == bool(regex.search(lowered)), (item.rule.id, text[:120])
            checked += i in hits
    assert checked > 100
