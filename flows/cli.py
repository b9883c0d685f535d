"""The `ghostwatch` command: run the flow, make sample data, preflight a datastore, triage a job's evidence."""
from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path


def _add_sample_data(sub) -> None:
    p = sub.add_parser("sample-data", help="write synthetic dashcam clips and their labels (users' TSV format)")
    p.add_argument("folder", help="folder to write into (created if missing)")
    p.add_argument("--videos", type=int, default=8, help="how many clips (default 8)")
    p.add_argument("--seed", type=int, default=0, help="random seed: same seed, same clips (default 0)")
    p.add_argument("--width", type=int, default=160, help="frame width in pixels (even, >= 64; default 160)")
    p.add_argument("--height", type=int, default=96, help="frame height in pixels (even; default 96)")
    p.add_argument("--fps", type=int, default=10, help="frames per second (default 10)")
    p.add_argument("--seconds", type=float, default=6.0, help="clip length in seconds (default 6)")
    p.add_argument("--corrupt", type=int, default=0, help="how many clips to replace with undecodable bytes")
    p.set_defaults(handler=_run_sample_data)


def _run_sample_data(args) -> int:
    from tasks.sample_data import make_sample_dataset

    try:
        data = make_sample_dataset(
            args.folder, videos=args.videos, seed=args.seed, width=args.width, height=args.height,
            fps=args.fps, seconds=args.seconds, corrupt=args.corrupt,
        )
    except ValueError as exc:
        print(f"ghostwatch sample-data: {exc}", file=sys.stderr)
        return 2
    positives = sum("ghost probing" in label for label in data.labels.values())
    print(f"wrote {len(data.videos)} clips ({positives} ghost probing, {len(data.videos) - positives} none) "
          f"and {data.labels_path}")
    return 0


def _add_run(sub) -> None:
    p = sub.add_parser("run", help="run the ghost-probing flow once (ephemeral Prefect server unless PREFECT_API_URL is set)")
    p.add_argument("video_uri", nargs="?", help="videos: local folder, azureml://, https://, abfss:// or wasbs:// URI")
    p.add_argument("--params", help="parameters file (JSON or YAML) holding RunConfig fields; flags win over it")
    p.add_argument("--labels", dest="labels_path", help="ground-truth labels file")
    p.add_argument("--expected-count", type=int, help="how many videos the datastore should hold")
    p.add_argument("--backend", choices=["local", "azureml"], help="where the job runs (default local)")
    p.add_argument("--model", help="model: hub id or local folder")
    p.add_argument("--model-family", help="model family (llava-next-video, llava-onevision, llava-video-qwen2, qwen2.5-vl)")
    p.add_argument("--num-frames", type=int, help="frames sampled per video")
    p.add_argument("--batch-size", type=int, help="videos per generate() call")
    p.add_argument("--limit", type=int, help="process at most this many videos")
    p.add_argument("--run-dir", help="folder for run folders (default runs)")
    p.add_argument("--json", action="store_true", help="print the run summary as JSON")
    p.set_defaults(handler=_run_flow)


def _run_flow(args) -> int:
    from flows.params import ParameterError, load_run_config

    values = {k: getattr(args, k) for k in (
        "video_uri", "labels_path", "expected_count", "backend", "model", "model_family", "num_frames",
        "batch_size", "limit", "run_dir")}
    try:
        config = load_run_config(values, args.params)
    except ParameterError as exc:
        print(f"ghostwatch run: {exc}", file=sys.stderr)
        return 2
    from flows.run import run_and_describe

    summary, ok = run_and_describe(config)
    print(json.dumps(summary, indent=2, default=str) if args.json else summary["text"])
    return 0 if ok else 1


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="ghostwatch",
        description="Preflight, run, watch and triage LLaVA ghost-probing jobs (locally or on Azure ML).",
    )
    sub = parser.add_subparsers(dest="command", required=True)
    _add_run(sub)
    _add_sample_data(sub)
    from tasks.preflight_cli import add_preflight_parser, run_preflight_cli
    from tasks.triage_cli import add_triage_parser, run_triage

    add_preflight_parser(sub).set_defaults(handler=run_preflight_cli)
    add_triage_parser(sub).set_defaults(handler=run_triage)
    return parser


def main(argv: list[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    return args.handler(args)


if __name__ == "__main__":
    sys.exit(main())
