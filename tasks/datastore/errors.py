"""Classify storage failures with the storage error catalogue (storage_errors.yaml) and keep secrets out of messages."""
from __future__ import annotations

import re
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path

import yaml

from tasks.redact import redact
from tasks.datastore.base import StorageError

CATALOGUE_PATH = Path(__file__).with_name("storage_errors.yaml")
_MATCH_FIELDS = {"error_code", "message_contains", "status", "exception"}
_OUTCOME_FIELDS = {"id", "category", "retryable", "switch_to_identity", "fix"}
_EXCEPTION_KINDS = {"connection", "identity"}

# SAS signatures, account keys in connection strings, and bearer tokens are the secrets that can reach an error text.


@dataclass(frozen=True)
class Rule:
    """One catalogue rule; see the header of storage_errors.yaml for how matching works."""

    id: str
    category: str
    fix: str
    retryable: bool = False
    switch_to_identity: bool = False
    error_code: str | None = None
    message_contains: str | None = None
    status: tuple[int, ...] = ()
    exception: str | None = None

    def matches(self, error_code: str | None, message: str, status: int | None, exception: str | None) -> bool:
        if self.error_code and (error_code or "").casefold() != self.error_code.casefold():
            return False
        if self.message_contains and self.message_contains.casefold() not in message.casefold():
            return False
        if self.status and status not in self.status:
            return False
        if self.exception and exception != self.exception:
            return False
        return True


@lru_cache(maxsize=None)
def load_catalogue(path: Path = CATALOGUE_PATH) -> tuple[Rule, ...]:
    """Load and validate the catalogue.

    Raises:
        ValueError: a rule has an unknown field, a duplicate id, an unknown exception kind, or the last rule is not a
            catch-all (the message names the rule).
    """
    data = yaml.safe_load(Path(path).read_text())
    rules: list[Rule] = []
    seen: set[str] = set()
    for index, raw in enumerate(data.get("rules") or []):
        unknown = set(raw) - _MATCH_FIELDS - _OUTCOME_FIELDS
        if unknown or "id" not in raw or "category" not in raw:
            raise ValueError(f"{path}: rule #{index} ({raw.get('id')!r}) has unknown fields {sorted(unknown)} or lacks id/category")
        if raw["id"] in seen:
            raise ValueError(f"{path}: rule id {raw['id']!r} is used twice; ids are stable and unique")
        if raw.get("exception") not in (None, *_EXCEPTION_KINDS):
            raise ValueError(f"{path}: rule {raw['id']!r}: exception must be one of {sorted(_EXCEPTION_KINDS)}")
        seen.add(raw["id"])
        rules.append(Rule(**{**raw, "status": tuple(raw.get("status") or ()), "fix": " ".join(str(raw.get("fix", "")).split())}))
    if not rules or any(getattr(rules[-1], name) for name in _MATCH_FIELDS):
        raise ValueError(f"{path}: the last rule must be a catch-all without match fields")
    return tuple(rules)


def classify(exc: BaseException, context: dict | None = None, secrets: tuple[str | None, ...] = ()) -> StorageError:
    """Turn an Azure SDK (or network, or credential) exception into a classified StorageError.

    Args:
        exc: what the SDK raised.
        context: values for the fix template (account, container, prefix, identity, uri).
        secrets: literal secrets to strip from the service's message.

    Returns:
        A StorageError carrying the first matching rule's outcome and a secret-free detail.
    """
    if isinstance(exc, StorageError):
        return exc
    status, error_code, message, exception_kind, retry_after = _describe(exc)
    message = redact(message, *secrets)
    context = {"account": "?", "container": "?", "prefix": "", "identity": "the credential", "uri": "?", **(context or {})}
    for rule in load_catalogue():
        if rule.matches(error_code, message, status, exception_kind):
            return StorageError(
                rule=rule.id,
                category=rule.category,
                detail=message,
                status=status,
                error_code=error_code,
                retryable=rule.retryable,
                switch_to_identity=rule.switch_to_identity,
                retry_after=retry_after,
                fix=rule.fix.format_map(_Defaulting(context)),
                context=context,
            )
    raise AssertionError("the catalogue's last rule is a catch-all")  # load_catalogue guarantees it


class _Defaulting(dict):
    def __missing__(self, key: str) -> str:
        return "{" + key + "}"


def _describe(exc: BaseException) -> tuple[int | None, str | None, str, str | None, float | None]:
    """(status, error code, first meaningful message line, exception kind, Retry-After seconds) of an exception."""
    from azure.core.exceptions import ClientAuthenticationError, ServiceRequestError, ServiceResponseError

    response = getattr(exc, "response", None)
    status = getattr(response, "status_code", None) if response is not None else None
    headers = getattr(response, "headers", None) or {}
    error_code = getattr(exc, "error_code", None) or headers.get("x-ms-error-code")
    raw_message = str(getattr(exc, "message", None) or exc)
    # Storage errors append RequestId/Time/ErrorCode/Content lines; the first line is the sentence people need.
    first_line = next((line.strip() for line in raw_message.splitlines() if line.strip()), type(exc).__name__)
    exception_kind = None
    if response is None and isinstance(exc, ClientAuthenticationError):
        exception_kind = "identity"
    elif response is None and isinstance(exc, (ServiceRequestError, ServiceResponseError, ConnectionError, TimeoutError)):
        exception_kind = "connection"
        first_line = raw_message.replace("\n", " ")[:300]
    retry_after = None
    if headers.get("Retry-After"):
        try:
            retry_after = float(headers["Retry-After"])
        except ValueError:
            retry_after = None  # an HTTP date; the backoff alone decides then
    return status, error_code, first_line, exception_kind, retry_after
