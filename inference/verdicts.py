"""Turn a model's answer into a ghost-probing verdict: JSON first (bare, in text or in code fences), then keywords.

The keyword rules are data (prompts/verdict_keywords.json). An answer that matches nothing is "unparsed"; the raw text
is always kept by the caller, so nothing the model said is lost.
"""
from __future__ import annotations

import json
import re
from dataclasses import dataclass
from pathlib import Path

VERDICTS = ("yes", "potential", "no")
UNPARSED = "unparsed"
DEFAULT_RULES = Path(__file__).with_name("prompts") / "verdict_keywords.json"
_VERDICT_KEYS = ("ghost_probing", "ghost probing", "ghostprobing", "verdict", "answer", "label", "result")
_VALUE_WORDS = {
    "yes": "yes", "true": "yes", "y": "yes", "detected": "yes", "ghost probing": "yes",
    "potential": "potential", "possible": "potential", "possibly": "potential", "maybe": "potential",
    "uncertain": "potential", "likely": "potential", "potential ghost probing": "potential",
    "no": "no", "false": "no", "n": "no", "none": "no", "not detected": "no",
}
_FENCE = re.compile(r"```(?:json|JSON)?\s*(.*?)```", re.S)
_NUMBER = re.compile(r"-?\d+(?:\.\d+)?")


@dataclass(frozen=True)
class KeywordRule:
    """One keyword rule of the catalogue (see the catalogue's _schema)."""

    id: str
    verdict: str
    pattern: re.Pattern


@dataclass(frozen=True)
class Verdict:
    """What the answer says, and how it was read (parsed_by: json | keywords:<rule id> | none)."""

    verdict: str
    start_second: float | None = None
    actor: str | None = None
    reason: str | None = None
    parsed_by: str = "none"

    @property
    def positive(self) -> bool | None:
        """True for yes/potential (the users' rule), False for no, None when unparsed."""
        return None if self.verdict == UNPARSED else self.verdict in ("yes", "potential")


def load_rules(path: str | Path = DEFAULT_RULES) -> list[KeywordRule]:
    """Load and compile the keyword catalogue.

    Args:
        path: the JSON catalogue.

    Returns:
        The rules in order.

    Raises:
        ValueError: a rule lacks a field, has an unknown verdict, a bad regex or a reused id.
    """
    data = json.loads(Path(path).read_text(encoding="utf-8"))
    rules: list[KeywordRule] = []
    seen: set[str] = set()
    for index, raw in enumerate(data.get("rules", [])):
        try:
            rule_id, verdict, pattern = raw["id"], raw["verdict"], raw["pattern"]
        except KeyError as missing:
            raise ValueError(f"{path}: rule #{index} has no {missing} field") from None
        if verdict not in (*VERDICTS, "from-value"):
            raise ValueError(f"{path}: rule {rule_id!r} has unknown verdict {verdict!r}")
        if rule_id in seen:
            raise ValueError(f"{path}: rule id {rule_id!r} is used twice")
        try:
            compiled = re.compile(pattern, re.I | re.M)
        except re.error as error:
            raise ValueError(f"{path}: rule {rule_id!r} has a bad pattern: {error}") from None
        if verdict == "from-value" and "value" not in compiled.groupindex:
            raise ValueError(f"{path}: rule {rule_id!r} is from-value but its pattern has no (?P<value>...) group")
        seen.add(rule_id)
        rules.append(KeywordRule(rule_id, verdict, compiled))
    if not rules:
        raise ValueError(f"{path}: no rules")
    return rules


def parse_verdict(text: str, rules: list[KeywordRule] | None = None) -> Verdict:
    """Read a verdict from a model's answer.

    Args:
        text: the generated text (special tokens already removed).
        rules: keyword rules; default: the shipped catalogue.

    Returns:
        A Verdict; verdict is "unparsed" when neither JSON nor any keyword rule gives one.
    """
    for candidate in _json_objects(text):
        verdict = _from_json(candidate)
        if verdict is not None:
            return verdict
    for rule in rules if rules is not None else _default_rules():
        found = rule.pattern.search(text)
        if not found:
            continue
        value = _normalise(found.group("value")) if rule.verdict == "from-value" else rule.verdict
        if value is not None:
            return Verdict(value, _second_in(text), parsed_by=f"keywords:{rule.id}")
    return Verdict(UNPARSED)


_RULES_CACHE: list[KeywordRule] = []


def _default_rules() -> list[KeywordRule]:
    if not _RULES_CACHE:
        _RULES_CACHE.extend(load_rules())
    return _RULES_CACHE


def _json_objects(text: str):
    """JSON objects in fenced blocks first, then any object found by scanning the text."""
    decoder = json.JSONDecoder()
    sources = [block for block in _FENCE.findall(text)] + [text]
    for source in sources:
        for start in [i for i, char in enumerate(source) if char == "{"]:
            try:
                value, _ = decoder.raw_decode(source[start:])
            except json.JSONDecodeError:
                continue
            if isinstance(value, dict):
                yield value


def _from_json(obj: dict) -> Verdict | None:
    lowered = {str(key).strip().lower(): value for key, value in obj.items()}
    key = next((k for k in _VERDICT_KEYS if k in lowered), None)
    if key is None:
        return None
    verdict = _normalise(lowered[key])
    if verdict is None:
        return None
    start = _as_second(lowered.get("start_second", lowered.get("start", lowered.get("second"))))
    actor = lowered.get("actor")
    reason = lowered.get("reason", lowered.get("explanation"))
    return Verdict(
        verdict,
        start,
        None if actor in (None, "", "null") else str(actor),
        None if reason in (None, "") else str(reason),
        parsed_by="json",
    )


def _normalise(value) -> str | None:
    if isinstance(value, bool):
        return "yes" if value else "no"
    if not isinstance(value, str):
        return None
    return _VALUE_WORDS.get(value.strip().strip(".!").lower())


def _as_second(value) -> float | None:
    if isinstance(value, bool) or value is None:
        return None
    if isinstance(value, (int, float)):
        return float(value) if value >= 0 else None
    found = _NUMBER.search(str(value))
    return float(found.group()) if found and float(found.group()) >= 0 else None


def _second_in(text: str) -> float | None:
    found = re.search(r"(?:at|around|from|second)\s+(\d+(?:\.\d+)?)\s*(?:s\b|sec|seconds?)?", text, re.I)
    return float(found.group(1)) if found else None
