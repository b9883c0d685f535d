"""Reach the data the way the job will: the datastore's own credential first, managed identity when keys are refused.

The first request is the listing itself. When the storage account refuses the datastore's key or SAS
(KeyBasedAuthenticationNotPermitted), the listing is tried again with a token credential, and the AccessReport records
that the job must be submitted with `identity: managed` AND a credential-less input path: Azure ML lets credentials
stored on a datastore win over the job's identity, so an azureml:// path to a keyed datastore would fail again.
"""
from __future__ import annotations

import os
import random
from dataclasses import asdict, dataclass, field
from typing import Any, Callable

from tasks.clock import Clock
from tasks.datastore.base import BlobInfo, Datastore, StorageError
from tasks.datastore.blob import AUTH_DESCRIPTIONS, AzureBlob
from tasks.datastore.local import LocalFolder
from tasks.retry import RetryPolicy
from tasks.datastore.suggest import nearest_existing, rank_similar
from tasks.datastore.uri import Location


@dataclass
class AccessReport:
    """How the data was reached, and what the job must do to reach it the same way."""

    uri: str
    kind: str  # 'local' | 'blob'
    auth: str  # 'local' | 'account_key' | 'sas' | 'identity' | 'anonymous'
    switched_to_identity: bool = False
    switch_reason: str | None = None
    job_input: str = ""  # what the job should read: the folder, the azureml:// URI, or a credential-less https URL
    use_identity: bool = False  # submit the job with `identity: managed`
    identity_input: str = ""  # what a job with `identity: managed` must read: a path that carries no stored credential
    suggestions: list[str] = field(default_factory=list)  # nearest existing prefixes when the path is missing
    attempts: list[str] = field(default_factory=list)  # each credential tried and what came of it
    job_access_proven: bool = True  # False: preflight read with a credential the job will not have (its key or SAS)
    retries: int = 0  # transient failures retried

    def to_dict(self) -> dict:
        return asdict(self)


@dataclass
class AccessOutcome:
    """The opened store and its listing (None when the data could not be reached), with what went wrong."""

    report: AccessReport
    store: Datastore | None = None
    listing: list[BlobInfo] | None = None
    problems: list[StorageError] = field(default_factory=list)  # blocking
    notices: list[StorageError] = field(default_factory=list)  # dealt with (a refused key, switched to identity)


def default_token_credential() -> Any:
    """The identity preflight uses when told none: the Azure ML / App Service managed identity when its endpoint is
    configured in the environment, else DefaultAzureCredential (managed identity, workload identity, az login)."""
    from azure.identity import DefaultAzureCredential, ManagedIdentityCredential

    if os.environ.get("MSI_ENDPOINT") or os.environ.get("IDENTITY_ENDPOINT"):
        return ManagedIdentityCredential()
    return DefaultAzureCredential(exclude_interactive_browser_credential=True)


def open_and_list(
    location: Location,
    token_credential: Any = None,
    credential_factory: Callable[[], Any] = default_token_credential,
    clock: Clock | None = None,
    retry: RetryPolicy | None = None,
    rng: random.Random | None = None,
    client_options: dict | None = None,
) -> AccessOutcome:
    """List the data at `location` through the credential chain.

    Args:
        location: from resolve_location.
        token_credential: the identity to switch to; default: `credential_factory()`, called only when needed.
        clock, retry, rng: retry timing for transient errors.
        client_options: extra azure-storage-blob client keywords.

    Returns:
        An AccessOutcome; never raises for access problems (they are in `problems`).
    """
    if location.kind == "local":
        return _open_local(location)
    return _open_blob(location, token_credential, credential_factory, clock, retry, rng, client_options)


def _open_local(location: Location) -> AccessOutcome:
    report = AccessReport(uri=location.uri, kind="local", auth="local", job_input=str(location.path))
    store = LocalFolder(location.path)
    try:
        listing = store.list()
    except StorageError as error:
        if error.category == "data_not_found":
            suggestion = nearest_existing(str(location.path), LocalFolder("/").child_folders)
            report.suggestions = ["/" + path for path in suggestion.similar]
            error.context = {"existing_parent": "/" + suggestion.existing_parent,
                             "siblings": ["/" + path for path in suggestion.siblings]}
        report.attempts.append(f"local: {error.rule}")
        return AccessOutcome(report=report, problems=[error])
    report.attempts.append(f"local: listed {len(listing)} files")
    return AccessOutcome(report=report, store=store, listing=listing)


def _open_blob(location, token_credential, credential_factory, clock, retry, rng, client_options) -> AccessOutcome:
    report = AccessReport(uri=location.uri, kind="blob", auth="", job_input=location.uri)
    chain = []
    if location.credential_kind in ("account_key", "sas") and not location.identity_first:
        chain.append(location.credential_kind)
    chain.append("identity")
    outcome = AccessOutcome(report=report)

    def count_retry(error: StorageError, delay: float) -> None:
        report.retries += 1

    for auth in chain:
        credential = None
        if auth == "identity":
            try:
                credential = token_credential or credential_factory()
            except Exception as exc:  # noqa: BLE001 - a credential that cannot even be built is a finding, not a crash
                outcome.problems.append(StorageError(
                    rule="identity_unavailable", category="credential_invalid_or_expired", detail=str(exc).splitlines()[0],
                    fix="Configure a managed identity or `az login` where preflight runs."))
                break
        report.auth = auth
        try:
            store = AzureBlob(location, auth, credential, retry=retry, clock=clock, rng=rng,
                              client_options=client_options, on_retry=count_retry)
        except (ValueError, TypeError) as exc:  # the SDK refuses the combination, e.g. a token over plain http
            outcome.problems.append(StorageError(
                rule="client_config", category="job_config_invalid", detail=f"{auth} cannot be used with {location.account_url}: {exc}",
                fix="Use the account's https:// endpoint (tokens are only sent over TLS) or give the datastore a key or SAS."))
            break
        try:
            listing = store.list()
        except StorageError as error:
            report.attempts.append(f"{auth}: {error.rule}" + (f" ({error.error_code})" if error.error_code else ""))
            if error.switch_to_identity and auth != "identity":
                report.switched_to_identity = True
                report.switch_reason = (
                    f"{AUTH_DESCRIPTIONS[auth]} was refused by {location.account} ({error.error_code or error.rule}: "
                    f"{error.detail.rstrip('. ')})"
                )
                outcome.notices.append(error)
                continue
            if error.category == "data_not_found" and error.rule == "container_not_found":
                report.suggestions = _similar_containers(store, location.container)
            outcome.problems.append(error)
            break
        report.attempts.append(f"{auth}: listed {len(listing)} blobs")
        outcome.store, outcome.listing = store, listing
        if auth in ("account_key", "sas") and not location.datastore:
            # The key or SAS came with the URL or this machine's environment; the job gets neither and reads the
            # credential-less path with its own identity, which this listing has not tried.
            report.job_access_proven = False
            outcome.notices.append(_unproven(location, auth))
        if not listing:
            outcome.problems.append(_missing_prefix(store, location, report))
        break
    report.use_identity = report.auth == "identity"
    report.identity_input = location.credential_less_url or location.uri
    if report.use_identity:
        # Stored datastore credentials win over the job's identity: the job must read a path that carries none.
        report.job_input = location.credential_less_url or location.uri
    return outcome


def _unproven(location: Location, auth: str) -> StorageError:
    return StorageError(
        rule="job_access_unproven", category="storage_permission_denied",
        detail=(f"preflight read {location.account}/{location.container}/{location.prefix} with {'an account key' if auth == 'account_key' else 'a SAS token'} "
                "given on this machine, which the job will not have: the job reads with its managed identity, so this "
                "listing does not prove the job can read the data"),
        fix=(f"Give the job's identity the role `Storage Blob Data Reader` on {location.account}/{location.container}, "
             "or register the container as an Azure ML datastore (with its key or SAS) and run on its azureml:// path."),
    )


def _missing_prefix(store: AzureBlob, location: Location, report: AccessReport) -> StorageError:
    """An empty listing: blob prefixes exist only while blobs carry them, so the prefix does not exist."""
    where = f"{location.account}/{location.container}/{location.prefix}"
    context: dict = {}
    if location.prefix:
        root = store.with_prefix("")
        try:
            suggestion = nearest_existing(location.prefix, root.child_folders)
            report.suggestions = [location.uri_for(prefix) for prefix in suggestion.similar]
            context = {"existing_parent": location.uri_for(suggestion.existing_parent),
                       "siblings": [location.uri_for(prefix) for prefix in suggestion.siblings]}
        except StorageError:
            pass  # suggestions are a courtesy; the missing prefix is the finding
        detail = f"no blobs under {where} (the prefix does not exist)"
        fix = f"Upload the videos to {where} or point the run at the prefix that holds them."
    else:
        detail = f"container {location.account}/{location.container} is empty"
        fix = f"Upload the videos to container {location.container} or point the run at the container that holds them."
    return StorageError(rule="prefix_not_found", category="data_not_found", detail=detail, fix=fix, context=context)


def _similar_containers(store: AzureBlob, container: str | None) -> list[str]:
    try:
        return rank_similar(container or "", store.container_names())
    except StorageError:
        return []  # listing containers needs account-level rights the identity may lack
