"""summary.json: counts, label distribution, timings, model facts and metrics against labels.

Pure Python (the orchestrator's output checks read summaries too). Metrics follow the users' rule: "potential" is
positive; an answer that could not be read ("unparsed") detected nothing and counts as negative (reported as
`unparsed_counted_negative`); videos that failed are left out of the metrics (reported as `failed_excluded`).
"""
from __future__ import annotations

from collections import Counter
from typing import Any, Iterable

from .metrics import evaluate
from .verdicts import UNPARSED, VERDICTS


def build_summary(records: Iterable[dict[str, Any]], *, run: dict[str, Any], labels: dict[str, Any] | None) -> dict:
    """Summarise prediction records.

    Args:
        records: prediction lines (see outputs.py for the format).
        run: run facts copied into the summary (model, model_family, num_frames, shard_index, num_shards,
            videos_total, started_at, ended_at, load_warnings, load_info, ...).
        labels: label facts (path, problems, duplicates, unlabelled, labels_without_video), or None without labels.

    Returns:
        The summary dict (see the module docstring for the metric rules).
    """
    records = sorted(records, key=lambda r: r["video"])
    failed = [r for r in records if r.get("error")]
    done = [r for r in records if not r.get("error")]
    counts = Counter(r.get("verdict") for r in done)
    positives = sum(1 for r in done if r.get("positive"))
    summary: dict[str, Any] = {
        **run,
        "videos_recorded": len(records),
        "videos_done": len(done),
        "videos_failed": len(failed),
        "failures": [{"video": r["video"], "error": r["error"]} for r in failed],
        "verdict_counts": {verdict: counts.get(verdict, 0) for verdict in (*VERDICTS, UNPARSED)},
        "positive_rate": positives / len(done) if done else None,
        "label_distribution": _label_distribution(records),
        "timings": _timings(done),
        "labels": labels,
        "metrics": _metrics(records) if labels is not None else None,
    }
    return summary


def _label_distribution(records: list[dict]) -> dict[str, int]:
    values = [r.get("label_positive") for r in records]
    return {
        "positive": sum(1 for v in values if v is True),
        "negative": sum(1 for v in values if v is False),
        "unlabelled": sum(1 for v in values if v is None),
    }


def _timings(done: list[dict]) -> dict[str, Any]:
    if not done:
        return {"videos": 0}
    total = sum(r.get("seconds") or 0.0 for r in done)
    stages = {
        stage: sum((r.get("timings") or {}).get(stage, 0.0) for r in done) / len(done)
        for stage in ("decode", "preprocess", "generate")
    }
    frames = sum(r.get("frames") or 0 for r in done)
    return {
        "videos": len(done),
        "total_seconds": total,
        "mean_seconds_per_video": total / len(done),
        "mean_stage_seconds": stages,
        "frames_per_second": frames / total if total else None,
    }


def _metrics(records: list[dict]) -> dict[str, Any]:
    labelled = [r for r in records if r.get("label_positive") is not None]
    scored = [r for r in labelled if not r.get("error")]
    pairs = [(bool(r.get("positive")), bool(r["label_positive"])) for r in scored]
    result = evaluate(pairs)
    result["unparsed_counted_negative"] = sum(1 for r in scored if r.get("verdict") == UNPARSED)
    result["failed_excluded"] = len(labelled) - len(scored)
    result["rule"] = "yes/potential = positive; unparsed = negative; failed videos excluded"
    return result
