"""Logs where people look: the stages' own loggers and the job's log lines in the flow run's logs (the Prefect UI).

tasks/ logs through plain `logging` (it never imports Prefect); this attaches Prefect's handlers to those loggers the
way PREFECT_LOGGING_EXTRA_LOGGERS does, without asking every worker to set the variable. The job's std_log.txt is
forwarded line by line while it runs (local jobs) and from its evidence when it ends (every backend).
"""
from __future__ import annotations

import logging
from pathlib import Path

STAGE_LOGGERS = ("tasks", "ghostwatch", "flows")
MAX_LINES_PER_READ = 400  # a job that floods its log must not flood the API


def forward_stage_logs() -> None:
    """Send records of the stage loggers (preflight, watch, triage, notify) to the flow run's logs; idempotent."""
    handlers = logging.getLogger("prefect.extra").handlers
    for name in STAGE_LOGGERS:
        logger = logging.getLogger(name)
        if logger.level == logging.NOTSET or logger.level > logging.INFO:
            logger.setLevel(logging.INFO)
        for handler in handlers:
            if handler not in logger.handlers:
                logger.addHandler(handler)


class JobLogTail:
    """Forwards the new complete lines of a job's log file to `logger` on every `forward()`."""

    def __init__(self, path: Path, logger: logging.Logger, prefix: str = "job | ") -> None:
        self.path = Path(path)
        self.logger = logger
        self.prefix = prefix
        self.offset = 0

    def forward(self, path: Path | None = None) -> int:
        """Log the lines written since the last call (from `path`, e.g. the collected evidence, if given)."""
        source = Path(path) if path else self.path
        try:
            with open(source, "rb") as log_file:
                log_file.seek(self.offset)
                data = log_file.read()
        except OSError:
            return 0
        end = data.rfind(b"\n")
        if end < 0:
            return 0
        self.offset += end + 1
        lines = data[: end + 1].decode(errors="replace").splitlines()
        if len(lines) > MAX_LINES_PER_READ:
            self.logger.info("%s... %d lines skipped (all in std_log.txt)", self.prefix, len(lines) - MAX_LINES_PER_READ)
            lines = lines[-MAX_LINES_PER_READ:]
        from tasks.redact import redact

        for line in lines:
            if line.strip():
                level = logging.ERROR if line.startswith(("ERROR", "Traceback")) else logging.INFO
                # A job may print a connection string or a SAS URL: logs are stored and shown, secrets never are.
                self.logger.log(level, "%s%s", self.prefix, redact(line.rstrip()))
        return len(lines)
