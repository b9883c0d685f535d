"""Run the flow once from Python or the CLI and describe the outcome for a person."""
from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from tasks.config import RunConfig


def run_and_describe(config: RunConfig) -> tuple[dict[str, Any], bool]:
    """Run `ghost-probing` to its end; return (a summary dict with a human `text`, whether the run succeeded)."""
    from flows.ghost_probing import RunFailed, RunSummary, flow_for

    state = flow_for(config)(config, return_state=True)
    try:
        result = state.result(raise_on_failure=False)
    except Exception as exc:  # a crashed run has no result to read back
        result = exc
    summary: dict[str, Any] = {"state": state.name, "message": state.message}
    if isinstance(result, RunFailed):
        result = result.summary
    if isinstance(result, RunSummary):
        summary.update(vars(result))
    elif isinstance(result, BaseException):
        summary["error"] = f"{type(result).__name__}: {result}"
    summary["text"] = describe(summary)
    return summary, state.is_completed()


def describe(summary: dict[str, Any]) -> str:
    """A few lines: the final state, the verdict, and where the report, predictions and summary are."""
    lines = [f"flow run final state: {summary['state']}"]
    if summary.get("category"):
        lines.append(f"verdict: {summary['category']}: {summary.get('summary', '')}")
    elif summary.get("error") or summary.get("message"):
        lines.append(f"error: {summary.get('error') or summary.get('message')}")
    for attempt in summary.get("attempts") or []:
        note = f" ({attempt['note']})" if attempt.get("note") else ""
        lines.append(f"  attempt {attempt['attempt']}: job {attempt['job_name']} {attempt['state']} → {attempt['category']}{note}")
    if summary.get("alert"):
        lines.append(f"alert: {summary['alert']}")
    for label, key in (("report", "report"), ("verdict", "verdict_json"), ("predictions", "predictions"), ("summary", "results_summary")):
        if summary.get(key):
            lines.append(f"{label:>12}: {summary[key]}")
    predictions = summary.get("predictions")
    if predictions and Path(predictions).exists():
        lines.append("predictions per clip:")
        for line in Path(predictions).read_text().splitlines():
            try:
                row = json.loads(line)
            except json.JSONDecodeError:
                continue
            outcome = f"error: {row['error']}" if row.get("error") else f"verdict={row.get('verdict')}"
            if row.get("start_second") is not None:
                outcome += f" from {row['start_second']}s"
            label = f"  (label: {row['label']})" if row.get("label") else ""
            lines.append(f"  {row.get('video')}: {outcome}{label}")
    metrics = _metrics(summary.get("results_summary"))
    if metrics:
        base = metrics.get("baseline_always_positive") or {}
        lines.append(
            f"metrics on {metrics.get('n')} labelled videos: F1 {_num(metrics.get('f1'))} (always-yes baseline "
            f"{_num(base.get('f1'))}), precision {_num(metrics.get('precision'))}, recall {_num(metrics.get('recall'))}, "
            f"MCC {_num(metrics.get('mcc'))}"
        )
    return "\n".join(lines)


def _num(value) -> str:
    """A metric for people: 3 decimals, or n/a where it is undefined (no positives predicted, say)."""
    return f"{value:.3f}" if isinstance(value, (int, float)) else "n/a"


def _metrics(summary_path: str | None) -> dict | None:
    if not summary_path or not Path(summary_path).exists():
        return None
    try:
        metrics = json.loads(Path(summary_path).read_text()).get("metrics")
    except (OSError, ValueError):
        return None
    return metrics if isinstance(metrics, dict) and "f1" in metrics else None
