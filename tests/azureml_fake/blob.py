"""An in-memory Blob service: the few REST calls azure-storage-blob makes for uploads, listings and downloads."""
from __future__ import annotations

import hashlib
import threading
from dataclasses import dataclass, field
from datetime import datetime, timezone
from email.utils import format_datetime
from urllib.parse import parse_qs
from xml.sax.saxutils import escape

Response = tuple[int, dict[str, str], bytes]


@dataclass
class Blob:
    data: bytes
    metadata: dict[str, str] = field(default_factory=dict)
    content_type: str = "application/octet-stream"
    modified: datetime = field(default_factory=lambda: datetime.now(timezone.utc))

    @property
    def etag(self) -> str:
        return '"0x' + hashlib.md5(self.data + repr(sorted(self.metadata.items())).encode()).hexdigest()[:16].upper() + '"'


def _error(status: int, code: str, message: str) -> Response:
    body = f'<?xml version="1.0" encoding="utf-8"?><Error><Code>{code}</Code><Message>{escape(message)}</Message></Error>'
    return status, {"x-ms-error-code": code, "Content-Type": "application/xml"}, body.encode()


class BlobStore:
    """Blobs by (account, container, name); `key_auth_disabled` accounts refuse Shared Key like the seed's account."""

    def __init__(self) -> None:
        self._blobs: dict[tuple[str, str, str], Blob] = {}
        self._lock = threading.Lock()
        self.key_auth_disabled: set[str] = set()
        self.identity_denied: set[str] = set()  # accounts where a token is valid but its identity holds no data role
        self.requests: list[tuple[str, str]] = []

    # -- helpers the fake's lifecycles and tests use directly
    def put(self, account: str, container: str, name: str, data: bytes, content_type: str = "text/plain") -> None:
        with self._lock:
            self._blobs[(account, container, name)] = Blob(data=data, content_type=content_type)

    def get(self, account: str, container: str, name: str) -> bytes | None:
        with self._lock:
            blob = self._blobs.get((account, container, name))
            return blob.data if blob else None

    def names(self, account: str, container: str, prefix: str = "") -> list[str]:
        with self._lock:
            return sorted(n for (a, c, n) in self._blobs if a == account and c == container and n.startswith(prefix))

    # -- the REST surface
    def handle(self, method: str, account: str, path: str, query: str, headers: dict[str, str], body: bytes) -> Response:
        """Serve one Blob REST request addressed to `https://<account>.blob.core.windows.net<path>?<query>`."""
        self.requests.append((method, path))
        params = {k: v[-1] for k, v in parse_qs(query, keep_blank_values=True).items()}
        auth = headers.get("authorization", "")
        if not auth and "sig" not in params:
            return _error(401, "NoAuthenticationInformation", "Server failed to authenticate the request.")
        if auth.startswith("SharedKey") and account in self.key_auth_disabled:
            return _error(403, "KeyBasedAuthenticationNotPermitted", "Key based authentication is not permitted on this storage account.")
        if auth.startswith("Bearer") and account in self.identity_denied:
            # An identity without a data role (Storage Blob Data Reader) on the account: what Azure Storage answers.
            return _error(403, "AuthorizationPermissionMismatch", "This request is not authorized to perform this operation using this permission.")
        container, _, name = path.lstrip("/").partition("/")
        if params.get("restype") == "container":
            if params.get("comp") == "list":
                return self._list(account, container, params)
            return 200, {"ETag": '"0x1"', "Last-Modified": format_datetime(datetime.now(timezone.utc), usegmt=True)}, b""
        key = (account, container, name)
        if method == "PUT" and params.get("comp") == "metadata":
            with self._lock:
                blob = self._blobs.get(key)
                if blob is None:
                    return _error(404, "BlobNotFound", "The specified blob does not exist.")
                blob.metadata = _metadata_from(headers)
            return 200, {"ETag": blob.etag}, b""
        if method == "PUT":
            with self._lock:
                self._blobs[key] = Blob(
                    data=body, metadata=_metadata_from(headers), content_type=headers.get("x-ms-blob-content-type", "application/octet-stream")
                )
                etag = self._blobs[key].etag
            return 201, {"ETag": etag, "Last-Modified": format_datetime(datetime.now(timezone.utc), usegmt=True)}, b""
        with self._lock:
            blob = self._blobs.get(key)
        if blob is None:
            return _error(404, "BlobNotFound", "The specified blob does not exist.")
        common = {
            "ETag": blob.etag,
            "Last-Modified": format_datetime(blob.modified, usegmt=True),
            "x-ms-blob-type": "BlockBlob",
            "Content-Type": blob.content_type,
            "x-ms-creation-time": format_datetime(blob.modified, usegmt=True),
        }
        common.update({f"x-ms-meta-{k}": v for k, v in blob.metadata.items()})
        if method == "HEAD":
            return 200, {**common, "Content-Length": str(len(blob.data))}, b""
        if method == "GET":
            return self._download(blob, headers, common)
        return _error(405, "UnsupportedHttpVerb", f"{method} is not supported here.")

    def _download(self, blob: Blob, headers: dict[str, str], common: dict[str, str]) -> Response:
        byte_range = headers.get("x-ms-range") or headers.get("range")
        if not byte_range:
            return 200, common, blob.data
        start_s, _, end_s = byte_range.split("=", 1)[1].partition("-")
        start = int(start_s)
        end = min(int(end_s) if end_s else len(blob.data) - 1, len(blob.data) - 1)
        if not blob.data:
            return 200, common, b""
        if start >= len(blob.data):
            return _error(416, "InvalidRange", "The range specified is invalid for the current size of the resource.")
        chunk = blob.data[start : end + 1]
        return 206, {**common, "Content-Range": f"bytes {start}-{end}/{len(blob.data)}"}, chunk

    def _list(self, account: str, container: str, params: dict[str, str]) -> Response:
        prefix = params.get("prefix", "")
        with self._lock:
            items = sorted((n, b) for (a, c, n), b in self._blobs.items() if a == account and c == container and n.startswith(prefix))
        include_metadata = "metadata" in params.get("include", "")
        parts = [f'<?xml version="1.0" encoding="utf-8"?><EnumerationResults ContainerName="{escape(container)}"><Prefix>{escape(prefix)}</Prefix><Blobs>']
        for name, blob in items:
            meta = ""
            if include_metadata:
                meta = "<Metadata>" + "".join(f"<{k}>{escape(v)}</{k}>" for k, v in blob.metadata.items()) + "</Metadata>"
            parts.append(
                f"<Blob><Name>{escape(name)}</Name><Properties>"
                f"<Last-Modified>{format_datetime(blob.modified, usegmt=True)}</Last-Modified><Etag>{blob.etag}</Etag>"
                f"<Content-Length>{len(blob.data)}</Content-Length><Content-Type>{blob.content_type}</Content-Type>"
                f"<BlobType>BlockBlob</BlobType></Properties>{meta}</Blob>"
            )
        parts.append("</Blobs><NextMarker /></EnumerationResults>")
        return 200, {"Content-Type": "application/xml"}, "".join(parts).encode()


def _metadata_from(headers: dict[str, str]) -> dict[str, str]:
    return {k[len("x-ms-meta-"):]: v for k, v in headers.items() if k.startswith("x-ms-meta-")}
