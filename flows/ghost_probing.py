"""The `ghost-probing` flow: preflight → submit → watch → triage (and remediate) → report → alert.

Orchestration only: the order of stages, the bounded remediation loop and what is published. Every stage is a thin
Prefect task over plain code in tasks/.
"""
from __future__ import annotations

import datetime as dt
import json
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from prefect import flow, get_run_logger, runtime
from prefect.states import Completed, Failed

from tasks.backends.base import JobSpec
from tasks.backends.factory import make_backend
from tasks.backends.watch import PollPolicy
from tasks.config import RunConfig
from tasks.notify import Alert, resolve_webhook
from tasks.run_context import active_jobs, alert_for, build_triage_context, preflight_options, preflight_verdict
from tasks.stages import check_data, publish_report, publish_results, send_alert, submit_job, triage, watch


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


def _run_folder(config: RunConfig) -> Path:
    flow_run_id = str(runtime.flow_run.id or "local")
    stamp = dt.datetime.now(dt.timezone.utc).strftime("%Y%m%d-%H%M%S")
    root = Path(config.run_dir).expanduser().resolve()
    # A retried flow run finds the folder it already started, so its job outputs (and resume state) carry over.
    existing = sorted(root.glob(f"*-{flow_run_id[:8]}")) if root.exists() else []
    folder = existing[0] if existing else root / f"{stamp}-{flow_run_id[:8]}"
    folder.mkdir(parents=True, exist_ok=True)
    return folder


def _body(markdown: str) -> str:
    """Markdown without its leading heading, to nest it under a report section of its own."""
    lines = markdown.lstrip().splitlines()
    return "\n".join(lines[1:] if lines and lines[0].startswith("#") else lines).strip()


def _poll_policy(config: RunConfig) -> PollPolicy:
    azure = config.azureml
    return PollPolicy(
        initial_seconds=config.poll_initial_seconds,
        max_seconds=max(config.poll_max_seconds, config.poll_initial_seconds),
        queue_budget_seconds=azure.queue_budget_minutes * 60 if azure and azure.queue_budget_minutes else None,
        run_budget_seconds=azure.run_budget_minutes * 60 if azure and azure.run_budget_minutes else None,
    )


def _alert_and_fail(config: RunConfig, verdict, report_path: Path, summary: RunSummary):
    webhook = resolve_webhook(config.slack_webhook_url.get_secret_value() if config.slack_webhook_url else None)
    send_alert(alert_for(verdict, report_path, summary.run_folder), webhook, report_path)
    active_jobs.mark_alerted(runtime.flow_run.id)
    return Failed(message=f"{verdict.category}: {verdict.summary}", data=summary)


def _cancel_active_job(flow, flow_run, state) -> None:
    """On cancellation or crash, stop the job this flow run started, so no A100 keeps running for nobody."""
    active_jobs.cancel(flow_run.id)


def _alert_on_unhandled_failure(flow, flow_run, state) -> None:
    """Backstop: a run that failed or crashed outside triage (a bug, a lost worker) still alerts."""
    active_jobs.cancel(flow_run.id)
    if active_jobs.was_alerted(flow_run.id):
        return
    from tasks.run_context import alert_for_crash

    webhook = resolve_webhook()
    alert = alert_for_crash(flow_run.name, state)
    if webhook:
        from tasks.notify import post_alert

        post_alert(alert, webhook)
    else:
        print(f"ghostwatch: {alert.title}: {alert.summary}")


@flow(
    name="ghost-probing",
    description="Preflight the videos, run the LLaVA ghost-probing job, triage failures, report and alert.",
    on_failure=[_alert_on_unhandled_failure],
    on_crashed=[_alert_on_unhandled_failure],
    on_cancellation=[_cancel_active_job],
)
def ghost_probing(config: RunConfig) -> RunSummary:
    """Run ghost-probing detection over a datastore of dashcam videos, end to end."""
    logger = get_run_logger()
    run_folder = _run_folder(config)
    summary = RunSummary(ok=False, category="other", summary="", run_folder=str(run_folder))
    logger.info("run folder: %s", run_folder)

    preflight = check_data(preflight_options(config))
    if not preflight.passed:
        verdict = preflight_verdict(preflight)
        paths = publish_report(verdict, run_folder, job=None, attempts=[], extra_sections={"Preflight": _body(preflight.to_markdown())})
        summary.category, summary.summary = verdict.category, verdict.summary
        summary.report, summary.verdict_json = str(paths.markdown), str(paths.verdict_json)
        logger.error("preflight failed; nothing was submitted: %s", verdict.summary)
        return _alert_and_fail(config, verdict, paths.markdown, summary)

    backend = make_backend(config, run_folder)
    outputs_dir = run_folder / "outputs"
    current: dict[str, Any] = {
        "use_identity": preflight.access.use_identity,
        "batch_size": config.batch_size,
        "num_frames": config.num_frames,
    }
    from tasks.triage import AttemptRecord, plan_remediation

    attempts: list[AttemptRecord] = []
    verdict = outcome = None
    for attempt in range(1, config.max_attempts + 1):
        spec = JobSpec(
            name=f"gw-{str(runtime.flow_run.id or 'local')[:8]}-a{attempt}",
            video_input=preflight.access.job_input,
            output_dir=str(outputs_dir),
            model=config.model,
            model_family=config.model_family,
            num_frames=current["num_frames"],
            batch_size=current["batch_size"],
            max_new_tokens=config.max_new_tokens,
            labels=config.labels_path,
            limit=config.limit,
            use_identity=current["use_identity"],
            attempt=attempt,
        )
        handle = submit_job(backend, spec)
        active_jobs.register(runtime.flow_run.id, backend, handle)
        outcome = watch(backend, handle, run_folder / f"evidence-attempt-{attempt}", _poll_policy(config))
        active_jobs.clear(runtime.flow_run.id)
        verdict = triage(outcome.evidence_dir, build_triage_context(config, preflight, outcome))
        attempts.append(
            AttemptRecord(attempt=attempt, job_name=handle.name, state=outcome.state.value, category=verdict.category, action=verdict.action)
        )
        if verdict.category == "none":
            break
        step = plan_remediation(
            verdict,
            attempts,
            current,
            config.max_attempts,
            dedicated_compute=config.azureml.dedicated_compute if config.azureml else None,
            dedicated_after_preemptions=config.azureml.dedicated_after_preemptions if config.azureml else 2,
        )
        if step is None:
            break
        logger.warning("remediation after attempt %d: %s (%s)", attempt, step.action, step.reason)
        attempts[-1].note = f"{step.action}: {step.reason}"
        current.update(step.overrides)

    results = publish_results(outputs_dir)
    paths = publish_report(verdict, run_folder, job=outcome.status.to_dict(), attempts=attempts)
    summary.category, summary.summary = verdict.category, verdict.summary
    summary.report, summary.verdict_json = str(paths.markdown), str(paths.verdict_json)
    summary.attempts = [vars(a) for a in attempts]
    if (outputs_dir / "predictions.jsonl").exists():
        summary.predictions = str(outputs_dir / "predictions.jsonl")
    if results is not None:
        summary.results_summary = str(outputs_dir / "summary.json")
    if verdict.category != "none":
        return _alert_and_fail(config, verdict, paths.markdown, summary)
    summary.ok = True
    logger.info("done: %s", json.dumps({"report": summary.report, "predictions": summary.predictions}))
    return Completed(message=verdict.summary, data=summary)
