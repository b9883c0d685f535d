"""The fault matrix (issue 11): the whole flow, run as a user runs it, through each fault, with local services only.

Azure ML is the HTTPS fake that the real azure-ai-ml SDK talks to (tests/azureml_fake), with its Blob store holding
real clips; DefaultAzureCredential signs in through a local managed-identity endpoint; alerts go to a local Slack
receiver. Each row checks the matrix's invariants (tests/fault_matrix.py): no job left running, no video processed
twice, exactly one alert on failure and none on success, no secret leaked. `make faults` prints the table and writes
FAULTS.md.
"""
from __future__ import annotations

import base64
import dataclasses
import json
import os
import time
from pathlib import Path

import pytest

from flows.run import run_and_describe
from flows.sample_data import make_sample_dataset
from tasks.clock import SystemClock
from tasks.config import AzureMLSettings, RunConfig
from tests import fault_matrix
from tests.azureml_fake import lifecycles
from tests.azureml_fake.credentials import ManagedIdentityEndpoint
from tests.azureml_fake.lifecycles import Lifecycle, Phase
from tests.azureml_fake.server import FakeAzureML
from tests.support.slack_server import SlackWebhookServer

pytestmark = [pytest.mark.prefect, pytest.mark.azureml, pytest.mark.timeout(240)]

PREFIX = "DADA-100-videos/"
CLIPS = 4
MANY = 20  # the 95 % row needs enough videos for 95 % to mean something
ROWS: list[fault_matrix.Row] = []


@pytest.fixture(scope="module")
def clips(tmp_path_factory) -> list[Path]:
    data = make_sample_dataset(tmp_path_factory.mktemp("clips") / "DADA-100-video", videos=MANY, seed=5, width=64,
                               height=48, seconds=1)
    return sorted(data.videos)


@pytest.fixture(scope="module", autouse=True)
def matrix_table():
    """After the module: print the table; write FAULTS.md where `make faults` asks (GW_FAULTS_MD)."""
    yield
    if ROWS:
        print("\n" + fault_matrix.table(ROWS))
        if os.environ.get("GW_FAULTS_MD"):
            fault_matrix.write_faults_md(ROWS, Path(os.environ["GW_FAULTS_MD"]))


class Canaries:
    """Secrets planted for one row: a storage key, a SAS signature, a webhook path, and a secret in the job's logs."""

    def __init__(self, row: str) -> None:
        tag = "".join(ch for ch in row if ch.isalnum())[:20].lower()
        self.key = base64.b64encode(f"canary-storage-key-{tag}-0123456789".encode()).decode()
        self.sas = f"canarysas{tag}"
        self.webhook_path = f"/services/T0CANARY/B0CANARY/canaryhook{tag}"
        self.job_log_key = base64.b64encode(f"canary-joblog-key-{tag}-abcdef".encode()).decode()

    def all(self) -> list[str]:
        return [self.key, self.sas, self.webhook_path, "canaryhook", self.job_log_key]

    def job_log_lines(self) -> tuple[tuple[str, str], ...]:
        return (("user_logs/std_log.txt",
                 f"connecting with DefaultEndpointsProtocol=https;AccountName=llava;AccountKey={self.job_log_key};"
                 "EndpointSuffix=core.windows.net\n"),)


class Scene:
    """One row's services: the fake (real clock), the identity endpoint, the Slack receiver, and the run's config."""

    def __init__(self, row: str, env, clips: list[Path], tmp_path: Path) -> None:
        self.row, self.tmp_path, self.env = row, tmp_path, env
        self.canaries = Canaries(row)
        self.fake = FakeAzureML(clock=SystemClock()).start()
        self.fake.account_key = self.canaries.key
        self.fake.log_signature = self.canaries.sas
        for name, value in self.fake.env(tmp_path / "fake-ca.pem").items():
            env.setenv(name, value)
        for clip in clips[:CLIPS]:
            self.put(PREFIX + clip.name, clip.read_bytes())
        self.clips = clips
        self.fake.default_lifecycle = lambda: Lifecycle(
            name="unscripted", phases=(Phase("Queued", 0.2), Phase("Failed")),
            error={"code": "UserError", "message": "the test did not script this attempt"})
        self.identity = ManagedIdentityEndpoint().__enter__()
        for name, value in self.identity.environment().items():
            env.setenv(name, value)
        self.slack = SlackWebhookServer()
        self.slack.path = self.canaries.webhook_path
        self.slack.__enter__()
        self.slack_url = self.slack.url

    def put(self, name: str, data: bytes) -> None:
        self.fake.blobs.put(self.fake.storage_account, self.fake.blob_container, name, data, content_type="video/x-msvideo")

    def script(self, *cycles: Lifecycle) -> None:
        self.fake.script(*[dataclasses.replace(c, extra_logs=c.extra_logs + self.canaries.job_log_lines()) for c in cycles])

    def config(self, **overrides) -> RunConfig:
        values = dict(
            video_uri=f"azureml://datastores/workspaceblobstore/paths/{PREFIX}", labels_path=None,
            expected_count=CLIPS, backend="azureml", run_dir=str(self.tmp_path / "runs"), max_attempts=3,
            poll_initial_seconds=0.2, poll_max_seconds=0.5, slack_webhook_block=None,
            azureml=AzureMLSettings(subscription_id=self.fake.subscription_id, resource_group=self.fake.resource_group,
                                    workspace_name=self.fake.workspace),
        )
        values.update(overrides)
        os.environ["SLACK_WEBHOOK_URL"] = self.slack_url  # the webhook is never a parameter (issue 12)
        return RunConfig(**values)

    def close(self) -> None:
        os.environ.pop("SLACK_WEBHOOK_URL", None)
        self.slack.__exit__(None, None, None)
        self.identity.__exit__(None, None, None)
        self.fake.stop()

    # ---------------------------------------------------------------- measuring a row
    def measure(self, summary: dict, started: float) -> fault_matrix.Row:
        fake = self.fake
        row = fault_matrix.Row(fault=self.row, final_state=summary["state"], verdict=summary.get("category") or "(none)")
        row.jobs_submitted = len(fake.jobs)
        row.jobs_left_running = sum(1 for job in fake.jobs.values() if fake.job_state(job) not in fault_matrix.DONE)
        outputs = set()
        for job in fake.jobs.values():
            uri = job.body["properties"].get("outputs", {}).get("results", {}).get("uri")
            if uri:
                outputs.add(fake.output_blob_prefix(uri))
        files = []
        for container, prefix in outputs:
            for name in fake.blobs.names(fake.storage_account, container, prefix):
                if name.rsplit("/", 1)[-1].startswith("predictions") and name.endswith(".jsonl"):
                    files.append(fake.blobs.get(fake.storage_account, container, name) or b"")
        row.videos_processed_twice = fault_matrix.videos_processed_twice(files)
        row.alerts_sent = len({json.dumps(p["json"], sort_keys=True) for p in self.slack.posts})
        texts = [json.dumps(p["json"]) for p in self.slack.posts] + [summary.get("text", ""), str(summary.get("message"))]
        if summary.get("run_folder") and Path(summary["run_folder"]).exists():
            texts += fault_matrix.report_texts(Path(summary["run_folder"]))
        texts += prefect_texts_since(started)
        row.secrets_leaked = len(fault_matrix.leaks(texts, self.canaries.all()))
        return row


def prefect_texts_since(started: float) -> list[str]:
    """The flow runs' logs and artifacts since `started` (what the Prefect UI shows)."""
    import datetime as dt

    from prefect.client.orchestration import get_client
    from prefect.client.schemas.filters import LogFilter, LogFilterTimestamp

    after = dt.datetime.fromtimestamp(started, dt.timezone.utc)
    time.sleep(0.5)  # let the log handler's batch reach the API
    with get_client(sync_client=True) as client:
        logs = client.read_logs(log_filter=LogFilter(timestamp=LogFilterTimestamp(after_=after)))
        artifacts = client.read_artifacts()
    texts = [log.message for log in logs]
    texts += [str(a.data) + str(a.description) for a in artifacts if a.created and a.created >= after]
    return texts


def quick(cycle: Lifecycle, *phases: Phase, **changes) -> Lifecycle:
    return dataclasses.replace(cycle, phases=phases, **changes)


def names(scene: Scene, count: int = CLIPS) -> tuple[str, ...]:
    return tuple(clip.name for clip in scene.clips[:count])


def completed(scene: Scene, count: int = CLIPS, **changes) -> Lifecycle:
    return quick(lifecycles.completed(predictions_total=count), Phase("Queued", 0.3), Phase("Running", 0.5),
                 Phase("Completed"), videos=names(scene, count), **changes)


# ------------------------------------------------------------------------------------------------ the faults
def data_path_missing(scene: Scene):
    return scene.config(video_uri="azureml://datastores/workspaceblobstore/paths/DADA-100-Videos/"), ("Failed", "data_not_found", 0)


def key_refused_then_identity(scene: Scene):
    # Preflight reads with the datastore's key (still allowed then); the job's mount is refused: attempt 2 reads with
    # its identity, through a path that carries no stored credential.
    scene.script(quick(lifecycles.key_refused(), Phase("Queued", 0.3), Phase("Running", 0.3), Phase("Failed")),
                 completed(scene))
    return scene.config(), ("Completed", "none", 2)


def identity_without_role(scene: Scene):
    scene.fake.blobs.key_auth_disabled.add(scene.fake.storage_account)
    scene.fake.blobs.identity_denied.add(scene.fake.storage_account)
    return scene.config(), ("Failed", "storage_permission_denied", 0)


def expired_token(scene: Scene):
    scene.fake.all_tokens_expired = True
    return scene.config(), ("Failed", "credential_invalid_or_expired", 0)


def corrupt_video(scene: Scene):
    corrupt = "images_0_000.avi"  # sorts first: the job reaches it first and records its error
    scene.put(PREFIX + corrupt, b"RIFF\x00\x00\x00\x00AVI LIST" + bytes(range(256)) * 8)
    # Preflight warns and lets it through; the job records the video's error and goes on; 1 of 5 failed is over
    # the 5 % failure budget, so the run is not called a success.
    scene.script(quick(lifecycles.completed(predictions_total=CLIPS + 1), Phase("Queued", 0.3), Phase("Running", 0.5),
                       Phase("Completed"), videos=(corrupt,) + names(scene), failing=1))
    return scene.config(expected_count=CLIPS + 1), ("Failed", {"job_config_invalid", "data_quality", "output_invalid"}, None)


def empty_folder(scene: Scene):
    scene.put("DADA-empty/README.txt", b"the videos are elsewhere")
    return scene.config(video_uri="azureml://datastores/workspaceblobstore/paths/DADA-empty/"), ("Failed", {"data_not_found", "job_config_invalid"}, 0)


def malformed_labels(scene: Scene):
    labels = scene.tmp_path / "labels.csv"
    labels.write_text("video,label\n" + "".join(f"{n},maybe?? ;;\n" for n in names(scene)))
    scene.script(completed(scene))
    # Labels that cannot be read block before anything is queued, or (when preflight only warns) the job runs
    # unlabelled and the run ends healthy; either way the invariants hold.
    return scene.config(labels_path=str(labels)), ({"Failed", "Completed"}, {"job_config_invalid", "data_quality", "none"}, None)


def throttled_and_unavailable(scene: Scene):
    scene.script(completed(scene))
    scene.fake.add_fault(r"/jobs/gw-[^/]+$", 3, status=429, retry_after=1, method="GET", after=1)
    scene.fake.add_fault(r"/jobs/gw-[^/]+$", 3, status=503, method="GET", after=4)
    return scene.config(), ("Completed", "none", 1)


def twenty_transient_errors(scene: Scene):
    scene.script(quick(lifecycles.completed(predictions_total=CLIPS), Phase("Queued", 0.3), Phase("Running"),
                       videos=names(scene)), completed(scene))
    scene.fake.add_fault(r"/jobs/gw-[^/]+-a1$", 20, status=503, method="GET", after=2)
    # The watch gives up, cancels attempt 1 and confirms it; a resubmit (if triage deems it transient) comes only then.
    return scene.config(), ({"Completed", "Failed"}, {"none", "service_error", "other"}, None)


def preempted_then_resumed(scene: Scene):
    scene.script(quick(lifecycles.preempted(predictions_total=2), Phase("Queued", 0.3), Phase("Running", 0.5),
                       Phase("Failed"), videos=names(scene)), completed(scene))
    return scene.config(), ("Completed", "none", 2)


def not_responding(scene: Scene):
    hung = quick(lifecycles.not_responding(), Phase("Queued", 0.3), Phase("Running", 0.5), Phase("NotResponding"))
    scene.script(hung, hung, hung)
    return scene.config(), ("Failed", "service_error", 2)


def cuda_oom_then_smaller_batch(scene: Scene):
    scene.script(quick(lifecycles.cuda_oom(), Phase("Queued", 0.3), Phase("Running", 0.3), Phase("Failed")),
                 completed(scene))
    return scene.config(batch_size=4), ("Completed", "none", 2)


def most_videos_failing(scene: Scene):
    for clip in scene.clips[CLIPS:]:
        scene.put(PREFIX + clip.name, clip.read_bytes())
    scene.script(completed(scene, MANY, failing=MANY - 1))
    return scene.config(expected_count=MANY), ("Failed", "output_invalid", 1)


def rerun_with_another_model(scene: Scene):
    folder = "azureml://datastores/workspaceblobstore/paths/ghostwatch/shared-output/"
    scene.script(completed(scene))
    first, ok = run_and_describe(scene.config(azureml=scene.config().azureml.model_copy(update={"output_datastore_path": folder})))
    assert ok, first["text"]
    scene.slack.posts.clear()
    azure = scene.config().azureml.model_copy(update={"output_datastore_path": folder})
    # The orchestrator reads the folder's resume keys and stops before queueing: the first run's job is the only one.
    return scene.config(azureml=azure, model="llava-hf/llava-onevision-qwen2-7b-ov-hf", model_family="llava-onevision"), \
        ("Failed", "job_config_invalid", 1)


def slack_down(scene: Scene):
    scene.slack.responses = [(503, {})] * 10
    return scene.config(video_uri="azureml://datastores/workspaceblobstore/paths/DADA-100-Videos/"), ("Failed", "data_not_found", 0)


# ---------------------------------------------------------------- the flow as a worker runs it, in its own process
ENTRYPOINT = "flows/ghost_probing.py:ghost_probing"


class EngineProcess:
    """One flow run executed as a worker executes it (`python -m prefect.engine`, the flow loaded from its entrypoint),
    against the harness's API; killed with SIGKILL like a lost machine or a worker that stops a run without grace."""

    def __init__(self, scene: Scene, flow_run_id) -> None:
        import subprocess
        import sys

        from prefect.settings import PREFECT_API_URL

        env = {**os.environ, "PREFECT_API_URL": PREFECT_API_URL.value(), "PREFECT__FLOW_ENTRYPOINT": ENTRYPOINT,
               "PREFECT__FLOW_RUN_ID": str(flow_run_id), "PYTHONPATH": str(REPO)}
        self.log = (scene.tmp_path / f"engine-{time.monotonic_ns()}.log").open("wb")
        self.process = subprocess.Popen([sys.executable, "-m", "prefect.engine"], cwd=REPO, env=env,
                                        stdout=self.log, stderr=subprocess.STDOUT)

    def kill(self) -> None:
        import signal

        self.process.send_signal(signal.SIGKILL)
        self.process.wait(timeout=30)
        self.log.close()

    def wait(self, timeout: float = 180) -> int:
        try:
            return self.process.wait(timeout=timeout)
        finally:
            self.log.close()


REPO = Path(__file__).resolve().parents[1]


def create_flow_run(config: RunConfig):
    """A flow run of ghost-probing with the run's config as its parameter (what a deployment run or the UI creates)."""
    from prefect.client.orchestration import get_client

    from flows.ghost_probing import ghost_probing

    parameters = config.model_dump(mode="json")
    with get_client(sync_client=True) as client:
        return client.create_flow_run(ghost_probing, parameters={"config": parameters})


def flow_run_state(flow_run_id) -> str:
    from prefect.client.orchestration import get_client

    with get_client(sync_client=True) as client:
        return client.read_flow_run(flow_run_id).state.name


def wait_for(condition, timeout: float, what: str) -> None:
    deadline = time.monotonic() + timeout
    while not condition():
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out waiting for {what}")
        time.sleep(0.2)


def watching(scene: Scene, run_dir: Path):
    """True once the flow run watches a running job (its record holds the submitted job, not only the planned one)."""
    from flows.run_state import active_job

    def check() -> bool:
        running = [j for j in scene.fake.jobs.values() if scene.fake.job_state(j) == "Running"]
        folders = list(run_dir.glob("*")) if run_dir.exists() else []
        handle = active_job(folders[0]) if folders else None
        return bool(running) and handle is not None and not handle.details.get("planned")

    return check


def retry_flow_run(flow_run_id) -> None:
    """What the UI's Retry does: force the (failed, crashed or stale) flow run back to AwaitingRetry."""
    from prefect.client.orchestration import get_client
    from prefect.states import AwaitingRetry

    with get_client(sync_client=True) as client:
        client.set_flow_run_state(flow_run_id, AwaitingRetry(message="Retry from the UI"), force=True)


def summary_of(config: RunConfig, flow_run_id) -> dict:
    """The finished flow run as run_and_describe reports it: its state, and the verdict from its run folder."""
    from prefect.client.orchestration import get_client

    from flows.run_state import run_folder_for

    with get_client(sync_client=True) as client:
        flow_run = client.read_flow_run(flow_run_id)
    summary = {"state": flow_run.state.name, "message": flow_run.state.message, "text": f"{flow_run.state.name}: "
               f"{flow_run.state.message}", "run_count": flow_run.run_count}
    folder = run_folder_for(config.run_dir, str(flow_run_id), create=False)
    if folder is not None:
        summary["run_folder"] = str(folder)
        verdict = folder / "verdict.json"
        if verdict.exists():
            data = json.loads(verdict.read_text())
            summary["category"], summary["summary"] = data.get("category"), data.get("summary")
            summary["report"] = str(folder / "investigation_report.md")
    return summary


def killed_mid_watch_then_retried(scene: Scene):
    """The orchestrator's process dies (SIGKILL) while the job runs; the flow run is retried as the UI's Retry does
    and executed again under the same id: it re-attaches to the running job instead of queueing a second one."""
    scene.script(completed_after(scene, running=25))
    config = scene.config()
    flow_run = create_flow_run(config)
    first = EngineProcess(scene, flow_run.id)
    wait_for(watching(scene, Path(config.run_dir)), 90, "the flow run to watch a running job")
    first.kill()
    assert flow_run_state(flow_run.id) == "Running"  # nobody will say otherwise: the process is gone
    retry_flow_run(flow_run.id)
    second = EngineProcess(scene, flow_run.id)
    second.wait()
    summary = summary_of(config, flow_run.id)
    if summary["run_count"] != 2:
        summary["state"] += f" (run_count {summary['run_count']}, expected 2)"
    return summary, ("Completed", "none", 1)


def flow_cancelled(scene: Scene):
    """The user cancels the flow run mid-watch (the UI's Cancel). A worker stops the flow's process and runs the
    flow's on_cancellation hooks in its own process: they find the job on record in the run folder and cancel it."""
    from prefect.client.orchestration import get_client
    from prefect.states import Cancelled, Cancelling

    from flows.ghost_probing import ghost_probing

    scene.script(completed_after(scene, running=120))
    config = scene.config()
    flow_run = create_flow_run(config)
    engine = EngineProcess(scene, flow_run.id)
    wait_for(watching(scene, Path(config.run_dir)), 90, "the flow run to watch a running job")
    with get_client(sync_client=True) as client:
        client.set_flow_run_state(flow_run.id, Cancelling(message="Cancelled from the UI"), force=True)
        engine.kill()  # what a worker does to a run that does not stop by itself
        state = Cancelled(message="Cancelled from the UI")
        client.set_flow_run_state(flow_run.id, state, force=True)
        for hook in ghost_probing.on_cancellation_hooks:  # as the worker runs them, outside the flow's process
            hook(ghost_probing, client.read_flow_run(flow_run.id), state)
    return summary_of(config, flow_run.id), ("Cancelled", "(none)", 1)


def completed_after(scene: Scene, running: float) -> Lifecycle:
    return quick(lifecycles.completed(predictions_total=CLIPS), Phase("Queued", 0.3), Phase("Running", running),
                 Phase("Completed"), videos=names(scene))


FAULTS = {
    "data path missing": data_path_missing,
    "key auth refused, then identity works": key_refused_then_identity,
    "identity without a role (403)": identity_without_role,
    "expired token": expired_token,
    "corrupt video": corrupt_video,
    "empty folder": empty_folder,
    "malformed labels": malformed_labels,
    "429 and 503 during the watch": throttled_and_unavailable,
    "20 transient errors in a row during the watch": twenty_transient_errors,
    "preempted mid-run, then resumed": preempted_then_resumed,
    "NotResponding": not_responding,
    "CUDA out of memory, then a smaller batch": cuda_oom_then_smaller_batch,
    "95 % of videos failing": most_videos_failing,
    "a rerun with another model into the same folder": rerun_with_another_model,
    "Slack down": slack_down,
    "the orchestrator killed mid-watch and the flow run retried": killed_mid_watch_then_retried,
    "the flow cancelled": flow_cancelled,
}


@pytest.mark.parametrize("fault", list(FAULTS))
def test_fault(fault, prefect_harness, clean_azure_env, clips, tmp_path):
    scene = Scene(fault, clean_azure_env, clips, tmp_path)
    try:
        started = time.time()
        config, (state, verdict, jobs) = FAULTS[fault](scene)
        states = {state} if isinstance(state, str) else set(state)
        summary = config if isinstance(config, dict) else run_and_describe(config)[0]
        row = scene.measure(summary, started)
        row.check(summary["state"] if summary["state"] in states else sorted(states)[0], verdict, jobs)
        extra = ROW_CHECKS.get(fault)
        if extra:
            extra(scene, summary, row)
    finally:
        scene.close()
    ROWS.append(row)
    assert row.holds, f"{fault}: {row.problems}\n{summary['text']}"


# ------------------------------------------------------------------------------------------------ row specifics
def _identity_attempt_reads_a_credential_less_path(scene: Scene, summary: dict, row: fault_matrix.Row) -> None:
    """issue 11 item 7: attempt 2 runs with identity AND reads a path without the datastore's stored key."""
    jobs = sorted(scene.fake.jobs.values(), key=lambda j: j.name)
    if len(jobs) == 2:
        second = jobs[1].body["properties"]
        uri = second["inputs"]["video_data"]["uri"]
        if not uri.startswith("https://") or "azureml://" in uri:
            row.problems.append(f"attempt 2 reads {uri}: the datastore's stored key would win over the identity again")
        if (second.get("identity") or {}).get("identityType", "").lower() != "managed":
            row.problems.append(f"attempt 2 identity {second.get('identity')}")


def _smaller_batch(scene: Scene, summary: dict, row: fault_matrix.Row) -> None:
    jobs = sorted(scene.fake.jobs.values(), key=lambda j: j.name)
    batches = [str((j.body["properties"]["inputs"].get("batch_size") or {}).get("value")) for j in jobs]
    if batches != ["4", "2"]:
        row.problems.append(f"batch sizes {batches}, expected 4 then 2")


def _failed_videos_named(scene: Scene, summary: dict, row: fault_matrix.Row) -> None:
    if "19 of 20" not in summary.get("summary", ""):
        row.problems.append(f"summary does not count the failures: {summary.get('summary')}")


def _no_mixed_predictions(scene: Scene, summary: dict, row: fault_matrix.Row) -> None:
    container, prefix = scene.fake.output_blob_prefix("azureml://datastores/workspaceblobstore/paths/ghostwatch/shared-output/")
    data = scene.fake.blobs.get(scene.fake.storage_account, container, prefix + "predictions.jsonl") or b""
    models = {json.loads(line).get("model") for line in data.decode().splitlines() if line.strip()}
    if len(models) != 1:
        row.problems.append(f"predictions of {len(models)} models mixed in one folder")
    report = Path(summary["report"]).read_text() if summary.get("report") else ""
    if "Refusing to mix" not in report:
        row.problems.append("the report does not say why the job stopped (another model's predictions)")


def _slack_refusal_is_not_the_verdict(scene: Scene, summary: dict, row: fault_matrix.Row) -> None:
    if not scene.slack.posts:
        row.problems.append("no alert was even attempted")
    if "slack" in (summary.get("message") or "").lower():
        row.problems.append(f"the Slack refusal replaced the run's failure message: {summary.get('message')}")


ROW_CHECKS = {
    "key auth refused, then identity works": _identity_attempt_reads_a_credential_less_path,
    "CUDA out of memory, then a smaller batch": _smaller_batch,
    "95 % of videos failing": _failed_videos_named,
    "a rerun with another model into the same folder": _no_mixed_predictions,
    "Slack down": _slack_refusal_is_not_the_verdict,
}

