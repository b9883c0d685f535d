"""The job's timeline from log timestamps: start, each capability, the user process, the failure, the end.

Built while the logs stream past (first and last timestamp per file), so it costs no second read.
"""
from __future__ import annotations

import re
from dataclasses import dataclass, field
from pathlib import PurePosixPath

# 2025-07-21T06:45:12.123456Z, 2023-05-18 17:14:47,790, [2026-04-22 06:17:47Z], 2025/07/21 06:45:12
_TIMESTAMP = re.compile(r"(?P<date>\d{4}[-/]\d{2}[-/]\d{2})[T ](?P<time>\d{2}:\d{2}:\d{2})")
_SCAN_PREFIX = 80  # timestamps lead the line in every Azure ML log format; don't scan the whole line


def find_timestamp(text: str | None, anywhere: bool = False) -> str | None:
    """The first timestamp in a line (its leading part unless `anywhere`), normalised to 'YYYY-MM-DDTHH:MM:SS'."""
    if not text:
        return None
    match = _TIMESTAMP.search(text if anywhere else text[:_SCAN_PREFIX])
    if not match:
        return None
    return f"{match.group('date').replace('/', '-')}T{match.group('time')}"


@dataclass
class TimelineBuilder:
    """Collects first/last timestamps per log file while the scanner streams them."""

    first_by_file: dict[str, str] = field(default_factory=dict)
    last_by_file: dict[str, str] = field(default_factory=dict)

    def observe(self, rel_path: str, timestamp: str) -> None:
        self.first_by_file.setdefault(rel_path, timestamp)
        self.last_by_file[rel_path] = timestamp

    def build(self, job: dict | None, failure: tuple[str, str] | None, state: str | None) -> list[tuple[str, str]]:
        """The timeline, oldest first.

        Args:
            job: job.json's content (started_at/ended_at), or None.
            failure: (timestamp, description) of the deciding evidence line, when it carries one.
            state: the job's final state, for the closing event.

        Returns:
            (timestamp, event) pairs sorted by time.
        """
        events: list[tuple[str, str]] = []
        started = find_timestamp((job or {}).get("started_at"), anywhere=True)
        ended = find_timestamp((job or {}).get("ended_at"), anywhere=True)
        all_first = sorted(self.first_by_file.values())
        all_last = sorted(self.last_by_file.values())
        if started or all_first:
            events.append((started or all_first[0], "Job started" if started else "First log line (job start)"))
        for name, stamp in sorted(self._first_per_source().items(), key=lambda kv: kv[1]):
            events.append((stamp, f"{name} started"))
        if failure:
            events.append(failure)
        if ended or all_last:
            suffix = f" ({state})" if state else ""
            events.append((ended or all_last[-1], ("Job ended" if ended else "Last log line") + suffix))
        return sorted(events, key=lambda event: event[0])

    def _first_per_source(self) -> dict[str, str]:
        """First timestamp per capability folder (system_logs/<capability>/...) and per user log file."""
        out: dict[str, str] = {}
        for rel, stamp in self.first_by_file.items():
            parts = PurePosixPath(rel).parts
            if len(parts) >= 3 and parts[0] == "system_logs":
                name = parts[1]
            elif parts and parts[0] == "user_logs":
                name = f"User process ({rel})"
            else:
                name = rel
            if name not in out or stamp < out[name]:
                out[name] = stamp
        return out
