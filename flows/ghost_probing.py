"""The `ghost-probing` flow: preflight → submit → watch → triage (and remediate) → report → alert.

Orchestration only: the order of stages, the bounded remediation loop and what is published. Every stage is a thin
Prefect task over plain code in tasks/.
"""
from __future__ import annotations

import json
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from prefect import flow, get_run_logger, runtime
from prefect.states import Completed, Failed

from tasks.backends.base import JobSpec
from tasks.backends.factory import job_output_location, make_backend
from tasks.backends.watch import PollPolicy
from tasks.config import RunConfig
from flows.run_context import (
    FlowDeadline, alert_for, build_triage_context, check_output_folder, identity_job_input, is_permanent_submit_error,
    preflight_options, preflight_verdict, submit_refused_verdict, unsettled_verdict, workspace_verdict,
)
from flows.attempts import Attempts, JobNotSettledError
from flows.concurrency import job_slot
from flows.logs import forward_stage_logs
from flows.naming import flow_run_name
from flows.progress_artifact import predictions_source
from flows.run_state import active_job, mark_alerted, run_folder_for, was_alerted
from flows.stages import (
    check_data, check_workspace, publish_report, publish_results, send_alert, submit_job, triage, value_of, watch,
)


HOOK_SETTLE_SECONDS = 120  # how long a hook waits for a cancel to be confirmed before saying the job may still run
# Prefect's own timeout is a backstop behind the in-flow deadline (flow_timeout_minutes), which cancels the job and
# reports `timeout` itself: it fires only after the deadline, the cancel's confirmation and the report had their time.
TIMEOUT_GRACE_SECONDS = 2 * HOOK_SETTLE_SECONDS + 300
# A deployment's parameters arrive at run time, after the decorator is read: there Prefect's timeout is the longest
# flow_timeout_minutes allows, and the in-flow deadline is the run's timeout.
MAX_FLOW_SECONDS = 10080 * 60 + TIMEOUT_GRACE_SECONDS


@dataclass
class RunSummary:
    """What a ghost-probing run produced; the flow's return value."""

    ok: bool
    category: str
    summary: str
    run_folder: str
    report: str | None = None
    verdict_json: str | None = None
    predictions: str | None = None
    results_summary: str | None = None
    attempts: list[dict[str, Any]] = field(default_factory=list)
    alert: str | None = None


class RunFailed(Exception):
    """A failed run's final-state data: the verdict as the message, the RunSummary beside it.

    A Failed state must carry something Prefect can resolve into an exception; a bare RunSummary made the engine print
    "Unexpected result for failed state ... cannot be resolved into an exception" after every failed run.
    """

    def __init__(self, message: str, summary: RunSummary) -> None:
        super().__init__(message)
        self.summary = summary

    def __reduce__(self):  # results are pickled: keep both arguments
        return (type(self), (str(self), self.summary))


def _body(markdown: str) -> str:
    """Markdown without its leading heading, to nest it under a report section of its own."""
    lines = markdown.lstrip().splitlines()
    return "\n".join(lines[1:] if lines and lines[0].startswith("#") else lines).strip()


def _poll_policy(config: RunConfig, deadline_seconds: float | None = None) -> PollPolicy:
    """Budgets for every backend (a hung local job is cancelled like an A100 job), within the flow's own time."""
    queue, run = config.budgets_seconds()
    return PollPolicy(
        initial_seconds=config.poll_initial_seconds,
        max_seconds=max(config.poll_max_seconds, config.poll_initial_seconds),
        queue_budget_seconds=queue,
        run_budget_seconds=run,
        deadline_seconds=deadline_seconds,
    )


def _run_try() -> int:
    """Which try of this flow run this is (Prefect's run_count: 1, then 2 after a retry)."""
    try:
        return int(runtime.flow_run.run_count or 1)
    except Exception:
        return 1


def _alert_and_fail(config: RunConfig, verdict, report_path: Path, summary: RunSummary):
    """Alert once (an undelivered alert is logged and kept in alert.json, never the run's failure message); fail
    with the verdict."""
    record = send_alert(alert_for(verdict, report_path, summary.run_folder), Path(summary.run_folder),
                        config.slack_webhook_block, report_path)
    mark_alerted(Path(summary.run_folder), _run_try())
    summary.alert = f"{record.status}: {record.detail}"
    message = f"{verdict.category}: {verdict.summary}"
    return Failed(message=message, data=RunFailed(message, summary))


def _hook_context(flow_run) -> tuple[RunConfig | None, Path | None]:
    """The run's config and folder, rebuilt from the flow run's parameters (hooks may run in another process)."""
    try:
        config = RunConfig.model_validate(flow_run.parameters.get("config") or {})
    except Exception:  # invalid parameters: the run never started, so there is nothing to cancel
        return None, None
    return config, run_folder_for(config.run_dir, str(flow_run.id), create=False)


def _cancel_job_of(flow_run, config: RunConfig | None, folder: Path | None) -> None:
    """Cancel the job on record and confirm it stopped; the record is cleared only then (else it stays, and we say so)."""
    handle = active_job(folder) if folder else None
    if handle is None:
        return
    attempts = Attempts(make_backend(config, folder), folder, settle_timeout_seconds=HOOK_SETTLE_SECONDS,
                        poll_seconds=min(config.poll_initial_seconds, 5.0))
    try:
        attempts.finish(handle)
        print(f"ghostwatch: job {handle.name} of flow run {flow_run.name} is stopped")
    except JobNotSettledError as exc:
        print(f"ghostwatch: {exc}")


def _cancel_active_job(flow, flow_run, state) -> None:
    """On cancellation, stop the job this flow run started, so no A100 keeps running for nobody."""
    _cancel_job_of(flow_run, *_hook_context(flow_run))


def _alert_on_unhandled_failure(flow, flow_run, state) -> None:
    """Backstop in the run's own process (or its worker): cancel the job; alert once if the flow did not get to it.

    A crashed run is left to the server's backstop automation when the server has one (flows/automation.py): that
    path also covers a killed process, and one place sends the message. Whatever alerted, a delivered alert is
    announced to the server so the automation stays silent.
    """
    from flows.alerting import announce_delivered, deliver, read_record
    from flows.automation import backstop_present
    from flows.run_context import alert_for_crash

    config, folder = _hook_context(flow_run)
    _cancel_job_of(flow_run, config, folder)
    run_try = getattr(flow_run, "run_count", 1) or 1  # a retried flow run that fails again alerts once more
    alerted = bool(folder and was_alerted(folder, run_try))
    record = read_record(folder) if alerted else None
    if not alerted:
        if state.is_crashed() and backstop_present():
            print(f"ghostwatch: flow run {flow_run.name} crashed; the server's backstop automation alerts")
            return
        block = config.slack_webhook_block if config else None
        target = folder or Path(config.run_dir if config else "runs") / f"unstarted-{str(flow_run.id)[:8]}"
        record = deliver(alert_for_crash(flow_run.name, state), target, block)
        if folder:
            mark_alerted(folder, run_try)
    if record is not None and record.delivered:
        try:
            announce_delivered(flow_run)
        except Exception as exc:  # no events client: the automation, if any, may alert a second time
            print(f"ghostwatch: could not announce the delivered alert ({type(exc).__name__})")


@flow(
    name="ghost-probing",
    flow_run_name=flow_run_name,
    description="Preflight the videos, run the LLaVA ghost-probing job, triage failures, report and alert.",
    on_failure=[_alert_on_unhandled_failure],
    on_crashed=[_alert_on_unhandled_failure],
    on_cancellation=[_cancel_active_job],
    timeout_seconds=MAX_FLOW_SECONDS,
)
def ghost_probing(config: RunConfig) -> RunSummary:
    """Run ghost-probing detection over a datastore of dashcam videos, end to end."""
    forward_stage_logs()
    # One run at a time per data and output folder: a second run waits here instead of queueing a second GPU job.
    run_folder = run_folder_for(config.run_dir, str(runtime.flow_run.id or "local"))
    with job_slot(config, get_run_logger(), run_folder):
        return _run(config, run_folder)


def _run(config: RunConfig, run_folder: Path) -> RunSummary:
    """The flow's body, inside the run's concurrency slot."""
    logger = get_run_logger()
    run_key = str(runtime.flow_run.id or "local")[:8]
    summary = RunSummary(ok=False, category="other", summary="", run_folder=str(run_folder))
    logger.info("run folder: %s", run_folder)

    preflight = value_of(check_data(preflight_options(config), return_state=True))
    if not preflight.passed:
        logger.error("preflight failed; nothing was submitted")
        return _finish(config, preflight_verdict(preflight), summary, extra={"Preflight": _body(preflight.to_markdown())})

    backend = make_backend(config, run_folder)
    output_location, refused = check_output_folder(config, job_output_location(config, run_folder, run_key))
    if refused is not None:
        logger.error("the output folder holds predictions made another way; nothing was submitted")
        return _finish(config, refused, summary)
    current: dict[str, Any] = {
        "use_identity": preflight.access.use_identity,
        "batch_size": config.batch_size,
        "num_frames": config.num_frames,
        "compute": config.azureml.compute if config.azureml else None,
        "video_input": preflight.access.job_input,
    }
    from tasks.triage import AttemptRecord, plan_remediation

    deadline = FlowDeadline(config.flow_timeout_minutes * 60)
    lifecycle = Attempts(backend, run_folder, poll_seconds=config.poll_initial_seconds)
    try:
        plan = lifecycle.resume()
    except JobNotSettledError as exc:
        return _finish(config, unsettled_verdict(exc), summary)
    attempts: list[AttemptRecord] = []
    workspace_checked_for: tuple | None = None
    verdict = outcome = None
    for attempt in range(plan.next_attempt, plan.next_attempt + config.max_attempts):
        spec = _job_spec(config, preflight, current, f"gw-{run_key}-a{attempt}", output_location, attempt)
        if plan.reattach is not None and attempt == plan.next_attempt:
            handle = plan.reattach
            logger.warning("re-attaching to job %s, still running from an earlier try of this flow run", handle.name)
        else:
            # The workspace check runs again whenever what the job reads, or how, has changed (resubmit with identity).
            if workspace_checked_for != (spec.video_input, spec.use_identity, current["compute"]):
                if problems := check_workspace(backend, spec):
                    return _finish(config, workspace_verdict(problems), summary, attempts=attempts)
                workspace_checked_for = (spec.video_input, spec.use_identity, current["compute"])
            try:
                handle = lifecycle.start(spec, lambda s: submit_job(backend, s))
            except Exception as exc:
                if not is_permanent_submit_error(exc):
                    raise
                return _finish(config, submit_refused_verdict(spec.name, exc), summary, attempts=attempts)
        outcome = value_of(watch(backend, handle, run_folder / f"evidence-attempt-{attempt}",
                                 _poll_policy(config, deadline.remaining()),
                                 total_videos=_expected_videos(config, preflight),
                                 predictions=predictions_source(config, output_location), return_state=True))
        try:
            lifecycle.finish(handle)
        except JobNotSettledError as exc:
            attempts.append(AttemptRecord(attempt=attempt, job_name=handle.name, state=outcome.state.value,
                                          category="service_error", action="stop", note=str(exc)))
            summary.attempts = [vars(a) for a in attempts]
            return _finish(config, unsettled_verdict(exc), summary, job=outcome.status.to_dict(), attempts=attempts)
        verdict = triage(outcome.evidence_dir, build_triage_context(config, preflight, outcome))
        attempts.append(AttemptRecord(attempt=attempt, job_name=handle.name, state=outcome.state.value,
                                      category=verdict.category, action=verdict.action))
        if verdict.category == "none" or deadline.expired():
            break
        step = plan_remediation(
            verdict, attempts, current, config.max_attempts,
            dedicated_compute=config.azureml.dedicated_compute if config.azureml else None,
            dedicated_after_preemptions=config.azureml.dedicated_after_preemptions if config.azureml else 2,
        )
        if step is None:
            break
        logger.warning("remediation after attempt %d: %s (%s)", attempt, step.action, step.reason)
        attempts[-1].note = f"{step.action}: {step.reason}"
        if step.overrides.get("compute") and step.overrides["compute"] != current["compute"]:
            backend = backend.with_compute(step.overrides["compute"])
            lifecycle.backend = backend
        current.update(step.overrides)
        if step.overrides.get("use_identity") and not preflight.access.use_identity:
            current["video_input"] = identity_job_input(config, preflight)

    outputs_dir = outcome.evidence_dir / "outputs"
    if publish_results(outputs_dir) is not None:
        summary.results_summary = str(outputs_dir / "summary.json")
    if (outputs_dir / "predictions.jsonl").exists():
        summary.predictions = str(outputs_dir / "predictions.jsonl")
    summary.attempts = [vars(a) for a in attempts]
    return _finish(config, verdict, summary, job=outcome.status.to_dict(), attempts=attempts, outputs_dir=outputs_dir)


def _expected_videos(config: RunConfig, preflight) -> int | None:
    """How many videos the job has to do: the progress bar's total."""
    count = len(preflight.manifest) if preflight.manifest else None
    return min(count, config.limit) if count is not None and config.limit else count


def _job_spec(config: RunConfig, preflight, current: dict[str, Any], name: str, output: str, attempt: int) -> JobSpec:
    """One attempt's job: the run's parameters with the remediation overrides so far."""
    return JobSpec(
        name=name,
        video_input=current.get("video_input") or preflight.access.job_input,
        output_dir=output,
        model=config.model,
        model_family=config.model_family,
        num_frames=current["num_frames"],
        batch_size=current["batch_size"],
        max_new_tokens=config.max_new_tokens,
        # A local label file cannot reach an Azure ML job; triage still checks that job's outputs against it.
        labels=config.labels_path if config.backend == "local" else None,
        limit=config.limit,
        use_identity=current["use_identity"],
        attempt=attempt,
    )


def _finish(config: RunConfig, verdict, summary: RunSummary, job: dict | None = None, attempts=(), extra=None,
            outputs_dir: Path | None = None):
    """Publish the report that fits; a healthy verdict completes the run, anything else alerts and fails it."""
    from flows.run_context import run_links

    paths = publish_report(verdict, Path(summary.run_folder), job=job, attempts=list(attempts), extra_sections=extra,
                           outputs_dir=outputs_dir, links=run_links())
    summary.category, summary.summary = verdict.category, verdict.summary
    summary.report, summary.verdict_json = str(paths.markdown), str(paths.verdict_json)
    if verdict.category != "none":
        return _alert_and_fail(config, verdict, paths.markdown, summary)
    summary.ok = True
    get_run_logger().info("done: %s", json.dumps({"report": summary.report, "predictions": summary.predictions}))
    return Completed(message=verdict.summary, data=summary)


def flow_for(config: RunConfig):
    """The flow with Prefect's timeout set from this run's config (entry points that know the config before the run)."""
    return ghost_probing.with_options(timeout_seconds=config.flow_timeout_minutes * 60 + TIMEOUT_GRACE_SECONDS)
