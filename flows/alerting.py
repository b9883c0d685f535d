"""Alert delivery for the flow and its hooks: the webhook from a Prefect Secret block, one bounded delivery per run.

The webhook URL lives in a `Secret` block named by the run's `slack_webhook_block` parameter (never in the parameters,
which the UI shows and every flow run stores); `SLACK_WEBHOOK_URL` is the fallback for local runs. Each run delivers
at most once from its own process (the flow, or a hook when the flow never got to it): the outcome is kept in the run
folder as `alert.json`, and a delivered alert is announced with the event `ghostwatch.alert.delivered`, which the
server's backstop automation (flows/automation.py) waits for before it alerts in the run's place.
"""
from __future__ import annotations

import datetime as dt
import json
import logging
import os
from dataclasses import asdict, dataclass
from pathlib import Path

from tasks.notify import WEBHOOK_ENV, Alert, AlertError, post_alert, resolve_webhook

log = logging.getLogger("ghostwatch.notify")

ALERT_RECORD = "alert.json"
DELIVERED_EVENT = "ghostwatch.alert.delivered"
FLOW_NAME = "ghost-probing"
ALERT_ATTEMPTS = 3  # tries per run from its own process; the server backstop adds one only when none got through


@dataclass
class AlertRecord:
    """What became of a run's alert: delivered, refused (Slack said no), undelivered (unreachable), not_configured."""

    status: str
    detail: str
    category: str
    at: str

    @property
    def delivered(self) -> bool:
        return self.status == "delivered"


def webhook_from(block_name: str | None) -> tuple[str | None, str]:
    """The webhook URL and where it came from (or why there is none), never raising.

    Looks in the Secret block `block_name` first, then in SLACK_WEBHOOK_URL.
    """
    notes = []
    if block_name:
        try:
            from prefect.blocks.system import Secret

            value = Secret.load(block_name).get()
        except ValueError:
            notes.append(f"the Secret block '{block_name}' does not exist (create it with `make deploy` after setting "
                         f"{WEBHOOK_ENV}, or in the UI under Blocks → Secret)")
        except Exception as exc:  # the API is unreachable, or the block is of another type
            notes.append(f"the Secret block '{block_name}' could not be read ({type(exc).__name__})")
        else:
            url = str(value or "").strip()
            if url:
                return url, f"Secret block '{block_name}'"
            notes.append(f"the Secret block '{block_name}' is empty")
    if os.environ.get(WEBHOOK_ENV, "").strip():
        return os.environ[WEBHOOK_ENV].strip(), WEBHOOK_ENV
    notes.append(f"{WEBHOOK_ENV} is not set")
    return None, "; ".join(notes)


def read_record(run_folder: Path | None) -> AlertRecord | None:
    """The run's alert record, if it alerted (or tried to)."""
    path = Path(run_folder) / ALERT_RECORD if run_folder else None
    if not path or not path.exists():
        return None
    try:
        return AlertRecord(**json.loads(path.read_text()))
    except (ValueError, TypeError):
        return None


def deliver(alert: Alert, run_folder: Path, block_name: str | None, *, attempts: int = ALERT_ATTEMPTS,
            report_path: Path | None = None, logger: logging.Logger | None = None) -> AlertRecord:
    """Send the run's alert once, record the outcome in the run folder and return it; never raises.

    A refusal or an unreachable webhook is logged and recorded, so the run's own verdict stays its failure message.
    """
    logger = logger or log
    url, source = webhook_from(block_name)
    where = f" The report is at {report_path}." if report_path else ""
    if url is None:
        status, detail = "not_configured", f"no Slack webhook: {source}.{where}"
        logger.warning("alert not sent: %s", detail)
    else:
        try:
            post_alert(alert, resolve_webhook(url), attempts=attempts)
        except AlertError as exc:
            status = "refused" if "refused" in str(exc) else "undelivered"
            detail = f"{exc} (webhook from {source})"
            logger.error("Slack alert %s: %s.%s", status, detail, where)
        else:
            status, detail = "delivered", f"sent to Slack (webhook from {source})"
            logger.info("Slack alert sent (%s), webhook from %s", alert.category, source)
    record = AlertRecord(status=status, detail=detail, category=alert.category,
                         at=dt.datetime.now(dt.timezone.utc).isoformat(timespec="seconds"))
    folder = Path(run_folder)
    folder.mkdir(parents=True, exist_ok=True)
    (folder / ALERT_RECORD).write_text(json.dumps(asdict(record), indent=2) + "\n")
    return record


def announce_delivered(flow_run) -> None:
    """Tell the server the run's alert went out, so the backstop automation stays silent for this run.

    Emitted from the state hooks, after the terminal state: the automation only counts events after its `after` event.
    """
    from prefect.events import emit_event

    emit_event(
        event=DELIVERED_EVENT,
        resource={"prefect.resource.id": f"prefect.flow-run.{flow_run.id}", "prefect.resource.name": flow_run.name},
        related=[{"prefect.resource.id": f"prefect.flow.{flow_run.flow_id}", "prefect.resource.role": "flow",
                  "prefect.resource.name": FLOW_NAME}],
    )
