"""The one secret scrubber: every message that leaves ghostwatch (logs, errors, evidence, reports, verdict JSON,
alerts) passes through `redact`.

Covers storage account keys (in connection strings and bare), SAS signatures (`sig=`), bearer tokens and JWTs,
webhook URLs (Slack, Teams, Discord), connection-string secrets, and `password=`/`token=`-style assignments.
Redaction keeps the shape (`sig=[REDACTED]`) so a reader still sees that a SAS was used.
"""
from __future__ import annotations

import re
from typing import Any

REDACTED = "[REDACTED]"

# Order matters: whole URLs first (a webhook's path is the secret), then key=value forms, then bare tokens.
_PATTERNS: tuple[tuple[re.Pattern[str], str], ...] = (
    (re.compile(r"https://hooks\.slack\.com/(?:services|workflows|triggers)/[^\s\"'<>)]+"), "https://hooks.slack.com/" + REDACTED),
    (re.compile(r"https://[\w.-]*webhook\.office\.com/[^\s\"'<>)]+"), "https://webhook.office.com/" + REDACTED),
    (re.compile(r"https://(?:discord(?:app)?\.com)/api/webhooks/[^\s\"'<>)]+"), "https://discord.com/api/webhooks/" + REDACTED),
    (re.compile(r"(?i)\b(AccountKey|SharedAccessKey|SharedAccessSignature|SharedSecretValue)=([^;\s\"']+)"), r"\1=" + REDACTED),
    (re.compile(r"(?i)([?&;]sig=)[^&\s\"'<>]+"), r"\1" + REDACTED),
    (re.compile(r"(?i)\b(Bearer|SharedKey|SharedKeyLite)\s+[A-Za-z0-9._~+/:=-]{8,}"), r"\1 " + REDACTED),
    (re.compile(r"\beyJ[A-Za-z0-9_-]{8,}\.[A-Za-z0-9_-]{8,}\.[A-Za-z0-9_-]{8,}"), REDACTED),
    # Azure storage account keys are 64 random bytes in base64: 86 characters and '=='.
    (re.compile(r"(?<![A-Za-z0-9+/])[A-Za-z0-9+/]{86}==(?![A-Za-z0-9+/=])"), REDACTED),
    (re.compile(r"(?i)\b((?:[\w-]*_)?(?:password|passwd|secret|client_secret|api[_-]?key|access[_-]?token|"
                r"refresh[_-]?token|run_token|auth[_-]?token|token))(\s*[=:]\s*)(?!\[REDACTED\])(\"[^\"]*\"|'[^']*'|[^\s,;&]+)"),
     r"\1\2" + REDACTED),
    (re.compile(r"\bhf_[A-Za-z0-9]{30,}\b"), REDACTED),
)


# Every pattern above needs one of these substrings (lower-cased); text holding none of them is returned as is.
_TRIGGERS = ("hooks.slack.com", "webhook", "discord", "key=", "sharedaccess", "sharedsecret", "sig=", "bearer",
             "sharedkey", "eyj", "==", "passw", "secret", "api", "token", "hf_")


def redact(text: str, *secrets: str | None) -> str:
    """Return `text` with every secret this module knows, and every literal one given, replaced by [REDACTED].

    Args:
        text: any string (a log line, a report, a JSON document, an SDK's error message).
        secrets: literal secrets to remove as well (a SAS token, a key); values shorter than 8 characters are ignored,
            since removing them would shred ordinary words.

    Returns:
        The scrubbed string; text without secrets comes back unchanged.
    """
    if not text:
        return text
    for secret in secrets:
        if secret and len(secret) >= 8:
            text = text.replace(secret, REDACTED)
    lowered = text.lower()
    if next(filter(lowered.__contains__, _TRIGGERS), None) is None:
        return text
    for pattern, replacement in _PATTERNS:
        text = pattern.sub(replacement, text)
    return text


def redact_obj(value: Any) -> Any:
    """Redact every string inside a JSON-like structure (dicts, lists, tuples), keys included."""
    if isinstance(value, str):
        return redact(value)
    if isinstance(value, dict):
        return {redact(str(k)) if isinstance(k, str) else k: redact_obj(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [redact_obj(v) for v in value]
    return value
