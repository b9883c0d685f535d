"""`ghostwatch run`: run the ghost-probing flow once and say how it ended."""
from __future__ import annotations

import argparse
import json

from flows.cli.common import EXIT_FAILURE_FOUND, EXIT_OK, bad_input, whole_number

NAME = "run"
HELP = "run the ghost-probing flow once (ephemeral Prefect server unless PREFECT_API_URL is set)"
DESCRIPTION = ("Run the ghost-probing flow once: preflight, submit, watch, triage, report, alert. "
               "Exit status: 0 the run completed healthy, 1 it failed (see the report), 2 bad parameters.")
# Flags that map one-to-one onto RunConfig fields (dest = field name).
_FIELDS = ("video_uri", "labels_path", "expected_count", "backend", "model", "model_family", "num_frames",
           "batch_size", "limit", "run_dir")


def add_arguments(parser: argparse.ArgumentParser) -> None:
    """The subcommand's arguments."""
    parser.add_argument("video_uri", nargs="?", help="videos: local folder, azureml://, https://, abfss:// or wasbs:// URI")
    parser.add_argument("--params", help="parameters file (JSON or YAML) holding RunConfig fields; flags win over it")
    parser.add_argument("--labels", dest="labels_path", help="ground-truth labels file")
    parser.add_argument("--expected-count", type=whole_number(1), help="how many videos the datastore should hold")
    parser.add_argument("--backend", choices=["local", "azureml"], help="where the job runs (default local)")
    parser.add_argument("--model", help="model: hub id or local folder")
    parser.add_argument("--model-family", help="model family (llava-next-video, llava-onevision, llava-video-qwen2, qwen2.5-vl)")
    parser.add_argument("--num-frames", type=whole_number(1), help="frames sampled per video")
    parser.add_argument("--batch-size", type=whole_number(1), help="videos per generate() call")
    parser.add_argument("--limit", type=whole_number(1), help="process at most this many videos")
    parser.add_argument("--run-dir", help="folder for run folders (default runs)")
    parser.add_argument("--json", action="store_true", help="print the run summary as JSON")


def main(args: argparse.Namespace) -> int:
    """Validate the parameters, run the flow, print its summary."""
    from flows.params import ParameterError, load_run_config

    try:
        config = load_run_config({field: getattr(args, field) for field in _FIELDS}, args.params)
    except ParameterError as exc:
        return bad_input(NAME, str(exc))
    from flows.run import run_and_describe

    summary, ok = run_and_describe(config)
    print(json.dumps(summary, indent=2, default=str) if args.json else summary["text"])
    return EXIT_OK if ok else EXIT_FAILURE_FOUND
