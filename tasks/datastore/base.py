"""The Datastore seam: what preflight needs from any place videos live (list, stat, open/read, download)."""
from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import BinaryIO, Protocol


@dataclass(frozen=True)
class BlobInfo:
    """One file of a datastore; `name` is relative to the datastore's root folder or prefix, with '/' separators."""

    name: str
    size: int
    modified: datetime | None = None


class Datastore(Protocol):
    """A folder of files, local or remote; every method raises StorageError for access problems."""

    description: str  # where it is, for people; never holds a secret

    def list(self) -> list[BlobInfo]:
        """Every file under the root, recursively, sorted by name."""

    def stat(self, name: str) -> BlobInfo:
        """One file's size and modification time."""

    def open_read(self, name: str) -> BinaryIO:
        """A readable binary stream of one file; the caller closes it."""

    def download(self, name: str, destination: Path) -> Path:
        """Copy one file to `destination` (a file path) and return it."""

    def child_folders(self, prefix: str) -> list[str]:
        """Names of the folders (blob prefixes) directly under `prefix` (relative to the root; '' for the root)."""


@dataclass
class StorageError(Exception):
    """An access problem, classified by the storage error catalogue (tasks/datastore/storage_errors.yaml).

    `rule` is the catalogue id that matched; `category` the DESIGN.md taxonomy name; `retryable` and
    `switch_to_identity` say what the credential chain and retry loop do with it; `detail` is the service's own
    words, already stripped of secrets.
    """

    rule: str
    category: str
    detail: str
    status: int | None = None
    error_code: str | None = None
    retryable: bool = False
    switch_to_identity: bool = False
    retry_after: float | None = None
    fix: str = ""
    context: dict = field(default_factory=dict)

    def __str__(self) -> str:
        code = f" [{self.error_code}]" if self.error_code else ""
        return f"{self.rule}{code}: {self.detail}"
