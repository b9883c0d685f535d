"""A local HTTPS fake of the Azure ML REST surface that the real azure-ai-ml SDK talks to.

Serves, on 127.0.0.1 with a trustme certificate: the workspace and its discovery document, computes, datastores
(with listSecrets), environment and code versions (startPendingUpload included), jobs (PUT, GET, cancel), run
history details (structured error, log-file URLs), location usages; and, for hosts `<account>.blob.core.windows.net`
reached through the CONNECT proxy, an in-memory Blob service (code snapshot upload, log files, job outputs).
Jobs follow scripted lifecycles (lifecycles.py) on an injectable clock, so tests never wait.
"""
from __future__ import annotations

import json
import re
import ssl
import threading
import uuid
from dataclasses import dataclass, field
from datetime import datetime, timedelta, timezone
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any, Callable
from urllib.parse import unquote, urlsplit

import trustme

from tests.azureml_fake.blob import BlobStore
from tests.azureml_fake.lifecycles import Lifecycle, completed
from tests.azureml_fake.proxy import TunnelProxy

EPOCH = datetime(2025, 7, 21, 6, 45, tzinfo=timezone.utc)
PROVIDER = "Microsoft.MachineLearningServices"
ARTIFACT_CONTAINER = "azureml"
FINAL = {"Completed", "Failed", "Canceled", "NotResponding", "Paused"}
# Final for the service, but a NotResponding or Paused job still holds its node: Azure ML accepts a cancel for it,
# which takes it through CancelRequested to Canceled. Only these three are over for good.
DONE = {"Completed", "Failed", "Canceled"}
FAKE_ACCOUNT_KEY = "ZmFrZS1rZXktZm9yLWEtbG9jYWwtdGVzdC1vbmx5LW5vdC1hLXNlY3JldA=="  # base64 of a phrase, not a real key


@dataclass
class Fault:
    """Answer the next `remaining` requests whose path matches `pattern` with `status` (or reset the connection)."""

    pattern: str
    remaining: int
    status: int = 429
    retry_after: float | None = None
    reset: bool = False
    method: str | None = None  # None: any method
    after: int = 0  # let this many matching requests through first
    code: str | None = None  # the error code in the body (default: TooManyRequests / ServiceUnavailable)
    message: str | None = None


@dataclass
class FakeJob:
    name: str
    body: dict[str, Any]
    created: float
    lifecycle: Lifecycle
    cancelled_at: float | None = None
    effects_done: set[str] = field(default_factory=set)


@dataclass
class Compute:
    name: str
    vm_size: str = "STANDARD_NC24ADS_A100_V4"
    priority: str = "LowPriority"
    provisioning_state: str = "Succeeded"
    max_nodes: int = 1
    compute_type: str = "AmlCompute"


class FakeAzureML:
    """The fake service. Start it, point the SDK at it with `env()`, script lifecycles, inspect `requests`."""

    def __init__(
        self,
        clock: Any,
        subscription_id: str = "00000000-0000-0000-0000-000000000000",
        resource_group: str = "llava-resourcegroup",
        workspace: str = "llava-workspace",
        location: str = "eastus",
        storage_account: str = "llavaworstoragea223ed2d6",
    ) -> None:
        self.clock = clock
        self.subscription_id = subscription_id
        self.resource_group = resource_group
        self.workspace = workspace
        self.location = location
        self.storage_account = storage_account
        self.blob_container = "azureml-blobstore-5e1ad37a-0b1c-4f2c-9d8e-0a1b2c3d4e5f"
        self.ca = trustme.CA()
        self._cert = self.ca.issue_cert("127.0.0.1", "localhost", "*.blob.core.windows.net")
        self.blobs = BlobStore()
        self.computes: dict[str, Compute] = {"llava-a100-low-priority": Compute("llava-a100-low-priority")}
        self.environments: dict[tuple[str, str], dict[str, Any]] = {}
        self.codes: dict[tuple[str, str], dict[str, Any]] = {}
        self.jobs: dict[str, FakeJob] = {}
        self.datastores: dict[str, dict[str, Any]] = {
            "workspaceblobstore": {"container": self.blob_container, "default": True},
            "workspaceartifactstore": {"container": ARTIFACT_CONTAINER, "default": False},
        }
        self.log_signature = "fake-log-signature"  # the SAS signature on run history's log URLs
        self.account_key = FAKE_ACCOUNT_KEY  # what listSecrets hands out (tests plant canaries here)
        self.usages = {"Standard NCADSA100v4 Family Cluster Dedicated vCPUs": (0, 96), "Low-priority cores": (0, 100)}
        self.expired_tokens: set[str] = set()
        self.all_tokens_expired = False
        self.faults: list[Fault] = []
        self.requests: list[tuple[str, str]] = []
        self.unhandled: list[tuple[str, str]] = []
        self._lifecycles: list[Lifecycle] = []
        self.default_lifecycle: Callable[[], Lifecycle] = completed
        self._lock = threading.RLock()
        self._httpd: ThreadingHTTPServer | None = None
        self._proxy: TunnelProxy | None = None
        self.port = 0

    # ------------------------------------------------------------------ control
    def start(self) -> "FakeAzureML":
        context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
        self._cert.configure_cert(context)
        handler = type("Handler", (_Handler,), {"fake": self})
        self._httpd = ThreadingHTTPServer(("127.0.0.1", 0), handler)
        self._httpd.daemon_threads = True
        self._httpd.socket = context.wrap_socket(self._httpd.socket, server_side=True)
        self.port = self._httpd.server_address[1]
        threading.Thread(target=self._httpd.serve_forever, name="fake-azureml", daemon=True).start()
        self._proxy = TunnelProxy(self.port).start()
        return self

    def stop(self) -> None:
        if self._proxy:
            self._proxy.stop()
        if self._httpd:
            self._httpd.shutdown()
            self._httpd.server_close()

    @property
    def base_url(self) -> str:
        return f"https://127.0.0.1:{self.port}"

    def env(self, ca_bundle: Path) -> dict[str, str]:
        """Environment that sends the SDK here: MFE override, trusted CA, blob hosts through the tunnel."""
        self.ca.cert_pem.write_to_path(str(ca_bundle))
        assert self._proxy is not None
        return {
            "AZUREML_DEV_URL_MFE": self.base_url,
            "REQUESTS_CA_BUNDLE": str(ca_bundle),
            "SSL_CERT_FILE": str(ca_bundle),
            "HTTPS_PROXY": self._proxy.url,
            "https_proxy": self._proxy.url,
            "NO_PROXY": "127.0.0.1,localhost",
            "no_proxy": "127.0.0.1,localhost",
        }

    def script(self, *lifecycles: Lifecycle) -> None:
        """The next submitted jobs follow these lifecycles, in order; later ones follow `default_lifecycle`."""
        with self._lock:
            self._lifecycles.extend(lifecycles)

    def add_fault(self, pattern: str, count: int, status: int = 429, retry_after: float | None = None, reset: bool = False,
                  method: str | None = None, after: int = 0, code: str | None = None, message: str | None = None) -> None:
        """Answer `count` requests matching `pattern` (and `method`) with `status`, after letting `after` through."""
        with self._lock:
            self.faults.append(Fault(pattern, count, status, retry_after, reset, method, after, code, message))

    def count(self, method: str, pattern: str) -> int:
        """How many requests with `method` had a path matching `pattern`."""
        return sum(1 for m, p in self.requests if m == method and re.search(pattern, p))

    def ws_path(self) -> str:
        return (
            f"/subscriptions/{self.subscription_id}/resourceGroups/{self.resource_group}/providers/{PROVIDER}"
            f"/workspaces/{self.workspace}"
        )

    def timestamp(self, seconds: float) -> str:
        return (EPOCH + timedelta(seconds=seconds)).isoformat().replace("+00:00", "Z")

    def output_blob_prefix(self, uri: str) -> tuple[str, str]:
        """(container, prefix) of an `azureml://datastores/<name>/paths/<prefix>` output URI."""
        match = re.match(r"azureml://(?:.*/)?datastores/([^/]+)/paths/(.*)$", uri)
        if not match:
            raise ValueError(f"not a datastore URI: {uri}")
        store = self.datastores[match.group(1)]
        prefix = match.group(2).strip("/")
        return store["container"], prefix + "/" if prefix else ""

    def job_state(self, job: FakeJob) -> str:
        now = self.clock.now()
        state = job.lifecycle.state_at(now - job.created)
        if job.cancelled_at is not None and state not in DONE:
            state = "CancelRequested" if now - job.cancelled_at < 2 else "Canceled"
        self._apply_effects(job, state)
        return state

    # ------------------------------------------------------------------ job effects
    def _apply_effects(self, job: FakeJob, state: str) -> None:
        with self._lock:
            if state in {"Running", "Finalizing"} | FINAL and "logs" not in job.effects_done and state != "Canceled":
                job.effects_done.add("logs")
                for path, data in job.lifecycle.log_files().items():
                    self.blobs.put(self.storage_account, ARTIFACT_CONTAINER, f"ExperimentRun/dcid.{job.name}/{path}", data)
            if state in FINAL and "outputs" not in job.effects_done:
                job.effects_done.add("outputs")
                if state == "Canceled":
                    return
                uri = job.body["properties"].get("outputs", {}).get("results", {}).get("uri")
                if uri:
                    container, prefix = self.output_blob_prefix(uri)
                    existing = self.blobs.get(self.storage_account, container, prefix + "predictions.jsonl")
                    for name, data in job.lifecycle.outputs(existing).items():
                        self.blobs.put(self.storage_account, container, prefix + name, data)

    # ------------------------------------------------------------------ request handling
    def handle(self, method: str, host: str, raw_path: str, headers: dict[str, str], body: bytes) -> tuple[int, dict[str, str], bytes] | None:
        """Route one request; None means: reset the connection."""
        split = urlsplit(raw_path)
        path = unquote(split.path)
        self.requests.append((method, path))
        blob_host = re.match(r"^([a-z0-9]+)\.blob\.core\.windows\.net(:\d+)?$", host.lower())
        if blob_host:
            return self.blobs.handle(method, blob_host.group(1), path, split.query, headers, body)
        fault = self._take_fault(method, path)
        if fault:
            if fault.reset:
                return None
            extra = {"Retry-After": str(int(fault.retry_after))} if fault.retry_after is not None else {}
            code = fault.code or {429: "TooManyRequests", 503: "ServiceUnavailable"}.get(fault.status, "UserError")
            message = fault.message or f"Injected {fault.status} for {path}"
            return _json(fault.status, {"error": {"code": code, "message": message}}, extra)
        if path == "/discovery":
            base = self.base_url
            return _json(200, {"api": base, "catalog": base, "experimentation": base, "history": base,
                               "modelmanagement": base, "pipelines": base, "studio": "https://ml.azure.com"})
        auth = headers.get("authorization", "")
        if not auth.startswith("Bearer ") or len(auth) <= len("Bearer "):
            return _json(401, {"error": {"code": "AuthenticationFailed", "message": "Authentication failed. The 'Authorization' header is missing."}})
        if self.all_tokens_expired or auth[len("Bearer "):] in self.expired_tokens:
            return _json(401, {"error": {"code": "ExpiredAuthenticationToken", "message": "The access token expiry UTC time '7/21/2025 5:00:00 AM' is earlier than current UTC time '7/21/2025 6:45:00 AM'."}})
        query = dict(p.split("=", 1) if "=" in p else (p, "") for p in split.query.split("&") if p)
        payload = json.loads(body) if body else None
        try:
            return self._route(method, path, query, payload)
        except KeyError as exc:
            return _json(404, {"error": {"code": "UserError", "message": f"Not found: {exc}"}})

    def _take_fault(self, method: str, path: str) -> Fault | None:
        with self._lock:
            for fault in self.faults:
                if fault.remaining > 0 and re.search(fault.pattern, path) and fault.method in (None, method):
                    if fault.after > 0:
                        fault.after -= 1
                        continue
                    fault.remaining -= 1
                    return fault
        return None

    def _route(self, method: str, path: str, query: dict[str, str], payload: Any) -> tuple[int, dict[str, str], bytes]:
        usage = re.match(rf"^/subscriptions/([^/]+)/providers/{PROVIDER}/locations/([^/]+)/usages$", path, re.I)
        if usage and method == "GET":
            return self._usages(usage.group(2))
        history = re.match(rf"^/history/v1\.0(/subscriptions/.+?/workspaces/[^/]+)/runs/([^/]+)/details$", path, re.I)
        scope_path = history.group(1) if history else path
        ws = re.match(rf"^/subscriptions/([^/]+)/resourceGroups/([^/]+)/providers/{PROVIDER}/workspaces/([^/]+)(/.*)?$", scope_path, re.I)
        if not ws:
            self.unhandled.append((method, path))
            return _json(404, {"error": {"code": "NotFound", "message": f"The fake does not serve {method} {path}"}})
        problem = self._check_scope(ws.group(1), ws.group(2), ws.group(3))
        if problem:
            return problem
        if history:
            return self._run_details(history.group(2))
        rest = ws.group(4) or ""
        routes: list[tuple[str, str, Callable[..., tuple[int, dict[str, str], bytes]]]] = [
            ("GET", r"", lambda: _json(200, self._workspace_json())),
            ("GET", r"/computes/([^/]+)", self._get_compute),
            ("GET", r"/datastores", lambda: self._list_datastores(query)),
            ("GET", r"/datastores/([^/]+)", lambda n: _json(200, self._datastore_json(n))),
            ("POST", r"/datastores/([^/]+)/listSecrets", self._list_secrets),
            ("GET", r"/environments/([^/]+)/versions/([^/]+)", self._get_environment),
            ("PUT", r"/environments/([^/]+)/versions/([^/]+)", lambda n, v: self._put_versioned(self.environments, "environments", n, v, payload)),
            ("GET", r"/codes/([^/]+)/versions", lambda n: self._list_codes(n, query)),
            ("GET", r"/codes/([^/]+)/versions/([^/]+)", lambda n, v: _json(200, self.codes[(n, v)])),
            ("PUT", r"/codes/([^/]+)/versions/([^/]+)", lambda n, v: self._put_versioned(self.codes, "codes", n, v, payload)),
            ("POST", r"/codes/([^/]+)/versions/([^/]+)/startPendingUpload", self._start_pending_upload),
            ("GET", r"/jobs/([^/]+)", self._get_job),
            ("PUT", r"/jobs/([^/]+)", lambda n: self._put_job(n, payload)),
            ("POST", r"/jobs/([^/]+)/cancel", self._cancel_job),
        ]
        for route_method, pattern, fn in routes:
            match = re.fullmatch(pattern, rest, re.I)
            if match and route_method == method:
                return fn(*match.groups())
        self.unhandled.append((method, path))
        return _json(404, {"error": {"code": "NotFound", "message": f"The fake does not serve {method} {path}"}})

    def _check_scope(self, sub: str, rg: str, ws: str) -> tuple[int, dict[str, str], bytes] | None:
        if sub != self.subscription_id:
            return _json(404, {"error": {"code": "SubscriptionNotFound", "message": f"The subscription '{sub}' could not be found."}})
        if rg.lower() != self.resource_group.lower():
            return _json(404, {"error": {"code": "ResourceGroupNotFound", "message": f"Resource group '{rg}' could not be found."}})
        if ws.lower() != self.workspace.lower():
            return _json(404, {"error": {"code": "ResourceNotFound", "message": f"The Resource '{PROVIDER}/workspaces/{ws}' under resource group '{rg}' was not found. For more details please go to https://aka.ms/ARMResourceNotFoundFix"}})
        return None

    # ------------------------------------------------------------------ resources
    def _workspace_json(self) -> dict[str, Any]:
        sub_rg = f"/subscriptions/{self.subscription_id}/resourceGroups/{self.resource_group}"
        return {
            "id": self.ws_path(), "name": self.workspace, "type": f"{PROVIDER}/workspaces", "location": self.location,
            "kind": "Default", "sku": {"name": "Basic", "tier": "Basic"}, "tags": {},
            "identity": {"type": "SystemAssigned", "principalId": "11111111-1111-1111-1111-111111111111", "tenantId": "22222222-2222-2222-2222-222222222222"},
            "properties": {
                "friendlyName": self.workspace, "workspaceId": "5e1ad37a-0b1c-4f2c-9d8e-0a1b2c3d4e5f",
                "storageAccount": f"{sub_rg}/providers/Microsoft.Storage/storageAccounts/{self.storage_account}",
                "keyVault": f"{sub_rg}/providers/Microsoft.KeyVault/vaults/llavaworkeyvault1a2b3c",
                "applicationInsights": f"{sub_rg}/providers/Microsoft.insights/components/llavaworinsights4d5e6f",
                "discoveryUrl": f"{self.base_url}/discovery", "provisioningState": "Succeeded", "hbiWorkspace": False,
                "publicNetworkAccess": "Enabled", "v1LegacyMode": False,
                "mlFlowTrackingUri": f"azureml://{self.location}.api.azureml.ms/mlflow/v1.0{self.ws_path()}",
            },
        }

    def _get_compute(self, name: str) -> tuple[int, dict[str, str], bytes]:
        compute = self.computes.get(name)
        if compute is None:
            return _json(404, {"error": {"code": "ResourceNotFound", "message": f"The Resource '{PROVIDER}/workspaces/{self.workspace}/computes/{name}' under resource group '{self.resource_group}' was not found."}})
        return _json(200, {
            "id": f"{self.ws_path()}/computes/{name}", "name": name, "type": f"{PROVIDER}/workspaces/computes",
            "location": self.location, "identity": {"type": "SystemAssigned", "principalId": "33333333-3333-3333-3333-333333333333", "tenantId": "22222222-2222-2222-2222-222222222222"},
            "properties": {
                "computeType": compute.compute_type, "computeLocation": self.location, "provisioningState": compute.provisioning_state,
                "createdOn": "2025-07-01T10:00:00Z", "modifiedOn": "2025-07-01T10:00:00Z", "isAttachedCompute": False, "disableLocalAuth": True,
                "properties": {
                    "vmSize": compute.vm_size, "vmPriority": compute.priority, "osType": "Linux",
                    "scaleSettings": {"maxNodeCount": compute.max_nodes, "minNodeCount": 0, "nodeIdleTimeBeforeScaleDown": "PT120S"},
                    "allocationState": "Steady", "allocationStateTransitionTime": "2025-07-21T06:00:00Z", "currentNodeCount": 0,
                    "targetNodeCount": 0, "errors": None, "remoteLoginPortPublicAccess": "Disabled", "enableNodePublicIp": True,
                    "nodeStateCounts": {"idleNodeCount": 0, "runningNodeCount": 0, "preparingNodeCount": 0, "unusableNodeCount": 0, "leavingNodeCount": 0, "preemptedNodeCount": 0},
                },
            },
        })

    def _datastore_json(self, name: str) -> dict[str, Any]:
        store = self.datastores[name]
        return {
            "id": f"{self.ws_path()}/datastores/{name}", "name": name, "type": f"{PROVIDER}/workspaces/datastores",
            "properties": {
                "datastoreType": "AzureBlob", "accountName": self.storage_account, "containerName": store["container"],
                "endpoint": "core.windows.net", "protocol": "https", "isDefault": store["default"],
                "serviceDataAccessAuthIdentity": "WorkspaceSystemAssignedIdentity",
                "credentials": {"credentialsType": "AccountKey"}, "description": None, "properties": {}, "tags": {},
            },
        }

    def _list_datastores(self, query: dict[str, str]) -> tuple[int, dict[str, str], bytes]:
        names = [n for n, s in self.datastores.items() if query.get("isDefault", "").lower() != "true" or s["default"]]
        return _json(200, {"value": [self._datastore_json(n) for n in names]})

    def _list_secrets(self, name: str) -> tuple[int, dict[str, str], bytes]:
        self.datastores[name]
        return _json(200, {"secretsType": "AccountKey", "key": self.account_key})

    def _get_environment(self, name: str, version: str) -> tuple[int, dict[str, str], bytes]:
        env = self.environments.get((name, version))
        if env is None:
            return _json(404, {"error": {"code": "UserError", "message": f"Could not find asset with ID: azureml://locations/{self.location}/workspaces/5e1ad37a-0b1c-4f2c-9d8e-0a1b2c3d4e5f/environments/{name}/versions/{version}"}})
        return _json(200, env)

    def _put_versioned(self, table: dict, kind: str, name: str, version: str, payload: Any) -> tuple[int, dict[str, str], bytes]:
        resource = {
            "id": f"{self.ws_path()}/{kind}/{name}/versions/{version}", "name": version,
            "type": f"{PROVIDER}/workspaces/{kind}/versions", "properties": dict(payload.get("properties", {})),
            "systemData": {"createdAt": self.timestamp(self.clock.now()), "createdBy": "ghostwatch test", "createdByType": "User"},
        }
        with self._lock:
            table[(name, version)] = resource
        return _json(201, resource)

    def _list_codes(self, name: str, query: dict[str, str]) -> tuple[int, dict[str, str], bytes]:
        wanted = query.get("hash")
        found = [c for (n, _), c in self.codes.items() if n == name and (not wanted or c["properties"].get("properties", {}).get("hash_sha256") == wanted)]
        return _json(200, {"value": found})

    def _start_pending_upload(self, name: str, version: str) -> tuple[int, dict[str, str], bytes]:
        container = f"temp-{uuid.uuid4().hex[:24]}"
        url = f"https://{self.storage_account}.blob.core.windows.net/{container}"
        expiry = (datetime.now(timezone.utc) + timedelta(hours=1)).strftime("%Y-%m-%dT%H:%M:%SZ")
        return _json(200, {
            "blobReferenceForConsumption": {
                "blobUri": url,
                "storageAccountArmId": f"/subscriptions/{self.subscription_id}/resourceGroups/{self.resource_group}/providers/Microsoft.Storage/storageAccounts/{self.storage_account}",
                "credential": {"credentialType": "SAS", "sasUri": f"{url}?sv=2021-08-06&se={expiry}&sr=c&sp=racwl&sig=fake-signature"},
            },
            "pendingUploadId": uuid.uuid4().hex, "pendingUploadType": "TemporaryBlobReference",
        })

    def _usages(self, location: str) -> tuple[int, dict[str, str], bytes]:
        values = [
            {"id": f"/subscriptions/{self.subscription_id}/providers/{PROVIDER}/locations/{location}/usages/{i}",
             "type": f"{PROVIDER}/usages", "unit": "Count", "currentValue": used, "limit": limit,
             "name": {"value": name.replace(" ", ""), "localizedValue": name}}
            for i, (name, (used, limit)) in enumerate(self.usages.items())
        ]
        return _json(200, {"value": values})

    # ------------------------------------------------------------------ jobs
    def _job_json(self, job: FakeJob) -> dict[str, Any]:
        state = self.job_state(job)
        props = json.loads(json.dumps(job.body["properties"]))
        props["status"] = state
        props.setdefault("outputs", {})["default"] = {
            "jobOutputType": "uri_folder", "mode": "ReadWriteMount",
            "uri": f"azureml://datastores/workspaceartifactstore/ExperimentRun/dcid.{job.name}",
        }
        props["services"] = {
            "Tracking": {"jobServiceType": "Tracking", "endpoint": f"azureml://{self.location}.api.azureml.ms/mlflow/v1.0{self.ws_path()}"},
            "Studio": {"jobServiceType": "Studio", "endpoint": f"https://ml.azure.com/runs/{job.name}?wsid={self.ws_path()}"},
        }
        return {
            "id": f"{self.ws_path()}/jobs/{job.name}", "name": job.name, "type": f"{PROVIDER}/workspaces/jobs",
            "properties": props,
            "systemData": {"createdAt": self.timestamp(job.created), "createdBy": "ghostwatch test", "createdByType": "User"},
        }

    def _get_job(self, name: str) -> tuple[int, dict[str, str], bytes]:
        job = self.jobs.get(name)
        if job is None:
            return _json(404, {"error": {"code": "UserError", "message": f"Could not find job with name {name}"}})
        return _json(200, self._job_json(job))

    def _put_job(self, name: str, payload: Any) -> tuple[int, dict[str, str], bytes]:
        with self._lock:
            if name in self.jobs:
                return _json(400, {"error": {"code": "UserError", "message": f"A job with name {name} already exists; job properties cannot be changed."}})
            compute_id = payload["properties"].get("computeId") or ""
            compute_name = compute_id.rstrip("/").rsplit("/", 1)[-1]
            if compute_name not in self.computes:
                return _json(400, {"error": {"code": "UserError", "message": f"Compute {compute_name} not found in workspace {self.workspace}."}})
            lifecycle = self._lifecycles.pop(0) if self._lifecycles else self.default_lifecycle()
            lifecycle = self._refusal_of_foreign_predictions(payload) or lifecycle
            job = FakeJob(name=name, body=payload, created=self.clock.now(), lifecycle=lifecycle)
            self.jobs[name] = job
        return _json(201, self._job_json(job))

    def _refusal_of_foreign_predictions(self, payload: Any) -> Lifecycle | None:
        """The real job refuses an output folder holding another model's predictions (resume key); so does the fake."""
        from tests.azureml_fake.lifecycles import refused_foreign_predictions

        props = payload.get("properties", {})
        uri = props.get("outputs", {}).get("results", {}).get("uri")
        model = str((props.get("inputs", {}).get("model") or {}).get("value", ""))
        if not uri or not model:
            return None
        container, prefix = self.output_blob_prefix(uri)
        existing = self.blobs.get(self.storage_account, container, prefix + "predictions.jsonl") or b""
        theirs = [json.loads(line) for line in existing.decode().splitlines() if line.strip()]
        foreign = [r for r in theirs if r.get("model") and r.get("model") != model]
        if not foreign:
            return None
        return refused_foreign_predictions(uri.rstrip("/"), len(foreign), foreign[0]["model"], model)

    def _cancel_job(self, name: str) -> tuple[int, dict[str, str], bytes]:
        job = self.jobs.get(name)
        if job is None:
            return _json(404, {"error": {"code": "UserError", "message": f"Could not find job with name {name}"}})
        with self._lock:
            if job.cancelled_at is None and self.job_state(job) not in DONE:
                job.cancelled_at = self.clock.now()
        return 202, {"Content-Length": "0"}, b""

    def _run_details(self, name: str) -> tuple[int, dict[str, str], bytes]:
        job = self.jobs.get(name)
        if job is None:
            return _json(404, {"error": {"code": "UserError", "message": f"Run {name} was not found"}})
        state = self.job_state(job)
        life = job.lifecycle
        started = None if state in ("NotStarted", "Queued", "Preparing") else self.timestamp(job.created + life.seconds_until("Running")) if "Running" in [p.state for p in life.phases] else None
        ended = self.timestamp(self.clock.now()) if state in FINAL else None
        error = None
        if state == "Failed" and life.error:
            error = {"error": life.error, "correlation": {"operation": uuid.uuid4().hex, "request": uuid.uuid4().hex[:16]},
                     "environment": self.location, "location": self.location, "time": ended, "componentName": "RunHistory"}
        expiry = (datetime.now(timezone.utc) + timedelta(minutes=30)).strftime("%Y-%m-%dT%H:%M:%SZ")
        log_files = {}
        prefix = f"ExperimentRun/dcid.{name}/"
        for blob in self.blobs.names(self.storage_account, ARTIFACT_CONTAINER, prefix):
            log_files[blob[len(prefix):]] = (
                f"https://{self.storage_account}.blob.core.windows.net/{ARTIFACT_CONTAINER}/{blob}"
                f"?sv=2019-07-07&sr=b&sig={self.log_signature}&skoid=x&se={expiry}&sp=r"
            )
        compute_id = job.body["properties"].get("computeId") or ""
        return _json(200, {
            "runId": name, "runUuid": str(uuid.uuid5(uuid.NAMESPACE_URL, name)), "status": state,
            "target": compute_id.rsplit("/", 1)[-1], "createdTimeUtc": self.timestamp(job.created),
            "startTimeUtc": started, "endTimeUtc": ended, "error": error, "warnings": None,
            "tags": {}, "properties": {"azureml.runsource": "azureml.scriptrun"}, "logFiles": log_files,
            "services": {}, "inputDatasets": [], "outputDatasets": [],
        })


def _json(status: int, body: Any, extra: dict[str, str] | None = None) -> tuple[int, dict[str, str], bytes]:
    headers = {"Content-Type": "application/json; charset=utf-8", "x-ms-request-id": uuid.uuid4().hex}
    headers.update(extra or {})
    return status, headers, json.dumps(body).encode()


class _Handler(BaseHTTPRequestHandler):
    fake: FakeAzureML
    protocol_version = "HTTP/1.1"

    def log_message(self, format: str, *args: Any) -> None:  # noqa: A002 - keep the test output clean
        return

    def _serve(self) -> None:
        length = int(self.headers.get("Content-Length") or 0)
        body = self.rfile.read(length) if length else b""
        headers = {k.lower(): v for k, v in self.headers.items()}
        result = self.fake.handle(self.command, headers.get("host", ""), self.path, headers, body)
        if result is None:
            self.close_connection = True
            try:
                self.connection.shutdown(2)
            except OSError:
                pass
            return
        status, out_headers, out = result
        self.send_response(status)
        for key, value in out_headers.items():
            if key.lower() != "content-length":
                self.send_header(key, value)
        self.send_header("Content-Length", str(len(out) if self.command != "HEAD" or status >= 400 else int(out_headers.get("Content-Length", "0"))))
        self.end_headers()
        if self.command != "HEAD":
            self.wfile.write(out)

    do_GET = do_PUT = do_POST = do_HEAD = do_DELETE = do_PATCH = _serve
