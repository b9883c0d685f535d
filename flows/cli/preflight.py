"""`ghostwatch preflight URI`: run preflight from a shell, without Prefect; exit 1 when something blocks, 2 on bad input."""
from __future__ import annotations

import argparse
import logging

from flows.cli.common import EXIT_FAILURE_FOUND, EXIT_OK, bad_input, whole_number
from flows.cli.workspace import add_workspace_arguments, workspace_settings

NAME = "preflight"
HELP = "check that the job can read the videos and that they are fit to run (no GPU, no Prefect server)"
DESCRIPTION = ("Reach the data as the job will (switching to managed identity if the account refuses keys), "
               "build a manifest (listing, decord probes, labels) and run the data-quality suite. "
               "Exit status: 0 passed, 1 something blocks submission, 2 bad arguments.")


def add_arguments(parser: argparse.ArgumentParser) -> None:
    """The subcommand's arguments."""
    parser.add_argument("uri", help="local folder, azureml://datastores/<name>/paths/<prefix>, "
                        "https://<account>.blob.core.windows.net/<container>/<prefix>, abfss:// or wasbs://")
    parser.add_argument("--labels", dest="labels_path", help="ground-truth label file (the users' TSV or CSV)")
    parser.add_argument("--expected-count", type=whole_number(1, none_means="skip the count check"), default=100,
                        help="how many videos there should be (default 100; 'none' skips the check)")
    parser.add_argument("--fail-on-warnings", action="store_true", help="treat warnings as blocking")
    parser.add_argument("--probe-sample", type=whole_number(0), default=None,
                        help="how many videos to decode (default: all in a local folder, 10 from blob storage)")
    parser.add_argument("--concurrency", type=whole_number(1), default=4, help="probes at a time (default 4)")
    add_workspace_arguments(parser, "for azureml:// URIs")
    parser.add_argument("--json", action="store_true", help="print the whole result (manifest included) as JSON")


def main(args: argparse.Namespace) -> int:
    """Run preflight for parsed arguments and print the result.

    Returns:
        0 when it passed, 1 when a finding blocks submission, 2 when the arguments cannot be used.
    """
    from tasks.preflight import PreflightOptions, run_preflight

    logging.basicConfig(level=logging.WARNING, format="%(levelname)s %(name)s: %(message)s")
    try:
        workspace = _workspace(args)
        result = run_preflight(PreflightOptions(
            uri=args.uri,
            labels_path=args.labels_path,
            expected_count=args.expected_count,
            fail_on_warnings=args.fail_on_warnings,
            probe_sample=args.probe_sample,
            concurrency=max(1, args.concurrency),
            workspace=workspace,
        ))
    except ValueError as exc:
        return bad_input(NAME, str(exc))
    print(result.to_json() if args.json else result.to_markdown())
    return EXIT_OK if result.passed else EXIT_FAILURE_FOUND


def _workspace(args: argparse.Namespace):
    """The Azure ML datastore resolver, for azureml:// URIs only."""
    if not args.uri.strip().lower().startswith("azureml://"):
        return None
    from flows.run_context import datastore_resolver

    settings = workspace_settings(args, f"{args.uri} is an Azure ML datastore path (or give its https:// blob URL); it")
    return datastore_resolver(settings)
