"""The `ghostwatch` command: one module per subcommand (run, sample-data, preflight, triage), registered here."""
from __future__ import annotations

import argparse
import os
import sys

from flows.cli import common, preflight, run, sample_data, triage

SUBCOMMANDS = (run, sample_data, preflight, triage)


def build_parser() -> argparse.ArgumentParser:
    """The whole command line: every module of SUBCOMMANDS as a subcommand."""
    parser = argparse.ArgumentParser(
        prog="ghostwatch",
        description="Preflight, run, watch and triage LLaVA ghost-probing jobs (locally or on Azure ML).",
    )
    sub = parser.add_subparsers(dest="command", required=True)
    for module in SUBCOMMANDS:
        common.register(sub, module)
    return parser


EXIT_OUTPUT_CLOSED = 141  # what a shell reports for a command stopped by SIGPIPE


def main(argv: list[str] | None = None) -> int:
    """Entry point of the `ghostwatch` script; returns the exit status."""
    args = build_parser().parse_args(argv)
    try:
        return args.handler(args)
    except BrokenPipeError:
        # The reader went away (`ghostwatch triage --classify-jsonl big.jsonl | head`): stop quietly, as Unix tools do.
        # Python would flush stdout again at exit and fail once more; point it at /dev/null first.
        devnull = os.open(os.devnull, os.O_WRONLY)
        os.dup2(devnull, sys.stdout.fileno())
        return EXIT_OUTPUT_CLOSED


if __name__ == "__main__":
    sys.exit(main())
