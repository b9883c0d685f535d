"""The ghost-probing flow end to end on the embedded default: Prefect's own server, the real job, a real Slack stand-in."""
import json
from pathlib import Path

import pytest

from flows.demo import DEMO_SEED, DEMO_VIDEOS, MISSING_FOLDER, build_demo_model, local_run_config
from flows.run import run_and_describe
from tasks.config import RunConfig
from flows.sample_data import make_sample_dataset
from tests.support.slack_server import SlackWebhookServer

pytestmark = [pytest.mark.prefect, pytest.mark.slow]


@pytest.fixture(scope="module")
def tiny_model(tmp_path_factory):
    """The demo's model: tiny, built offline and fitted to answer the prompt (about a minute on 2 cores)."""
    root = tmp_path_factory.mktemp("tiny-model")
    return build_demo_model(root / "model", root / "train-clips")


@pytest.fixture(scope="module")
def datastore(tmp_path_factory):
    """The demo's 8 clips, plus one corrupt clip that the job must record with its error and go past."""
    root = tmp_path_factory.mktemp("datastore")
    data = make_sample_dataset(root / "DADA-100-video", videos=DEMO_VIDEOS, seed=DEMO_SEED)
    corrupt = data.folder / "images_2_001.avi"
    corrupt.write_bytes(b"RIFF\x00\x00\x00\x00AVI LIST" + bytes(range(256)) * 8)
    data.videos.append(corrupt)
    data.corrupt.append(corrupt)
    return data


def config_for(datastore, tiny_model, tmp_path, **overrides) -> RunConfig:
    return local_run_config(datastore.folder, datastore.labels_path, tiny_model, tmp_path / "runs",
                            **{"expected_count": DEMO_VIDEOS + 1, "max_attempts": 1, "poll_initial_seconds": 0.3,
                               "poll_max_seconds": 1.0, **overrides})


def read_artifact(key: str):
    from prefect.client.orchestration import get_client
    from prefect.client.schemas.filters import ArtifactFilter, ArtifactFilterKey

    with get_client(sync_client=True) as client:
        artifacts = client.read_artifacts(artifact_filter=ArtifactFilter(key=ArtifactFilterKey(any_=[key])))
    return artifacts


def test_healthy_run_predicts_every_clip_and_reports(prefect_harness, datastore, tiny_model, tmp_path):
    # One corrupt clip in nine is over the default failure budget (5 %); this run tolerates it to check it is recorded.
    summary, ok = run_and_describe(config_for(datastore, tiny_model, tmp_path, max_failed_fraction=0.2))
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


def test_missing_datastore_path_fails_before_submission_and_alerts(monkeypatch, prefect_harness, datastore, tiny_model, tmp_path):
    missing = datastore.folder.parent / MISSING_FOLDER
    with SlackWebhookServer() as slack:
        monkeypatch.setenv("SLACK_WEBHOOK_URL", slack.url)
        config = config_for(datastore, tiny_model, tmp_path, video_uri=str(missing))
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
