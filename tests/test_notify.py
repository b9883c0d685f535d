"""Slack alerts against a real HTTP server on 127.0.0.1 playing the webhook."""
import pytest

from tasks.clock import FakeClock
from tasks.notify import Alert, AlertError, post_alert, resolve_webhook
from tests.support.slack_server import SlackWebhookServer

ALERT = Alert(title="ghost-probing run x failed", category="data_not_found", summary="path missing", action="stop",
              fields={"Report": "/runs/x/investigation_report.md"}, links={"Prefect flow run": "http://127.0.0.1:4200/runs/flow-run/1"})


def test_alert_is_posted_as_slack_blocks():
    with SlackWebhookServer() as slack:
        post_alert(ALERT, slack.url, clock=FakeClock())
    assert len(slack.posts) == 1
    payload = slack.posts[0]["json"]
    assert "data_not_found" in payload["text"]
    assert payload["blocks"][0]["type"] == "header"
    assert any("Report" in f["text"] for b in payload["blocks"] if b["type"] == "section" for f in b.get("fields", []))


def test_throttling_is_retried_after_retry_after():
    clock = FakeClock()
    with SlackWebhookServer(responses=[(429, {"Retry-After": "7"}), (503, {})]) as slack:
        post_alert(ALERT, slack.url, clock=clock)
    assert len(slack.posts) == 3
    assert clock.sleeps[0] == 7.0 and 0 <= clock.sleeps[1] <= 2.0  # Retry-After, then the jittered backoff


def test_refusal_is_not_retried_and_the_error_hides_the_url():
    with SlackWebhookServer(responses=[(400, {})]) as slack:
        with pytest.raises(AlertError) as err:
            post_alert(ALERT, slack.url, clock=FakeClock())
    assert len(slack.posts) == 1
    assert "testtoken" not in str(err.value) and "127.0.0.1" not in str(err.value)


def test_unreachable_webhook_gives_up_with_a_clear_error():
    with SlackWebhookServer() as slack:
        url = slack.url
    with pytest.raises(AlertError, match="not delivered after 2 attempts") as err:
        post_alert(ALERT, url, clock=FakeClock(), attempts=2)
    assert "testtoken" not in str(err.value)


def test_webhook_comes_from_parameter_or_environment(monkeypatch):
    monkeypatch.setenv("SLACK_WEBHOOK_URL", "https://hooks.example.test/env")
    assert resolve_webhook() == "https://hooks.example.test/env"
    assert resolve_webhook("https://hooks.example.test/param") == "https://hooks.example.test/param"
    monkeypatch.setenv("SLACK_WEBHOOK_URL", "not-a-url")
    with pytest.raises(AlertError, match="SLACK_WEBHOOK_URL"):
        resolve_webhook()
