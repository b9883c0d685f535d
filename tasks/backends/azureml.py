"""AzureMLBackend: submit the A100 job through azure-ai-ml, watch it, cancel it, collect its evidence.

What it adds over `jobs.create_or_update` + `jobs.stream`:
- a deterministic job name per flow run and attempt, looked up before submitting, so a retried task or a restarted
  flow re-attaches to its job instead of queueing a second A100 job;
- `get` for a backoff poll (tasks/backends/watch.py) that survives throttling and resets, and sees every final state
  (`jobs.stream` raises only on Failed and returns silently on Canceled, NotResponding and Paused);
- the run's structured error from run history (it is not on the object `jobs.get` returns);
- evidence in the `az ml job download` layout, with what could not be fetched written down.
"""
from __future__ import annotations

import logging
import tempfile
from contextlib import contextmanager
from pathlib import Path
from typing import Any, Callable, Iterator, TypeVar

from tasks.backends.azureml_errors import AzureMLError, AzureMLNotFoundError, call_azure
from tasks.backends.azureml_evidence import Collection, download_log_files, download_outputs, parse_run_error
from tasks.backends.azureml_job import DEFAULT_JOB_YAML, build_job, job_name, load_job_definition, stage_code_snapshot
from tasks.backends.azureml_workspace import MLClientDatastoreResolver, WorkspaceReport, check_workspace
from tasks.backends.base import JobBackend, JobHandle, JobSpec, JobState, JobStatus, write_job_record
from tasks.backends.watch import TransientBackendError
from tasks.clock import Clock, SystemClock
from tasks.retry import RetryPolicy, call_with_retries

log = logging.getLogger(__name__)
T = TypeVar("T")

BACKEND_NAME = "azureml"
FINAL_STATE_NOTES = {
    JobState.NOT_RESPONDING: "Azure ML stopped hearing from the job's node and gave the job up (NotResponding). "
    "Predictions written so far stay in the output folder; a resubmitted attempt resumes from them.",
    JobState.PAUSED: "The job is Paused (a person or a quota policy paused it); it will not finish on its own. "
    "Resume it in Studio or cancel it.",
    JobState.CANCELED: "The job was cancelled (by the watch's budget, the flow, or a person in Studio).",
}


def make_ml_client(settings: Any, credential: Any) -> Any:
    """An MLClient for the settings' workspace.

    SDK-level retries are off: the backend retries through its injectable clock, so throttling honours Retry-After
    without blocking tests, and each retry re-checks whether the job already exists.
    """
    from azure.ai.ml import MLClient

    return MLClient(
        credential,
        subscription_id=settings.subscription_id,
        resource_group_name=settings.resource_group,
        workspace_name=settings.workspace_name,
        enable_telemetry=False,
        show_progress=False,
        retry_total=0,
    )


class AzureMLBackend:
    """JobBackend for Azure ML command jobs (see tasks/backends/base.py for the contract)."""

    name = BACKEND_NAME

    def __init__(
        self,
        ml_client: Any,
        settings: Any,
        job_yaml: Path | None = None,
        clock: Clock | None = None,
        *,
        input_mode: str | None = None,
        call_attempts: int = 6,
    ) -> None:
        """Args:
            ml_client: azure.ai.ml.MLClient for the workspace.
            settings: tasks.config.AzureMLSettings.
            job_yaml: job definition; default settings.job_yaml, else deployments/azureml/job.yaml.
            clock: time source for retry waits (tests pass a FakeClock).
            input_mode: 'ro_mount' or 'download' for the videos (default: the YAML's, or settings.input_mode if set).
            call_attempts: tries per submit/evidence call on transient errors.
        """
        self.ml_client = ml_client
        self.settings = settings
        self.job_yaml = Path(job_yaml or getattr(settings, "job_yaml", None) or DEFAULT_JOB_YAML)
        self.clock = clock or SystemClock()
        mode = input_mode or getattr(settings, "input_mode", None)
        self.input_mode = None if mode == "job_yaml" else mode  # job_yaml: keep the YAML's mode
        self.call_attempts = call_attempts
        self.resolver = MLClientDatastoreResolver(ml_client)
        self._details: dict[str, dict[str, Any]] = {}

    @classmethod
    def from_settings(cls, settings: Any, credential: Any = None, **kwargs: Any) -> "AzureMLBackend":
        """Build the backend with azure-identity's DefaultAzureCredential unless a credential is given.

        DefaultAzureCredential tries, in order, environment variables (service principal), workload identity, managed
        identity and the Azure CLI's `az login`; the browser prompt is left out so an unattended flow never waits.
        """
        if credential is None:
            from azure.identity import DefaultAzureCredential

            credential = DefaultAzureCredential(exclude_interactive_browser_credential=True)
        return cls(make_ml_client(settings, credential), settings, **kwargs)

    def with_compute(self, compute: str) -> "AzureMLBackend":
        """The same backend submitting to another cluster (e.g. settings.dedicated_compute after repeated pre-emptions)."""
        settings = self.settings.model_copy(update={"compute": compute})
        return AzureMLBackend(self.ml_client, settings, self.job_yaml, self.clock, input_mode=self.input_mode, call_attempts=self.call_attempts)

    # ------------------------------------------------------------------ preflight
    def workspace_report(self, spec: JobSpec | None = None) -> WorkspaceReport:
        """Check workspace, compute, environment, output datastore and quota (see azureml_workspace.check_workspace)."""
        job = build_job(spec, self.settings, self.job_yaml, self.input_mode) if spec else load_job_definition(self.job_yaml)
        return self._retrying(
            lambda: check_workspace(
                self.ml_client, self.settings, job, output_uri=spec.output_dir if spec else None,
                video_uri=spec.video_input if spec else None, use_identity=bool(spec and spec.use_identity),
            ),
            "check workspace",
        )

    def check_workspace(self, spec: JobSpec | None = None) -> list[str]:
        """Problems that would stop the job (empty: go). Raises AzureMLAuthError when the credential is refused."""
        return self.workspace_report(spec).problems

    # ------------------------------------------------------------------ JobBackend
    def submit(self, spec: JobSpec) -> JobHandle:
        """Submit one attempt, or re-attach to the job of the same name if it was submitted before.

        Raises:
            JobDefinitionError: the YAML or spec cannot make a job (nothing was submitted).
            AzureMLAuthError / AzureMLError: the service refused (the message says what to fix).
            TransientBackendError: still throttled or unreachable after `call_attempts` tries.
        """
        name = job_name(spec.name)
        details = {"output_uri": spec.output_dir, "spec_name": spec.name, "compute": self.settings.compute}
        existing = self._retrying(lambda: self._find(name), f"look up job {name}")
        if existing is not None:
            log.info("job %s already exists (%s); re-attaching instead of submitting again", name, existing.status)
            return JobHandle(BACKEND_NAME, name, spec.attempt, {**details, "reattached": True, "studio_url": existing.studio_url})
        job = build_job(spec, self.settings, self.job_yaml, self.input_mode)
        with tempfile.TemporaryDirectory(prefix="ghostwatch-snapshot-") as workdir:
            stage_code_snapshot(job, Path(workdir), self.job_yaml.parent)

            def put() -> Any:
                found = self._find(name)  # a PUT that failed on the way back may still have created the job
                return found if found is not None else call_azure(lambda: self.ml_client.jobs.create_or_update(job), f"submit job {name}")

            created = self._retrying(put, f"submit job {name}")
        log.info("submitted job %s to %s: %s", name, self.settings.compute, created.studio_url)
        return JobHandle(BACKEND_NAME, name, spec.attempt, {**details, "reattached": False, "studio_url": created.studio_url})

    def planned_handle(self, spec: JobSpec) -> JobHandle:
        """The handle `submit(spec)` will return, known before submitting (recorded first, so a cancel finds it)."""
        details = {"output_uri": spec.output_dir, "spec_name": spec.name, "compute": self.settings.compute, "planned": True}
        return JobHandle(BACKEND_NAME, job_name(spec.name), spec.attempt, details)

    def get(self, handle: JobHandle) -> JobStatus:
        """One poll: `jobs.get`, plus run history's error and times once the job is final."""
        job = call_azure(lambda: self.ml_client.jobs.get(handle.name), f"get job {handle.name}")
        state = JobState.parse(getattr(job.status, "value", job.status))  # the SDK may hand back its own enum
        status = JobStatus(
            handle=handle, state=state, studio_url=job.studio_url,
            properties={"compute": job.compute, "experiment": job.experiment_name, "display_name": job.display_name},
        )
        if state in FINAL_STATE_NOTES:
            status.properties["note"] = FINAL_STATE_NOTES[state]
        if state.is_final:
            details = self._run_details(handle.name)
            status.error = parse_run_error(details.get("error"))
            status.started_at = details.get("startTimeUtc")
            status.ended_at = details.get("endTimeUtc")
        return status

    def cancel(self, handle: JobHandle) -> None:
        """Ask Azure ML to cancel the job; returns once the request is accepted (the job then goes Canceled)."""
        try:
            self._retrying(
                lambda: call_azure(lambda: self.ml_client.jobs.begin_cancel(handle.name, polling=False), f"cancel job {handle.name}"),
                f"cancel job {handle.name}",
            )
            log.info("asked Azure ML to cancel job %s", handle.name)
        except AzureMLNotFoundError:
            log.warning("job %s does not exist; nothing to cancel", handle.name)

    def collect_evidence(self, handle: JobHandle, dest: Path) -> Path:
        """Write job.json, collection.json, user_logs/, system_logs/ and outputs/ under `dest`.

        Never raises for a piece that cannot be fetched: collection.json names it and says why.
        """
        dest = Path(dest)
        dest.mkdir(parents=True, exist_ok=True)
        collection = Collection(job=handle.name, studio_url=handle.details.get("studio_url"))
        status = None
        try:
            status = self._retrying(lambda: self.get(handle), f"get job {handle.name}")
            collection.studio_url = status.studio_url or collection.studio_url
        except Exception as exc:
            collection.miss("job status and run-history error", str(exc))
        try:
            details = self._retrying(lambda: self._run_details(handle.name, refresh=True), f"run history of {handle.name}")
            log_files = details.get("logFiles") or {}
            if log_files:
                download_log_files(log_files, dest, collection)
            else:
                collection.miss("user_logs/ and system_logs/", "run history lists no log files (the job never reached a node)")
        except Exception as exc:
            collection.miss("user_logs/ and system_logs/", f"run history unavailable: {exc}")
        output_uri = handle.details.get("output_uri") or self._output_uri_of(handle.name)
        if output_uri:
            download_outputs(output_uri, self.resolver, dest, collection, token_credential=getattr(self.ml_client, "_credential", None))
        else:
            collection.miss("outputs", "the job handle does not say where the outputs are")
        if status is not None:
            write_job_record(status, dest)
        collection.write(dest)
        return dest

    # ------------------------------------------------------------------ internals
    def _output_uri_of(self, name: str) -> str | None:
        """The job's own `results` output folder, for a handle built from a name alone (`ghostwatch triage --job`)."""
        try:
            job = self._retrying(lambda: call_azure(lambda: self.ml_client.jobs.get(name), f"get job {name}"), f"get job {name}")
        except Exception as exc:  # the evidence then says the outputs were not found, and why
            log.warning("could not read job %s's output folder: %s", name, exc)
            return None
        output = (getattr(job, "outputs", None) or {}).get("results")
        return getattr(output, "path", None) if output is not None else None

    def _find(self, name: str) -> Any | None:
        try:
            return call_azure(lambda: self.ml_client.jobs.get(name), f"look up job {name}")
        except AzureMLNotFoundError:
            return None

    def _run_details(self, name: str, refresh: bool = False) -> dict[str, Any]:
        if refresh or name not in self._details:
            details = call_azure(lambda: self.ml_client.jobs._runs_operations.get_run_details(name), f"run history of {name}")
            self._details[name] = dict(details.as_dict()) if details is not None else {}  # run history's own JSON keys
        return self._details[name]

    def _retrying(self, operation: Callable[[], T], what: str) -> T:
        policy = RetryPolicy(attempts=self.call_attempts, base_seconds=2.0, max_seconds=60.0)
        return call_with_retries(operation, policy, clock=self.clock, what=what)


@contextmanager
def cancel_on_interrupt(backend: JobBackend, handle: JobHandle) -> Iterator[None]:
    """Cancel the job if the block is left by an exception: the flow was cancelled, crashed, or was interrupted.

    Prefect delivers a flow run's cancellation to the running process as an exception (a BaseException), so this
    also covers `prefect flow-run cancel`. The original exception is re-raised.
    """
    try:
        yield
    except BaseException:
        try:
            backend.cancel(handle)
        except Exception as exc:  # the flow's own failure matters more; say the job may still run
            log.error("could not cancel job %s after the flow stopped: %s; cancel it in Studio", handle.name, exc)
        raise


__all__ = ["AzureMLBackend", "AzureMLError", "cancel_on_interrupt", "make_ml_client"]
