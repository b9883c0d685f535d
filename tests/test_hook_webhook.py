"""issue 11 item 13: what a failure hook receives for the webhook, and that the hook's alert still goes out.

Prefect hands hooks the flow run as the API stores it, where a SecretStr parameter came back masked ('**********'),
no URL to post to. The parameter now only names a Secret block, so the hook reads the URL from the block."""
from __future__ import annotations

import pytest

from tasks.config import RunConfig
from tests.support.slack_server import SlackWebhookServer


@pytest.fixture
def slack():
    server = SlackWebhookServer()
    with server:
        yield server


def test_the_failure_hook_alerts_through_a_webhook_given_as_a_flow_parameter(prefect_harness, tmp_path, monkeypatch, slack):
    from flows import ghost_probing as module
    from flows.run import run_and_describe

    received = []
    hook = module._hook_context

    def spy(flow_run):
        parameters = flow_run.parameters.get("config", {})
        received.append(parameters.get("slack_webhook_block"))
        return hook(flow_run)

    def broken_preflight(options, **_):  # a bug outside triage: the hook is the only one left to alert
        raise RuntimeError("preflight crashed")

    monkeypatch.delenv("SLACK_WEBHOOK_URL", raising=False)
    monkeypatch.setattr(module, "_hook_context", spy)
    monkeypatch.setattr(module, "check_data", broken_preflight)
    from prefect.blocks.system import Secret

    Secret(value=slack.url).save("gw-hook-test-webhook", overwrite=True)
    config = RunConfig(video_uri=str(tmp_path), run_dir=str(tmp_path / "runs"), slack_webhook_block="gw-hook-test-webhook")

    summary, ok = run_and_describe(config)

    assert not ok and summary["state"] == "Failed"
    assert received == ["gw-hook-test-webhook"], "the failure hook did not run, or saw something else than the block's name"
    assert len(slack.posts) == 1, f"the hook received the webhook as {received[0]!r} and alerted {len(slack.posts)} time(s)"
    assert "preflight crashed" in str(slack.posts[0]["json"])
