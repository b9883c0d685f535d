"""Glue between stages: turning a RunConfig and stage results into the next stage's inputs and alerts."""
from __future__ import annotations

import os
from pathlib import Path

from tasks.backends.base import JobOutcome
from tasks.config import RunConfig
from tasks.notify import Alert


def datastore_resolver(settings):
    """Resolves azureml:// datastore names through the workspace (account, container, credential type)."""
    from tasks.backends.azureml import make_ml_client
    from tasks.backends.azureml_workspace import MLClientDatastoreResolver
    from tasks.datastore import default_token_credential

    return MLClientDatastoreResolver(make_ml_client(settings, default_token_credential()))


def preflight_options(config: RunConfig):
    """PreflightOptions for a run (the Azure ML workspace resolves azureml:// datastores)."""
    from tasks.preflight import PreflightOptions

    workspace = None
    if config.video_uri.startswith("azureml://"):
        if config.azureml is None:
            raise ValueError("video_uri is an azureml:// path: set the `azureml` parameter so the datastore can be resolved")
        workspace = datastore_resolver(config.azureml)
    return PreflightOptions(
        uri=config.video_uri,
        labels_path=config.labels_path,
        expected_count=config.expected_count,
        fail_on_warnings=config.fail_on_warnings,
        workspace=workspace,
    )


def preflight_verdict(result):
    """A triage Verdict for a preflight that blocked: the first blocking finding decides the category."""
    from tasks.triage import EvidenceLine, verdict_for_category

    first = result.blocking[0]
    others = [f for f in result.blocking[1:]]
    summary = first.message if not others else f"{first.message} (and {len(others)} more blocking problem(s))"
    evidence = [EvidenceLine(file="preflight", line=None, text=f"[{f.id}] {f.message}") for f in result.blocking]
    evidence += [EvidenceLine(file="preflight", line=None, text=f"[warning {f.id}] {f.message}") for f in result.warnings]
    details = {"uri": result.access.uri, "stage": "preflight (before submission: no job was started)"}
    if result.access.switched_to_identity:
        details["auth"] = f"switched to managed identity: {result.access.switch_reason}"
    if result.access.suggestions:
        details["nearest existing paths"] = ", ".join(result.access.suggestions)
    verdict = verdict_for_category(first.category if first.category != "data_quality" else "job_config_invalid",
                                   summary, evidence, details)
    from tasks.preflight.local_advice import local_advice

    advice = local_advice(verdict.category, result.access.uri, list(result.access.suggestions or []))
    if advice:  # a local folder: shell steps on the job's machine, not Azure commands
        verdict.recommendations, verdict.next_steps = advice
    return verdict


def workspace_verdict(problems: list[str]):
    """A triage Verdict for workspace checks that block submission; the catalogue names the category of the first."""
    from tasks.triage import EvidenceLine, classify_message, verdict_for_category

    category = classify_message(problems[0]).category
    if category in ("other", "none"):
        category = "job_config_invalid"
    evidence = [EvidenceLine(file="workspace check", line=None, text=p) for p in problems]
    summary = problems[0] if len(problems) == 1 else f"{problems[0]} (and {len(problems) - 1} more problem(s))"
    return verdict_for_category(category, summary, evidence, {"stage": "workspace check (before submission: no job was started)"})


def build_triage_context(config: RunConfig, preflight, outcome: JobOutcome):
    """What triage should expect of the job's outputs: how many videos, and whether the labels hold both classes."""
    from tasks.triage import TriageContext

    expected = len(preflight.manifest) if preflight.manifest else None
    if expected is not None and config.limit:
        expected = min(expected, config.limit)
    both = None
    if config.labels_path and Path(config.labels_path).exists():
        from inference.labels import match_labels, read_labels

        names = [row.get("name") for row in preflight.manifest if row.get("name")]
        matched = match_labels(read_labels(config.labels_path), names).matched
        values = {label.positive for label in matched.values()}
        both = values == {True, False}
    return TriageContext(expected_videos=expected, labels_have_both_classes=both, job_state=outcome.state.value,
                         max_failed_fraction=config.max_failed_fraction)


def _ui_link(path: str) -> str | None:
    from prefect.settings import PREFECT_UI_URL

    base = os.environ.get("PREFECT_UI_URL") or PREFECT_UI_URL.value()
    return f"{base.rstrip('/')}{path}" if base else None


def run_links() -> dict[str, str]:
    """Links for reports and alerts: the flow run in the Prefect UI (when the UI's address is known)."""
    from prefect import runtime

    link = _ui_link(f"/runs/flow-run/{runtime.flow_run.id}") if runtime.flow_run.id else None
    return {"Prefect flow run": link} if link else {}


def alert_for(verdict, report_path: Path, run_folder: str) -> Alert:
    """The Slack alert for a triaged failure."""
    from prefect import runtime

    links = {}
    flow_run_link = _ui_link(f"/runs/flow-run/{runtime.flow_run.id}") if runtime.flow_run.id else None
    if flow_run_link:
        links["Prefect flow run"] = flow_run_link
    studio = (verdict.error_details or {}).get("studio_url")
    if studio:
        links["Azure ML Studio"] = studio
    return Alert(
        title=f"ghost-probing run {runtime.flow_run.name or ''} failed".replace("  ", " "),
        category=verdict.category,
        summary=verdict.summary,
        action=verdict.action,
        fields={"Report": str(report_path), "Run folder": run_folder, "Retryable": "yes" if verdict.retryable else "no"},
        links=links,
    )


def alert_for_crash(flow_run_name: str, state) -> Alert:
    """The Slack alert for a run that failed outside triage (an exception, a crash)."""
    message = (getattr(state, "message", None) or "no message").splitlines()[0][:500]
    from tasks.redact import redact

    return Alert(
        title=f"ghost-probing run {flow_run_name} {getattr(state, 'name', 'failed').lower()}",
        category="other",
        summary=redact(message),
        action="stop",
        fields={"State": getattr(state, "name", "?")},
    )


class FlowDeadline:
    """The flow's own time limit, on the monotonic clock: budgets per job, and this for the whole run."""

    def __init__(self, seconds: float) -> None:
        import time

        self._time = time.monotonic
        self.ends = self._time() + seconds

    def remaining(self) -> float:
        return max(0.0, self.ends - self._time())

    def expired(self) -> bool:
        return self.remaining() <= 0


def is_permanent_submit_error(exc: BaseException) -> bool:
    """A refusal that a retry cannot fix (400/404: unknown compute, environment, datastore; a job YAML that cannot
    make a job). Transient errors and bugs are not: they go to the crash path."""
    from tasks.backends.watch import TransientBackendError

    if isinstance(exc, TransientBackendError):
        return False
    try:
        from tasks.backends.azureml_errors import AzureMLAuthError, AzureMLError
        from tasks.backends.azureml_job import JobDefinitionError
    except ImportError:  # the Azure SDK is optional for local runs
        return False
    return isinstance(exc, (AzureMLError, JobDefinitionError)) and not isinstance(exc, AzureMLAuthError)


def submit_refused_verdict(job: str, exc: BaseException):
    """A triage Verdict for a submission the service refused: nothing runs, nothing to retry."""
    from tasks.redact import redact
    from tasks.triage import EvidenceLine, verdict_for_category

    message = redact(str(exc).splitlines()[0] if str(exc) else type(exc).__name__)
    return verdict_for_category(
        "job_config_invalid", f"Azure ML refused to create job {job}: {message}",
        [EvidenceLine(file="submit", line=None, text=message)],
        {"stage": "submit (the service refused the job; nothing was started)", "job": job},
    )


def unsettled_verdict(exc: BaseException):
    """A triage Verdict for a job that could not be confirmed stopped: the run stops rather than start another."""
    from tasks.redact import redact
    from tasks.triage import EvidenceLine, verdict_for_category

    message = redact(str(exc))
    return verdict_for_category(
        "service_error", message, [EvidenceLine(file="watch", line=None, text=message)],
        {"stage": "confirming the job stopped (no further attempt was started)"},
    )


def identity_job_input(config: RunConfig, preflight) -> str:
    """What a job resubmitted with `identity: managed` reads: a path without the datastore's stored key or SAS
    (stored credentials win over the job's identity, so the same azureml:// input would be refused again)."""
    return preflight.access.identity_input or preflight.access.job_input


def check_output_folder(config: RunConfig, output_uri: str) -> tuple[str, object | None]:
    """(where the job writes, a job_config_invalid Verdict or None): the output folder's earlier predictions checked
    against this run's resume key before anything is queued (tasks/output_folder.py)."""
    from tasks.output_folder import conflict_verdict, find_conflict, run_resume_key

    resolver = datastore_resolver(config.azureml) if output_uri.startswith("azureml://") and config.azureml else None
    conflict = find_conflict(output_uri, run_resume_key(config.model, config.model_family, config.num_frames), resolver)
    if conflict is None:
        return output_uri, None
    if config.output_conflict == "new_folder":
        from prefect import runtime

        fresh = f"{output_uri.rstrip('/')}/{str(runtime.flow_run.id or 'local')[:8]}/"
        return fresh, None
    return output_uri, conflict_verdict(conflict)
