"""Real local stand-ins for Azure Storage in tests: Azurite, a proxy that refuses shared keys, a managed-identity endpoint.

- AzuriteServer: the npm package azurite@3.35.0 (`make azurite`), blob service only, on 127.0.0.1 and a free port,
  in-memory, optionally over HTTPS with `--oauth basic` (Azurite then accepts bearer tokens, checking issuer, audience
  and lifetime but not the signature).
- KeyRefusingProxy: sits in front of Azurite and answers requests signed with the account key (SharedKey, and SAS
  tokens, which are derived from it) with 403 `KeyBasedAuthenticationNotPermitted`, as a storage account with
  shared-key access disabled does; bearer-token requests pass through. It can also inject transient failures.
- IdentityEndpoint: the managed-identity token endpoint azure-identity reads from MSI_ENDPOINT/MSI_SECRET (Azure ML
  compute) or IDENTITY_ENDPOINT/IDENTITY_HEADER (App Service), issuing tokens for https://storage.azure.com.
Every server binds 127.0.0.1, runs in daemon threads or a child process, and stops in its fixture's teardown.
"""
from __future__ import annotations

import base64
import http.client
import json
import shutil
import socket
import ssl
import subprocess
import threading
import time
import uuid
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from urllib.parse import parse_qs, urlsplit
from typing import Callable

REPO_ROOT = Path(__file__).resolve().parent.parent
AZURITE_BIN = REPO_ROOT / "node_modules" / ".bin" / "azurite-blob"
ACCOUNT = "devstoreaccount1"
# Azurite's published well-known development key (not a secret): https://learn.microsoft.com/azure/storage/common/storage-use-azurite
ACCOUNT_KEY = "Eby8vdM02xNOcqFlqUwJPLlmEtlCDXJ1OUzFT50uSRZ6IFsuFq2UVErCz4I6tq/K1SZFPTOtr/KBHBeksoGMGw=="
TENANT = "72f988bf-86f1-41af-91ab-2d7cd011db47"
_HOP_BY_HOP = {"connection", "keep-alive", "transfer-encoding", "te", "trailer", "upgrade", "proxy-authorization", "host"}


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def wait_for_port(port: int, process: subprocess.Popen | None = None, seconds: float = 60) -> None:
    """Block until something accepts connections on 127.0.0.1:port (start-up only; product code never polls like this)."""
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        if process is not None and process.poll() is not None:
            raise RuntimeError(f"Azurite exited with status {process.returncode} before listening on {port}")
        with socket.socket() as probe:
            if probe.connect_ex(("127.0.0.1", port)) == 0:
                return
        time.sleep(0.1)
    raise RuntimeError(f"nothing listened on 127.0.0.1:{port} within {seconds}s")


@dataclass
class TLSFiles:
    """A throwaway CA and a server certificate for 127.0.0.1 (trustme), written as PEM files."""

    ca: Path
    cert: Path
    key: Path

    @classmethod
    def create(cls, folder: Path) -> "TLSFiles":
        import trustme

        authority = trustme.CA()
        server = authority.issue_cert("127.0.0.1", "localhost")
        files = cls(ca=folder / "ca.pem", cert=folder / "cert.pem", key=folder / "key.pem")
        authority.cert_pem.write_to_path(str(files.ca))
        server.cert_chain_pems[0].write_to_path(str(files.cert))
        for extra in server.cert_chain_pems[1:]:
            extra.write_to_path(str(files.cert), append=True)
        server.private_key_pem.write_to_path(str(files.key))
        return files

    def server_context(self) -> ssl.SSLContext:
        context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
        context.load_cert_chain(str(self.cert), str(self.key))
        return context

    def client_context(self) -> ssl.SSLContext:
        return ssl.create_default_context(cafile=str(self.ca))


class AzuriteServer:
    """One Azurite blob service; `account_url` is the path-style endpoint of the development account."""

    def __init__(self, workdir: Path, tls: TLSFiles | None = None, oauth: bool = False) -> None:
        if not AZURITE_BIN.exists():
            raise RuntimeError(f"Azurite is not installed at {AZURITE_BIN}: run `make azurite` in {REPO_ROOT}")
        if oauth and tls is None:
            raise ValueError("Azurite's OAuth mode needs HTTPS (tls)")
        self.port = free_port()
        self.tls = tls
        self.scheme = "https" if tls else "http"
        self.account_url = f"{self.scheme}://127.0.0.1:{self.port}/{ACCOUNT}"
        command = [str(AZURITE_BIN), "--blobHost", "127.0.0.1", "--blobPort", str(self.port),
                   "--silent", "--disableTelemetry", "--skipApiVersionCheck", "--inMemoryPersistence"]
        if tls:
            command += ["--cert", str(tls.cert), "--key", str(tls.key)]
        if oauth:
            command += ["--oauth", "basic"]
        self.process = subprocess.Popen(command, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, cwd=workdir)
        try:
            wait_for_port(self.port, self.process)
        except Exception:
            self.stop()
            raise

    def service_client(self):
        """A BlobServiceClient with the account key, for setting up test data."""
        from azure.storage.blob import BlobServiceClient

        options = {"connection_verify": str(self.tls.ca)} if self.tls else {}
        return BlobServiceClient(self.account_url, credential={"account_name": ACCOUNT, "account_key": ACCOUNT_KEY}, **options)

    def upload(self, container: str, files: dict[str, bytes | Path]) -> None:
        """Create `container` if needed and upload name -> bytes (or a file's bytes)."""
        from azure.core.exceptions import ResourceExistsError

        client = self.service_client().get_container_client(container)
        try:
            client.create_container()
        except ResourceExistsError:
            pass
        for name, data in files.items():
            client.upload_blob(name, data.read_bytes() if isinstance(data, Path) else data, overwrite=True)

    def stop(self) -> None:
        if self.process.poll() is None:
            self.process.terminate()
            try:
                self.process.wait(timeout=10)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()


def sas_token(container: str, hours: float = 1) -> str:
    """A container SAS signed with the account key (what a SAS-credential datastore holds)."""
    from datetime import datetime, timedelta, timezone

    from azure.storage.blob import ContainerSasPermissions, generate_container_sas

    return generate_container_sas(ACCOUNT, container, account_key=ACCOUNT_KEY,
                                  permission=ContainerSasPermissions(read=True, list=True),
                                  expiry=datetime.now(timezone.utc) + timedelta(hours=hours))


class _Server(ThreadingHTTPServer):
    daemon_threads = True
    allow_reuse_address = True


class _Background:
    """An HTTP(S) server on 127.0.0.1 served from a daemon thread."""

    def __init__(self, handler: type, tls: TLSFiles | None) -> None:
        self.server = _Server(("127.0.0.1", 0), handler)
        self.server.owner = self  # handlers reach their fixture's state through it
        if tls:
            self.server.socket = tls.server_context().wrap_socket(self.server.socket, server_side=True)
        self.port = self.server.server_address[1]
        self.scheme = "https" if tls else "http"
        self.thread = threading.Thread(target=self.server.serve_forever, name=type(self).__name__, daemon=True)
        self.thread.start()

    def stop(self) -> None:
        self.server.shutdown()
        self.server.server_close()


@dataclass
class Fault:
    """A canned failure for the next matching request."""

    status: int
    error_code: str
    headers: dict = field(default_factory=dict)
    only_auth: str | None = None  # 'SharedKey', 'Bearer', 'SAS' or 'none': hit only requests authenticated so


class _ProxyHandler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"

    def log_message(self, *args) -> None:  # quiet: pytest shows failures, not traffic
        pass

    def _handle(self) -> None:
        proxy: KeyRefusingProxy = self.server.owner
        body = self.rfile.read(int(self.headers.get("Content-Length") or 0))
        authorization = self.headers.get("Authorization", "")
        query = parse_qs(urlsplit(self.path).query)
        scheme = authorization.split(" ")[0] or ("SAS" if "sig" in query else "none")
        proxy.seen.append((self.command, self.path.split("?")[0], scheme))
        fault = proxy.next_fault(scheme)
        if fault:
            return self._error(fault.status, fault.error_code, f"Injected {fault.error_code}.", fault.headers)
        if proxy.refuse_keys and authorization.startswith("SharedKey"):
            return self._error(403, "KeyBasedAuthenticationNotPermitted",
                               "Key based authentication is not permitted on this storage account.")
        if proxy.refuse_keys and "sig" in query and "skoid" not in query:  # user-delegation SAS (skoid) is allowed
            return self._error(403, proxy.sas_error_code,
                               "This SAS token is derived from an account key, but key-based authentication is not permitted.")
        self._forward(body)

    do_GET = do_PUT = do_HEAD = do_DELETE = do_POST = _handle

    def _forward(self, body: bytes) -> None:
        proxy: KeyRefusingProxy = self.server.owner
        upstream = urlsplit(proxy.upstream)
        if upstream.scheme == "https":
            connection = http.client.HTTPSConnection(upstream.hostname, upstream.port, context=proxy.upstream_ssl, timeout=30)
        else:
            connection = http.client.HTTPConnection(upstream.hostname, upstream.port, timeout=30)
        headers = {name: value for name, value in self.headers.items() if name.lower() not in _HOP_BY_HOP}
        try:
            connection.request(self.command, self.path, body=body or None, headers=headers)
            response = connection.getresponse()
            payload = response.read()
        finally:
            connection.close()
        self.send_response(response.status, response.reason)
        for name, value in response.getheaders():
            if name.lower() not in _HOP_BY_HOP and name.lower() != "content-length":
                self.send_header(name, value)
        self.send_header("Content-Length", str(len(payload)))
        self.end_headers()
        if self.command != "HEAD":
            self.wfile.write(payload)

    def _error(self, status: int, code: str, message: str, headers: dict | None = None) -> None:
        payload = (f'<?xml version="1.0" encoding="utf-8"?><Error><Code>{code}</Code><Message>{message}\n'
                   f"RequestId:{uuid.uuid4()}\nTime:2025-07-21T06:45:12.0000000Z</Message></Error>").encode()
        self.send_response(status)
        self.send_header("Content-Type", "application/xml")
        self.send_header("x-ms-error-code", code)
        for name, value in (headers or {}).items():
            self.send_header(name, value)
        self.send_header("Content-Length", str(len(payload)))
        self.end_headers()
        if self.command != "HEAD":
            self.wfile.write(payload)


class KeyRefusingProxy(_Background):
    """A storage front that refuses account-key and key-derived SAS requests (shared-key access disabled).

    `account_url` is the development account as seen through the proxy; `fail_next` queues transient failures;
    `seen` records (method, path, auth scheme) of every request.
    """

    def __init__(self, upstream: AzuriteServer, tls: TLSFiles | None = None, refuse_keys: bool = True,
                 sas_error_code: str = "KeyBasedAuthenticationNotPermitted") -> None:
        self.upstream = f"{upstream.scheme}://127.0.0.1:{upstream.port}"
        self.upstream_ssl = upstream.tls.client_context() if upstream.tls else None
        self.refuse_keys = refuse_keys
        self.sas_error_code = sas_error_code
        self.seen: list[tuple[str, str, str]] = []
        self._faults: list[Fault] = []
        self._lock = threading.Lock()
        super().__init__(_ProxyHandler, tls)
        self.account_url = f"{self.scheme}://127.0.0.1:{self.port}/{ACCOUNT}"

    def fail_next(self, *faults: Fault) -> None:
        with self._lock:
            self._faults.extend(faults)

    def next_fault(self, scheme: str) -> Fault | None:
        with self._lock:
            for index, fault in enumerate(self._faults):
                if fault.only_auth in (None, scheme):
                    return self._faults.pop(index)
            return None


def bearer_token(audience: str = "https://storage.azure.com", lifetime: int = 3600, tenant: str = TENANT) -> tuple[str, int]:
    """A JWT Azurite's basic OAuth accepts (issuer, audience and lifetime are checked; the signature is not)."""
    def part(data: dict) -> str:
        return base64.urlsafe_b64encode(json.dumps(data).encode()).rstrip(b"=").decode()

    now = int(time.time())
    claims = {"aud": audience, "iss": f"https://sts.windows.net/{tenant}/", "iat": now - 60, "nbf": now - 60,
              "exp": now + lifetime, "oid": str(uuid.uuid4()), "tid": tenant, "appid": str(uuid.uuid4())}
    return f"{part({'alg': 'RS256', 'typ': 'JWT'})}.{part(claims)}.{part({'sig': 'unchecked'})}", now + lifetime


class _IdentityHandler(BaseHTTPRequestHandler):
    def log_message(self, *args) -> None:
        pass

    def do_GET(self) -> None:  # noqa: N802 - http.server's naming
        endpoint: IdentityEndpoint = self.server.owner
        query = {key: values[0] for key, values in parse_qs(urlsplit(self.path).query).items()}
        endpoint.requests.append(query)
        secret = self.headers.get("secret") or self.headers.get("X-IDENTITY-HEADER")
        if secret != endpoint.secret:
            return self._reply(401, {"error": "unauthorized", "error_description": "missing or wrong secret header"})
        resource = query.get("resource", "")
        issued = endpoint.issue(resource)
        if issued is None:
            return self._reply(400, {"error": "invalid_resource", "error_description": f"no tokens for {resource}"})
        token, expires = issued
        endpoint.issued.append(token)
        self._reply(200, {"access_token": token, "expires_on": str(expires), "resource": resource, "token_type": "Bearer"})

    def _reply(self, status: int, body: dict) -> None:
        payload = json.dumps(body).encode()
        self.send_response(status)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(payload)))
        self.end_headers()
        self.wfile.write(payload)


def storage_tokens(resource: str) -> tuple[str, int] | None:
    """Tokens Azurite accepts, for the storage audience only (any other resource is refused, as a scoped identity is)."""
    if not resource.startswith("https://storage.azure.com"):
        return None
    return bearer_token(audience=resource.rstrip("/"))


class IdentityEndpoint(_Background):
    """A managed-identity token endpoint; `environment(style)` gives the variables azure-identity reads.

    Args:
        issue: resource -> (token, expires_on), or None to refuse that resource; default: storage tokens only.
    """

    def __init__(self, issue: Callable[[str], tuple[str, int] | None] = storage_tokens) -> None:
        self.secret = uuid.uuid4().hex
        self.issue = issue
        self.requests: list[dict] = []
        self.issued: list[str] = []
        super().__init__(_IdentityHandler, None)
        self.url = f"http://127.0.0.1:{self.port}/msi/token"

    def environment(self, style: str = "azureml") -> dict[str, str]:
        if style == "azureml":
            return {"MSI_ENDPOINT": self.url, "MSI_SECRET": self.secret}
        if style == "appservice":
            return {"IDENTITY_ENDPOINT": self.url, "IDENTITY_HEADER": self.secret}
        raise ValueError(f"unknown managed identity style {style!r}")

    def __enter__(self) -> "IdentityEndpoint":
        return self

    def __exit__(self, *exc) -> None:
        self.stop()


def write_clips(folder: Path, names: list[str], variants: int = 4) -> list[Path]:
    """Decodable synthetic clips under the given names (a few distinct encodings reused, which keeps this fast)."""
    from flows.sample_data import write_clip

    folder.mkdir(parents=True, exist_ok=True)
    sources = []
    for index in range(min(variants, len(names))):
        path = folder / names[index]
        write_clip(path, seed=index, width=96, height=64, fps=10, seconds=2,
                   emerge_at=1.0 if index % 2 else None)
        sources.append(path)
    for index, name in enumerate(names[len(sources):], start=len(sources)):
        shutil.copyfile(sources[index % len(sources)], folder / name)
    return [folder / name for name in names]
