"""The flow's parameters: one pydantic model, so the Prefect UI renders a form and validates it."""
from __future__ import annotations

from typing import Literal

from pydantic import BaseModel, ConfigDict, Field


class AzureMLSettings(BaseModel):
    """Where and how the job runs on Azure ML (used when backend is 'azureml')."""

    model_config = ConfigDict(extra="forbid")

    subscription_id: str = Field(description="Azure subscription id of the workspace.")
    resource_group: str = Field(description="Resource group of the Azure ML workspace.")
    workspace_name: str = Field(description="Azure ML workspace name.")
    compute: str = Field("llava-a100-low-priority", description="Compute cluster that runs the job.")
    experiment_name: str = Field("ghost-probing", description="Azure ML experiment the jobs are grouped under.")
    job_yaml: str | None = Field(
        None, description="Job YAML to load and override; default: deployments/azureml/job.yaml shipped with ghostwatch."
    )
    output_datastore_path: str | None = Field(
        None,
        description="azureml:// folder for the run's outputs, stable across attempts so a resubmitted job resumes; "
        "default: `azureml://datastores/workspaceblobstore/paths/ghostwatch/<flow run>/`",
    )
    input_mode: Literal["job_yaml", "ro_mount", "download"] = Field(
        "job_yaml",
        description="How the job reads the videos: `ro_mount` (stream on demand), `download` (copy first), or "
        "`job_yaml` (what deployments/azureml/job.yaml says).",
    )
    queue_budget_minutes: float | None = Field(
        None, ge=1, description="Overrides the run's queue_budget_minutes for Azure ML jobs (default: the run's)."
    )
    run_budget_minutes: float | None = Field(
        None, ge=1, description="Overrides the run's run_budget_minutes for Azure ML jobs (default: the run's)."
    )
    dedicated_compute: str | None = Field(
        None, description="Dedicated (non-preemptible) compute to fall back to after repeated preemptions."
    )
    dedicated_after_preemptions: int = Field(
        2, ge=1, le=10, description="Preemptions after which the job moves to `dedicated_compute`, if one is set."
    )


class RunConfig(BaseModel):
    """One ghost-probing run: where the videos are, which model reads them, where the job runs, who is alerted."""

    model_config = ConfigDict(extra="forbid")

    video_uri: str = Field(
        # Placeholders in code spans: the UI renders descriptions as markdown, which drops bare <account> as HTML.
        description="The videos: a local folder, `azureml://datastores/<name>/paths/<prefix>`, "
        "`https://<account>.blob.core.windows.net/<container>/<prefix>`, `abfss://` or `wasbs://`.",
        min_length=1,
    )
    labels_path: str | None = Field(
        None, description="Ground-truth labels (the users' TSV or CSV); enables label checks and metrics."
    )
    expected_count: int | None = Field(
        100, ge=1, description="How many videos the datastore should hold; None skips the count check."
    )
    fail_on_warnings: bool = Field(False, description="Treat data-quality warnings as blocking.")
    backend: Literal["local", "azureml"] = Field(
        "local", description="Where the job runs: a local process, or an Azure ML command job."
    )
    model: str = Field(
        "llava-hf/LLaVA-NeXT-Video-7B-hf", description="Model: a Hugging Face hub id or a local folder."
    )
    model_family: Literal["llava-next-video", "llava-onevision", "llava-video-qwen2", "qwen2.5-vl"] = Field(
        "llava-next-video", description="Model family: selects the builder that loads the model and its processor."
    )
    num_frames: int = Field(16, ge=1, le=128, description="Frames sampled uniformly from each video.")
    batch_size: int = Field(1, ge=1, le=64, description="Videos per generate() call.")
    max_new_tokens: int = Field(160, ge=8, le=4096, description="Most tokens the model may write per video.")
    limit: int | None = Field(None, ge=1, description="Process at most this many videos (None: all).")
    run_dir: str = Field("runs", description="Folder under which each flow run gets its own folder of reports.")
    slack_webhook_block: str | None = Field(
        "ghostwatch-slack-webhook",
        description="Name of the Prefect Secret block that holds the Slack incoming-webhook URL for failure alerts "
        "(the URL itself is never a parameter); without the block, the SLACK_WEBHOOK_URL variable.",
    )
    max_attempts: int = Field(3, ge=1, le=10, description="Job attempts at most, remediation included.")
    poll_initial_seconds: float = Field(2.0, gt=0, le=600, description="First poll interval while watching the job.")
    poll_max_seconds: float = Field(30.0, gt=0, le=3600, description="Longest poll interval while watching the job.")
    queue_budget_minutes: float | None = Field(
        240, ge=0.01, description="Cancel a job (any backend) that has not started running after this many minutes."
    )
    run_budget_minutes: float | None = Field(
        600, ge=0.01, description="Cancel a job (any backend) that is still running after this many minutes."
    )
    flow_timeout_minutes: float = Field(
        1440, ge=0.01, le=10080,
        description="The whole run's time limit: past it the job is cancelled and the run fails with `timeout`.",
    )
    max_failed_fraction: float = Field(
        0.05, ge=0, le=1,
        description="Failure budget: a job whose share of failed videos is above this is `output_invalid`.",
    )
    output_conflict: Literal["stop", "new_folder"] = Field(
        "stop", description="When the output folder holds predictions made with another model, family, frame count or "
        "prompt: stop before queueing (stop), or write this run into a fresh sub-folder of it (new_folder).",
    )
    azureml: AzureMLSettings | None = Field(None, description="Azure ML workspace and compute (backend 'azureml').")

    def budgets_seconds(self) -> tuple[float | None, float | None]:
        """(queue, run) budgets in seconds for this run's backend; Azure ML settings may override the run's."""
        queue, run = self.queue_budget_minutes, self.run_budget_minutes
        if self.backend == "azureml" and self.azureml is not None:
            queue = self.azureml.queue_budget_minutes or queue
            run = self.azureml.run_budget_minutes or run
        return (queue * 60 if queue else None, run * 60 if run else None)
