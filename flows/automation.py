"""The server-side alert backstop: a Prefect automation on Failed and Crashed runs of `ghost-probing`.

State hooks do not run when the flow's process is killed (OOM killer, a lost machine), so the last word belongs to the
server. The automation is proactive: after a run of this flow turns Failed or Crashed, it waits `within` seconds for
the run's `ghostwatch.alert.delivered` event (flows/alerting.py) and, when none came, posts a Slack message through a
`Webhook` block. A run that alerted itself therefore gets exactly one message, and a killed run gets one too.
"""
from __future__ import annotations

import json
from datetime import timedelta

from flows.alerting import DELIVERED_EVENT, FLOW_NAME

AUTOMATION_NAME = "ghostwatch-alert-backstop"
WEBHOOK_BLOCK = "ghostwatch-slack-backstop"  # a Webhook block: what CallWebhook actions post through
DEFAULT_WITHIN_SECONDS = 30

# Jinja, rendered by the server with the triggering flow run; Slack reads `text`.
_TEXT = (
    "ghost-probing run {{ flow_run.name }} {{ flow_run.state.name | lower }} and its own alert did not go out "
    "(sent by the server backstop {{ automation.name }}). Message: {{ flow_run.state.message | truncate(300) }} "
    "Flow run: {{ flow_run | ui_url }}"
)


def backstop_automation(webhook_block_id, within_seconds: float = DEFAULT_WITHIN_SECONDS):
    """The automation's definition (an AutomationCore) for a Webhook block id."""
    from prefect.events.actions import CallWebhook
    from prefect.events.schemas.automations import AutomationCore, EventTrigger, Posture

    return AutomationCore(
        name=AUTOMATION_NAME,
        description="Alerts Slack when a ghost-probing run failed or crashed and its own alert did not go out "
                    "(the process was killed, or the hook could not deliver). Created by `make deploy`.",
        enabled=True,
        trigger=EventTrigger(
            match={"prefect.resource.id": "prefect.flow-run.*"},
            match_related={"prefect.resource.role": "flow", "prefect.resource.name": FLOW_NAME},
            after={"prefect.flow-run.Failed", "prefect.flow-run.Crashed"},
            expect={DELIVERED_EVENT},
            for_each={"prefect.resource.id"},
            posture=Posture.Proactive,
            threshold=1,
            within=timedelta(seconds=within_seconds),
        ),
        actions=[CallWebhook(block_document_id=webhook_block_id, payload=json.dumps({"text": _TEXT}))],
    )


def ensure_backstop(webhook_url: str | None, within_seconds: float = DEFAULT_WITHIN_SECONDS) -> str:
    """Create or update the Webhook block and the automation; idempotent. Returns what was done, for people.

    Without a webhook URL the existing Webhook block is used; with none at all nothing is created.
    """
    from prefect.blocks.webhook import Webhook
    from prefect.client.orchestration import get_client

    if webhook_url:
        Webhook(method="POST", url=webhook_url, headers={"Content-Type": "application/json"}).save(
            WEBHOOK_BLOCK, overwrite=True)
    try:
        block = Webhook.load(WEBHOOK_BLOCK)
    except ValueError:
        return (f"automation {AUTOMATION_NAME} not created: no Slack webhook (set SLACK_WEBHOOK_URL and run "
                "`make deploy` again)")
    definition = backstop_automation(block._block_document_id, within_seconds)
    with get_client(sync_client=True) as client:
        existing = client.read_automations_by_name(AUTOMATION_NAME)
        if existing:
            client.update_automation(existing[0].id, definition)
            for extra in existing[1:]:  # left by an older, non-idempotent deploy
                client.delete_automation(extra.id)
            return f"automation {AUTOMATION_NAME} updated"
        client.create_automation(definition)
    return f"automation {AUTOMATION_NAME} created"


def backstop_present() -> bool:
    """Whether the server has the enabled backstop automation (then crash hooks leave the alert to it)."""
    from prefect.client.orchestration import get_client

    try:
        with get_client(sync_client=True) as client:
            return any(a.enabled for a in client.read_automations_by_name(AUTOMATION_NAME))
    except Exception:  # an ephemeral server or an unreachable API: alert from here
        return False
