"""The verdict: what triage concludes about one job, and the catalogue defaults that fill it."""
from __future__ import annotations

import re
from dataclasses import asdict, dataclass
from typing import Any, Mapping

from tasks.triage.catalogue import Catalogue, default_catalogue
from tasks.redact import redact, redact_obj

_PLACEHOLDER = re.compile(r"\{(\w+)\}")


@dataclass
class EvidenceLine:
    """One line that supports a verdict: where it is and what it says (already redacted).

    `file` is relative to the evidence folder, or 'job.json' (the structured error) or 'preflight'.
    """

    file: str
    line: int | None
    text: str

    def cite(self) -> str:
        return f"{self.file}:{self.line}" if self.line is not None else self.file


@dataclass
class TriageContext:
    """What the flow knows that the evidence folder may not say."""

    expected_videos: int | None = None
    labels_have_both_classes: bool | None = None
    job_state: str | None = None  # None: read it from job.json
    max_failed_fraction: float = 0.05  # failure budget: above this share of failed videos the run is output_invalid


@dataclass
class Verdict:
    """Triage's conclusion: category of the taxonomy, whether and how to remediate, and why."""

    category: str
    retryable: bool
    action: str
    summary: str
    root_cause: str
    recommendations: list[str]
    next_steps: list[str]
    rule_id: str | None
    evidence: list[EvidenceLine]
    timeline: list[tuple[str, str]]
    error_details: dict
    # How sure triage is: `high` (a structured error code or a specific signature, nothing close disagreeing),
    # `medium` (a generic signal: an exception type, errno, exit code or keyword in context; or a close runner-up),
    # `low` (only a catch-all matched, or `other`: nothing matched).
    confidence: str = "high"
    # The best category other than `category` that also matched, if any: what a reader should rule out next.
    runner_up: str | None = None

    def to_dict(self) -> dict:
        """A JSON-ready dict (evidence as objects, timeline as [timestamp, event] pairs), secrets redacted."""
        data = asdict(self)
        data["timeline"] = [list(pair) for pair in self.timeline]
        return redact_obj(data)

    @property
    def failed(self) -> bool:
        return self.category != "none"


def verdict_for_category(
    category: str,
    summary: str,
    evidence: list[EvidenceLine] | tuple = (),
    error_details: dict | None = None,
    *,
    catalogue: Catalogue | None = None,
) -> Verdict:
    """A verdict filled from the catalogue's defaults for `category` (used for preflight failures).

    Args:
        category: a taxonomy name, e.g. 'storage_auth_key_disabled'.
        summary: one line for people.
        evidence: supporting lines (redacted again here).
        error_details: extra facts; keys named like recommendation placeholders (storage_account, path, ...) fill them.
        catalogue: default: the shipped catalogue.

    Returns:
        The Verdict (rule_id None, empty timeline).

    Raises:
        KeyError: `category` is not in the taxonomy.
    """
    catalogue = catalogue or default_catalogue()
    info = catalogue.category(category)
    details = redact_obj(dict(error_details or {}))
    return Verdict(
        category=category,
        retryable=info.retryable,
        action=info.action,
        summary=redact(summary),
        root_cause=info.root_cause,
        recommendations=fill_recommendations(info.recommendations, info.docs, details),
        next_steps=[fill_placeholders(step, details) for step in info.next_steps],
        rule_id=None,
        evidence=[EvidenceLine(e.file, e.line, redact(e.text)) for e in evidence],
        timeline=[],
        error_details=details,
    )


def fill_placeholders(text: str, values: Mapping[str, Any]) -> str:
    """Replace `{name}` with a known value, or with `<name>` for the reader to fill in."""
    def one(match: re.Match[str]) -> str:
        value = values.get(match.group(1))
        # Only the values come from evidence; the catalogue's own text holds no secret.
        return redact(str(value)) if value not in (None, "") else f"<{match.group(1)}>"
    return _PLACEHOLDER.sub(one, text)


def fill_recommendations(recommendations, docs, values: Mapping[str, Any]) -> list[str]:
    """Recommendations with placeholders filled, followed by one 'Documentation: <url>' line per link."""
    return [fill_placeholders(r, values) for r in recommendations] + [f"Documentation: {url}" for url in docs]

