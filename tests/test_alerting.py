"""One bounded alert per run, its outcome kept in the run folder; the webhook from a Secret block or SLACK_WEBHOOK_URL."""
import json

from flows.alerting import ALERT_RECORD, deliver, read_record, webhook_from
from tasks.notify import Alert
from tests.support.slack_server import SlackWebhookServer

ALERT = Alert(title="ghost-probing run x failed", category="data_not_found", summary="path missing", action="stop")


def test_refusal_is_recorded_in_the_run_folder_and_not_retried(tmp_path, monkeypatch):
    with SlackWebhookServer(responses=[(403, {})]) as slack:
        monkeypatch.setenv("SLACK_WEBHOOK_URL", slack.url)
        record = deliver(ALERT, tmp_path, None)
    assert len(slack.posts) == 1
    assert record.status == "refused" and "HTTP 403" in record.detail
    kept = json.loads((tmp_path / ALERT_RECORD).read_text())
    assert kept["status"] == "refused" and "testtoken" not in json.dumps(kept)
    assert read_record(tmp_path).status == "refused"


def test_unreachable_webhook_is_tried_a_bounded_number_of_times_and_never_raises(tmp_path, monkeypatch):
    with SlackWebhookServer(responses=[(503, {})] * 10) as slack:
        monkeypatch.setenv("SLACK_WEBHOOK_URL", slack.url)
        record = deliver(ALERT, tmp_path, None, attempts=2)
    assert len(slack.posts) == 2
    assert record.status == "undelivered" and not record.delivered


def test_no_webhook_says_where_to_set_one(tmp_path, monkeypatch):
    monkeypatch.delenv("SLACK_WEBHOOK_URL", raising=False)
    url, why = webhook_from(None)
    assert url is None and "SLACK_WEBHOOK_URL is not set" in why
    record = deliver(ALERT, tmp_path, None, report_path=tmp_path / "investigation_report.md")
    assert record.status == "not_configured" and "investigation_report.md" in record.detail


def test_the_run_parameters_name_the_block_and_never_hold_the_url():
    """What hooks read back from the API is the block's name, never a masked '**********' URL (issue 11 item 13)."""
    from tasks.config import RunConfig

    fields = RunConfig.model_fields
    assert "slack_webhook_url" not in fields
    dumped = RunConfig(video_uri="/data").model_dump(mode="json")
    assert dumped["slack_webhook_block"] == "ghostwatch-slack-webhook"
