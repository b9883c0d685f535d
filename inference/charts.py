"""Charts written beside summary.json when labels are given: a confusion matrix and per-video verdicts over time."""
from __future__ import annotations

from pathlib import Path
from typing import Any, Iterable

CONFUSION_PNG = "confusion_matrix.png"
TIMELINE_PNG = "verdicts_timeline.png"
_VERDICT_COLOURS = {"yes": "#d62728", "potential": "#ff7f0e", "no": "#2ca02c", "unparsed": "#7f7f7f"}


def write_charts(records: Iterable[dict[str, Any]], metrics: dict[str, Any], folder: str | Path) -> list[Path]:
    """Write the confusion-matrix and timeline PNGs.

    Args:
        records: prediction lines.
        metrics: summary["metrics"] (from metrics.evaluate plus counts).
        folder: where summary.json is.

    Returns:
        The PNG paths written.
    """
    import matplotlib

    matplotlib.use("Agg")  # the job runs headless
    records = sorted(records, key=lambda r: r["video"])
    out = Path(folder)
    return [_confusion(metrics, out / CONFUSION_PNG), _timeline(records, out / TIMELINE_PNG)]


def _fmt(value: float | None) -> str:
    return "n/a" if value is None else f"{value:.3f}"


def _confusion(metrics: dict[str, Any], path: Path) -> Path:
    import matplotlib.pyplot as plt

    c = metrics["confusion"]
    grid = [[c["tp"], c["fn"]], [c["fp"], c["tn"]]]
    figure, axis = plt.subplots(figsize=(6, 5))
    axis.imshow(grid, cmap="Blues")
    names = [["true positive", "missed (FN)"], ["false alarm (FP)", "true negative"]]
    peak = max(max(row) for row in grid) or 1
    for i in range(2):
        for j in range(2):
            colour = "white" if grid[i][j] > peak / 2 else "black"
            axis.text(j, i, f"{grid[i][j]}\n{names[i][j]}", ha="center", va="center", color=colour, fontsize=11)
    axis.set_xticks([0, 1], ["predicted: yes/potential", "predicted: no/unparsed"])
    axis.set_yticks([0, 1], ["label: ghost\nprobing", "label: none\nor cut-in"])
    baseline = metrics["baseline_always_positive"]
    axis.set_title(
        f"{metrics['n']} labelled videos — F1 {_fmt(metrics['f1'])}, MCC {_fmt(metrics['mcc'])}\n"
        f"always 'yes' baseline: F1 {_fmt(baseline['f1'])}",
        fontsize=10,
    )
    figure.tight_layout()
    figure.savefig(path, dpi=110)
    plt.close(figure)
    return path


def _timeline(records: list[dict], path: Path) -> Path:
    import matplotlib.pyplot as plt
    from matplotlib.lines import Line2D

    height = max(2.5, 0.28 * len(records) + 1.2)
    figure, axis = plt.subplots(figsize=(10, height))
    for row, record in enumerate(records):
        duration = record.get("duration")
        if duration:
            axis.plot([0, duration], [row, row], color="#dddddd", linewidth=6, solid_capstyle="butt", zorder=1)
        if record.get("label_start_second") is not None:
            axis.scatter(record["label_start_second"], row, marker="|", s=260, color="black", zorder=3)
        if record.get("error"):
            axis.scatter(0, row, marker="x", color="black", zorder=3)
            continue
        verdict = record.get("verdict") or "unparsed"
        where = record.get("start_second")
        axis.scatter(where if where is not None else 0, row, s=55, color=_VERDICT_COLOURS.get(verdict, "#7f7f7f"),
                     marker="o" if where is not None else "s", zorder=4)
    axis.set_yticks(range(len(records)), [_row_name(r) for r in records], fontsize=8)
    axis.invert_yaxis()
    axis.set_xlabel("seconds into the video")
    axis.set_title("Verdict per video (dot: predicted start; square: no start given) vs labelled start (|)", fontsize=9)
    handles = [Line2D([], [], marker="o", linestyle="", color=colour, label=verdict)
               for verdict, colour in _VERDICT_COLOURS.items()]
    handles += [Line2D([], [], marker="|", linestyle="", color="black", markersize=12, label="labelled start"),
                Line2D([], [], marker="x", linestyle="", color="black", label="failed")]
    axis.legend(handles=handles, loc="center left", bbox_to_anchor=(1.01, 0.5), fontsize=8, frameon=False)
    figure.tight_layout()
    figure.savefig(path, dpi=110)
    plt.close(figure)
    return path


def _row_name(record: dict) -> str:
    label = record.get("label")
    mark = ""
    if record.get("label_positive") is not None and not record.get("error"):
        mark = " ✓" if bool(record.get("positive")) == record["label_positive"] else " ✗"
    return f"{record['video']} [{label if label is not None else 'no label'}]{mark}"
