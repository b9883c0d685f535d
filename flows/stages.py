"""The flow's stages as Prefect tasks: thin wrappers over the plain functions in tasks/, which are tested without Prefect.

Retries only where the network is touched (submitting; posting the alert); never on a data-validation failure.
"""
from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import Any

from prefect import get_run_logger, task
from prefect.artifacts import create_link_artifact, create_markdown_artifact, create_table_artifact
from prefect.cache_policies import NO_CACHE

from tasks.backends.base import JobBackend, JobHandle, JobOutcome, JobSpec
from tasks.backends.watch import PollPolicy, watch_job
from tasks.notify import Alert

ARTIFACT_REPORT = "ghostwatch-report"
ARTIFACT_PREFLIGHT = "ghostwatch-preflight"
ARTIFACT_PREFLIGHT_TABLE = "ghostwatch-preflight-checks"
ARTIFACT_RESULTS = "ghostwatch-results"
ARTIFACT_STUDIO = "ghostwatch-azureml-job"
RESULTS_TABLE_ROWS = 500  # rows in the results table artifact; the full list stays in predictions.csv


class StageFailed(Exception):
    """A stage's task ends Failed (red in the UI) while the flow still gets its result, to report and alert."""

    def __init__(self, message: str, value: Any) -> None:
        super().__init__(message)
        self.value = value

    def __reduce__(self):
        return (type(self), (str(self), self.value))


def value_of(state) -> Any:
    """The result of a stage task called with return_state=True, whether it Completed or failed with StageFailed."""
    result = state.result(raise_on_failure=False)
    if isinstance(result, StageFailed):
        return result.value
    if isinstance(result, BaseException):
        raise result
    return result


@task(name="check-data", cache_policy=NO_CACHE)
def check_data(options) -> Any:
    """Preflight: reach the data as the job will and check its quality; publish the result as artifacts.

    A blocked preflight ends the task Failed (call it with return_state=True and read it with `value_of`).
    """
    from prefect.states import Failed

    from tasks.preflight import run_preflight

    logger = get_run_logger()
    logger.info("preflight: reading %s as the job will", options.uri)
    result = run_preflight(options)
    create_markdown_artifact(key=ARTIFACT_PREFLIGHT, markdown=result.to_markdown(), description="Preflight result")
    rows = result.table_rows()
    if rows:
        create_table_artifact(key=ARTIFACT_PREFLIGHT_TABLE, table=rows, description="Data-quality checks")
    for finding in list(result.blocking) + list(result.warnings):
        (logger.error if finding in result.blocking else logger.warning)("preflight [%s] %s", finding.id, finding.message)
    if not result.passed:
        message = f"preflight blocked: {result.blocking[0].message}"
        return Failed(message=message, data=StageFailed(message, result))
    logger.info("preflight passed: %d videos", len(result.manifest or []))
    return result


@task(name="check-workspace", cache_policy=NO_CACHE, retries=2, retry_delay_seconds=[5, 30],
      retry_condition_fn=lambda task, run, state: _is_transient(state))
def check_workspace(backend: JobBackend, spec: JobSpec) -> list[str]:
    """Compute, environment and paths checked before anything is queued; returns the problems that block."""
    problems = backend.check_workspace(spec)
    if backend.name == "local":
        from tasks.backends.local_deps import dependency_problem

        missing = dependency_problem(getattr(backend, "python", sys.executable))
        problems = ([missing] if missing else []) + problems
    for problem in problems:
        get_run_logger().error("workspace check: %s", problem)
    return problems


def _is_transient(state) -> bool:
    """Retry only what a retry can fix: the network, not a wrong compute name or a refused credential."""
    from tasks.backends.watch import TransientBackendError

    try:
        state.result()
    except TransientBackendError:
        return True
    except Exception:
        return False
    return False


@task(name="submit-job", cache_policy=NO_CACHE, retries=2, retry_delay_seconds=[5, 30],
      retry_condition_fn=lambda task, run, state: _is_transient(state))
def submit_job(backend: JobBackend, spec: JobSpec) -> JobHandle:
    """Submit one attempt (a retried task re-attaches to the job of the same name rather than queueing another)."""
    handle = backend.submit(spec)
    get_run_logger().info("submitted job %s (attempt %d) on %s", handle.name, spec.attempt, backend.name)
    return handle


@task(name="watch-job", cache_policy=NO_CACHE)
def watch(backend: JobBackend, handle: JobHandle, evidence_dir: Path, policy: PollPolicy,
          total_videos: int | None = None, predictions=None) -> JobOutcome:
    """Poll the job to a final state (ETA-aware), showing its progress and log lines; collect its evidence."""
    import time

    from flows.logs import JobLogTail
    from flows.progress_artifact import ProgressArtifact
    from tasks.backends.eta_poll import EtaPollSchedule
    from tasks.backends.progress import ProgressReader, local_predictions

    logger = get_run_logger()
    work_dir = handle.details.get("work_dir")
    tail = JobLogTail(Path(work_dir) / "user_logs" / "std_log.txt", logger) if work_dir else None
    artifact = ProgressArtifact(handle.name)
    # `predictions` reads the job's predictions.jsonl where it writes it (a local folder, the output datastore path).
    reader = ProgressReader(predictions, total_videos, time.monotonic) if predictions else None
    schedule = None
    if reader is not None:
        schedule = EtaPollSchedule(
            progress=reader.read, on_progress=artifact.update, initial_seconds=policy.initial_seconds,
            max_seconds=10 * policy.max_seconds, max_seconds_without_eta=4 * policy.max_seconds,
            near_end_seconds=min(5.0, policy.max_seconds),
        )
    outcome = watch_job(
        backend, handle, evidence_dir, policy,
        on_status=lambda s: logger.info("job %s: %s", handle.name, s.state.value),
        on_poll=lambda s: (tail and tail.forward(), schedule and schedule.observe(s.state.value)),
        schedule=schedule,
    )
    job_log = outcome.evidence_dir / "user_logs" / "std_log.txt"
    (tail or JobLogTail(job_log, logger)).forward(job_log)
    final = ProgressReader(local_predictions(outcome.evidence_dir / "outputs"), total_videos, time.monotonic).read()
    if final is not None:
        artifact.update(final)
        logger.info("job %s: %s", handle.name, final.describe())
    logger.info("job %s ended %s after %d polls", handle.name, outcome.state.value, outcome.polls)
    if outcome.state.value != "Completed":
        from prefect.states import Failed

        message = f"job {handle.name} ended {outcome.state.value}" + (f": {outcome.gave_up_reason}" if outcome.gave_up_reason else "")
        return Failed(message=message, data=StageFailed(message, outcome))
    return outcome


@task(name="triage-job", cache_policy=NO_CACHE)
def triage(evidence_dir: Path, context) -> Any:
    """Classify the job's outcome from its evidence (a Completed job with broken outputs is a failure too)."""
    from tasks.triage import triage_evidence

    verdict = triage_evidence(evidence_dir, context)
    get_run_logger().info("triage: %s (%s): %s", verdict.category, verdict.action, verdict.summary)
    return verdict


@task(name="publish-report", cache_policy=NO_CACHE)
def publish_report(verdict, run_folder: Path, job: dict | None, attempts: list, extra_sections: dict | None = None,
                   outputs_dir: Path | None = None, links: dict | None = None):
    """Write the report that fits the outcome into the run folder and publish it as the `ghostwatch-report` artifact.

    A healthy run gets the results report (metrics, confusion matrix, per-video verdicts); any other verdict the
    investigation report. verdict.json is written either way. Links (flow run, Azure ML Studio) go in both, and the
    Studio job is also a link artifact.
    """
    from tasks.results_report import REPORT_NAME, render_results_report
    from tasks.triage import write_report
    from tasks.triage.report import job_information

    links = dict(links or {})
    studio = (job or {}).get("studio_url") or (verdict.error_details or {}).get("studio_url")
    if studio:
        links.setdefault("Azure ML Studio job", studio)
        create_link_artifact(key=ARTIFACT_STUDIO, link=studio, link_text="The job in Azure ML Studio",
                             description="The Azure ML job of this run")
    healthy = verdict.category == "none" and outputs_dir is not None
    sections = dict(extra_sections or {})
    if links and not healthy:
        sections["Links"] = "\n".join(f"- [{label}]({url})" for label, url in links.items())
    paths = write_report(verdict, run_folder, job=job, attempts=attempts, extra_sections=sections)
    if healthy:
        paths.markdown.unlink(missing_ok=True)
        paths.markdown = Path(run_folder) / REPORT_NAME
        files = {"Report": str(paths.markdown), "Predictions": str(Path(outputs_dir) / "predictions.jsonl"),
                 "Summary": str(Path(outputs_dir) / "summary.json"), "Run folder": str(run_folder)}
        paths.markdown.write_text(render_results_report(
            outputs_dir, job_information(job).get("Job name", "job"), verdict.summary, files, links,
            job_information(job)), encoding="utf-8")
    markdown = paths.markdown.read_text()
    create_markdown_artifact(key=ARTIFACT_REPORT, markdown=markdown,
                             description=(f"Results: {verdict.summary}" if healthy
                                          else f"Investigation: {verdict.category}: {verdict.summary}")[:500])
    get_run_logger().info("%s report: %s", "results" if healthy else "investigation", paths.markdown)
    return paths


@task(name="publish-results", cache_policy=NO_CACHE)
def publish_results(outputs_dir: Path) -> dict | None:
    """Publish the job's predictions (from its collected evidence) as a table artifact; returns summary.json, if any."""
    from tasks.results_report import table_rows

    rows = table_rows(outputs_dir, RESULTS_TABLE_ROWS)
    if rows:
        create_table_artifact(key=ARTIFACT_RESULTS, table=rows,
                              description="Ghost-probing verdict per video, the model's reason, and whether it was right")
    summary = outputs_dir / "summary.json"
    return json.loads(summary.read_text()) if summary.exists() else None


@task(name="send-alert", cache_policy=NO_CACHE)
def send_alert(alert: Alert, run_folder: Path, block_name: str | None, report_path: Path):
    """Alert Slack once (webhook from the Secret block, else SLACK_WEBHOOK_URL); the outcome is kept in the run folder.

    Never raises and never retried as a task: post_alert's own bounded retries are all the tries a run makes, and an
    unreachable webhook must not replace the run's verdict as its failure message.
    """
    from flows.alerting import deliver

    return deliver(alert, run_folder, block_name, report_path=report_path, logger=get_run_logger())
