"""Parse the datastore URIs users write and resolve them to a concrete place and credential.

Accepted forms:
    /local/folder, ./relative, file:///folder
    azureml://datastores/<name>/paths/<prefix>                       (resolved through the workspace)
    azureml://subscriptions/<s>/resourcegroups/<rg>/workspaces/<w>/datastores/<name>/paths/<prefix>
    https://<account>.blob.core.windows.net/<container>/<prefix>[?<SAS>]
    https://127.0.0.1:10000/<account>/<container>/<prefix>            (path-style, as the emulator and IP endpoints use)
    wasbs://<container>@<account>.blob.core.windows.net/<prefix>
    abfss://<container>@<account>.dfs.core.windows.net/<prefix>      (read through the Blob endpoint of the same account)
"""
from __future__ import annotations

import ipaddress
import os
import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Mapping, Protocol
from urllib.parse import unquote, urlsplit

from tasks.datastore.base import StorageError

_AZUREML_SHORT = re.compile(r"^azureml://datastores/(?P<name>[^/]+)/paths/?(?P<prefix>.*)$", re.I)
_AZUREML_LONG = re.compile(
    r"^azureml://subscriptions/[^/]+/resource[gG]roups/[^/]+/workspaces/[^/]+/datastores/(?P<name>[^/]+)/paths/?(?P<prefix>.*)$",
    re.I,
)
_SERVICE_HOST = re.compile(r"^(?P<account>[a-z0-9]{3,24})\.(?P<service>blob|dfs)\.(?P<suffix>.+)$", re.I)
CREDENTIAL_KINDS = ("account_key", "sas", "none")


@dataclass(frozen=True)
class DatastoreInfo:
    """What a workspace knows of one datastore; `secret` is the account key or SAS token (never printed)."""

    name: str
    account_name: str
    container_name: str
    credential_type: str = "none"  # 'account_key' | 'sas' | 'none' (identity-based datastore)
    secret: str | None = field(default=None, repr=False)
    endpoint: str = "core.windows.net"
    protocol: str = "https"
    account_url: str | None = None  # overrides endpoint/protocol (sovereign clouds, emulators)
    datastore_type: str = "azure_blob"


class DatastoreResolver(Protocol):
    """Looks up an Azure ML datastore by name (the Azure ML helper builds one on MLClient.datastores).

    `get_datastore` returns a DatastoreInfo (or any object with the same attributes) and raises LookupError (KeyError)
    when the workspace has no datastore of that name.
    """

    def get_datastore(self, name: str) -> DatastoreInfo: ...


@dataclass(frozen=True)
class Location:
    """A resolved URI: a local folder, or an account/container/prefix with the datastore's own credential."""

    uri: str  # as written, without any SAS query
    kind: str  # 'local' | 'blob'
    path: Path | None = None
    account: str | None = None
    account_url: str | None = None
    container: str | None = None
    prefix: str = ""  # '' or ending with '/'
    datastore: str | None = None
    credential_kind: str = "none"
    secret: str | None = field(default=None, repr=False)
    identity_first: bool = False  # told to skip the datastore's key/SAS

    def uri_for(self, prefix: str) -> str:
        """The same datastore at another prefix, in the form the user wrote (azureml://), else as an https URL."""
        if self.datastore:
            return f"azureml://datastores/{self.datastore}/paths/{prefix}"
        return f"{self.account_url}/{self.container}/{prefix}"

    @property
    def credential_less_url(self) -> str | None:
        """The https URL of the folder with no credential in it: what an identity-based job reads."""
        if self.kind != "blob":
            return None
        return f"{self.account_url}/{self.container}/{self.prefix}"


def resolve_location(
    uri: str, resolver: DatastoreResolver | None = None, environ: Mapping[str, str] | None = None
) -> Location:
    """Resolve a datastore URI.

    Args:
        uri: one of the forms in this module's docstring.
        resolver: the workspace's datastores, needed for azureml:// URIs.
        environ: where https/wasbs/abfss URIs find a credential as the az CLI does: AZURE_STORAGE_KEY (with an optional
            AZURE_STORAGE_ACCOUNT that must name the same account), AZURE_STORAGE_SAS_TOKEN, and
            AZURE_STORAGE_AUTH_MODE=login to use an identity only. Default: os.environ.

    Returns:
        The Location.

    Raises:
        ValueError: the URI cannot be parsed, or it is azureml:// and no resolver was given (the message shows the
            accepted forms).
        StorageError: the workspace has no such datastore or it is not Blob storage (job_config_invalid), or the
            lookup itself failed (service_error).
    """
    environ = os.environ if environ is None else environ
    text = (uri or "").strip()
    if not text:
        raise ValueError("empty data URI; expected a folder, azureml://datastores/<name>/paths/<prefix> or an https:// blob URL")
    if text.lower().startswith("azureml://"):
        return _resolve_azureml(text, resolver)
    if "://" not in text or text.lower().startswith("file://"):
        path = Path(unquote(urlsplit(text).path) if text.lower().startswith("file://") else text).expanduser()
        return Location(uri=text, kind="local", path=path.resolve())
    return _resolve_url(text, environ)


def _normal_prefix(prefix: str) -> str:
    parts = [part for part in unquote(prefix).split("/") if part]
    return "/".join(parts) + "/" if parts else ""


def _is_ip_or_localhost(host: str) -> bool:
    if host == "localhost":
        return True
    try:
        ipaddress.ip_address(host)
        return True
    except ValueError:
        return False


def parse_datastore_uri(text: str) -> tuple[str, str] | None:
    """(datastore name, prefix as 'a/b/' or '') of an azureml:// datastore path, short or long form; else None.

    The one parser of `azureml://datastores/<name>/paths/<prefix>` (and of the long form with subscription, resource
    group and workspace) for preflight, the workspace check and evidence collection alike.
    """
    found = _AZUREML_SHORT.match(text or "") or _AZUREML_LONG.match(text or "")
    return (found.group("name"), _normal_prefix(found.group("prefix"))) if found else None


def _resolve_azureml(text: str, resolver: DatastoreResolver | None) -> Location:
    parsed = parse_datastore_uri(text)
    if not parsed:
        raise ValueError(
            f"cannot parse {text!r}: expected azureml://datastores/<name>/paths/<prefix> "
            "(or the long form azureml://subscriptions/.../workspaces/<w>/datastores/<name>/paths/<prefix>)"
        )
    name, prefix = parsed
    if resolver is None:
        raise ValueError(
            f"{text} names the Azure ML datastore {name!r}, which needs a workspace to resolve: run preflight with the "
            "flow's azureml settings (subscription, resource group, workspace), or pass the storage URL directly "
            "(https://<account>.blob.core.windows.net/<container>/<prefix>)"
        )
    try:
        info = resolver.get_datastore(name)
    except LookupError as exc:
        raise StorageError(
            rule="datastore_not_found",
            category="job_config_invalid",
            detail=f"the workspace has no datastore named {name!r} ({exc})",
            fix=f"Use a datastore the workspace has (az ml datastore list) or register {name!r} first.",
        ) from None
    except Exception as exc:  # noqa: BLE001 - the workspace lookup failed (login, network, throttling): a finding
        from tasks.datastore.errors import classify
        from tasks.redact import redact

        detail = redact(f"could not look up datastore {name!r} in the workspace: {type(exc).__name__}: {exc}")[:500]
        known = classify(exc, {"identity": "the signed-in identity"})
        if known.category == "credential_invalid_or_expired":  # an expired sign-in is the user's to fix, not Azure's
            raise StorageError(rule=known.rule, category=known.category, detail=detail, fix=known.fix) from None
        raise StorageError(
            rule="datastore_lookup_failed",
            category="service_error",
            detail=detail,
            fix="Check the workspace settings (subscription, resource group, workspace) and that this identity may "
                "read it (`az login`, role Reader or AzureML Data Scientist on the workspace); then run again.",
        ) from None
    if getattr(info, "datastore_type", "azure_blob") not in ("azure_blob", "azure_data_lake_gen2", "AzureBlob"):
        raise StorageError(
            rule="datastore_not_blob",
            category="job_config_invalid",
            detail=f"datastore {name!r} is of type {info.datastore_type!r}",
            fix="ghostwatch reads videos from Blob (or ADLS Gen2) datastores; register the videos' container as one.",
        )
    credential_kind = info.credential_type if info.credential_type in CREDENTIAL_KINDS else "none"
    account_url = (info.account_url or f"{info.protocol}://{info.account_name}.blob.{info.endpoint}").rstrip("/")
    return Location(
        uri=text,
        kind="blob",
        account=info.account_name,
        account_url=account_url,
        container=info.container_name,
        prefix=prefix,
        datastore=name,
        credential_kind=credential_kind,
        secret=info.secret if credential_kind != "none" else None,
    )


def _resolve_url(text: str, environ: Mapping[str, str]) -> Location:
    parts = urlsplit(text)
    scheme = parts.scheme.lower()
    host = (parts.hostname or "").lower()
    forms = (
        "https://<account>.blob.core.windows.net/<container>/<prefix>, wasbs://<container>@<account>.blob.core.windows.net/"
        "<prefix>, abfss://<container>@<account>.dfs.core.windows.net/<prefix>"
    )
    if scheme in ("wasbs", "wasb", "abfss", "abfs"):
        container = parts.username
        found = _SERVICE_HOST.match(host)
        if not container or not found:
            raise ValueError(f"cannot parse {text!r}: expected {forms}")
        account, suffix = found.group("account"), found.group("suffix")
        account_url, prefix = f"https://{account}.blob.{suffix}", parts.path
    elif scheme in ("https", "http"):
        segments = [segment for segment in parts.path.split("/") if segment]
        found = _SERVICE_HOST.match(host)
        if found and scheme == "https":
            account, suffix = found.group("account"), found.group("suffix")
            account_url = f"https://{account}.blob.{suffix}"
        elif _is_ip_or_localhost(host) and segments:
            # Path-style addressing (emulators, IP endpoints): the account is the first path segment.
            account = segments.pop(0)
            account_url = f"{scheme}://{parts.netloc.rsplit('@', 1)[-1]}/{account}"
        else:
            raise ValueError(f"cannot parse {text!r}: expected {forms} (plain http only for a local emulator)")
        if not segments:
            raise ValueError(f"{text!r} names no container; expected {forms}")
        container, prefix = segments[0], "/".join(segments[1:])
    else:
        raise ValueError(f"unsupported scheme {scheme!r} in {text!r}; expected a local folder, azureml://, or {forms}")
    credential_kind, secret = "none", None
    if "sig=" in parts.query:
        credential_kind, secret = "sas", parts.query
    elif environ.get("AZURE_STORAGE_SAS_TOKEN"):
        credential_kind, secret = "sas", environ["AZURE_STORAGE_SAS_TOKEN"].lstrip("?")
    elif environ.get("AZURE_STORAGE_KEY") and environ.get("AZURE_STORAGE_ACCOUNT", account) == account:
        credential_kind, secret = "account_key", environ["AZURE_STORAGE_KEY"]
    clean_uri = text.split("?", 1)[0]
    return Location(
        uri=clean_uri,
        kind="blob",
        account=account,
        account_url=account_url,
        container=container,
        prefix=_normal_prefix(prefix),
        credential_kind=credential_kind,
        secret=secret,
        identity_first=environ.get("AZURE_STORAGE_AUTH_MODE", "").lower() == "login",
    )
