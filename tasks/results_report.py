"""The results report of a healthy run: metrics beside the always-yes baseline, the confusion matrix, every video's
verdict with the model's reason and whether it was right, where the files are, and links. No error sections: nothing
failed. (A failed run gets the investigation report, tasks/triage/report.py.)
"""
from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from tasks.redact import redact

REPORT_NAME = "results_report.md"
_METRICS = (("f1", "F1"), ("precision", "Precision"), ("recall", "Recall"), ("accuracy", "Accuracy"),
            ("balanced_accuracy", "Balanced accuracy"), ("mcc", "MCC"))
MAX_ROWS = 500  # per-video rows in the report; predictions.csv holds them all


def _num(value: Any) -> str:
    return f"{value:.3f}" if isinstance(value, (int, float)) else "n/a"


def _cell(value: Any) -> str:
    text = "" if value is None else str(value)
    return text.replace("|", "\\|").replace("\n", " ").strip()[:200]


def correctness(record: dict) -> str:
    """'correct', 'incorrect', or '' when the video has no usable label or no answer."""
    predicted, actual = record.get("positive"), record.get("label_positive")
    if record.get("error") or predicted is None or actual is None:
        return ""
    return "correct" if bool(predicted) == bool(actual) else "incorrect"


def read_records(predictions: Path) -> list[dict]:
    records = []
    if predictions.exists():
        for line in predictions.read_text(errors="replace").splitlines():
            try:
                record = json.loads(line)
            except ValueError:
                continue
            if isinstance(record, dict):
                records.append(record)
    return records


def render_results_report(outputs_dir: Path, title: str, summary_line: str, files: dict[str, str],
                          links: dict[str, str], job_info: dict[str, str] | None = None) -> str:
    """The results report as markdown.

    Args:
        outputs_dir: the job's outputs (predictions.jsonl, summary.json).
        title: the job's name.
        summary_line: triage's one-line verdict for the run.
        files: label -> path (report, predictions, summary, run folder).
        links: label -> URL (Prefect flow run, Azure ML Studio).
        job_info: the job's facts (backend, duration, ...).
    """
    records = read_records(Path(outputs_dir) / "predictions.jsonl")
    summary_path = Path(outputs_dir) / "summary.json"
    summary = json.loads(summary_path.read_text()) if summary_path.exists() else {}
    metrics = summary.get("metrics") if isinstance(summary.get("metrics"), dict) else None
    failed = sum(1 for r in records if r.get("error"))
    lines = [f"# Results: {title}", "", f"**Healthy run** — {summary_line}", "",
             f"{len(records)} videos predicted ({failed} could not be read); "
             f"{sum(1 for r in records if r.get('positive'))} ghost probing.", ""]
    if links:
        lines += ["**Links:** " + " · ".join(f"[{label}]({url})" for label, url in links.items()), ""]
    lines += ["## Metrics", ""]
    if metrics:
        base = metrics.get("baseline_always_positive") or {}
        lines += [f"On {metrics.get('n')} labelled videos ({metrics.get('positives')} positive, "
                  f"{metrics.get('negatives')} negative).", "",
                  "| Metric | Model | Always-yes baseline |", "| --- | ---: | ---: |"]
        lines += [f"| {label} | {_num(metrics.get(key))} | {_num(base.get(key))} |" for key, label in _METRICS]
        matrix = metrics.get("confusion") or {}
        lines += ["", "### Confusion matrix", "", "| | Predicted yes | Predicted no |", "| --- | ---: | ---: |",
                  f"| **Labelled yes** | {matrix.get('tp', 0)} | {matrix.get('fn', 0)} |",
                  f"| **Labelled no** | {matrix.get('fp', 0)} | {matrix.get('tn', 0)} |"]
    else:
        lines.append("No labels were given (or none matched the videos): no metrics. Set `labels_path` to compare.")
    lines += ["", "## Per-video verdicts", "",
              "| Video | Verdict | Starts at (s) | Reason | Label | Correct |", "| --- | --- | ---: | --- | --- | --- |"]
    for record in records[:MAX_ROWS]:
        verdict = f"error: {record['error']}" if record.get("error") else record.get("verdict")
        mark = {"correct": "✅ correct", "incorrect": "❌ incorrect"}.get(correctness(record), "—")
        lines.append(f"| {_cell(record.get('video'))} | {_cell(verdict)} | {_cell(record.get('start_second'))} | "
                     f"{_cell(record.get('reason'))} | {_cell(record.get('label'))} | {mark} |")
    if len(records) > MAX_ROWS:
        lines.append(f"\n{len(records) - MAX_ROWS} more in predictions.csv.")
    if job_info:
        lines += ["", "## Job", ""] + [f"- **{k}**: {v}" for k, v in job_info.items()]
    lines += ["", "## Files", ""] + [f"- **{label}**: `{path}`" for label, path in files.items()]
    return redact("\n".join(lines).rstrip() + "\n")


def table_rows(outputs_dir: Path, limit: int = MAX_ROWS) -> list[dict]:
    """The results table artifact's rows: verdict, reason, label and whether the verdict was right."""
    rows = []
    for record in read_records(Path(outputs_dir) / "predictions.jsonl")[:limit]:
        rows.append({"video": record.get("video"), "verdict": record.get("verdict"),
                     "start_second": record.get("start_second"), "actor": record.get("actor"),
                     "reason": record.get("reason"), "label": record.get("label"),
                     "correct": correctness(record) or None, "error": record.get("error")})
    return rows
