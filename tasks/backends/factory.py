"""Build the JobBackend a RunConfig asks for."""
from __future__ import annotations

from pathlib import Path

from tasks.backends.base import JobBackend
from tasks.config import RunConfig

# The embedded default never reaches a model hub: the job loads local folders only.
LOCAL_JOB_ENV = {"HF_HUB_OFFLINE": "1", "TRANSFORMERS_OFFLINE": "1", "HF_HUB_DISABLE_TELEMETRY": "1"}


def make_backend(config: RunConfig, run_folder: Path) -> JobBackend:
    """A LocalBackend writing under the run folder, or an AzureMLBackend for the configured workspace.

    Raises:
        ValueError: backend 'azureml' without `azureml` settings.
    """
    if config.backend == "local":
        from tasks.backends.local import LocalBackend

        return LocalBackend(work_root=run_folder / "jobs", env=LOCAL_JOB_ENV)
    if config.azureml is None:
        raise ValueError("backend 'azureml' needs the `azureml` parameter (subscription_id, resource_group, workspace_name)")
    from tasks.backends.azureml import AzureMLBackend

    return AzureMLBackend.from_settings(config.azureml)


def job_output_location(config: RunConfig, run_folder: Path, run_key: str) -> str:
    """Where the job writes, stable for the flow run so a resubmitted job resumes from its predecessor's predictions.

    Local: `<run folder>/outputs`. Azure ML: a datastore folder (`azureml.output_datastore_path`, or
    workspaceblobstore/paths/ghostwatch/<run>/), mounted read-write by every attempt.
    """
    if config.backend == "local":
        return str(run_folder / "outputs")
    from tasks.backends.azureml_workspace import default_output_uri

    return default_output_uri(config.azureml, run_key)
