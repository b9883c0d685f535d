"""The answer parser and the prompt template: data files loaded as production loads them."""
from __future__ import annotations

import json

import pytest

from inference.prompts import load_prompt
from inference.verdicts import UNPARSED, load_rules, parse_verdict


@pytest.mark.parametrize(
    "answer, verdict, start, actor, parsed_by",
    [
        ('{"ghost_probing": "yes", "start_second": 4, "actor": "pedestrian", "reason": "steps out"}',
         "yes", 4.0, "pedestrian", "json"),
        ('Here is my answer:\n```json\n{"ghost_probing": "potential", "start_second": "5s", "actor": null}\n```',
         "potential", 5.0, None, "json"),
        ('The verdict is {"Ghost_Probing": "No", "start_second": null, "reason": "empty road"} as requested.',
         "no", None, None, "json"),
        ('{"verdict": true, "start": 2.5}', "yes", 2.5, None, "json"),
        ('{"note": "thinking"} then {"ghost_probing": "no"}', "no", None, None, "json"),
    ],
)
def test_json_answers(answer, verdict, start, actor, parsed_by):
    result = parse_verdict(answer)
    assert (result.verdict, result.start_second, result.actor, result.parsed_by) == (verdict, start, actor, parsed_by)


@pytest.mark.parametrize(
    "answer, verdict, rule",
    [
        ("There is no ghost probing in this clip.", "no", "negated-ghost-probing"),
        ("This does not show ghost probing.", "no", "negated-ghost-probing"),
        ("This is possibly ghost probing near the bus.", "potential", "hedged-ghost-probing"),
        ("Ghost probing detected at 3 seconds.", "yes", "ghost-probing-detected"),
        ('ghost_probing: "yes", start_second: 4', "yes", "key-value-verdict"),
        ("Yes. A child runs out at 2s.", "yes", "leading-yes"),
        ("Maybe; the view is blocked.", "potential", "leading-potential"),
        ("No.", "no", "leading-no"),
        ("A man suddenly appears from behind the parked van.", "yes", "emerges-from-behind"),
    ],
)
def test_keyword_fallback_names_the_rule(answer, verdict, rule):
    result = parse_verdict(answer)
    assert (result.verdict, result.parsed_by) == (verdict, f"keywords:{rule}")


def test_every_shipped_rule_has_a_sample_above():
    shipped = {rule.id for rule in load_rules()}
    sampled = {"negated-ghost-probing", "hedged-ghost-probing", "ghost-probing-detected", "key-value-verdict",
               "leading-yes", "leading-potential", "leading-no", "emerges-from-behind"}
    assert shipped == sampled


@pytest.mark.parametrize("answer", ["", "b(wn\x13 5b(ide", "\ufffd\ufffd yes\x04Kpedestrian", '{"ghost_probing": "banana"}', "The road is wet."])
def test_noise_is_unparsed(answer):
    result = parse_verdict(answer)
    assert result.verdict == UNPARSED and result.positive is None and result.parsed_by == "none"


def test_positive_follows_the_users_rule():
    assert parse_verdict('{"ghost_probing": "potential"}').positive is True
    assert parse_verdict('{"ghost_probing": "no"}').positive is False


def test_a_bad_rule_stops_loading_with_its_id(tmp_path):
    path = tmp_path / "rules.json"
    path.write_text(json.dumps({"rules": [{"id": "broken", "verdict": "yes", "pattern": "(unclosed"}]}))
    with pytest.raises(ValueError, match="rule 'broken' has a bad pattern"):
        load_rules(path)
    path.write_text(json.dumps({"rules": [{"id": "a", "verdict": "yes", "pattern": "x"},
                                          {"id": "a", "verdict": "no", "pattern": "y"}]}))
    with pytest.raises(ValueError, match="used twice"):
        load_rules(path)
    path.write_text(json.dumps({"rules": [{"id": "v", "verdict": "from-value", "pattern": "x"}]}))
    with pytest.raises(ValueError, match="no \\(\\?P<value>"):
        load_rules(path)


def test_prompt_renders_frame_times_and_asks_for_json():
    text = load_prompt().render([0.25, 1.75, 3.0], 4.0)
    assert "3 frames" in text and "0.2, 1.8, 3.0" in text and "4.0 seconds" in text
    assert '"ghost_probing": "yes" | "potential" | "no"' in text and "$" not in text


def test_prompt_with_unknown_placeholder_is_refused(tmp_path):
    path = tmp_path / "p.txt"
    path.write_text("Frames: $timestamps, speed: $speed")
    with pytest.raises(ValueError, match="unknown placeholders \\['speed'\\]"):
        load_prompt(path)
    with pytest.raises(FileNotFoundError):
        load_prompt(tmp_path / "missing.txt")
