"""A failed run keeps its verdict as its message, alerts through the Secret block once, and ends without a traceback."""
import json
import logging
from pathlib import Path

import pytest

from flows.alerting import ALERT_RECORD
from flows.run import run_and_describe
from tasks.config import RunConfig
from tests.support.slack_server import SlackWebhookServer

pytestmark = [pytest.mark.prefect]


def missing_data_config(tmp_path, **overrides) -> RunConfig:
    return RunConfig(video_uri=str(tmp_path / "DADA-100-videos"), run_dir=str(tmp_path / "runs"), expected_count=4,
                     **overrides)


def test_failed_state_resolves_to_an_exception_carrying_the_summary(prefect_harness, tmp_path, caplog):
    from flows.ghost_probing import RunFailed, ghost_probing
    from prefect.states import get_state_exception

    with caplog.at_level(logging.ERROR):
        state = ghost_probing(missing_data_config(tmp_path, slack_webhook_block=None), return_state=True)
    assert state.is_failed() and state.message.startswith("data_not_found")
    exc = get_state_exception(state)  # raised TypeError ("cannot be resolved into an exception") before the fix
    assert isinstance(exc, RunFailed) and exc.summary.category == "data_not_found"
    assert "Unexpected result for failed state" not in caplog.text

    from prefect.client.orchestration import get_client
    from prefect.client.schemas.filters import FlowRunFilter, FlowRunFilterId

    with get_client(sync_client=True) as client:
        tasks = client.read_task_runs(flow_run_filter=FlowRunFilter(id=FlowRunFilterId(any_=[state.state_details.flow_run_id])))
    stages = {t.name.rsplit("-", 1)[0]: t.state.name for t in tasks}
    assert stages["check-data"] == "Failed", "the stage that failed is red in the UI, not Completed"
    assert stages["publish-report"] == "Completed"


def test_alert_comes_from_the_secret_block(prefect_harness, tmp_path, monkeypatch):
    from prefect.blocks.system import Secret

    monkeypatch.delenv("SLACK_WEBHOOK_URL", raising=False)
    with SlackWebhookServer() as slack:
        Secret(value=slack.url).save("gw-test-webhook", overwrite=True)
        summary, ok = run_and_describe(missing_data_config(tmp_path, slack_webhook_block="gw-test-webhook"))
    assert not ok and summary["category"] == "data_not_found"
    assert len(slack.posts) == 1 and "data_not_found" in slack.posts[0]["json"]["text"]
    assert summary["alert"].startswith("delivered") and "Secret block 'gw-test-webhook'" in summary["alert"]


def test_missing_secret_block_is_named_and_the_report_is_still_written(prefect_harness, tmp_path, monkeypatch):
    monkeypatch.delenv("SLACK_WEBHOOK_URL", raising=False)
    summary, ok = run_and_describe(missing_data_config(tmp_path, slack_webhook_block="no-such-block"))
    assert not ok and summary["state"] == "Failed" and summary["category"] == "data_not_found"
    report = Path(summary["report"]).read_text()
    assert "ls -la" in report and "az storage" not in report, "a local folder gets local advice, not Azure commands"
    record = json.loads((Path(summary["run_folder"]) / ALERT_RECORD).read_text())
    assert record["status"] == "not_configured"
    assert "Secret block 'no-such-block' does not exist" in record["detail"]


def test_unreachable_webhook_never_replaces_the_verdict_and_is_tried_three_times_in_all(prefect_harness, tmp_path, monkeypatch):
    with SlackWebhookServer(responses=[(503, {})] * 10) as slack:
        monkeypatch.setenv("SLACK_WEBHOOK_URL", slack.url)
        summary, ok = run_and_describe(missing_data_config(tmp_path, slack_webhook_block=None))
    assert summary["state"] == "Failed"
    assert summary["message"].startswith("data_not_found"), summary["message"]
    assert len(slack.posts) == 3, "3 tries in the task and none more in the failure hook"
    assert summary["alert"].startswith("undelivered")
