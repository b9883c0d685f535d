"""issue 11 item 13 (the robust half): what a failure hook receives for a webhook given as a flow parameter, and that
the hook's alert still goes out. Prefect hands hooks the flow run as the API stores it; a SecretStr parameter may come
back masked ('**********'), which is no URL to post to."""
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
        received.append(parameters.get("slack_webhook_url") or parameters.get("slack_webhook_block"))
        return hook(flow_run)

    def broken_preflight(options):  # a bug outside triage: the hook is the only one left to alert
        raise RuntimeError("preflight crashed")

    monkeypatch.delenv("SLACK_WEBHOOK_URL", raising=False)
    monkeypatch.setattr(module, "_hook_context", spy)
    monkeypatch.setattr(module, "check_data", broken_preflight)
    if "slack_webhook_block" in RunConfig.model_fields:  # the webhook moved to a Secret block (ops, issue 12)
        from prefect.blocks.system import Secret

        Secret(value=slack.url).save("gw-hook-test-webhook", overwrite=True)
        webhook = {"slack_webhook_block": "gw-hook-test-webhook"}
    else:
        webhook = {"slack_webhook_url": slack.url}
    config = RunConfig(video_uri=str(tmp_path), run_dir=str(tmp_path / "runs"), **webhook)

    summary, ok = run_and_describe(config)

    assert not ok and summary["state"] == "Failed"
    assert received, "the failure hook did not run"
    assert len(slack.posts) == 1, f"the hook received the webhook as {received[0]!r} and alerted {len(slack.posts)} time(s)"
    assert "preflight crashed" in str(slack.posts[0]["json"])


def test_a_masked_webhook_parameter_in_another_process_falls_back_to_the_environment(monkeypatch):
    """A worker runs the hook in its own process: the parameter comes back masked, so SLACK_WEBHOOK_URL is used."""
    module = pytest.importorskip("flows.ghost_probing")
    if not hasattr(module, "_hook_webhook") or "slack_webhook_url" not in RunConfig.model_fields:
        pytest.skip("the webhook is a Secret block's name (ops): nothing is masked")

    class FlowRun:
        id = "not-this-process"

    monkeypatch.setenv("SLACK_WEBHOOK_URL", "https://hooks.slack.com/services/T0/B0/from-env")
    masked = RunConfig(video_uri="/data", slack_webhook_url="**********")
    assert module._hook_webhook(FlowRun(), masked) == "https://hooks.slack.com/services/T0/B0/from-env"
    given = RunConfig(video_uri="/data", slack_webhook_url="https://hooks.slack.com/services/T0/B0/given")
    assert module._hook_webhook(FlowRun(), given) == "https://hooks.slack.com/services/T0/B0/given"
