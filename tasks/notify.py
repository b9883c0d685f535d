"""Slack alerts: post a failure summary to an incoming webhook; the webhook URL is a secret and is never logged."""
from __future__ import annotations

import logging
import os
from dataclasses import dataclass, field

import httpx

from tasks.clock import Clock
from tasks.retry import RetryPolicy, call_with_retries

log = logging.getLogger(__name__)

WEBHOOK_ENV = "SLACK_WEBHOOK_URL"


class AlertError(RuntimeError):
    """The alert could not be delivered; the message never contains the webhook URL."""


@dataclass
class Alert:
    """What a person needs to act on a failed run, in the order they read it."""

    title: str
    category: str
    summary: str
    action: str = ""
    fields: dict[str, str] = field(default_factory=dict)
    links: dict[str, str] = field(default_factory=dict)  # label -> URL (Prefect UI, Azure ML Studio); never secrets

    def to_slack(self) -> dict:
        """Slack message payload: plain `text` for notifications, Block Kit blocks for the channel."""
        lines = [f"*{self.title}*", f"*Category:* `{self.category}`", self.summary]
        if self.action:
            lines.append(f"*Next:* {self.action}")
        field_text = [f"*{k}:* {v}" for k, v in self.fields.items()]
        link_text = " | ".join(f"<{url}|{label}>" for label, url in self.links.items())
        blocks = [
            {"type": "header", "text": {"type": "plain_text", "text": self.title[:150]}},
            {"type": "section", "text": {"type": "mrkdwn", "text": "\n".join(lines[1:])[:3000]}},
        ]
        if field_text:
            blocks.append({"type": "section", "fields": [{"type": "mrkdwn", "text": t[:2000]} for t in field_text[:10]]})
        if link_text:
            blocks.append({"type": "context", "elements": [{"type": "mrkdwn", "text": link_text}]})
        return {"text": f"{self.title}: {self.category}: {self.summary}"[:3000], "blocks": blocks}


def resolve_webhook(explicit: str | None = None) -> str | None:
    """The webhook URL to use: an explicit one (flow parameter) wins over the SLACK_WEBHOOK_URL variable."""
    url = explicit or os.environ.get(WEBHOOK_ENV) or None
    if url and not url.startswith(("https://", "http://")):
        raise AlertError(f"the Slack webhook is not an http(s) URL; set {WEBHOOK_ENV} to the URL Slack gave you")
    return url


class _SlackUnavailable(AlertError):
    """A delivery failure worth another try: the network, 429 or 5xx."""

    retryable = True

    def __init__(self, message: str, retry_after: float | None = None) -> None:
        super().__init__(message)
        self.retry_after = retry_after


def post_alert(
    alert: Alert,
    webhook_url: str,
    *,
    transport: httpx.BaseTransport | None = None,
    clock: Clock | None = None,
    attempts: int = 3,
    timeout: float = 10.0,
) -> None:
    """Post `alert` to a Slack incoming webhook, retrying network errors, 429 (honouring Retry-After) and 5xx.

    Raises:
        AlertError: delivery failed; the message says why without the URL.
    """
    payload = alert.to_slack()
    with httpx.Client(transport=transport, timeout=timeout) as client:

        def post() -> None:
            try:
                response = client.post(webhook_url, json=payload)
            except httpx.HTTPError as exc:
                raise _SlackUnavailable(f"network error ({type(exc).__name__})") from None
            if response.status_code == 200:
                return
            last = f"HTTP {response.status_code}: {response.text[:200]}"
            if response.status_code == 429:
                raise _SlackUnavailable(last, retry_after=_seconds(response.headers.get("Retry-After")))
            if response.status_code >= 500:
                raise _SlackUnavailable(last)
            # 400 invalid_payload, 403 action_prohibited, 404 no_service: retrying cannot help.
            raise AlertError(
                f"Slack refused the alert ({last}); check that the webhook is still active and the app is "
                "installed in the channel"
            )

        try:
            call_with_retries(post, RetryPolicy(attempts=attempts, base_seconds=1.0, max_seconds=30.0,
                                                max_retry_after_seconds=30.0), clock=clock, what="Slack alert")
        except _SlackUnavailable as exc:
            raise AlertError(f"Slack alert not delivered after {attempts} attempts; last: {exc}") from None


def _seconds(header: str | None) -> float | None:
    try:
        return float(header) if header else None
    except ValueError:  # an HTTP date: wait the backoff instead
        return None
