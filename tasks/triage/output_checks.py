"""Output checks: a job that "Completed" with broken outputs is a failure.

Reads outputs/predictions.jsonl, or every shard's predictions.shard-NN-of-MM.jsonl (streamed, one line per video; a
resumed job may repeat a video, the last line wins) and outputs/summary.json. Finds: outputs that could not be fetched
(and why), missing or empty predictions, fewer predictions than inputs, every video failed, more failed videos than
the failure budget (`max_failed_fraction`), a degenerate verdict distribution on a labelled set that has both classes,
and a model loaded with newly initialised weights.
"""
from __future__ import annotations

import json
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path

from inference.labels import parse_label
from tasks.redact import redact
from tasks.triage.verdict import EvidenceLine, TriageContext

PREDICTIONS = "outputs/predictions.jsonl"
SUMMARY = "outputs/summary.json"
COLLECTION = "collection.json"  # what evidence collection fetched and missed (tasks/backends/azureml_evidence.py)
PERMISSION_WORDS = ("AuthorizationPermissionMismatch", "AuthorizationFailure", "AuthenticationFailed",
                    "KeyBasedAuthenticationNotPermitted", "403", "not authorized", "permission")
POSITIVE_VERDICTS = ("yes", "potential")
# Priorities on the catalogue's scale: a model loaded with random weights explains degenerate outputs, so it wins.
MODEL_LOAD_PRIORITY = 79
OUTPUT_INVALID_PRIORITY = 50


@dataclass
class OutputFinding:
    """One failed output check."""

    check: str
    category: str
    priority: int
    summary: str
    evidence: list[EvidenceLine]


@dataclass
class OutputStats:
    """What the outputs hold, for the report."""

    predictions_file: bool = False
    predictions: int = 0
    failed: int = 0
    verdicts: dict[str, int] = field(default_factory=dict)
    labelled_positive: int = 0
    labelled_negative: int = 0
    bad_lines: int = 0
    summary: dict = field(default_factory=dict)


def check_outputs(evidence_dir: Path, context: TriageContext | None = None) -> tuple[list[OutputFinding], OutputStats]:
    """Run every output check on an evidence folder.

    Args:
        evidence_dir: the folder in the evidence layout.
        context: expected video count and whether the labelled set has both classes, when the flow knows.

    Returns:
        (findings, stats); no findings means the outputs look healthy.
    """
    context = context or TriageContext()
    stats = OutputStats()
    summary, summary_findings = _read_summary(evidence_dir / SUMMARY)
    stats.summary = summary
    findings = list(summary_findings)
    per_video, first_lines = _read_predictions(_prediction_files(evidence_dir), stats)

    findings += _model_load_findings(summary)
    if not stats.predictions_file and (unfetched := _unfetched_outputs(evidence_dir)):
        findings.append(unfetched)
        return _sorted(findings), stats
    if not stats.predictions_file:
        findings.append(OutputFinding("predictions_missing", "output_invalid", OUTPUT_INVALID_PRIORITY,
                                      f"The job completed but wrote no {PREDICTIONS}",
                                      [EvidenceLine(PREDICTIONS, None, "file not found")]))
        return _sorted(findings), stats
    if not per_video:
        findings.append(OutputFinding("predictions_empty", "output_invalid", OUTPUT_INVALID_PRIORITY,
                                      f"The job completed but {PREDICTIONS} holds no predictions",
                                      [EvidenceLine(PREDICTIONS, None, f"{stats.bad_lines} unreadable line(s), 0 predictions")]))
        return _sorted(findings), stats

    expected = context.expected_videos or _int(summary.get("videos_total"))
    if expected and stats.predictions < expected:
        findings.append(OutputFinding(
            "predictions_incomplete", "output_invalid", OUTPUT_INVALID_PRIORITY,
            f"Only {stats.predictions} of {expected} videos have a prediction",
            [EvidenceLine(PREDICTIONS, None, f"{stats.predictions} distinct videos"),
             EvidenceLine(SUMMARY if summary.get("videos_total") else "context", None, f"videos_total={expected}")]))

    answered = {v: rec for v, rec in per_video.items() if _answered(rec)}
    if not answered:
        examples = [EvidenceLine(PREDICTIONS, line, redact(_brief(per_video[v]))) for v, line in list(first_lines.items())[:3]]
        findings.append(OutputFinding("all_videos_failed", "output_invalid", OUTPUT_INVALID_PRIORITY,
                                      f"Every one of the {stats.predictions} videos failed or gave no usable answer",
                                      examples))
        return _sorted(findings), stats

    budget = _failure_budget_finding(per_video, first_lines, context.max_failed_fraction)
    if budget:
        findings.append(budget)

    both_classes = context.labels_have_both_classes
    if both_classes is None and (stats.labelled_positive or stats.labelled_negative):
        both_classes = stats.labelled_positive > 0 and stats.labelled_negative > 0
    predicted = Counter("positive" if rec.get("verdict") in POSITIVE_VERDICTS else "negative" for rec in answered.values())
    if both_classes and len(predicted) == 1 and len(answered) >= 2:
        only = next(iter(predicted))
        verdicts = ", ".join(f"{k}={n}" for k, n in sorted(stats.verdicts.items()))
        findings.append(OutputFinding(
            "degenerate_distribution", "output_invalid", OUTPUT_INVALID_PRIORITY,
            f"All {len(answered)} answered videos are {only} although the labelled set has both classes",
            [EvidenceLine(PREDICTIONS, None, f"verdicts: {verdicts}"),
             EvidenceLine("labels", None, f"labelled positive={stats.labelled_positive}, negative={stats.labelled_negative}"
                          if stats.labelled_positive or stats.labelled_negative else "context: labelled set has both classes")]))
    return _sorted(findings), stats


def _prediction_files(evidence_dir: Path) -> list[Path]:
    """predictions.jsonl, or one file per shard (`predictions.shard-00-of-04.jsonl`) when the job ran on several nodes."""
    outputs = evidence_dir / "outputs"
    single = outputs / "predictions.jsonl"
    shards = sorted(outputs.glob("predictions.shard-*-of-*.jsonl")) if outputs.is_dir() else []
    return ([single] if single.is_file() else []) + shards


def _unfetched_outputs(evidence_dir: Path) -> OutputFinding | None:
    """Outputs that could not be fetched are not outputs that were not written: say what happened, and why."""
    try:
        record = json.loads((evidence_dir / COLLECTION).read_text())
    except (OSError, ValueError):
        return None
    misses = [m for m in record.get("missing") or [] if str(m.get("what", "")).startswith("outputs")]
    why = next((str(m.get("why", "")) for m in misses if "holds no files" not in str(m.get("why", ""))), None)
    if not why:
        return None
    denied = any(word in why for word in PERMISSION_WORDS)
    category = "storage_permission_denied" if denied else "service_error"
    reason = "the orchestrator's identity may not read the output datastore" if denied else "the storage could not be reached"
    return OutputFinding("outputs_not_fetched", category, OUTPUT_INVALID_PRIORITY,
                         f"The job's outputs could not be fetched ({reason}), so whether it wrote predictions is unknown: "
                         f"{redact(why)[:300]}",
                         [EvidenceLine(COLLECTION, None, redact(why)[:500])])


def _failure_budget_finding(per_video: dict[str, dict], first_lines: dict[str, int], budget: float) -> OutputFinding | None:
    """More failed videos than the budget allows: a run that mostly failed is not a success."""
    failed = [video for video, record in per_video.items() if record.get("error")]
    if not failed or len(failed) == len(per_video) or len(failed) / len(per_video) <= budget:
        return None  # every video failing is all_videos_failed's finding
    errors = Counter(str(per_video[v]["error"]).splitlines()[0][:200] for v in failed)
    common, count = errors.most_common(1)[0]
    names = ", ".join(sorted(failed)[:10]) + (f" and {len(failed) - 10} more" if len(failed) > 10 else "")
    return OutputFinding(
        "failure_budget", "output_invalid", OUTPUT_INVALID_PRIORITY,
        f"{len(failed)} of {len(per_video)} videos failed, over the failure budget of {budget:.0%} "
        f"(most common error, {count} videos: {redact(common)})",
        [EvidenceLine(PREDICTIONS, None, redact(f"failed videos: {names}")),
         EvidenceLine(PREDICTIONS, first_lines.get(sorted(failed)[0]), redact(f"most common error ({count}x): {common}"))])


def _read_predictions(paths: list[Path], stats: OutputStats) -> tuple[dict[str, dict], dict[str, int]]:
    """Stream the predictions; the last line per video wins (a resumed job may append a video again)."""
    per_video: dict[str, dict] = {}
    first_lines: dict[str, int] = {}
    for path in paths:
        stats.predictions_file = True
        _read_prediction_file(path, per_video, first_lines, stats)
    _count(per_video, stats)
    return per_video, first_lines


def _read_prediction_file(path: Path, per_video: dict[str, dict], first_lines: dict[str, int], stats: OutputStats) -> None:
    with path.open("r", encoding="utf-8", errors="replace") as handle:
        for number, raw in enumerate(handle, start=1):
            raw = raw.strip()
            if not raw:
                continue
            try:
                record = json.loads(raw)
            except json.JSONDecodeError:
                stats.bad_lines += 1
                continue
            if not isinstance(record, dict) or not record.get("video"):
                stats.bad_lines += 1
                continue
            video = str(record["video"])
            per_video[video] = {k: record.get(k) for k in ("verdict", "error", "label", "label_positive", "positive")}
            first_lines.setdefault(video, number)


def _count(per_video: dict[str, dict], stats: OutputStats) -> None:
    stats.predictions = len(per_video)
    verdicts: Counter[str] = Counter()
    for rec in per_video.values():
        verdicts[str(rec.get("verdict"))] += 1
        if not _answered(rec):
            stats.failed += 1
        labelled = _label_positive(rec)
        if labelled is True:
            stats.labelled_positive += 1
        elif labelled is False:
            stats.labelled_negative += 1
    stats.verdicts = dict(verdicts)


def _read_summary(path: Path) -> tuple[dict, list[OutputFinding]]:
    if not path.is_file():
        return {}, []
    try:
        data = json.loads(path.read_text(encoding="utf-8", errors="replace"))
    except json.JSONDecodeError as exc:
        return {}, [OutputFinding("summary_unreadable", "output_invalid", OUTPUT_INVALID_PRIORITY,
                                  f"{SUMMARY} is not valid JSON", [EvidenceLine(SUMMARY, exc.lineno, str(exc))])]
    return (data if isinstance(data, dict) else {}), []


def _model_load_findings(summary: dict) -> list[OutputFinding]:
    newly = summary.get("newly_initialized") or []
    warnings = [str(w) for w in summary.get("load_warnings") or [] if "newly initialized" in str(w).lower()
                or "not initialized from the model checkpoint" in str(w).lower()]
    if not newly and not warnings:
        return []
    names = ", ".join(map(str, newly[:5])) + (" ..." if len(newly) > 5 else "")
    evidence = [EvidenceLine(SUMMARY, None, redact(f"newly_initialized: {names}"))] if newly else []
    evidence += [EvidenceLine(SUMMARY, None, redact(w[:400])) for w in warnings[:2]]
    return [OutputFinding("newly_initialized_weights", "model_load_failed", MODEL_LOAD_PRIORITY,
                          "The model loaded with newly initialised (random) weights; its answers are noise", evidence)]


def _answered(record: dict) -> bool:
    return not record.get("error") and record.get("verdict") in ("yes", "potential", "no")


def _label_positive(record: dict) -> bool | None:
    for key in ("label_positive",):
        if isinstance(record.get(key), bool):
            return record[key]
    label = record.get("label")
    if isinstance(label, bool):
        return label
    if isinstance(label, str) and label.strip():
        try:
            return parse_label(label)[0]
        except ValueError:
            return None
    return None


def _brief(record: dict) -> str:
    return f"verdict={record.get('verdict')!r} error={str(record.get('error'))[:200]!r}"


def _int(value) -> int | None:
    try:
        return int(value) if value is not None else None
    except (TypeError, ValueError):
        return None


def _sorted(findings: list[OutputFinding]) -> list[OutputFinding]:
    return sorted(findings, key=lambda f: -f.priority)
