"""Job backends: where the inference job runs (a local process, or an Azure ML command job)."""
from tasks.backends.base import JobBackend, JobHandle, JobSpec, JobState, JobStatus, JobOutcome

__all__ = ["JobBackend", "JobHandle", "JobSpec", "JobState", "JobStatus", "JobOutcome"]
