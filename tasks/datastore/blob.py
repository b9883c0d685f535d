"""Azure Blob Storage as a Datastore: one container and prefix, one credential, transient errors retried on the clock."""
from __future__ import annotations

import random
from dataclasses import replace
from pathlib import Path
from typing import Any, BinaryIO, Callable

from tasks.clock import Clock, SystemClock
from tasks.datastore.base import BlobInfo, StorageError
from tasks.datastore.errors import classify
from tasks.retry import RetryPolicy, call_with_retries
from tasks.datastore.uri import Location

# The SDK's own retry loop sleeps on the wall clock; ghostwatch retries on its injectable clock instead.
_CLIENT_OPTIONS = {"retry_total": 0, "connection_timeout": 10, "read_timeout": 60}
AUTH_DESCRIPTIONS = {
    "account_key": "the datastore's account key",
    "sas": "the datastore's SAS token",
    "identity": "the managed identity",
    "anonymous": "anonymous access",
}


def make_credential(location: Location, auth: str, token_credential: Any = None) -> Any:
    """The azure-storage-blob credential for `auth` ('account_key' | 'sas' | 'identity' | 'anonymous')."""
    if auth == "account_key":
        return {"account_name": location.account, "account_key": location.secret}
    if auth == "sas":
        return (location.secret or "").lstrip("?")
    if auth == "identity":
        return token_credential
    return None


class AzureBlob:
    """Files under one container prefix, read with one credential.

    Args:
        location: the resolved account, container and prefix.
        auth: which credential this instance uses ('account_key' | 'sas' | 'identity' | 'anonymous').
        token_credential: an azure TokenCredential, for auth 'identity'.
        retry: how transient failures are retried; clock/rng: where the waits happen and their jitter.
        client_options: extra azure-storage-blob client keywords (a transport, timeouts).
    """

    def __init__(
        self,
        location: Location,
        auth: str,
        token_credential: Any = None,
        retry: RetryPolicy | None = None,
        clock: Clock | None = None,
        rng: random.Random | None = None,
        client_options: dict | None = None,
        on_retry: Callable[[StorageError, float], None] | None = None,
    ) -> None:
        from azure.storage.blob import BlobServiceClient

        self.location = location
        self.auth = auth
        self._token_credential = token_credential
        self._client_options = client_options
        self.prefix = location.prefix
        self.description = f"{location.account_url}/{location.container}/{location.prefix}"
        self._retry = retry or RetryPolicy()
        self._clock = clock or SystemClock()
        self._rng = rng or random.Random()
        self._on_retry = on_retry
        self._service = BlobServiceClient(
            account_url=location.account_url,
            credential=make_credential(location, auth, token_credential),
            **{**_CLIENT_OPTIONS, **(client_options or {})},
        )
        self._container = self._service.get_container_client(location.container)
        self._context = {
            "account": location.account,
            "container": location.container,
            "prefix": location.prefix,
            "identity": AUTH_DESCRIPTIONS.get(auth, auth),
            "uri": location.uri,
        }

    def list(self) -> list[BlobInfo]:
        """Every blob under the prefix (names relative to it), sorted; an empty list when the prefix holds nothing."""

        def list_all() -> list[BlobInfo]:
            infos = []
            for blob in self._container.list_blobs(name_starts_with=self.prefix or None):
                name = blob.name[len(self.prefix):]
                # Folder markers of hierarchical accounts, and hidden folders; hidden files are listed, for preflight
                # to say the job skips them (inference.videos.job_reads).
                if not name or name.endswith("/") or any(part.startswith(".") for part in name.split("/")[:-1]):
                    continue
                infos.append(BlobInfo(name=name, size=int(blob.size or 0), modified=blob.last_modified))
            return sorted(infos, key=lambda info: info.name)

        return self._call(list_all, "list blobs")

    def stat(self, name: str) -> BlobInfo:
        """One blob's size and modification time."""
        properties = self._call(lambda: self._container.get_blob_client(self.prefix + name).get_blob_properties(), "stat")
        return BlobInfo(name=name, size=int(properties.size), modified=properties.last_modified)

    def open_read(self, name: str) -> BinaryIO:
        """The blob's bytes as a stream (read fully into memory: meant for small files such as label files)."""
        import io

        data = self._call(lambda: self._container.download_blob(self.prefix + name).readall(), f"read {name}")
        return io.BytesIO(data)

    def download(self, name: str, destination: Path) -> Path:
        """Stream the blob into the file `destination`; a retry starts the file over."""

        def fetch() -> Path:
            with open(destination, "wb") as handle:
                self._container.download_blob(self.prefix + name, max_concurrency=1).readinto(handle)
            return destination

        return self._call(fetch, f"download {name}")

    def child_folders(self, prefix: str) -> list[str]:
        """Names of the virtual folders directly under prefix (relative to this store's prefix)."""
        start = self.prefix + (prefix.strip("/") + "/" if prefix.strip("/") else "")

        def walk() -> list[str]:
            names = []
            for item in self._container.walk_blobs(name_starts_with=start or None, delimiter="/"):
                if item.name.endswith("/"):
                    names.append(item.name[len(start):].rstrip("/"))
            return sorted(names)

        return self._call(walk, "list folders")

    def with_prefix(self, prefix: str) -> "AzureBlob":
        """The same container and credential rooted at another prefix."""
        return AzureBlob(replace(self.location, prefix=prefix), self.auth, self._token_credential, retry=self._retry,
                         clock=self._clock, rng=self._rng, client_options=self._client_options, on_retry=self._on_retry)

    def container_names(self) -> list[str]:
        """The account's container names (needs account-level list permission)."""
        return self._call(lambda: sorted(c.name for c in self._service.list_containers()), "list containers")

    def _call(self, operation, what: str):
        try:
            return call_with_retries(
                operation,
                self._retry,
                classify=lambda exc: classify(exc, self._context, secrets=(self.location.secret,)),
                clock=self._clock,
                rng=self._rng,
                what=f"{what} at {self.description}",
                on_retry=self._on_retry,
            )
        except StorageError as error:
            if getattr(error, "gave_up_after", None):
                error.detail = f"{error.detail} (gave up after {error.gave_up_after} attempts)"
            raise
