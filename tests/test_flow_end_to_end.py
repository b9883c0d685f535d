"""The ghost-probing flow end to end on the embedded default: Prefect's own server, the real job, a real Slack stand-in."""
import json
from pathlib import Path

import pytest

from flows.demo import MISSING_FOLDER
from flows.run import run_and_describe
from tasks.config import RunConfig
from tasks.sample_data import make_sample_dataset
from tests.support.slack_server import SlackWebhookServer

pytestmark = [pytest.mark.prefect, pytest.mark.slow]


@pytest.fixture(scope="module")
def tiny_model(tmp_path_factory):
    import subprocess
    import sys

    folder = tmp_path_factory.mktemp("tiny-model")
    subprocess.run([sys.executable, "-m", "inference.tiny_model", str(folder)], check=True)
    return folder


@pytest.fixture(scope="module")
def datastore(tmp_path_factory):
    root = tmp_path_factory.mktemp("datastore")
    data = make_sample_dataset(root / "DADA-100-video", videos=4, seed=5, corrupt=1)
    return data


def config_for(datastore, tiny_model, tmp_path, **overrides) -> RunConfig:
    values = dict(
        video_uri=str(datastore.folder),
        labels_path=str(datastore.labels_path),
        expected_count=4,
        model=str(tiny_model),
        num_frames=8,
        max_new_tokens=24,
        run_dir=str(tmp_path / "runs"),
        max_attempts=1,
        poll_initial_seconds=0.3,
        poll_max_seconds=1.0,
    )
    values.update(overrides)
    return RunConfig(**values)


def read_artifact(key: str):
    from prefect.client.orchestration import get_client
    from prefect.client.schemas.filters import ArtifactFilter, ArtifactFilterKey

    with get_client(sync_client=True) as client:
        artifacts = client.read_artifacts(artifact_filter=ArtifactFilter(key=ArtifactFilterKey(any_=[key])))
    return artifacts


def test_healthy_run_predicts_every_clip_and_reports(prefect_harness, datastore, tiny_model, tmp_path):
    summary, ok = run_and_describe(config_for(datastore, tiny_model, tmp_path))
    assert summary["state"] == "Completed", summary["text"]
    assert ok and summary["category"] == "none"
    lines = [json.loads(l) for l in Path(summary["predictions"]).read_text().splitlines()]
    assert sorted(l["video"] for l in lines) == sorted(p.name for p in datastore.videos)
    corrupt = [l for l in lines if l["video"] == datastore.corrupt[0].name]
    assert corrupt[0]["error"], "the corrupt clip is recorded with its error"
    assert Path(summary["report"]).exists() and Path(summary["verdict_json"]).exists()
    assert json.loads(Path(summary["verdict_json"]).read_text())["category"] == "none"
    for clip in datastore.videos:
        assert clip.name in summary["text"], "the CLI/demo text shows a prediction for every clip"
    assert read_artifact("ghostwatch-report") and read_artifact("ghostwatch-results")


def test_missing_datastore_path_fails_before_submission_and_alerts(prefect_harness, datastore, tiny_model, tmp_path):
    missing = datastore.folder.parent / MISSING_FOLDER
    with SlackWebhookServer() as slack:
        config = config_for(datastore, tiny_model, tmp_path, video_uri=str(missing), slack_webhook_url=slack.url)
        summary, ok = run_and_describe(config)
    assert not ok and summary["state"] == "Failed"
    assert summary["category"] == "data_not_found"
    run_folder = Path(summary["run_folder"])
    assert not (run_folder / "jobs").exists(), "no job was started"
    report = Path(summary["report"]).read_text()
    assert str(missing) in report and "DADA-100-video" in report  # names the path and the nearest existing one
    assert "## Recommendations" in report
    assert len(slack.posts) == 1
    posted = json.dumps(slack.posts[0]["json"])
    assert "data_not_found" in posted and "testtoken" not in posted


def test_failed_job_is_triaged_and_reported(prefect_harness, datastore, tmp_path):
    # A model folder that does not exist: preflight passes (data is fine), the job fails loudly, triage names it.
    summary, ok = run_and_describe(config_for(datastore, tmp_path / "no-such-model", tmp_path))
    assert not ok and summary["state"] == "Failed"
    assert summary["category"] in {"model_load_failed", "user_script_error"}
    assert summary["attempts"] and summary["attempts"][0]["state"] == "Failed"
    assert "## Root Cause" in Path(summary["report"]).read_text()
