"""Before any GPU is queued: does the output folder already hold predictions made another way?

The job resumes only predictions with its own resume key (model, model family, frames, prompt hash; inference/outputs)
and refuses a folder holding others, but only once it runs on a GPU node. The orchestrator reads the same keys from the
output location first (a local folder, or an azureml:// / https:// folder through the datastore layer) and stops with
a job_config_invalid report, or moves the run to a fresh sub-folder when the RunConfig asks for that.
"""
from __future__ import annotations

import json
import logging
from dataclasses import dataclass, field

from inference.outputs import RESUME_FIELDS, prompt_sha256, resume_key

log = logging.getLogger(__name__)


@dataclass
class OutputConflict:
    """Predictions in the output folder made with another resume key than this run's."""

    folder: str
    count: int
    theirs: dict
    ours: dict
    files: list[str] = field(default_factory=list)

    def differences(self) -> str:
        return ", ".join(f"{name} {self.theirs[name]!r} (this run: {self.ours[name]!r})" for name in RESUME_FIELDS
                         if self.theirs.get(name) != self.ours.get(name))


def run_resume_key(model: str, model_family: str, num_frames: int, prompt: str | None = None) -> tuple:
    """The resume key the job will write for these parameters (the job's default prompt when `prompt` is None)."""
    return (model, model_family, num_frames, prompt_sha256(prompt))


def find_conflict(output_uri: str, key: tuple, resolver=None) -> OutputConflict | None:
    """The output folder's predictions made another way than `key`, or None (none, or the folder is new).

    A folder that cannot be read is not a conflict: the job's own check still stands, and the warning says why.
    """
    foreign: list[dict] = []
    files: list[str] = []
    try:
        for name, data in _prediction_files(output_uri, resolver):
            files.append(name)
            for line in data.decode(errors="replace").splitlines():
                try:
                    record = json.loads(line)
                except ValueError:
                    continue
                if isinstance(record, dict) and record.get("video") and resume_key(record) != tuple(key):
                    foreign.append(record)
    except Exception as exc:  # noqa: BLE001 - a check ahead of the job's own; never the reason a run fails
        from tasks.redact import redact

        log.warning("could not read the output folder %s to check its predictions (%s); the job checks again",
                    output_uri, redact(str(exc))[:300])
        return None
    if not foreign:
        return None
    return OutputConflict(folder=output_uri, count=len({r["video"] for r in foreign}),
                          theirs=dict(zip(RESUME_FIELDS, resume_key(foreign[0]))), ours=dict(zip(RESUME_FIELDS, key)),
                          files=files)


def _prediction_files(output_uri: str, resolver):
    """(name, bytes) of the predictions files directly in the output folder (one per shard, or predictions.jsonl)."""
    from tasks.datastore import open_and_list, resolve_location

    location = resolve_location(output_uri, resolver)
    if location.kind == "local":
        if not location.path.is_dir():
            return
        for path in sorted(location.path.glob("predictions*.jsonl")):
            yield path.name, path.read_bytes()
        return
    outcome = open_and_list(location)
    if outcome.listing is None:
        missing = [p for p in outcome.problems if p.category == "data_not_found"]
        if missing or not outcome.problems:
            return  # a new folder
        raise outcome.problems[0]
    for info in outcome.listing:
        if "/" not in info.name and info.name.startswith("predictions") and info.name.endswith(".jsonl"):
            with outcome.store.open_read(info.name) as stream:
                yield info.name, stream.read()


def conflict_verdict(conflict: OutputConflict):
    """A triage Verdict: stop before queueing, and say how to choose."""
    from tasks.triage import EvidenceLine, verdict_for_category

    summary = (f"The output folder {conflict.folder} already holds predictions of {conflict.count} video(s) made another "
               f"way: {conflict.differences()}. Refusing to mix them; no job was queued. To choose: set "
               "`output_conflict: new_folder` to write this run into a fresh sub-folder, point "
               "`azureml.output_datastore_path` at another folder, or move the old predictions aside to redo them.")
    evidence = [EvidenceLine(file=name, line=None, text=f"predictions made with {conflict.theirs}")
                for name in conflict.files[:5]]
    return verdict_for_category("job_config_invalid", summary, evidence,
                                {"stage": "output folder check (before submission: no job was started)",
                                 "output folder": conflict.folder})
