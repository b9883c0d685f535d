"""`ghostwatch triage`: classify a job from its evidence folder, from the workspace, or a corpus of messages.

    ghostwatch triage --evidence DIR [--json] [--report-dir DIR]
    ghostwatch triage --job NAME [--subscription-id ID --resource-group RG --workspace-name WS] [--dest DIR] [--json]
    ghostwatch triage --classify-jsonl FILE [--output FILE] [--jobs N]

Exit status: 0 the job is healthy (category `none`) or every corpus line was classified; 1 triage found a failure;
2 bad input (missing folder, unreadable corpus lines, missing workspace settings).
"""
from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path
from typing import IO

from flows.cli.common import EXIT_BAD_INPUT, EXIT_FAILURE_FOUND, EXIT_OK as EXIT_HEALTHY, bad_input, whole_number
from flows.cli.workspace import add_workspace_arguments, workspace_settings

NAME = "triage"
HELP = "classify a failed (or suspicious) job and write its investigation report"
DESCRIPTION = ("Classify a job against the failure catalogue: its structured error, its logs, its outputs. "
               "Exit status: 0 healthy, 1 failure found, 2 bad input.")


class TriageCliError(Exception):
    """Bad input to the triage command; the message says what was wrong and what to do."""


def add_arguments(parser: argparse.ArgumentParser) -> None:
    """The subcommand's arguments."""
    source = parser.add_mutually_exclusive_group(required=True)
    source.add_argument("--evidence", type=Path, metavar="DIR",
                        help="an evidence folder (what `az ml job download --all` writes, or a ghostwatch run's)")
    source.add_argument("--job", metavar="NAME", help="an Azure ML job name: download its evidence, then triage it")
    source.add_argument("--classify-jsonl", type=Path, metavar="FILE",
                        help="JSON lines with `id` and `message`; writes one JSON line per input with id, category, "
                        "retryable, action, rule_id, confidence, runner_up, summary")
    parser.add_argument("--json", action="store_true", help="print the verdict as JSON instead of the markdown report")
    parser.add_argument("--report-dir", type=Path, metavar="DIR",
                        help="also write investigation_report.md and verdict.json here (default with --job: --dest)")
    parser.add_argument("--expected-videos", type=whole_number(1), metavar="N",
                        help="how many videos the job was given (checks that each has a prediction)")
    parser.add_argument("--labels-both-classes", action=argparse.BooleanOptionalAction, default=None,
                        help="whether the labelled set holds both classes (default: read from the predictions)")
    parser.add_argument("--output", type=Path, metavar="FILE", help="--classify-jsonl: write here instead of stdout")
    parser.add_argument("--jobs", type=whole_number(1), metavar="N",
                        help="--classify-jsonl: processes to classify with (default: the CPUs available; inputs "
                        "under a few thousand lines stay in one process); the output is the same whatever N")
    add_workspace_arguments(parser, "with --job")
    parser.add_argument("--dest", type=Path, metavar="DIR",
                        help="--job: where to download the job's evidence (default ./ghostwatch-evidence/<job>)")


def main(args: argparse.Namespace) -> int:
    """Run the triage subcommand.

    Args:
        args: the parsed arguments of `add_arguments`.

    Returns:
        The exit status (0 healthy / all classified, 1 failure found, 2 bad input).
    """
    try:
        if args.classify_jsonl is not None:
            return _classify_corpus(args.classify_jsonl, args.output, args.jobs)
        if args.job:
            evidence = _collect_job_evidence(args)
            report_dir = args.report_dir or evidence
        else:
            evidence = args.evidence
            report_dir = args.report_dir
        return _triage_folder(evidence, args, report_dir)
    except TriageCliError as exc:
        return bad_input(NAME, str(exc))


def _triage_folder(evidence: Path, args: argparse.Namespace, report_dir: Path | None) -> int:
    from tasks.triage import TriageContext, render_report, triage_evidence, write_report

    context = TriageContext(expected_videos=args.expected_videos, labels_have_both_classes=args.labels_both_classes)
    try:
        verdict = triage_evidence(evidence, context)
    except (FileNotFoundError, NotADirectoryError) as exc:
        raise TriageCliError(str(exc)) from None
    job = _read_job(evidence)
    if report_dir is not None:
        try:
            paths = write_report(verdict, report_dir, job=job)
        except OSError as exc:
            raise TriageCliError(f"cannot write the report into {report_dir}: {exc}") from None
        print(f"wrote {paths.markdown} and {paths.verdict_json}", file=sys.stderr)
    if args.json:
        print(json.dumps(verdict.to_dict(), indent=2, default=str))
    else:
        print(render_report(verdict, job), end="")
    return EXIT_HEALTHY if verdict.category == "none" else EXIT_FAILURE_FOUND


def _classify_corpus(path: Path, output: Path | None, jobs: int | None = None) -> int:
    """Stream JSON lines through the catalogue, one output line per usable input line, with `jobs` processes."""
    from tasks.triage.batch import classify_lines, default_jobs

    if not path.is_file():
        raise TriageCliError(f"{path} is not a file; pass a JSON-lines file with `id` and `message` on each line")
    bad = 0
    with _open_output(output) as out, path.open("r", encoding="utf-8", errors="replace") as handle:
        for number, row, problem in classify_lines(handle, jobs or default_jobs()):
            if problem:
                bad += 1
                print(f"ghostwatch triage: {path}:{number}: {problem}; line skipped", file=sys.stderr)
                continue
            out.write(row)
    if bad:
        print(f"ghostwatch triage: {bad} line(s) of {path} could not be used (see above); the others were classified",
              file=sys.stderr)
        return EXIT_BAD_INPUT
    return EXIT_HEALTHY


class _open_output:
    """stdout, or a file opened for writing (created with its folder)."""

    def __init__(self, path: Path | None):
        self.path = path
        self.handle: IO[str] | None = None

    def __enter__(self) -> IO[str]:
        if self.path is None:
            return sys.stdout
        try:
            self.path.parent.mkdir(parents=True, exist_ok=True)
            self.handle = self.path.open("w", encoding="utf-8")
        except OSError as exc:
            raise TriageCliError(f"cannot write {self.path}: {exc}") from None
        return self.handle

    def __exit__(self, *exc) -> None:
        if self.handle is not None:
            self.handle.close()


def _collect_job_evidence(args: argparse.Namespace) -> Path:
    """Download a workspace job's evidence with the Azure ML backend (imported only here: it pulls the Azure SDK)."""
    try:
        settings = workspace_settings(args, "--job")
    except ValueError as exc:
        raise TriageCliError(str(exc)) from None
    workspace = settings.workspace_name
    try:
        from tasks.backends.azureml import AzureMLBackend
        from tasks.backends.base import JobHandle
    except ImportError as exc:
        raise TriageCliError(f"--job needs the Azure ML backend (tasks/backends/azureml.py and azure-ai-ml), which "
                             f"could not be imported: {exc}. Download the evidence with `az ml job download --name "
                             f"{args.job} --all --download-path DIR` and run `ghostwatch triage --evidence DIR`.") from None
    dest = args.dest or Path("ghostwatch-evidence") / args.job
    try:
        backend = AzureMLBackend.from_settings(settings)
        return Path(backend.collect_evidence(JobHandle(backend=backend.name, name=args.job), dest))
    except Exception as exc:  # noqa: BLE001 - any SDK/auth failure becomes one clear line, not a traceback
        raise TriageCliError(f"could not download the evidence of job {args.job!r} from workspace {workspace!r}: "
                             f"{type(exc).__name__}: {exc}") from None


def _read_job(evidence: Path) -> dict | None:
    try:
        data = json.loads((Path(evidence) / "job.json").read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None
    return data if isinstance(data, dict) else None
