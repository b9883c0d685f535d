"""The job's live progress as a Prefect progress artifact: videos done of total, seconds per video, the ETA."""
from __future__ import annotations

from tasks.backends.progress import Progress

ARTIFACT_PROGRESS = "ghostwatch-progress"


class ProgressArtifact:
    """Creates the run's progress artifact on the first update and updates it after (one per flow run)."""

    def __init__(self, job_name: str) -> None:
        self.job_name = job_name
        self.artifact_id = None
        self.last: tuple | None = None

    def update(self, progress: Progress) -> None:
        """Publish `progress` (0-100 %); unchanged progress costs no API call."""
        from prefect.artifacts import create_progress_artifact, update_progress_artifact

        value = round(100.0 * progress.fraction, 1)
        description = f"Job {self.job_name}: {progress.describe()}"
        if (value, description) == self.last:
            return
        self.last = (value, description)
        if self.artifact_id is None:
            self.artifact_id = create_progress_artifact(value, key=ARTIFACT_PROGRESS, description=description)
        else:
            update_progress_artifact(self.artifact_id, value, description=description)


def predictions_source(config, output_location: str):
    """Where the watch reads the job's predictions.jsonl while it runs: the local output folder, or the Azure ML
    job's output datastore path (read with the same credential chain as preflight)."""
    from tasks.backends.progress import datastore_predictions, local_predictions

    if config.backend == "local":
        return local_predictions(output_location)

    def open_store():
        from flows.run_context import datastore_resolver
        from tasks.datastore import open_and_list, resolve_location

        outcome = open_and_list(resolve_location(output_location, datastore_resolver(config.azureml)))
        return outcome.store if not outcome.problems else None

    return datastore_predictions(open_store)
