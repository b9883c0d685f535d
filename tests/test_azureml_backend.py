"""AzureMLBackend against the local HTTPS fake of Azure ML, through the real azure-ai-ml SDK (no mocks of MLClient)."""
from __future__ import annotations

import json

import pytest

from tasks.backends.azureml import AzureMLBackend, cancel_on_interrupt
from tasks.backends.base import JobSpec, JobState
from tasks.backends.watch import PollPolicy, watch_job
from tests.azureml_fake import lifecycles


VIDEOS = "azureml://datastores/workspaceblobstore/paths/DADA-100-videos/"
OUTPUT = "azureml://datastores/workspaceblobstore/paths/ghostwatch/3f2a9c1d/"
POLICY = PollPolicy(jitter=0.0)
JOB_PUT = r"/jobs/[^/]+$"


def spec(attempt: int = 1, **overrides) -> JobSpec:
    values = dict(name=f"gw-3f2a9c1d-a{attempt}", video_input=VIDEOS, output_dir=OUTPUT, model="llava-hf/LLaVA-NeXT-Video-7B-hf", attempt=attempt)
    values.update(overrides)
    return JobSpec(**values)


@pytest.fixture
def backend(ml_client, azureml_settings, azureml_clock) -> AzureMLBackend:
    return AzureMLBackend(ml_client, azureml_settings, clock=azureml_clock)


def test_seed_failure_is_submitted_watched_collected_and_triaged(backend, azureml_fake, azureml_clock, tmp_path):
    azureml_fake.script(lifecycles.stream_not_found())
    handle = backend.submit(spec())
    outcome = watch_job(backend, handle, tmp_path / "evidence", POLICY, clock=azureml_clock)

    assert outcome.state is JobState.FAILED
    error = outcome.status.error
    assert error["code"] == "ScriptExecution.StreamAccess.NotFound"
    assert error["category"] == "UserError"
    assert error["target"] == "UriMountSession:INPUT_video_data"
    evidence = outcome.evidence_dir
    capability_log = (evidence / "system_logs/data_capability/data-capability.log").read_text()
    assert "Failed to mount URI azureml://" in capability_log
    assert json.loads((evidence / "job.json").read_text())["error"]["code"] == "ScriptExecution.StreamAccess.NotFound"
    collection = json.loads((evidence / "collection.json").read_text())
    assert collection["studio_url"].startswith("https://ml.azure.com/runs/gw-3f2a9c1d-a1")
    assert {m["what"] for m in collection["missing"]} == {"outputs"}  # the job died before writing any
    assert "sig=" not in (evidence / "collection.json").read_text()
    # the seed's job died 4 s into running; the default backoff notices within one settled interval
    assert outcome.watch_seconds - azureml_fake.jobs[handle.name].lifecycle.seconds_until("Failed") < POLICY.max_seconds

    from tasks.triage.classify import triage_evidence

    assert triage_evidence(evidence).category == "data_not_found"


def test_restarted_flow_reattaches_instead_of_submitting_again(backend, ml_client, azureml_settings, azureml_fake, azureml_clock):
    azureml_fake.script(lifecycles.completed())
    first = backend.submit(spec())
    restarted = AzureMLBackend(ml_client, azureml_settings, clock=azureml_clock)
    again = restarted.submit(spec())

    assert again.name == first.name
    assert again.details["reattached"] is True and first.details["reattached"] is False
    assert azureml_fake.count("PUT", JOB_PUT) == 1
    assert len(azureml_fake.jobs) == 1


def test_cancelled_flow_cancels_the_azure_job(backend, azureml_fake, azureml_clock, tmp_path):
    azureml_fake.script(lifecycles.completed())
    handle = backend.submit(spec())

    def flow_cancelled_once_running(status):
        if status.state is JobState.RUNNING:
            raise KeyboardInterrupt("flow run cancelled")  # what a Prefect cancellation looks like to this code

    with pytest.raises(KeyboardInterrupt):
        with cancel_on_interrupt(backend, handle):
            watch_job(backend, handle, tmp_path / "ev", POLICY, clock=azureml_clock, on_status=flow_cancelled_once_running)

    assert azureml_fake.count("POST", r"/jobs/gw-3f2a9c1d-a1/cancel$") == 1
    azureml_clock.advance(5)
    assert backend.get(handle).state is JobState.CANCELED


def test_not_responding_job_ends_the_watch_with_a_clear_verdict(backend, azureml_fake, azureml_clock, tmp_path):
    azureml_fake.script(lifecycles.not_responding())
    handle = backend.submit(spec())
    outcome = watch_job(backend, handle, tmp_path / "ev", POLICY, clock=azureml_clock)

    assert outcome.state is JobState.NOT_RESPONDING
    assert outcome.gave_up_reason is None
    assert "stopped hearing from the job's node" in outcome.status.properties["note"]
    assert "No heartbeat" in (outcome.evidence_dir / "system_logs/lifecycler/lifecycler.log").read_text()
    # 2 550 s to the final state at <= 30 s a poll: well under 2 polls a minute
    assert outcome.polls < 2550 / 30 + 15


def test_preempted_job_resubmitted_resumes_from_its_predecessors_predictions(backend, azureml_fake, azureml_clock, tmp_path):
    azureml_fake.script(lifecycles.preempted(predictions_total=4), lifecycles.completed(predictions_total=10))
    first = watch_job(backend, backend.submit(spec(1)), tmp_path / "a1", POLICY, clock=azureml_clock)
    assert first.state is JobState.FAILED
    assert "PreemptionError" in first.status.error["message"]
    before = (first.evidence_dir / "outputs/predictions.jsonl").read_text().splitlines()
    assert len(before) == 4

    second = watch_job(backend, backend.submit(spec(2)), tmp_path / "a2", POLICY, clock=azureml_clock)
    assert second.state is JobState.COMPLETED
    after = (second.evidence_dir / "outputs/predictions.jsonl").read_text().splitlines()
    assert after[:4] == before and len(after) == 10
    assert json.loads((second.evidence_dir / "outputs/summary.json").read_text())["videos"] == 10
    outputs = [job.body["properties"]["outputs"]["results"] for job in azureml_fake.jobs.values()]
    assert [o["uri"] for o in outputs] == [OUTPUT, OUTPUT]
    assert {o["mode"] for o in outputs} == {"ReadWriteMount"}


def test_completed_job_evidence_holds_logs_and_outputs(backend, azureml_fake, azureml_clock, tmp_path):
    azureml_fake.script(lifecycles.completed())
    outcome = watch_job(backend, backend.submit(spec()), tmp_path / "ev", POLICY, clock=azureml_clock)

    assert outcome.state is JobState.COMPLETED and outcome.status.error is None
    ev = outcome.evidence_dir
    assert (ev / "user_logs/std_log.txt").is_file()
    assert len((ev / "outputs/predictions.jsonl").read_text().splitlines()) == 10
    assert json.loads((ev / "collection.json").read_text())["missing"] == []


def test_throttling_and_resets_during_the_watch_do_not_fail_it(backend, azureml_fake, azureml_clock, tmp_path):
    azureml_fake.script(lifecycles.completed())
    handle = backend.submit(spec())
    azureml_fake.add_fault(r"/jobs/gw-3f2a9c1d-a1$", 3, status=429, retry_after=17)
    azureml_fake.add_fault(r"/jobs/gw-3f2a9c1d-a1$", 2, status=503)
    azureml_fake.add_fault(r"/jobs/gw-3f2a9c1d-a1$", 1, reset=True)
    outcome = watch_job(backend, handle, tmp_path / "ev", POLICY, clock=azureml_clock)

    assert outcome.state is JobState.COMPLETED
    assert sum(1 for s in azureml_clock.sleeps if s >= 17) >= 3  # Retry-After honoured, on the injected clock
    assert all(f.remaining == 0 for f in azureml_fake.faults)


def test_queue_budget_cancels_a_job_that_never_starts(backend, azureml_fake, azureml_clock, tmp_path):
    azureml_fake.script(lifecycles.stuck_in_queue())
    handle = backend.submit(spec())
    policy = PollPolicy(jitter=0.0, queue_budget_seconds=600)
    outcome = watch_job(backend, handle, tmp_path / "ev", policy, clock=azureml_clock)

    assert "in the queue" in outcome.gave_up_reason
    assert azureml_fake.count("POST", r"/cancel$") == 1
    missing = {m["what"] for m in json.loads((outcome.evidence_dir / "collection.json").read_text())["missing"]}
    assert "user_logs/ and system_logs/" in missing and "outputs" in missing


def test_identity_and_overrides_reach_the_submitted_job(backend, azureml_fake):
    backend.submit(spec(use_identity=True, limit=5, num_frames=8))
    props = next(iter(azureml_fake.jobs.values())).body["properties"]

    assert props["identity"]["identityType"] == "Managed"
    assert props["inputs"]["video_data"]["uri"] == VIDEOS and props["inputs"]["video_data"]["mode"] == "ReadOnlyMount"
    assert props["inputs"]["num_frames"]["value"] == "8"
    assert "--limit ${{inputs.limit}}" in props["command"]
    assert props["computeId"].endswith("/computes/llava-a100-low-priority")
    uploaded = azureml_fake.blobs.requests
    assert any(path.endswith("/inference/__init__.py") for method, path in uploaded if method == "PUT")
    assert not any("/tests/" in path or "/.venv/" in path for _, path in uploaded)


def test_evidence_says_what_could_not_be_fetched_and_never_hangs(backend, azureml_fake, azureml_clock, tmp_path):
    azureml_fake.script(lifecycles.completed())
    handle = backend.submit(spec())
    azureml_clock.advance(3600)
    azureml_fake.add_fault(r"/runs/gw-3f2a9c1d-a1/details$", 100, status=503)
    evidence = backend.collect_evidence(handle, tmp_path / "ev")

    missing = {m["what"]: m["why"] for m in json.loads((evidence / "collection.json").read_text())["missing"]}
    assert "HTTP 503" in missing["job status and run-history error"]
    assert "run history unavailable" in missing["user_logs/ and system_logs/"]
    assert len((evidence / "outputs/predictions.jsonl").read_text().splitlines()) == 10  # what could be fetched was
    assert len(azureml_clock.sleeps) >= 2  # retried on the injected clock, then gave up


def test_fallback_to_dedicated_compute_submits_there(backend, azureml_fake):
    from tests.azureml_fake.server import Compute

    azureml_fake.computes["llava-a100-dedicated"] = Compute("llava-a100-dedicated", priority="Dedicated")
    backend.with_compute("llava-a100-dedicated").submit(spec(3))

    assert azureml_fake.jobs["gw-3f2a9c1d-a3"].body["properties"]["computeId"].endswith("/computes/llava-a100-dedicated")


def _triage_job_as_a_user(job_name, settings, env, dest, capsys) -> tuple[int, dict]:
    """`ghostwatch triage --job NAME --json`, signed in with the machine's managed identity; (status, verdict)."""
    from flows.cli import main
    from tests.azureml_fake.credentials import ManagedIdentityEndpoint

    with ManagedIdentityEndpoint() as identity:
        for name, value in identity.environment().items():
            env.setenv(name, value)
        status = main(["triage", "--job", job_name, "--subscription-id", settings.subscription_id,
                       "--resource-group", settings.resource_group, "--workspace-name", settings.workspace_name,
                       "--dest", str(dest), "--json"])
    return status, json.loads(capsys.readouterr().out)


def test_triage_cli_downloads_a_workspace_job_and_names_the_seed_failure(backend, azureml_fake, azureml_clock,
                                                                          azureml_settings, clean_azure_env, tmp_path,
                                                                          capsys):
    """`ghostwatch triage --job NAME` as a user runs it: signs in with the machine's identity, downloads, classifies."""

    azureml_fake.script(lifecycles.stream_not_found())
    handle = backend.submit(spec())
    azureml_clock.advance(3600)  # the job failed long ago; someone now asks why
    status, verdict = _triage_job_as_a_user(handle.name, azureml_settings, clean_azure_env, tmp_path / "ev", capsys)
    assert status == 1 and verdict["category"] == "data_not_found"
    assert any("StreamAccess.NotFound" in e["text"] for e in verdict["evidence"])
    assert (tmp_path / "ev" / "system_logs" / "data_capability" / "data-capability.log").exists()


def test_triage_cli_reads_the_outputs_a_healthy_job_wrote(backend, azureml_fake, azureml_clock, azureml_settings,
                                                          clean_azure_env, tmp_path, capsys):
    """issue 11 item 12: `triage --job` finds the job's output folder itself, so a healthy job is healthy."""

    azureml_fake.script(lifecycles.completed(predictions_total=10))
    handle = backend.submit(spec())
    azureml_clock.advance(7200)
    status, verdict = _triage_job_as_a_user(handle.name, azureml_settings, clean_azure_env, tmp_path / "ev", capsys)
    assert verdict["category"] == "none" and status == 0, verdict["summary"]
    assert (tmp_path / "ev" / "outputs" / "predictions.jsonl").exists()
