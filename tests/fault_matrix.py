"""The fault matrix's bookkeeping: one row per fault, what must hold, and the table `make faults` prints and writes.

A row records what a person asks after a fault: how did the run end, what did triage say, how many jobs were
submitted and how many are still running, was any video processed twice, how many alerts went out, and did any
secret (the storage key, a SAS, the webhook, a secret in the job's own logs) reach a report, an alert, a log or an
artifact.
"""
from __future__ import annotations

import json
import re
from dataclasses import asdict, dataclass, field
from pathlib import Path

DONE = {"Completed", "Failed", "Canceled"}
COLUMNS = ("fault", "final state", "verdict", "jobs submitted", "jobs left running", "videos processed twice",
           "alerts sent", "secrets leaked", "holds")


@dataclass
class Row:
    fault: str
    final_state: str = ""
    verdict: str = ""
    jobs_submitted: int = 0
    jobs_left_running: int = 0
    videos_processed_twice: int = 0
    alerts_sent: int = 0
    secrets_leaked: int = 0
    problems: list[str] = field(default_factory=list)

    @property
    def holds(self) -> bool:
        return not self.problems

    def check(self, expect_state: str, expect_verdict: str | set[str], expect_jobs: int | None) -> None:
        """The matrix's invariants, plus what this fault's row expects."""
        verdicts = {expect_verdict} if isinstance(expect_verdict, str) else set(expect_verdict)
        if self.final_state != expect_state:
            self.problems.append(f"final state {self.final_state}, expected {expect_state}")
        if self.verdict not in verdicts:
            self.problems.append(f"verdict {self.verdict}, expected {' or '.join(sorted(verdicts))}")
        if expect_jobs is not None and self.jobs_submitted != expect_jobs:
            self.problems.append(f"{self.jobs_submitted} jobs submitted, expected {expect_jobs}")
        if self.jobs_left_running:
            self.problems.append(f"{self.jobs_left_running} job(s) left running")
        if self.videos_processed_twice:
            self.problems.append(f"{self.videos_processed_twice} video(s) processed twice")
        # A person who cancels a run knows it ended: only a run that failed (or crashed) alerts.
        wanted_alerts = 0 if expect_state in ("Completed", "Cancelled") else 1
        if self.alerts_sent != wanted_alerts:
            self.problems.append(f"{self.alerts_sent} alerts, expected {wanted_alerts}")
        if self.secrets_leaked:
            self.problems.append(f"{self.secrets_leaked} secret(s) leaked")

    def cells(self) -> list[str]:
        return [self.fault, self.final_state, self.verdict, str(self.jobs_submitted), str(self.jobs_left_running),
                str(self.videos_processed_twice), str(self.alerts_sent), str(self.secrets_leaked),
                "yes" if self.holds else "NO: " + "; ".join(self.problems)]


def table(rows: list[Row]) -> str:
    """The rows as a markdown table."""
    lines = ["| " + " | ".join(COLUMNS) + " |", "|" + "|".join("---" for _ in COLUMNS) + "|"]
    lines += ["| " + " | ".join(cell.replace("|", "\\|") for cell in row.cells()) + " |" for row in rows]
    return "\n".join(lines)


def write_faults_md(rows: list[Row], path: Path) -> None:
    path.write_text(
        "# Fault matrix\n\n"
        "Written by `make faults` (tests/test_fault_matrix.py): the whole `ghost-probing` flow, run as a user runs it,\n"
        "against local services only: the Azure ML HTTPS fake that the real azure-ai-ml SDK talks to, its Blob store,\n"
        "a local managed-identity endpoint and a local Slack receiver. Canaries are planted in the storage key, the SAS\n"
        "on run history's log URLs, the webhook URL and the job's own logs; a leak is any of them in the report,\n"
        "verdict.json, the alert, the flow run's logs or its artifacts.\n\n" + table(rows) + "\n")


def videos_processed_twice(prediction_files: list[bytes]) -> int:
    """Videos with more than one answered (error-free) prediction across the output folder's prediction files."""
    answered: dict[str, int] = {}
    for data in prediction_files:
        for line in data.decode(errors="replace").splitlines():
            try:
                record = json.loads(line)
            except ValueError:
                continue
            if isinstance(record, dict) and record.get("video") and not record.get("error"):
                answered[record["video"]] = answered.get(record["video"], 0) + 1
    return sum(1 for n in answered.values() if n > 1)


def leaks(texts: list[str], canaries: list[str]) -> list[str]:
    """Which canaries appear in any of `texts`."""
    return [c for c in canaries if any(c in t for t in texts)]


def report_texts(run_folder: Path) -> list[str]:
    """What ghostwatch wrote for people in the run folder: reports, verdicts, notes (not the raw copies of job logs)."""
    texts = []
    raw = re.compile(r"evidence-attempt-\d+/(user_logs|system_logs|outputs)/|/jobs/")
    for path in sorted(run_folder.rglob("*")):
        if path.is_file() and not raw.search(path.as_posix()) and path.stat().st_size < 5_000_000:
            texts.append(path.read_text(errors="replace"))
    return texts


def as_json(rows: list[Row]) -> str:
    return json.dumps([asdict(r) | {"holds": r.holds} for r in rows], indent=2)
