"""Workspace preflight (compute, environment, output datastore, quota) and a DatastoreResolver on MLClient.datastores.

Everything here runs before the job is queued, so a wrong compute name or a missing environment costs seconds,
not a place in the A100 queue.
"""
from __future__ import annotations

import logging
import re
from dataclasses import dataclass, field
from typing import Any

from tasks.backends.azureml_errors import AzureMLError, AzureMLNotFoundError, call_azure
from tasks.backends.watch import TransientBackendError
from tasks.datastore.uri import parse_datastore_uri

log = logging.getLogger(__name__)

# vCPUs of the A100 sizes ghostwatch expects; quota is counted in vCPUs per family.
A100_VCPUS = {"standard_nc24ads_a100_v4": 24, "standard_nc48ads_a100_v4": 48, "standard_nc96ads_a100_v4": 96, "standard_nd96asr_v4": 96}


@dataclass
class WorkspaceReport:
    """What the preflight found: `problems` block the submission, `facts` are for the report."""

    problems: list[str] = field(default_factory=list)
    facts: dict[str, Any] = field(default_factory=dict)

    @property
    def ok(self) -> bool:
        return not self.problems


class MLClientDatastoreResolver:
    """tasks.datastore.uri.DatastoreResolver over `MLClient.datastores` (account, container, endpoint, credential)."""

    def __init__(self, ml_client: Any) -> None:
        self._ml_client = ml_client

    def get_datastore(self, name: str):
        """Look up datastore `name` with its secret (account key or SAS) when it stores one.

        Raises:
            KeyError: the workspace has no datastore of that name.
            AzureMLError / TransientBackendError: the lookup itself failed.
        """
        from azure.ai.ml.entities import AccountKeyConfiguration, SasTokenConfiguration

        from tasks.datastore.uri import DatastoreInfo

        try:
            store = call_azure(lambda: self._ml_client.datastores.get(name, include_secrets=True), f"get datastore {name}")
        except AzureMLNotFoundError:
            raise KeyError(f"workspace has no datastore named {name!r}; list them with `az ml datastore list`") from None
        credentials = getattr(store, "credentials", None)
        if isinstance(credentials, AccountKeyConfiguration):
            kind, secret = "account_key", credentials.account_key
        elif isinstance(credentials, SasTokenConfiguration):
            kind, secret = "sas", credentials.sas_token
        else:
            kind, secret = "none", None
        container = getattr(store, "container_name", None) or getattr(store, "filesystem", None)
        return DatastoreInfo(
            name=name, account_name=store.account_name, container_name=container, credential_type=kind, secret=secret,
            endpoint=getattr(store, "endpoint", None) or "core.windows.net", protocol=getattr(store, "protocol", None) or "https",
            datastore_type=_snake_type(getattr(store, "type", None)),
        )


def _snake_type(kind: Any) -> str:
    """The SDK's DatastoreType (an enum whose value is e.g. 'AzureBlob') as DatastoreInfo spells it: 'azure_blob'."""
    text = str(getattr(kind, "value", kind) or "AzureBlob")
    return re.sub(r"(?<=[a-z0-9])(?=[A-Z])", "_", text).lower()


def check_workspace(
    ml_client: Any, settings: Any, job: Any = None, output_uri: str | None = None,
    video_uri: str | None = None, use_identity: bool = False,
) -> WorkspaceReport:
    """Check the workspace can run the job: it exists, the compute is ready, the environment resolves, quota is left.

    Args:
        ml_client: an MLClient for the workspace.
        settings: tasks.config.AzureMLSettings.
        job: the CommandJob about to be submitted (its environment is checked), or None.
        output_uri: the run's output folder; its datastore must exist.
        video_uri: the videos; an azureml:// datastore must exist.
        use_identity: the job reads data with its managed identity; a datastore that stores a key or SAS would
            override it (Azure ML uses stored credentials first), so that is a problem.

    Returns:
        A WorkspaceReport; empty `problems` means go.

    Raises:
        AzureMLAuthError: the credential is refused (nothing else can be checked; the fix is in the message).
        TransientBackendError: the service is throttling or unreachable; try again.
    """
    report = WorkspaceReport()
    try:
        workspace = call_azure(lambda: ml_client.workspaces.get(settings.workspace_name), f"get workspace {settings.workspace_name}")
    except AzureMLNotFoundError as exc:
        report.problems.append(
            f"workspace {settings.workspace_name!r} was not found in resource group {settings.resource_group!r} of "
            f"subscription {settings.subscription_id!r} ({exc}). Check subscription_id, resource_group and "
            "workspace_name (Azure portal → the workspace → Overview, or `az ml workspace list -o table`)."
        )
        return report
    report.facts["workspace_location"] = workspace.location
    _check_compute(ml_client, settings, report)
    if job is not None:
        _check_environment(ml_client, job, report)
    if output_uri:
        _check_output_datastore(ml_client, output_uri, report)
    if video_uri:
        _check_input_datastore(ml_client, video_uri, use_identity, report)
    if report.facts.get("vm_size"):
        _check_quota(ml_client, workspace.location, report)
    return report


def _check_compute(ml_client: Any, settings: Any, report: WorkspaceReport) -> None:
    name = settings.compute
    try:
        compute = call_azure(lambda: ml_client.compute.get(name), f"get compute {name}")
    except AzureMLNotFoundError:
        report.problems.append(
            f"compute {name!r} does not exist in workspace {settings.workspace_name!r}. Set `compute` to an existing "
            "cluster (`az ml compute list -o table`) or create it: `az ml compute create --name "
            f"{name} --type amlcompute --size Standard_NC24ads_A100_v4 --tier low_priority --max-instances 1`."
        )
        return
    size = (getattr(compute, "size", None) or "").lower()
    tier = getattr(compute, "tier", None)
    report.facts.update({
        "compute": name, "compute_type": getattr(compute, "type", None), "vm_size": size or None, "vm_priority": tier,
        "provisioning_state": _text(getattr(compute, "provisioning_state", None)), "max_instances": getattr(compute, "max_instances", None),
    })
    if getattr(compute, "type", "amlcompute") != "amlcompute":
        report.problems.append(f"compute {name!r} is a {compute.type}, not an Azure ML compute cluster (amlcompute)")
    state = _text(getattr(compute, "provisioning_state", None))
    if state and state.lower() != "succeeded":
        report.problems.append(f"compute {name!r} is in provisioning state {state!r}; wait for 'Succeeded' or recreate it")
    if getattr(compute, "max_instances", 1) == 0:
        report.problems.append(f"compute {name!r} allows 0 instances; raise max instances to at least 1 or no job can start")
    if size and "a100" not in size:
        report.facts["note"] = f"compute {name!r} has VM size {size}, not an A100; 7B video models need about 20 GB of GPU memory"


def _check_environment(ml_client: Any, job: Any, report: WorkspaceReport) -> None:
    env = job.environment
    if isinstance(env, str):
        match = re.match(r"^(?:azureml:)?(?P<name>[^:@/]+)(?::(?P<version>[^@]+)|@(?P<label>.+))?$", env)
        if not match:
            report.facts["environment"] = env  # a full ARM id; the service resolves it
            return
        name, version, label = match.group("name"), match.group("version"), match.group("label")
        try:
            found = call_azure(lambda: ml_client.environments.get(name, version=version, label=None if version else (label or "latest")),
                               f"get environment {env}")
            report.facts["environment"] = f"{found.name}:{found.version}"
        except AzureMLNotFoundError:
            report.problems.append(
                f"environment {env!r} does not exist in the workspace (`az ml environment list -o table` shows what does). "
                f"Register it (`az ml environment create --name {name} --version {version or 1} --image <image:tag> "
                "--conda-file deployments/azureml/environment/conda.yaml`) or use the inline environment of "
                "deployments/azureml/job.yaml."
            )
        except AzureMLError as exc:
            report.problems.append(f"environment {env!r} could not be resolved: {exc}")
        return
    image = getattr(env, "image", None)
    report.facts["environment_image"] = image
    if image and not re.search(r"(:[\w.-]+|@sha256:[0-9a-f]{64})$", image.split("/")[-1]):
        report.problems.append(f"environment image {image!r} has no tag; pin a dated tag so reruns use the same image")
    if image is None and getattr(env, "build", None) is None:
        report.problems.append("the job's environment has neither an image nor a build context")


def _check_output_datastore(ml_client: Any, output_uri: str, report: WorkspaceReport) -> None:
    parsed = parse_datastore_uri(output_uri)
    if not parsed:
        return
    store = parsed[0]
    try:
        call_azure(lambda: ml_client.datastores.get(store), f"get datastore {store}")
        report.facts["output_datastore"] = store
    except AzureMLNotFoundError:
        report.problems.append(f"the output folder's datastore {store!r} does not exist; use workspaceblobstore or register {store!r}")


def _check_input_datastore(ml_client: Any, video_uri: str, use_identity: bool, report: WorkspaceReport) -> None:
    from azure.ai.ml.entities import AccountKeyConfiguration, SasTokenConfiguration

    parsed = parse_datastore_uri(video_uri)
    if not parsed:
        return
    store = parsed[0]
    try:
        datastore = call_azure(lambda: ml_client.datastores.get(store), f"get datastore {store}")
    except AzureMLNotFoundError:
        report.problems.append(f"the videos' datastore {store!r} does not exist in the workspace (`az ml datastore list -o table`)")
        return
    stored = isinstance(getattr(datastore, "credentials", None), (AccountKeyConfiguration, SasTokenConfiguration))
    report.facts["input_datastore_credentials"] = "stored key or SAS" if stored else "identity-based"
    if use_identity and stored:
        report.problems.append(
            f"datastore {store!r} stores an account key or SAS, and Azure ML uses stored credentials before the job's "
            "identity, so `identity: managed` changes nothing. Read the videos through an identity-based datastore "
            f"(`az ml datastore create` with no credentials, pointing at the same container) or an https:// URI."
        )


def _check_quota(ml_client: Any, location: str, report: WorkspaceReport) -> None:
    needed = A100_VCPUS.get(report.facts["vm_size"])
    low_priority = (report.facts.get("vm_priority") or "").lower() in ("low_priority", "lowpriority")
    try:
        usages = call_azure(lambda: list(ml_client.compute.list_usage(location=location)), f"list usage in {location}")
    except (AzureMLError, TransientBackendError) as exc:
        report.facts["quota"] = f"could not be read ({exc}); the job may wait in the queue if the quota is used up"
        return
    wanted = "low-priority" if low_priority else "a100"
    for usage in usages:
        label = _usage_label(usage.name).lower()
        if wanted in label.replace("lowpriority", "low-priority"):
            # azure-ai-ml 1.35 leaves current_value empty and keeps the service's camelCase attribute instead
            used = usage.current_value if usage.current_value is not None else getattr(usage, "currentValue", 0) or 0
            free = (usage.limit or 0) - used
            report.facts["quota"] = {"name": label, "used": used, "limit": usage.limit}
            if needed and free < needed:
                report.problems.append(
                    f"quota {label!r} has {free} vCPUs free and one {report.facts['vm_size']} node needs {needed}; "
                    "request more in Azure portal → Quotas → Machine learning, or wait for running jobs to end"
                )
            return
    report.facts["quota"] = "no matching quota line in the usage list"


def _text(value: Any) -> str | None:
    return None if value is None else str(getattr(value, "value", value))


def _usage_label(name: Any) -> str:
    if isinstance(name, dict):
        return name.get("localizedValue") or name.get("value") or ""
    return getattr(name, "localized_value", None) or getattr(name, "value", None) or str(name or "")


def default_output_uri(settings: Any, run_key: str) -> str:
    """The run's stable output folder: settings.output_datastore_path or workspaceblobstore/paths/ghostwatch/<run>/."""
    if settings.output_datastore_path:
        return settings.output_datastore_path.rstrip("/") + "/"
    return f"azureml://datastores/workspaceblobstore/paths/ghostwatch/{run_key}/"

