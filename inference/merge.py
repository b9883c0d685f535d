"""Merge the shards' outputs of a multi-node run into predictions.jsonl, predictions.csv, summary.json and charts.

    python -m inference.merge OUTPUT_FOLDER

Run it once every node has finished (e.g. as a last step of the orchestrator, or by hand after downloading the
outputs). It reads predictions.shard-II-of-NN.jsonl and summary.shard-II-of-NN.json, refuses a mix of shard counts,
names shards that are missing, and writes the merged files beside them. The shard files are left untouched, so merging
again after a missing shard finishes is safe.
"""
from __future__ import annotations

import argparse
import json
import re
import sys
from pathlib import Path

from .outputs import CSV_FILE, PREDICTIONS_FILE, SUMMARY_FILE, read_predictions, write_csv, write_json_atomic
from .summary import build_summary

_SHARD = re.compile(r"^predictions\.shard-(\d+)-of-(\d+)\.jsonl$")


def merge_shards(folder: str | Path) -> dict:
    """Merge shard files in a folder.

    Args:
        folder: the run's output folder.

    Returns:
        The merged summary (also written as summary.json); `missing_shards` lists shards without a predictions file.

    Raises:
        FileNotFoundError: no shard predictions file in the folder.
        ValueError: shard files of different shard counts are mixed in the folder.
    """
    root = Path(folder)
    shards = {}
    for path in sorted(root.glob("predictions.shard-*-of-*.jsonl")):
        found = _SHARD.match(path.name)
        if found:
            shards[path] = (int(found.group(1)), int(found.group(2)))
    if not shards:
        raise FileNotFoundError(f"no predictions.shard-*-of-*.jsonl in {root}; nothing to merge")
    counts = {count for _, count in shards.values()}
    if len(counts) > 1:
        raise ValueError(f"{root} mixes shard counts {sorted(counts)}; move the files of the older run aside")
    count = counts.pop()
    present = {index for index, _ in shards.values()}
    records: dict[str, dict] = {}
    for path in shards:
        for record in read_predictions(path):
            records[record["video"]] = record
    summaries = [json.loads(p.read_text()) for p in sorted(root.glob(f"summary.shard-*-of-{count:02d}.json"))]
    run = _merged_run(summaries, count)
    labels = next((s.get("labels") for s in summaries if s.get("labels") is not None), None)
    merged = sorted(records.values(), key=lambda r: r["video"])
    summary = build_summary(merged, run=run, labels=labels)
    summary["missing_shards"] = sorted(set(range(count)) - present)
    _write_lines(root / PREDICTIONS_FILE, merged)
    write_csv(merged, root / CSV_FILE)
    write_json_atomic(root / SUMMARY_FILE, summary)
    if summary["metrics"]:
        from .charts import write_charts

        write_charts(merged, summary["metrics"], root)
    return summary


def _merged_run(summaries: list[dict], count: int) -> dict:
    first = summaries[0] if summaries else {}
    keep = ("model", "model_family", "model_type", "num_frames", "batch_size", "max_new_tokens", "device", "dtype")
    run = {key: first.get(key) for key in keep}
    run.update(
        shard_index=None,
        num_shards=count,
        videos_total=sum(s.get("videos_total", 0) for s in summaries),
        started_at=min((s["started_at"] for s in summaries if s.get("started_at")), default=None),
        ended_at=max((s["ended_at"] for s in summaries if s.get("ended_at")), default=None),
        load_warnings=sorted({w for s in summaries for w in s.get("load_warnings") or []}),
        load_info=[s.get("load_info") for s in summaries],
        newly_initialized=sum(s.get("newly_initialized") or 0 for s in summaries),
        merged_from=len(summaries),
    )
    return run


def _write_lines(path: Path, records: list[dict]) -> None:
    temporary = path.with_suffix(".jsonl.tmp")
    temporary.write_text("".join(json.dumps(r, ensure_ascii=False) + "\n" for r in records), encoding="utf-8")
    temporary.replace(path)


def main(argv: list[str] | None = None) -> int:
    """CLI: merge the shard files of OUTPUT_FOLDER; exit 2 when there is nothing to merge."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("output_folder")
    args = parser.parse_args(argv)
    try:
        summary = merge_shards(args.output_folder)
    except (FileNotFoundError, ValueError) as error:
        print(f"ERROR: {error}")
        return 2
    missing = summary["missing_shards"]
    print(f"merged {summary['videos_recorded']} videos from {summary['num_shards']} shards into {args.output_folder}"
          + (f"; shards still missing: {missing}" if missing else ""))
    return 0


if __name__ == "__main__":
    sys.exit(main())
