"""The investigation report: markdown with the sections of a hand-written one, plus verdict.json beside it.

Sections: Job Information, Root Cause (with cited evidence), Error Details, Timeline, Recommendations, Next Steps,
Remediation Attempts. Everything written passes through `redact`.
"""
from __future__ import annotations

import json
from dataclasses import asdict, dataclass
from datetime import datetime
from pathlib import Path
from typing import Iterable

from tasks.redact import redact, redact_obj
from tasks.triage.remediation import AttemptRecord
from tasks.triage.verdict import Verdict

REPORT_NAME = "investigation_report.md"
VERDICT_NAME = "verdict.json"
_TAIL_IN_REPORT = 12


@dataclass
class ReportPaths:
    """Where write_report put its two files."""

    markdown: Path
    verdict_json: Path


def write_report(verdict: Verdict, out_dir: Path, job: dict | None = None, attempts: Iterable[AttemptRecord] = (),
                 extra_sections: dict[str, str] | None = None) -> ReportPaths:
    """Write investigation_report.md and verdict.json into `out_dir` (created if missing).

    Args:
        verdict: triage's verdict.
        out_dir: the run folder.
        job: the job record (job.json content); None when no job was submitted (a preflight failure).
        attempts: the remediation attempts so far, oldest first.
        extra_sections: more sections, title -> markdown body, appended in order.

    Returns:
        The two paths.

    Raises:
        OSError: the folder cannot be created or written (the message names it).
    """
    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    attempts = list(attempts)
    markdown = out_dir / REPORT_NAME
    markdown.write_text(render_report(verdict, job, attempts, extra_sections), encoding="utf-8")
    verdict_json = out_dir / VERDICT_NAME
    document = {**verdict.to_dict(), "job": job_information(job), "attempts": [asdict(a) for a in attempts]}
    verdict_json.write_text(json.dumps(redact_obj(document), indent=2, default=str), encoding="utf-8")
    return ReportPaths(markdown=markdown, verdict_json=verdict_json)


def render_report(verdict: Verdict, job: dict | None = None, attempts: Iterable[AttemptRecord] = (),
                  extra_sections: dict[str, str] | None = None) -> str:
    """The report as markdown (for the file and for the Prefect markdown artifact)."""
    info = job_information(job)
    title = info.get("Job name") or "preflight (no job submitted)"
    lines = [f"# Investigation report: {title}", ""]
    verb = "retryable" if verdict.retryable else "not retryable"
    lines += [f"**Verdict:** `{verdict.category}` — {verdict.summary}", "",
              f"**Action:** `{verdict.action}` ({verb})", ""]
    lines += ["## Job Information", ""]
    lines += [f"- **{key}**: {value}" for key, value in info.items()] or ["- No job was submitted."]
    lines += ["", "## Root Cause", "", verdict.root_cause, ""]
    if verdict.rule_id:
        lines += [f"Matched rule `{verdict.rule_id}`.", ""]
    if verdict.evidence:
        lines += ["### Evidence", "", "```text"]
        lines += [f"{e.cite()}: {e.text}" for e in verdict.evidence]
        lines += ["```", ""]
    others = verdict.error_details.get("other_signals") or []
    if others:
        lines += ["### Other signals", "", "Also seen, ranked below the root cause:", ""]
        lines += [f"- `{o['category']}` ({o['rule_id']}): {o['summary']} — `{o['file']}"
                  f"{':' + str(o['line']) if o.get('line') is not None else ''}`: `{_inline(o['text'])}`" for o in others]
        lines.append("")
    lines += ["## Error Details", ""] + _error_details(verdict.error_details) + [""]
    lines += ["## Timeline", ""]
    if verdict.timeline:
        lines += ["| Time (UTC) | Event |", "| --- | --- |"]
        lines += [f"| {_cell(ts.replace('T', ' '))} | {_cell(event)} |" for ts, event in verdict.timeline]
    else:
        lines.append("No timestamps in the evidence.")
    lines += ["", "## Recommendations", ""]
    recs = [r for r in verdict.recommendations if not r.startswith("Documentation: ")]
    docs = [r[len("Documentation: "):] for r in verdict.recommendations if r.startswith("Documentation: ")]
    lines += [f"{i}. {r}" for i, r in enumerate(recs, 1)] or ["None."]
    if docs:
        lines += ["", "Documentation:", ""] + [f"- {url}" for url in docs]
    lines += ["", "## Next Steps", ""]
    lines += [f"{i}. {s}" for i, s in enumerate(verdict.next_steps, 1)] or ["None."]
    attempts = list(attempts)
    if attempts:
        lines += ["", "## Remediation Attempts", "", "| # | Job | State | Category | Action | Note |",
                  "| --- | --- | --- | --- | --- | --- |"]
        lines += [f"| {a.attempt} | {_cell(a.job_name)} | {_cell(a.state)} | `{a.category}` | `{a.action}` | {_cell(a.note)} |"
                  for a in attempts]
    for heading, body in (extra_sections or {}).items():
        lines += ["", f"## {heading}", "", body.rstrip()]
    return redact("\n".join(lines).rstrip() + "\n")


def job_information(job: dict | None) -> dict[str, str]:
    """The Job Information section as ordered label -> value (empty when no job)."""
    if not job:
        return {}
    handle = job.get("handle") if isinstance(job.get("handle"), dict) else {}
    props = {**(handle.get("details") or {}), **(job.get("properties") or {})}
    fields = [
        ("Job name", handle.get("name") or job.get("name")),
        ("Display name", props.get("display_name")),
        ("Backend", handle.get("backend")),
        ("Attempt", handle.get("attempt")),
        ("Status", job.get("state")),
        ("Start time", job.get("started_at")),
        ("End time", job.get("ended_at")),
        ("Duration", _duration(job.get("started_at"), job.get("ended_at"))),
        ("Compute", props.get("compute")),
        ("Environment", props.get("environment")),
        ("Experiment", props.get("experiment") or props.get("experiment_name")),
        ("Exit code", job.get("exit_code")),
        ("Studio", job.get("studio_url")),
    ]
    info = {label: str(value) for label, value in fields if value not in (None, "")}
    return {k: redact(v) for k, v in info.items()}


def _error_details(details: dict) -> list[str]:
    lines: list[str] = []
    for key, label in (("code", "Error code"), ("message", "Message"), ("category", "Error category"),
                       ("target", "Target"), ("exit_code", "Exit code"), ("state", "State")):
        value = details.get(key)
        if value not in (None, ""):
            text = str(value)
            if "\n" in text:
                lines += [f"- **{label}**:", "", "```text", text, "```", ""]
            else:
                lines.append(f"- **{label}**: `{_inline(text)}`")
    outputs = details.get("outputs")
    if outputs:
        verdicts = ", ".join(f"{k}={v}" for k, v in sorted((outputs.get("verdicts") or {}).items())) or "none"
        lines.append(f"- **Outputs**: {outputs.get('predictions', 0)} predictions, {outputs.get('failed', 0)} failed; "
                     f"verdicts {verdicts}; labelled positive {outputs.get('labelled_positive', 0)}, "
                     f"negative {outputs.get('labelled_negative', 0)}")
    if details.get("output_checks_failed"):
        lines.append("- **Output checks failed**: " + ", ".join(f"`{c}`" for c in details["output_checks_failed"]))
    tail = details.get("std_log_tail")
    if tail and tail.get("lines"):
        lines += ["", f"Last lines of `{tail['file']}`:", "", "```text", *tail["lines"][-_TAIL_IN_REPORT:], "```"]
    for warning in details.get("warnings") or []:
        lines.append(f"- **Warning**: {warning}")
    return lines or ["No structured error was recorded."]


def _duration(start, end) -> str | None:
    try:
        seconds = (datetime.fromisoformat(str(end).replace("Z", "+00:00"))
                   - datetime.fromisoformat(str(start).replace("Z", "+00:00"))).total_seconds()
    except (TypeError, ValueError):
        return None
    if seconds < 0:
        return None
    minutes, secs = divmod(int(seconds), 60)
    hours, minutes = divmod(minutes, 60)
    return f"{hours}h {minutes}m {secs}s" if hours else f"{minutes}m {secs}s" if minutes else f"{secs}s"


def _cell(text: str) -> str:
    return str(text).replace("|", "\\|").replace("\n", " ")


def _inline(text: str) -> str:
    return str(text).replace("`", "'").replace("\n", " ")[:300]
