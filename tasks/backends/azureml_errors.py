"""Translate azure-core / azure-identity exceptions into ghostwatch's: transient (retry), auth (fix named), the rest.

Azure ML's SDK raises azure-core exceptions with the service's JSON error inside; the watch only needs to know
whether to retry (TransientBackendError, with Retry-After) or stop with a message that says what to do.
"""
from __future__ import annotations

import re
from typing import Callable, TypeVar

from tasks.backends.watch import TransientBackendError
from tasks.redact import redact

T = TypeVar("T")

TRANSIENT_STATUS = {408, 429, 500, 502, 503, 504}
AUTH_FIX = (
    "Fix: sign in again with `az login` (add `--tenant <tenant id>` for a guest account) where a person runs the flow; "
    "where it runs unattended, give the managed identity or service principal the 'AzureML Data Scientist' role on the "
    "workspace (and check AZURE_CLIENT_ID / the federated credential it uses)."
)


class AzureMLError(Exception):
    """An Azure ML request failed in a way retrying will not fix; the message says what was wrong and what to do."""


class AzureMLAuthError(AzureMLError):
    """The credential was refused or could not get a token (expired sign-in, missing role)."""


class AzureMLNotFoundError(AzureMLError):
    """A workspace, compute, environment, datastore or job does not exist where the settings say."""


def call_azure(operation: Callable[[], T], what: str) -> T:
    """Run one SDK call and translate its failure.

    Args:
        operation: the call, without arguments.
        what: what it does, for messages ("get job gw-1-a1").

    Returns:
        What the call returned.

    Raises:
        TransientBackendError: throttling, 5xx, timeouts, connection resets (retry_after from the response if given).
        AzureMLAuthError: the credential could not get a token or was refused (the fix is in the message).
        AzureMLNotFoundError: 404 from the service.
        AzureMLError: any other service refusal.
    """
    from azure.core.exceptions import (
        ClientAuthenticationError,
        HttpResponseError,
        ResourceNotFoundError,
        ServiceRequestError,
        ServiceResponseError,
    )

    try:
        return operation()
    except TransientBackendError:
        raise
    except ClientAuthenticationError as exc:
        raise AzureMLAuthError(f"{what}: Azure refused the credential ({_service_words(exc)}). {AUTH_FIX}") from None
    except ResourceNotFoundError as exc:
        raise AzureMLNotFoundError(f"{what}: not found ({_service_words(exc)})") from None
    except HttpResponseError as exc:
        status = exc.status_code or 0
        if status in TRANSIENT_STATUS:
            raise TransientBackendError(f"{what}: HTTP {status} ({_service_words(exc)})", retry_after=_retry_after(exc)) from None
        if status == 401:
            raise AzureMLAuthError(f"{what}: Azure refused the token ({_service_words(exc)}). {AUTH_FIX}") from None
        if status == 403:
            raise AzureMLAuthError(
                f"{what}: the signed-in identity lacks permission ({_service_words(exc)}). Fix: grant it the "
                "'AzureML Data Scientist' role on the workspace (or 'Contributor' on its resource group)."
            ) from None
        raise AzureMLError(f"{what}: HTTP {status} ({_service_words(exc)})") from None
    except (ServiceRequestError, ServiceResponseError, ConnectionError, TimeoutError) as exc:
        raise TransientBackendError(f"{what}: connection problem ({redact(str(exc))[:300]})") from None


def _service_words(exc) -> str:
    error = getattr(exc, "error", None)
    code = getattr(error, "code", None) or getattr(exc, "error_code", None)
    message = getattr(error, "message", None) or getattr(exc, "message", None) or str(exc)
    text = f"{code}: {message}" if code and code not in str(message) else str(message)
    return redact(" ".join(text.split()))[:500]


def _retry_after(exc) -> float | None:
    response = getattr(exc, "response", None)
    headers = getattr(response, "headers", None) or {}
    for key in ("Retry-After", "retry-after", "x-ms-retry-after-ms"):
        value = headers.get(key)
        if value is None:
            continue
        try:
            seconds = float(value)
        except ValueError:
            continue
        return seconds / 1000 if key == "x-ms-retry-after-ms" else seconds
    return None
