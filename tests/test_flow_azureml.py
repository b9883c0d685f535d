"""The ghost-probing flow end to end with backend "azureml", against the local HTTPS fake of Azure ML.

Nothing is mocked: Prefect's test harness runs the flow; the real azure-ai-ml SDK reaches the fake through its MFE
override, trusted CA and CONNECT proxy (FakeAzureML.env); DefaultAzureCredential signs in through a local
managed-identity endpoint, as on Azure ML compute; preflight lists and decodes real sample clips that sit in the fake's
blob store at the datastore path the job reads; alerts go to a Slack stand-in on 127.0.0.1.

The flow watches on the real clock (as it does in production), so the fake runs on the real clock too, with job
lifecycles a second or two long: each test takes seconds, not the hours the scripted phases stand for.
"""
from __future__ import annotations

import dataclasses
import json
import re
from pathlib import Path

import pytest

from flows.run import run_and_describe
from tasks.clock import SystemClock
from tasks.config import AzureMLSettings, RunConfig
from flows.sample_data import make_sample_dataset
from tests.azureml_fake import lifecycles
from tests.azureml_fake.credentials import ManagedIdentityEndpoint
from tests.azureml_fake.lifecycles import Lifecycle, Phase
from tests.azureml_fake.server import FAKE_ACCOUNT_KEY, FakeAzureML
from tests.support.slack_server import SlackWebhookServer

pytestmark = [pytest.mark.prefect, pytest.mark.timeout(180)]

VIDEO_PREFIX = "DADA-100-videos/"
VIDEO_URI = f"azureml://datastores/workspaceblobstore/paths/{VIDEO_PREFIX}"
CLIPS = 4


@pytest.fixture(scope="module")
def clips(tmp_path_factory) -> list[Path]:
    """Real decodable clips, small enough that preflight downloads and decodes them all in a second."""
    data = make_sample_dataset(tmp_path_factory.mktemp("clips") / "DADA-100-video", videos=CLIPS, seed=3, width=96,
                               height=64, seconds=2)
    return sorted(data.videos)


@pytest.fixture
def live_fake(clean_azure_env, clips, tmp_path):
    """The fake Azure ML on the real clock, its workspace blob store holding the clips, and the SDK pointed at it."""
    fake = FakeAzureML(clock=SystemClock()).start()
    for name, value in fake.env(tmp_path / "fake-ca.pem").items():
        clean_azure_env.setenv(name, value)
    for clip in clips:
        fake.blobs.put(fake.storage_account, fake.blob_container, VIDEO_PREFIX + clip.name, clip.read_bytes(),
                       content_type="video/x-msvideo")
    # An attempt no test scripted fails at once and says so, rather than running the default 40-minute lifecycle.
    fake.default_lifecycle = lambda: Lifecycle(
        name="unscripted", phases=(Phase("Queued", 0.2), Phase("Failed")),
        error={"code": "UserError", "message": "the test did not script this attempt"},
    )
    try:
        yield fake
    finally:
        fake.stop()


@pytest.fixture
def managed_identity(clean_azure_env):
    """The identity DefaultAzureCredential finds, announced as Azure ML compute announces its own."""
    with ManagedIdentityEndpoint() as endpoint:
        for name, value in endpoint.environment().items():
            clean_azure_env.setenv(name, value)
        yield endpoint


def config_for(fake: FakeAzureML, tmp_path: Path, **overrides) -> RunConfig:
    values = dict(
        video_uri=VIDEO_URI,
        labels_path=None,
        expected_count=CLIPS,
        backend="azureml",
        run_dir=str(tmp_path / "runs"),
        max_attempts=3,
        poll_initial_seconds=0.2,
        poll_max_seconds=0.5,
        azureml=AzureMLSettings(subscription_id=fake.subscription_id, resource_group=fake.resource_group,
                                workspace_name=fake.workspace),
    )
    values.update(overrides)
    return RunConfig(**values)


def quick(lifecycle: Lifecycle, *phases: Phase, **changes) -> Lifecycle:
    """A shipped lifecycle (its error, logs and outputs) with phases of a second or so; `videos=` names its clips."""
    return dataclasses.replace(lifecycle, phases=phases, **changes)


def secrets_in(text: str, identity: ManagedIdentityEndpoint) -> list[str]:
    """Which secrets of this run appear in `text`."""
    found = [s for s in ("sig=", FAKE_ACCOUNT_KEY, SlackWebhookServer.path, "testtoken", "Bearer ") if s in text]
    found += [f"token {t[:12]}..." for t in identity.issued if t in text or t.split(".")[1] in text]
    return found


def test_seed_failure_is_submitted_watched_triaged_reported_and_alerted_once(monkeypatch, prefect_harness, live_fake, managed_identity, tmp_path):
    live_fake.script(quick(lifecycles.stream_not_found(), Phase("Queued", 0.3), Phase("Preparing", 0.3),
                           Phase("Running", 0.4), Phase("Failed")))
    with SlackWebhookServer() as slack:
        monkeypatch.setenv("SLACK_WEBHOOK_URL", slack.url)
        summary, ok = run_and_describe(config_for(live_fake, tmp_path))

    assert not ok and summary["state"] == "Failed", summary["text"]
    assert summary["category"] == "data_not_found"
    assert [a["state"] for a in summary["attempts"]] == ["Failed"], "data errors are not retried"
    assert len(live_fake.jobs) == 1
    job = next(iter(live_fake.jobs.values()))
    assert job.body["properties"]["inputs"]["video_data"]["uri"].rstrip("/") == VIDEO_URI.rstrip("/")
    # preflight really read the clips through the workspace's datastore, the way the job would
    assert live_fake.count("POST", r"/datastores/workspaceblobstore/listSecrets$") >= 1
    assert sum(1 for m, p in live_fake.blobs.requests if m == "GET" and p.endswith(".avi")) >= CLIPS
    assert managed_identity.issued, "the SDK signed in through DefaultAzureCredential's managed identity"

    report = Path(summary["report"]).read_text()
    assert "data-capability.log" in report and "ScriptExecution.StreamAccess.NotFound" in report
    capability_lines = [line for line in report.splitlines() if "data-capability.log" in line]
    assert any("StreamAccess" in line for line in capability_lines), "the report cites the data-capability line"
    evidence = Path(summary["run_folder"]) / "evidence-attempt-1"
    assert "Failed to mount URI" in (evidence / "system_logs/data_capability/data-capability.log").read_text()

    assert len(slack.posts) == 1
    posted = json.dumps(slack.posts[0]["json"])
    assert "data_not_found" in posted
    assert secrets_in(posted, managed_identity) == []
    assert secrets_in(report, managed_identity) == []
    assert secrets_in(Path(summary["verdict_json"]).read_text(), managed_identity) == []


def test_preempted_attempt_is_resubmitted_to_the_same_folder_and_resumes_to_completion(monkeypatch, prefect_harness, live_fake, managed_identity, clips, tmp_path):
    names = tuple(clip.name for clip in clips)
    live_fake.script(
        quick(lifecycles.preempted(predictions_total=2), Phase("Queued", 0.3), Phase("Running", 0.6), Phase("Failed"),
              videos=names),
        quick(lifecycles.completed(predictions_total=CLIPS), Phase("Queued", 0.3), Phase("Running", 0.6),
              Phase("Finalizing", 0.2), Phase("Completed"), videos=names),
    )
    with SlackWebhookServer() as slack:
        monkeypatch.setenv("SLACK_WEBHOOK_URL", slack.url)
        summary, ok = run_and_describe(config_for(live_fake, tmp_path))

    assert ok and summary["state"] == "Completed", summary["text"]
    assert summary["category"] == "none"
    first, second = summary["attempts"]
    assert (first["state"], first["category"]) == ("Failed", "preempted_low_priority")
    assert first["note"].startswith("resubmit:") and "preempted" in first["note"]
    assert (second["state"], second["category"]) == ("Completed", "none")
    assert first["job_name"].endswith("-a1") and second["job_name"] == first["job_name"][:-1] + "2"
    assert sorted(live_fake.jobs) == sorted([first["job_name"], second["job_name"]])
    outputs = [live_fake.jobs[a["job_name"]].body["properties"]["outputs"]["results"]["uri"] for a in (first, second)]
    assert outputs[0] == outputs[1], "attempt 2 writes where attempt 1 left its predictions"

    run_folder = Path(summary["run_folder"])
    before = (run_folder / "evidence-attempt-1/outputs/predictions.jsonl").read_text().splitlines()
    after = Path(summary["predictions"]).read_text().splitlines()
    assert len(before) == 2 and after[:2] == before, "attempt 2 resumed after attempt 1's predictions"
    assert sorted(json.loads(line)["video"] for line in after) == sorted(names)
    assert "attempt 1" in summary["text"] and "preempted" in summary["text"]
    assert slack.posts == [], "a run that recovered raises no alert"


def test_not_responding_job_ends_the_flow_with_a_clear_verdict(monkeypatch, prefect_harness, live_fake, managed_identity, tmp_path):
    not_responding = quick(lifecycles.not_responding(), Phase("Queued", 0.3), Phase("Running", 0.6), Phase("NotResponding"))
    # Scripted for every attempt the run may make; a node that stops responding is resubmitted once, then the run stops.
    live_fake.script(not_responding, not_responding, not_responding)
    with SlackWebhookServer() as slack:
        monkeypatch.setenv("SLACK_WEBHOOK_URL", slack.url)
        summary, ok = run_and_describe(config_for(live_fake, tmp_path))

    assert not ok and summary["state"] == "Failed", summary["text"]
    assert summary["category"] == "service_error" and "NotResponding" in summary["summary"]
    assert [a["state"] for a in summary["attempts"]] == ["NotResponding", "NotResponding"]
    assert "resubmit" in summary["attempts"][0]["note"]
    assert summary["attempts"][-1]["category"] == summary["category"]
    assert all(job.lifecycle.name == "not_responding" for job in live_fake.jobs.values()), "no unscripted attempt ran"
    # issue 11 item 2: a NotResponding job still holds its node; it is cancelled (and the cancel confirmed) before the
    # next attempt is submitted, and the last one before the run ends.
    order = [(m, p.rsplit("/", 2)[-2:]) for m, p in live_fake.requests if re.search(r"/jobs/gw-[^/]+(/cancel)?$", p)
             and m in ("PUT", "POST")]
    assert [m for m, _ in order] == ["PUT", "POST", "PUT", "POST"], order
    assert all(live_fake.job_state(job) == "Canceled" for job in live_fake.jobs.values())
    run_folder = Path(summary["run_folder"])
    assert not (run_folder / ".ghostwatch/active_job.json").exists(), "the run no longer waits on any job"
    last = run_folder / f"evidence-attempt-{len(summary['attempts'])}"
    assert "No heartbeat" in (last / "system_logs/lifecycler/lifecycler.log").read_text(), "the node's logs were collected"

    report = Path(summary["report"]).read_text()
    assert "**Status**: NotResponding" in report and f"`{summary['category']}`" in report
    assert len(slack.posts) == 1
    posted = json.dumps(slack.posts[0]["json"])
    assert summary["category"] in posted and "NotResponding" in posted
    assert secrets_in(posted, managed_identity) == []


def test_cancelling_the_flow_run_cancels_the_azure_job(prefect_harness, live_fake, managed_identity, tmp_path):
    """Deployed, triggered and cancelled with the Prefect CLI, run by a real process worker: the A100 job is cancelled."""
    import os
    import subprocess
    import sys
    import time

    from prefect.client.orchestration import get_client
    from prefect.settings import PREFECT_API_URL

    long_job = quick(lifecycles.not_responding(), Phase("Queued", 0.3), Phase("Running"))  # runs until cancelled
    live_fake.script(long_job)
    repo = Path(__file__).resolve().parents[1]
    prefect = str(Path(sys.executable).with_name("prefect"))
    env = {**os.environ, "PREFECT_API_URL": PREFECT_API_URL.value(), "PREFECT_LOGGING_LEVEL": "WARNING"}

    def cli(*args):
        done = subprocess.run([prefect, *args], cwd=repo, env=env, capture_output=True, text=True, timeout=180)
        assert done.returncode == 0, f"prefect {' '.join(args)}:\n{done.stdout}\n{done.stderr}"
        return done.stdout

    cli("work-pool", "create", "ghostwatch-cancel", "--type", "process", "--overwrite")
    cli("--no-prompt", "deploy", "--prefect-file", "deployments/prefect.yaml", "--name", "azure-a100",
        "--pool", "ghostwatch-cancel")
    config = config_for(live_fake, tmp_path).model_dump(mode="json")
    out = cli("deployment", "run", "ghost-probing/azure-a100", "--param", f"config={json.dumps(config)}")
    flow_run_id = next(line.split()[-1] for line in out.splitlines() if "UUID" in line)

    worker = subprocess.Popen([prefect, "worker", "start", "--pool", "ghostwatch-cancel"], cwd=repo, env=env,
                              stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, start_new_session=True)
    try:
        deadline = time.monotonic() + 120
        while not any(live_fake.job_state(j) == "Running" for j in live_fake.jobs.values()):
            assert time.monotonic() < deadline, "the job never started running"
            time.sleep(0.5)
        cli("flow-run", "cancel", flow_run_id)
        while not live_fake.count("POST", r"/jobs/[^/]+/cancel"):
            assert time.monotonic() < deadline + 60, "the flow run was cancelled but the Azure job was not"
            time.sleep(0.5)
    finally:
        os.killpg(worker.pid, 15)
        try:
            worker.wait(timeout=30)
        except subprocess.TimeoutExpired:  # still winding down the cancelled run's process on a busy machine
            os.killpg(worker.pid, 9)
            worker.wait(timeout=30)
    (job,) = live_fake.jobs.values()
    assert job.cancelled_at is not None and live_fake.job_state(job) in ("CancelRequested", "Canceled")
    with get_client(sync_client=True) as client:
        assert client.read_flow_run(flow_run_id).state.name in ("Cancelling", "Cancelled")


def test_permanent_submit_error_is_a_triaged_config_verdict_with_one_alert(monkeypatch, prefect_harness, live_fake, managed_identity, tmp_path):
    """issue 11 item 10: a 400 at submit is not retried three times and then a traceback; it is job_config_invalid."""
    live_fake.add_fault(r"/jobs/gw-[^/]+$", 5, status=400, method="PUT", code="UserError",
                        message="Environment ghostwatch-llava:3 was deleted while the job was being created.")
    with SlackWebhookServer() as slack:
        monkeypatch.setenv("SLACK_WEBHOOK_URL", slack.url)
        summary, ok = run_and_describe(config_for(live_fake, tmp_path))

    assert not ok and summary["state"] == "Failed", summary["text"]
    assert summary.get("category") == "job_config_invalid", summary["text"]
    assert "was deleted" in summary["summary"]
    assert live_fake.count("PUT", r"/jobs/gw-[^/]+$") == 1, "a refusal is not retried"
    assert live_fake.jobs == {}
    assert len(slack.posts) == 1
    assert not (Path(summary["run_folder"]) / ".ghostwatch/active_job.json").exists()
