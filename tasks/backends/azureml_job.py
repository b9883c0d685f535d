"""Build the Azure ML command job for one attempt: load deployments/azureml/job.yaml, apply the run's overrides.

The YAML stays the single source of truth (`az ml job create -f` runs it as is); only what belongs to a run
changes here: name, inputs, the stable output folder, compute, experiment, identity, environment variables.
"""
from __future__ import annotations

import re
import shlex
import shutil
from pathlib import Path
from typing import Any

from tasks.backends.base import JobSpec

DEFAULT_JOB_YAML = Path(__file__).resolve().parents[2] / "deployments" / "azureml" / "job.yaml"
INPUT_MODES = ("ro_mount", "download")
_NAME_OK = re.compile(r"[^a-z0-9_-]+")
MAX_NAME = 255


class JobDefinitionError(ValueError):
    """The job YAML or the run's values cannot make a valid Azure ML job."""


def job_name(requested: str) -> str:
    """Azure ML's rules for a job name (letters, digits, '-', '_'; starts with a letter or digit; at most 255).

    Args:
        requested: the name the flow asked for, e.g. `gw-3f2a9c1d-a2`.

    Returns:
        The same name when it is valid; otherwise a lower-cased, deterministic rewrite (same input, same name), so a
        restarted flow finds the job its first run submitted.

    Raises:
        JobDefinitionError: nothing usable is left of the name.
    """
    name = _NAME_OK.sub("-", requested.strip().lower()).strip("-_")
    if not name:
        raise JobDefinitionError(f"job name {requested!r} has no letters or digits; pass a name like gw-<flow run>-a1")
    return name[:MAX_NAME]


def load_job_definition(job_yaml: Path, overrides: list[dict[str, Any]] | None = None):
    """Load the command job YAML as `az ml job create -f <yaml> --set ...` would, with `overrides` as the --set list.

    Raises:
        JobDefinitionError: the file is missing, is not valid YAML for a command job, or fails the SDK's schema.
    """
    from azure.ai.ml import load_job

    if not job_yaml.is_file():
        raise JobDefinitionError(f"job YAML {job_yaml} does not exist; set job_yaml to a command job file (see deployments/azureml/job.yaml)")
    try:
        job = load_job(job_yaml, params_override=overrides or [])
    except Exception as exc:  # the SDK raises several schema/validation types; all mean the same to the user
        raise JobDefinitionError(f"job YAML {job_yaml} is not a valid Azure ML command job: {' '.join(str(exc).split())[:600]}") from None
    if getattr(job, "type", None) != "command":
        raise JobDefinitionError(f"job YAML {job_yaml} defines a {getattr(job, 'type', type(job).__name__)} job; ghostwatch submits command jobs")
    return job


def job_overrides(spec: JobSpec, settings: Any, job_yaml: Path = DEFAULT_JOB_YAML, input_mode: str | None = None) -> list[dict[str, Any]]:
    """The run's values as `params_override` entries (dotted paths into the YAML), the SDK's form of `--set`.

    Raises:
        JobDefinitionError: the YAML lacks the `video_data` input or `results` output, or a value is unusable.
    """
    raw = _read_yaml(job_yaml)
    if "video_data" not in (raw.get("inputs") or {}):
        raise JobDefinitionError(f"job YAML {job_yaml} has no input 'video_data'; the command reads the videos from it")
    if "results" not in (raw.get("outputs") or {}):
        raise JobDefinitionError(f"job YAML {job_yaml} has no output 'results'; predictions are written there")
    if input_mode is not None and input_mode not in INPUT_MODES:
        raise JobDefinitionError(f"input mode {input_mode!r} is not one of {', '.join(INPUT_MODES)}")
    video_uri = _remote_uri(spec.video_input, "video input")
    output_uri = _remote_uri(spec.output_dir, "output folder").rstrip("/") + "/"
    name = job_name(spec.name)
    command = str(raw.get("command") or "")
    overrides: list[dict[str, Any]] = [
        {"name": name},
        {"display_name": f"{raw.get('display_name') or 'llava-ghost-probing'}-{name}"},
        {"experiment_name": settings.experiment_name},
        {"compute": f"azureml:{settings.compute}"},
        {"inputs.video_data.path": video_uri},
        {"inputs.model": spec.model},
        {"inputs.model_family": spec.model_family},
        {"inputs.num_frames": spec.num_frames},
        {"inputs.batch_size": spec.batch_size},
        {"inputs.max_new_tokens": spec.max_new_tokens},
        {"inputs.start_index": spec.start_index},
        # rw_mount on a path that outlives the attempt: the resubmitted job sees its predecessor's predictions.
        {"outputs.results.path": output_uri},
        {"outputs.results.mode": "rw_mount"},
        {"tags": {**(raw.get("tags") or {}), "ghostwatch.attempt": str(spec.attempt), "ghostwatch.spec_name": spec.name}},
    ]
    if input_mode:
        overrides.append({"inputs.video_data.mode": input_mode})
    if spec.limit is not None:
        overrides.append({"inputs.limit": spec.limit})
        command += " --limit ${{inputs.limit}}"
    if spec.labels:
        overrides.append({"inputs.labels": {"type": "uri_file", "path": spec.labels, "mode": "download"}})
        command += " --labels ${{inputs.labels}}"
    if spec.extra_args:
        command += " " + shlex.join(spec.extra_args)
    overrides.append({"command": command})
    if spec.use_identity:
        overrides.append({"identity": {"type": "managed"}})
    if spec.env:
        overrides.append({"environment_variables": {**(raw.get("environment_variables") or {}), **spec.env}})
    return overrides


def build_job(spec: JobSpec, settings: Any, job_yaml: Path = DEFAULT_JOB_YAML, input_mode: str | None = None):
    """The command job for one attempt: the YAML with the run's overrides applied.

    Args:
        spec: what to run (name, video input URI, stable output folder, model, arguments).
        settings: tasks.config.AzureMLSettings (compute, experiment).
        job_yaml: the job definition to start from.
        input_mode: 'ro_mount' or 'download' for the videos; None keeps the YAML's.

    Returns:
        An azure.ai.ml command job (what load_job returns) ready for `jobs.create_or_update`.

    Raises:
        JobDefinitionError: the YAML or the spec's values are unusable (the message says which and why).
    """
    return load_job_definition(job_yaml, job_overrides(spec, settings, job_yaml, input_mode))


def _read_yaml(job_yaml: Path) -> dict[str, Any]:
    import yaml

    if not job_yaml.is_file():
        raise JobDefinitionError(f"job YAML {job_yaml} does not exist; set job_yaml to a command job file (see deployments/azureml/job.yaml)")
    try:
        raw = yaml.safe_load(job_yaml.read_text())
    except yaml.YAMLError as exc:
        raise JobDefinitionError(f"job YAML {job_yaml} is not valid YAML: {exc}") from None
    if not isinstance(raw, dict):
        raise JobDefinitionError(f"job YAML {job_yaml} does not hold a job definition (a mapping at the top)")
    return raw


def stage_code_snapshot(job, workdir: Path, yaml_dir: Path) -> None:
    """Point the job's code at a folder holding only the `inference` package.

    The YAML's `code` is the repository root (so `python -m inference...` resolves); uploading the whole tree would
    send tests, flows and virtual environments to the workspace, so the snapshot keeps inference/ alone.
    """
    if not job.code or not isinstance(job.code, (str, Path)) or str(job.code).startswith("azureml:"):
        return
    code = Path(str(job.code))
    code = code if code.is_absolute() else (yaml_dir / code).resolve()
    if not (code / "inference").is_dir():
        return
    target = workdir / "ghostwatch-inference-snapshot"
    if target.exists():
        shutil.rmtree(target)
    shutil.copytree(code / "inference", target / "inference", ignore=shutil.ignore_patterns("__pycache__", "*.pyc"))
    job.code = str(target)


def _remote_uri(value: str, what: str) -> str:
    if re.match(r"^(azureml|https|wasbs|abfss)://", value or "", re.I):
        return value
    raise JobDefinitionError(
        f"the {what} {value!r} is not something an Azure ML job can reach; give an azureml://datastores/<name>/paths/<prefix> "
        "or https://<account>.blob.core.windows.net/<container>/<prefix> URI (local folders work with the local backend)"
    )
