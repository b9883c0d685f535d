"""`ghostwatch sample-data FOLDER`: synthetic dashcam clips and their labels, in the users' label format."""
from __future__ import annotations

import argparse

from flows.cli.common import EXIT_OK, bad_input, whole_number

NAME = "sample-data"
HELP = "write synthetic dashcam clips and their labels (users' TSV format)"
DESCRIPTION = "Write synthetic dashcam clips (some with a pedestrian stepping out from behind a parked car) and labels."


def add_arguments(parser: argparse.ArgumentParser) -> None:
    """The subcommand's arguments."""
    parser.add_argument("folder", help="folder to write into (created if missing)")
    parser.add_argument("--videos", type=whole_number(1), default=8, help="how many clips (default 8)")
    parser.add_argument("--seed", type=int, default=0, help="random seed: same seed, same clips (default 0)")
    parser.add_argument("--width", type=whole_number(64), default=160, help="frame width in pixels (even, >= 64; default 160)")
    parser.add_argument("--height", type=whole_number(16), default=96, help="frame height in pixels (even; default 96)")
    parser.add_argument("--fps", type=whole_number(1), default=10, help="frames per second (default 10)")
    parser.add_argument("--seconds", type=float, default=6.0, help="clip length in seconds (default 6)")
    parser.add_argument("--corrupt", type=whole_number(0), default=0, help="how many clips to replace with undecodable bytes")


def main(args: argparse.Namespace) -> int:
    """Write the clips; 0 on success, 2 on bad input."""
    from flows.sample_data import make_sample_dataset

    try:
        data = make_sample_dataset(
            args.folder, videos=args.videos, seed=args.seed, width=args.width, height=args.height,
            fps=args.fps, seconds=args.seconds, corrupt=args.corrupt,
        )
    except ValueError as exc:
        return bad_input(NAME, str(exc))
    positives = sum("ghost probing" in label for label in data.labels.values())
    print(f"wrote {len(data.videos)} clips ({positives} ghost probing, {len(data.videos) - positives} none) "
          f"and {data.labels_path}")
    return EXIT_OK
