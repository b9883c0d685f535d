"""Collect an Azure ML job's evidence into the layout of tasks/backends/base.py, saying what could not be fetched.

Sources: run history (the structured error, and `logFiles`: SAS URLs of user_logs/ and system_logs/ files, the
same list `jobs.stream` prints from) and the job's `results` output folder on its datastore. `collection.json`
records what was fetched and what was not, and why; SAS query strings never reach it.
"""
from __future__ import annotations

import json
import logging
import re
from dataclasses import dataclass, field
from pathlib import Path, PurePosixPath
from typing import Any

from tasks.datastore.uri import parse_datastore_uri
from tasks.redact import redact

log = logging.getLogger(__name__)

COLLECTION_RECORD = "collection.json"
MAX_FILE_BYTES = 256 * 1024 * 1024  # a log or output bigger than this is named in the gaps, not downloaded
_GENERIC_CODES = {"usererror", "systemerror", "serviceerror"}


@dataclass
class Collection:
    """What one evidence collection fetched and missed."""

    job: str
    studio_url: str | None = None
    fetched: list[str] = field(default_factory=list)
    missing: list[dict[str, str]] = field(default_factory=list)

    def miss(self, what: str, why: str) -> None:
        why = redact(why)[:500]
        log.warning("evidence for %s: could not fetch %s: %s", self.job, what, why)
        self.missing.append({"what": what, "why": why})

    def write(self, dest: Path) -> Path:
        path = dest / COLLECTION_RECORD
        path.write_text(json.dumps({"job": self.job, "studio_url": self.studio_url, "fetched": self.fetched, "missing": self.missing}, indent=2))
        return path


def parse_run_error(error_response: dict[str, Any] | None) -> dict[str, Any] | None:
    """The run's structured error from run history's ErrorResponse JSON.

    Run history puts the category either in `additionalInfo`, in a JSON message, or as the root code itself
    (`UserError` with the specific code in `innerError`); all three shapes give the same result.

    Returns:
        {code, message, category, target, reference_code} or None when there is no error.
    """
    if not error_response:
        return None
    root = error_response.get("error") or error_response
    code = root.get("code")
    message = root.get("message") or ""
    target = root.get("target")
    category = None
    for info in root.get("additionalInfo") or []:
        category = category or (info.get("info") or {}).get("category")
    embedded = _json_object(message)
    if embedded:
        code = embedded.get("code") or code
        category = category or embedded.get("category")
        target = embedded.get("target") or target
    inner = root.get("innerError")
    innermost = None
    while isinstance(inner, dict) and inner.get("code"):
        innermost = inner["code"]
        inner = inner.get("innerError")
    if code and code.lower() in _GENERIC_CODES:
        category = category or code
        code = innermost or code
    return {"code": code, "message": redact(message), "category": category, "target": target, "reference_code": root.get("referenceCode")}


def download_log_files(log_files: dict[str, str], dest: Path, collection: Collection, timeout: float = 60) -> None:
    """Fetch run history's log files (name -> SAS URL) into `dest`, keeping their relative names."""
    from azure.storage.blob import BlobClient

    for name, url in sorted(log_files.items()):
        rel = _safe_relative(name)
        if rel is None:
            collection.miss(name, "log file name would leave the evidence folder")
            continue
        try:
            client = BlobClient.from_blob_url(url, connection_timeout=20, read_timeout=timeout, retry_total=2)
            size = client.get_blob_properties().size
            if size > MAX_FILE_BYTES:
                collection.miss(name, f"{size} bytes, over the {MAX_FILE_BYTES} byte limit; open it from the Studio URL")
                continue
            target = dest / rel
            target.parent.mkdir(parents=True, exist_ok=True)
            target.write_bytes(client.download_blob().readall())
            collection.fetched.append(rel.as_posix())
        except Exception as exc:  # one unreadable log must not lose the others
            collection.miss(name, f"{type(exc).__name__}: {exc}")


def download_outputs(
    output_uri: str, resolver: Any, dest: Path, collection: Collection, token_credential: Any = None, timeout: float = 60
) -> None:
    """Copy the job's output folder (an azureml:// datastore path) into `dest/outputs`.

    `token_credential` reads identity-based datastores (no stored key or SAS).
    """
    parsed = parse_datastore_uri(output_uri or "")
    if not parsed:
        collection.miss("outputs", f"output folder {output_uri!r} is not an azureml://datastores/... path this backend reads")
        return
    store, prefix = parsed
    try:
        container = datastore_container_client(resolver.get_datastore(store), token_credential, timeout)
        blobs = [b for b in container.list_blobs(name_starts_with=prefix) if not b.name.endswith("/")]
    except Exception as exc:
        collection.miss("outputs", f"cannot list {output_uri}: {type(exc).__name__}: {exc}")
        return
    if not blobs:
        collection.miss("outputs", f"{output_uri} holds no files (the job wrote nothing there)")
        return
    for blob in blobs:
        rel = _safe_relative(blob.name[len(prefix):])
        name = f"outputs/{rel.as_posix() if rel else blob.name}"
        if rel is None:
            collection.miss(name, "output name would leave the evidence folder")
            continue
        if blob.size and blob.size > MAX_FILE_BYTES:
            collection.miss(name, f"{blob.size} bytes, over the {MAX_FILE_BYTES} byte limit")
            continue
        try:
            target = dest / "outputs" / rel
            target.parent.mkdir(parents=True, exist_ok=True)
            target.write_bytes(container.download_blob(blob.name).readall())
            collection.fetched.append(name)
        except Exception as exc:
            collection.miss(name, f"{type(exc).__name__}: {exc}")


def datastore_container_client(info: Any, token_credential: Any = None, timeout: float = 60):
    """A ContainerClient for a datastore (DatastoreInfo): its key or SAS when it stores one, else `token_credential`."""
    from azure.storage.blob import ContainerClient

    account_url = info.account_url or f"{info.protocol}://{info.account_name}.blob.{info.endpoint}"
    if info.credential_type == "account_key":
        credential: Any = {"account_name": info.account_name, "account_key": info.secret}
    elif info.credential_type == "sas":
        credential = info.secret
    else:
        credential = token_credential
    return ContainerClient(account_url, info.container_name, credential=credential,
                           connection_timeout=20, read_timeout=timeout, retry_total=2)


def _safe_relative(name: str) -> PurePosixPath | None:
    rel = PurePosixPath(name.replace("\\", "/").lstrip("/"))
    if not rel.parts or ".." in rel.parts:
        return None
    return rel


def _json_object(text: str) -> dict[str, Any] | None:
    text = text.strip()
    if not text.startswith("{"):
        return None
    try:
        value = json.loads(text)
    except ValueError:
        return None
    return value if isinstance(value, dict) else None
