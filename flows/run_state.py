"""A flow run's folder and the state kept in it, so that hooks in another process can act on the run.

Prefect may run cancellation and crash hooks outside the process that ran the flow (a worker's runner), so what they
need — the job this run is waiting on, and whether it already alerted — lives in files in the run folder, not memory.
"""
from __future__ import annotations

import datetime as dt
import json
import logging
from pathlib import Path

from tasks.backends.base import JobHandle

log = logging.getLogger(__name__)

STATE_DIR = ".ghostwatch"
ACTIVE_JOB = "active_job.json"
ALERTED = "alerted"


def run_folder_for(run_dir: str | Path, flow_run_id: str, create: bool = True) -> Path | None:
    """The folder of a flow run: `<run_dir>/<UTC start stamp>-<first 8 of the flow run id>`.

    A retried or restarted flow run finds the folder it already started, so job outputs (and resume state) carry over.
    Returns None when `create` is False and the run has no folder yet.
    """
    root = Path(run_dir).expanduser().resolve()
    short = str(flow_run_id)[:8]
    existing = sorted(root.glob(f"*-{short}")) if root.exists() else []
    if existing:
        return existing[0]
    if not create:
        return None
    folder = root / f"{dt.datetime.now(dt.timezone.utc).strftime('%Y%m%d-%H%M%S')}-{short}"
    folder.mkdir(parents=True, exist_ok=True)
    return folder


def _state(run_folder: Path) -> Path:
    path = Path(run_folder) / STATE_DIR
    path.mkdir(parents=True, exist_ok=True)
    return path


def record_active_job(run_folder: Path, handle: JobHandle) -> None:
    """Remember the job this run is waiting on (written whole: a reader never sees half a record)."""
    target = _state(run_folder) / ACTIVE_JOB
    temporary = target.with_suffix(".tmp")
    temporary.write_text(json.dumps({"backend": handle.backend, "name": handle.name, "attempt": handle.attempt,
                                     "details": handle.details}, default=str))
    temporary.replace(target)


def clear_active_job(run_folder: Path) -> None:
    """The run no longer waits on a job."""
    (Path(run_folder) / STATE_DIR / ACTIVE_JOB).unlink(missing_ok=True)


def active_job(run_folder: Path) -> JobHandle | None:
    """The job the run was waiting on, if any."""
    path = Path(run_folder) / STATE_DIR / ACTIVE_JOB
    if not path.exists():
        return None
    data = json.loads(path.read_text())
    return JobHandle(backend=data["backend"], name=data["name"], attempt=data.get("attempt", 1),
                     details=data.get("details") or {})


def mark_alerted(run_folder: Path, run_try: int = 1) -> None:
    """This try of the flow run has sent its alert; backstop hooks must not send a second one.

    Per try (Prefect's run_count): a retried flow run that fails again alerts once more.
    """
    (_state(run_folder) / f"{ALERTED}-{int(run_try or 1)}").touch()


def was_alerted(run_folder: Path, run_try: int = 1) -> bool:
    return (Path(run_folder) / STATE_DIR / f"{ALERTED}-{int(run_try or 1)}").exists()
