"""Preflight: reach the data as the job will, check its quality, and say whether the GPU job may be submitted.

Stages: resolve the URI -> list through the credential chain (switching to managed identity when keys are refused)
-> manifest (listing + decord probes + labels) -> the Great Expectations suite (expectations.yaml) -> PreflightResult.
Blocking findings stop the flow before submission; warnings are reported and the job goes on (unless
fail_on_warnings). Nothing here needs Prefect; tasks/preflight_task.py wraps it for the flow.
"""
from __future__ import annotations

import json
import time
from dataclasses import asdict, dataclass, field
from typing import Any

from inference.labels import LabelTable, match_labels, read_labels
from inference.videos import HIDDEN, IN_SUB_FOLDER
from tasks.clock import Clock
from tasks.datastore import AccessReport, StorageError, open_and_list, resolve_location
from tasks.datastore.access import AccessOutcome
from tasks.redact import redact
from tasks.datastore.uri import DatastoreResolver
from tasks.preflight.expectations import ExpectationOutcome, load_suite, run_suite
from tasks.preflight.manifest import (
    DEFAULT_BLOB_SAMPLE, build_manifest, choose_sample, probe_names, split_listing, videos_not_read,
)

__all__ = ["AccessReport", "Finding", "PreflightOptions", "PreflightResult", "run_preflight"]


@dataclass
class PreflightOptions:
    """What to check and how.

    Attributes:
        uri: a local folder, azureml://datastores/<name>/paths/<prefix>, an https:// blob URL, abfss:// or wasbs://.
        labels_path: the users' label file (TSV or CSV); enables the label checks.
        expected_count: how many videos there should be; None skips the count check.
        fail_on_warnings: treat warnings as blocking.
        probe_sample: how many videos to decode; None: all for local folders, DEFAULT_BLOB_SAMPLE for blob.
        concurrency: probes (downloads and decodes) at a time.
        workspace: resolves azureml:// datastore names (tasks.datastore.DatastoreResolver).
        credential: the azure TokenCredential to switch to; default: managed identity / DefaultAzureCredential.
        clock: where retry backoff sleeps (tests pass a FakeClock).
    """

    uri: str
    labels_path: str | None = None
    expected_count: int | None = 100
    fail_on_warnings: bool = False
    probe_sample: int | None = None
    concurrency: int = 4
    workspace: DatastoreResolver | None = None
    credential: Any = None
    clock: Clock | None = None


@dataclass
class Finding:
    """One problem: which check, its taxonomy category, a message that says the fix, and the values at fault."""

    id: str
    category: str
    message: str
    offending: list = field(default_factory=list)
    blocking: bool = True

    def to_dict(self) -> dict:
        return asdict(self)


@dataclass
class PreflightResult:
    """The verdict. `passed` is False when anything blocks (or any warning, with fail_on_warnings)."""

    passed: bool
    blocking: list[Finding]
    warnings: list[Finding]
    manifest: list[dict]
    access: AccessReport
    stats: dict

    def to_dict(self) -> dict:
        """Everything, JSON-serialisable; holds no secret."""
        return {
            "passed": self.passed,
            "blocking": [finding.to_dict() for finding in self.blocking],
            "warnings": [finding.to_dict() for finding in self.warnings],
            "manifest": self.manifest,
            "access": self.access.to_dict(),
            "stats": self.stats,
        }

    def table_rows(self) -> list[dict]:
        """One row per check (failed ones first), for a Prefect table artifact."""
        rows = []
        for finding in self.blocking + self.warnings:
            rows.append({
                "check": finding.id,
                "status": "blocking" if finding.blocking else "warning",
                "category": finding.category,
                "count": len(finding.offending),
                "offending": ", ".join(map(str, finding.offending[:20])) + (" ..." if len(finding.offending) > 20 else ""),
                "message": finding.message,
            })
        failed = {finding.id for finding in self.blocking + self.warnings}
        for check in self.stats.get("checks", []):
            if check["id"] not in failed:
                rows.append({"check": check["id"], "status": check["status"], "category": "", "count": 0,
                             "offending": "", "message": check.get("note", "")})
        return rows

    def to_markdown(self) -> str:
        """A report for people (Prefect markdown artifact, CLI output)."""
        access = self.access
        verdict = "PASSED" if self.passed else "FAILED: nothing was submitted"
        lines = [f"## Preflight {verdict}", "", f"Data: `{access.uri}` ({access.kind})", ""]
        auth = f"Read with: {access.auth}"
        if access.switched_to_identity:
            auth += f" (switched to managed identity because {access.switch_reason})"
        if not access.job_access_proven:
            auth += " (a credential the job will not have: not proof that the job, reading with its identity, can read)"
        lines.append(auth)
        if access.use_identity:
            lines.append(f"Job input: `{access.job_input}` with `identity: managed` (a credential-less path, because "
                         "credentials stored on a datastore win over the job's identity)")
        else:
            lines.append(f"Job input: `{access.job_input}`")
        if access.suggestions:
            lines.append("Nearest existing: " + ", ".join(f"`{s}`" for s in access.suggestions))
        for title, findings in (("Blocking", self.blocking), ("Warnings", self.warnings)):
            if not findings:
                continue
            lines += ["", f"### {title} ({len(findings)})", "", "| check | category | problem and fix | offending |",
                      "|---|---|---|---|"]
            for finding in findings:
                shown = ", ".join(map(str, finding.offending[:10])) + (f" (+{len(finding.offending) - 10})" if len(finding.offending) > 10 else "")
                lines.append(f"| {finding.id} | {finding.category} | {_cell(finding.message)} | {_cell(shown)} |")
        stats = self.stats
        lines += ["", "### Summary", ""]
        for key in ("files", "videos", "probed", "probe_method", "labelled", "unlabelled", "labels_without_video",
                    "label_problems", "listing_seconds", "probe_seconds", "checks_seconds", "total_seconds"):
            if key in stats:
                lines.append(f"- {key.replace('_', ' ')}: {stats[key]}")
        return "\n".join(lines) + "\n"

    def to_json(self) -> str:
        return json.dumps(self.to_dict(), indent=2, default=str)


def _cell(text: str) -> str:
    return str(text).replace("|", "\\|").replace("\n", " ")


def _validate(options: PreflightOptions) -> None:
    if options.expected_count is not None and options.expected_count < 1:
        raise ValueError(f"expected_count must be at least 1 or None (skip the count check); got {options.expected_count}")
    if options.concurrency < 1:
        raise ValueError(f"concurrency must be at least 1; got {options.concurrency}")
    if options.probe_sample is not None and options.probe_sample < 0:
        raise ValueError(f"probe_sample must be 0 or more, or None (all local videos / {DEFAULT_BLOB_SAMPLE} blobs); got {options.probe_sample}")


def run_preflight(options: PreflightOptions) -> PreflightResult:
    """Check that the job can read the data and that the data is fit to run.

    Args:
        options: see PreflightOptions.

    Returns:
        A PreflightResult; data and access problems are findings, never exceptions.

    Raises:
        ValueError: the URI cannot be parsed, an azureml:// URI has no workspace to resolve it, or an option is out
            of range (the message says which and what is accepted).
    """
    _validate(options)
    started = time.perf_counter()
    blocking: list[Finding] = []
    warnings: list[Finding] = []
    try:
        location = resolve_location(options.uri, options.workspace)
    except StorageError as error:  # the workspace has no such datastore
        finding = Finding(error.rule, error.category, f"{error.detail}. {error.fix}", [options.uri])
        report = AccessReport(uri=options.uri, kind="blob", auth="", job_input=options.uri)
        return _result([finding], [], [], report, {"total_seconds": _seconds(started)}, options)
    outcome = open_and_list(location, token_credential=options.credential, clock=options.clock)
    listing_seconds = _seconds(started)
    for notice in outcome.notices:
        warnings.append(_access_finding(notice, outcome, location.uri, blocking=False))
    for problem in outcome.problems:
        blocking.append(_access_finding(problem, outcome, location.uri, blocking=True))
    stats: dict = {"listing_seconds": listing_seconds}
    labels, label_finding = _read_labels(options.labels_path)
    if label_finding:
        blocking.append(label_finding)
    if outcome.listing is None or (location.kind == "blob" and not outcome.listing):
        stats["total_seconds"] = _seconds(started)
        return _result(blocking, warnings, [], outcome.report, stats, options)

    suite = load_suite()
    videos, files = split_listing(outcome.listing, suite.parameters.get("sidecar_extensions", []))
    warnings += _not_read_findings(outcome.listing, location.uri)
    sample = options.probe_sample
    if sample is None:
        sample = None if location.kind == "local" else DEFAULT_BLOB_SAMPLE
    chosen = choose_sample([info.name for info in videos], sample)
    probe_started = time.perf_counter()
    probes = probe_names(outcome.store, chosen, options.concurrency) if chosen else {}
    stats["probe_seconds"] = _seconds(probe_started)
    manifest = build_manifest(videos, probes, labels)
    checks_started = time.perf_counter()
    outcomes = run_suite(
        _tables(files, manifest, labels),
        parameters={"expected_count": options.expected_count},
        context={"uri": location.uri, "labels": labels is not None},
        suite=suite,
    )
    stats["checks_seconds"] = _seconds(checks_started)
    for result in outcomes:
        if not result.success:
            target = blocking if result.spec.severity == "blocking" else warnings
            target.append(_expectation_finding(result))
    stats.update(_counts(outcome.listing, files, videos, probes, labels, location.kind, len(chosen)))
    stats["checks"] = [{"id": r.spec.id, "severity": r.spec.severity,
                        "status": "skipped" if r.skipped else ("passed" if r.success else "failed"),
                        "note": r.skipped or ""} for r in outcomes]
    stats["total_seconds"] = _seconds(started)
    return _result(blocking, warnings, manifest, outcome.report, stats, options)


def _result(blocking, warnings, manifest, report, stats, options) -> PreflightResult:
    passed = not blocking and not (options.fail_on_warnings and warnings)
    stats.setdefault("fail_on_warnings", options.fail_on_warnings)
    return PreflightResult(passed, blocking, warnings, manifest, report, stats)


def _seconds(since: float) -> float:
    return round(time.perf_counter() - since, 3)


def _access_finding(error: StorageError, outcome: AccessOutcome, uri: str, blocking: bool) -> Finding:
    report = outcome.report
    detail = error.detail.rstrip(". ")
    message = f"{detail}. {error.fix}"
    if not blocking and error.switch_to_identity:
        message = (f"{detail}. Switched to managed identity; the job will be submitted with `identity: managed` "
                   f"reading the credential-less path {report.job_input}. {error.fix}")
    if error.category == "data_not_found":
        siblings = error.context.get("siblings")
        if report.suggestions:
            message += " Did you mean " + " or ".join(report.suggestions) + "?"
        elif siblings:
            message += f" {error.context.get('existing_parent')} holds: " + ", ".join(siblings) + "."
    return Finding(id=error.rule, category=error.category, message=redact(message), offending=[uri], blocking=blocking)


_NOT_READ = {  # inference.videos' reasons -> (finding id, what to do)
    IN_SUB_FOLDER: ("videos_in_sub_folders", "Move them into the top folder, or run once per sub-folder."),
    HIDDEN: ("hidden_video_files", "Delete them (`dot_clean` or `find . -name '._*' -delete` on macOS); they hold no video."),
}


def _not_read_findings(listing, uri: str) -> list[Finding]:
    """Warnings for files named like videos that the job will not read, so nobody waits for their predictions."""
    findings = []
    for reason, names in videos_not_read(listing).items():
        finding_id, fix = _NOT_READ[reason]
        findings.append(Finding(finding_id, "data_quality",
                                f"{len(names)} video file(s) at {uri} will not be read by the job: {reason}. {fix}",
                                names, blocking=False))
    return findings


def _read_labels(path: str | None) -> tuple[LabelTable | None, Finding | None]:
    if not path:
        return None, None
    try:
        return read_labels(path), None
    except (OSError, ValueError) as error:
        return None, Finding("labels_unreadable", "job_config_invalid", f"{error}", [str(path)])


def _tables(files, manifest: list[dict], labels: LabelTable | None) -> dict:
    import pandas as pd

    from tasks.preflight.manifest import extension_of

    video_columns = ["name", "key", "extension", "size", "modified", "probed", "readable", "fps", "frames", "duration",
                     "width", "height", "probe_error", "label", "positive"]
    videos = pd.DataFrame(manifest, columns=video_columns)
    tables = {
        "files": pd.DataFrame([{"name": f.name, "extension": extension_of(f.name)} for f in files], columns=["name", "extension"]),
        "videos": videos,
        "probed": videos[videos["probed"] == True].reset_index(drop=True),  # noqa: E712 - pandas element-wise
    }
    if labels is not None:
        by_key = {row["key"]: row["name"] for row in manifest}
        tables["labels"] = pd.DataFrame(
            [{"video_id": l.video_id, "key": l.key, "label": l.raw, "line": l.line, "video": by_key.get(l.key)}
             for l in labels.labels.values()],
            columns=["video_id", "key", "label", "line", "video"],
        )
        for name, problems in (("label_problems", labels.problems), ("label_duplicates", labels.duplicates)):
            tables[name] = pd.DataFrame(
                [{"line": p.line, "text": p.text, "reason": p.reason, "row": f"line {p.line} {p.text.strip()!r}: {p.reason}"}
                 for p in problems],
                columns=["line", "text", "reason", "row"],
            )
    return tables


def _expectation_finding(result: ExpectationOutcome) -> Finding:
    return Finding(id=result.spec.id, category=result.spec.category, message=result.message,
                   offending=result.offending, blocking=result.spec.severity == "blocking")


def _counts(listing, files, videos, probes, labels, kind, sampled) -> dict:
    counts = {"files": len(listing), "videos": len(videos), "probed": len(probes),
              "unreadable": sum(1 for probe in probes.values() if not probe.readable)}
    if kind == "local":
        counts["probe_method"] = f"decord read {sampled} of {len(videos)} files in place"
    else:
        counts["probe_method"] = (f"decord read {sampled} of {len(videos)} blobs, spread evenly by name, each downloaded "
                                  "to a private temporary file and deleted after")
    if labels is not None:
        match = match_labels(labels, [info.name for info in videos])
        counts.update(labelled=len(match.matched), unlabelled=len(match.unlabelled),
                      labels_without_video=len(match.labels_without_video), label_problems=len(labels.problems))
    return counts
