"""Preflight against real Azurite: the seed's situation (missing prefix on an account that refuses keys, switched to a
real managed-identity token), 100 good videos, the users' real label file, and identity failures."""
import json
from pathlib import Path

import pytest

from inference.labels import read_labels
from tasks.clock import FakeClock
from tasks.datastore import DatastoreInfo
from tasks.preflight import PreflightOptions, run_preflight
from tests.azurite import ACCOUNT, ACCOUNT_KEY, Fault, KeyRefusingProxy, sas_token, write_clips

pytestmark = pytest.mark.azurite
REAL_LABELS = Path(__file__).resolve().parent / "data" / "dada100" / "groundtruth_labels.tsv"
CONTAINER = "azureml-blobstore-0f1c"
SEED_URI = "azureml://datastores/workspaceblobstore/paths/DADA-100-videos/"


class Workspace:
    """The workspace's view of its datastores, as the Azure ML helper's resolver returns it."""

    def __init__(self, account_url, credential_type="account_key", secret=ACCOUNT_KEY):
        self.info = DatastoreInfo("workspaceblobstore", ACCOUNT, CONTAINER, credential_type, secret, account_url=account_url)

    def get_datastore(self, name):
        if name != "workspaceblobstore":
            raise KeyError(name)
        return self.info


def users_video_names():
    """The 100 videos the users hold: the TSV's ids, less images_2_005 (listed, absent), plus images_5_039 (present,
    unlisted) -- see shared/fixtures/dada100/README.md."""
    names = {label.video_id for label in read_labels(REAL_LABELS).labels.values()}
    return sorted((names - {"images_2_005.avi"}) | {"images_5_039.avi"})


@pytest.fixture(scope="module")
def hundred(tmp_path_factory):
    """100 decodable clips named like the users' DADA-100 subset, with a label file that matches them exactly."""
    folder = tmp_path_factory.mktemp("hundred")
    names = users_video_names()
    write_clips(folder, names)
    labels = folder.parent / "hundred_labels.tsv"
    labels.write_text("video_id\tground_truth_label\n" + "".join(f"{name}\tnone\n" for name in names))
    return folder, names, labels


@pytest.fixture(scope="module")
def keyed_store(azurite, hundred):
    folder, names, _ = hundred
    azurite.upload(CONTAINER, {f"DADA-100-Videos/{name}": folder / name for name in names})
    azurite.upload(CONTAINER, {"DADA-100-Videos/groundtruth_labels.csv": REAL_LABELS,
                               "broken/images_1_001.avi": folder / names[0], "broken/images_1_002.avi": b"not a video",
                               "broken/images_1_003.avi": folder / names[2]})
    return azurite


@pytest.fixture(scope="module")
def identity_store(azurite_oauth, hundred):
    folder, names, _ = hundred
    azurite_oauth.upload(CONTAINER, {f"DADA-100-Videos/{name}": folder / name for name in names[:8]})
    return azurite_oauth


def test_seed_situation_reports_both_problems_switches_to_identity_and_suggests(identity_store, key_refusing_proxy,
                                                                                identity_endpoint):
    result = run_preflight(PreflightOptions(uri=SEED_URI, workspace=Workspace(key_refusing_proxy.account_url),
                                            clock=FakeClock()))

    assert not result.passed
    [missing] = result.blocking
    assert (missing.id, missing.category) == ("prefix_not_found", "data_not_found")
    assert "DADA-100-videos/" in missing.message and "DADA-100-Videos/" in missing.message
    [refused] = result.warnings
    assert (refused.id, refused.category, refused.blocking) == ("key_auth_not_permitted", "storage_auth_key_disabled", False)
    access = result.access
    assert access.switched_to_identity and access.use_identity and access.auth == "identity"
    assert "KeyBasedAuthenticationNotPermitted" in access.switch_reason
    assert access.job_input == f"{key_refusing_proxy.account_url}/{CONTAINER}/DADA-100-videos/"
    assert access.suggestions == ["azureml://datastores/workspaceblobstore/paths/DADA-100-Videos/"]
    assert result.manifest == []  # nothing probed past a missing prefix
    assert [scheme for _, _, scheme in key_refusing_proxy.seen][:2] == ["SharedKey", "Bearer"]
    assert identity_endpoint.requests[0]["resource"] == "https://storage.azure.com"
    report = result.to_markdown()
    assert "identity: managed" in report and "Storage Blob Data Reader" in report
    assert ACCOUNT_KEY not in report + result.to_json()


def test_right_prefix_behind_a_key_refusing_account_passes_with_identity(identity_store, key_refusing_proxy,
                                                                         identity_endpoint):
    uri = "azureml://datastores/workspaceblobstore/paths/DADA-100-Videos"
    result = run_preflight(PreflightOptions(uri=uri, workspace=Workspace(key_refusing_proxy.account_url),
                                            expected_count=8, probe_sample=3, clock=FakeClock()))

    assert result.passed, result.to_markdown()
    assert result.access.use_identity and result.access.job_input.startswith("https://")
    assert result.stats["probed"] == 3 and all(row["readable"] for row in result.manifest if row["probed"])
    # Downloads for the probes went through the identity too.
    assert {scheme for method, path, scheme in key_refusing_proxy.seen if path.endswith(".avi")} == {"Bearer"}


def test_key_derived_sas_refused_by_message_alone_also_switches(identity_store, azurite_oauth, trust_test_ca,
                                                               identity_endpoint):
    proxy = KeyRefusingProxy(azurite_oauth, tls=trust_test_ca, sas_error_code="AuthenticationFailed")
    try:
        workspace = Workspace(proxy.account_url, credential_type="sas", secret=sas_token(CONTAINER))
        result = run_preflight(PreflightOptions(uri="azureml://datastores/workspaceblobstore/paths/DADA-100-Videos",
                                                workspace=workspace, expected_count=8, probe_sample=1, clock=FakeClock()))
    finally:
        proxy.stop()

    assert result.passed and result.access.switched_to_identity
    assert result.warnings[0].id == "sas_from_key_not_permitted"
    assert "sig=" not in result.to_json()


def test_identity_without_the_role_blocks_and_names_it(identity_store, key_refusing_proxy, identity_endpoint):
    key_refusing_proxy.fail_next(Fault(403, "AuthorizationPermissionMismatch", only_auth="Bearer"))

    result = run_preflight(PreflightOptions(uri="azureml://datastores/workspaceblobstore/paths/DADA-100-Videos",
                                            workspace=Workspace(key_refusing_proxy.account_url), clock=FakeClock()))

    assert not result.passed
    [denied] = result.blocking
    assert denied.category == "storage_permission_denied"
    assert "Storage Blob Data Reader" in denied.message and "managed identity" in denied.message
    assert result.warnings[0].category == "storage_auth_key_disabled"


def test_no_usable_identity_blocks_with_what_to_do(identity_store, key_refusing_proxy, identity_endpoint, monkeypatch):
    monkeypatch.setenv("MSI_SECRET", "not-the-secret")

    result = run_preflight(PreflightOptions(uri=SEED_URI, workspace=Workspace(key_refusing_proxy.account_url),
                                            clock=FakeClock()))

    [unavailable] = result.blocking
    assert (unavailable.id, unavailable.category) == ("identity_unavailable", "credential_invalid_or_expired")
    assert "az login" in unavailable.message


def test_app_service_identity_variables_work_too(identity_store, key_refusing_proxy, identity_endpoint, monkeypatch):
    for name in ("MSI_ENDPOINT", "MSI_SECRET"):
        monkeypatch.delenv(name)
    for name, value in identity_endpoint.environment("appservice").items():
        monkeypatch.setenv(name, value)

    result = run_preflight(PreflightOptions(uri="azureml://datastores/workspaceblobstore/paths/DADA-100-Videos",
                                            workspace=Workspace(key_refusing_proxy.account_url), expected_count=8,
                                            probe_sample=0, clock=FakeClock()))

    assert result.passed and result.access.use_identity
    assert identity_endpoint.requests[-1]["api-version"] == "2019-08-01"


def test_hundred_good_videos_in_azurite_pass(keyed_store, hundred, clean_azure_env):
    _, names, labels = hundred
    result = run_preflight(PreflightOptions(uri="azureml://datastores/workspaceblobstore/paths/DADA-100-Videos/",
                                            workspace=Workspace(keyed_store.account_url), labels_path=str(labels),
                                            clock=FakeClock()))

    assert result.passed, result.to_markdown()
    assert result.blocking == [] and result.warnings == []
    assert len(result.manifest) == 100 and result.stats["files"] == 101  # the label file beside them is a sidecar
    assert result.stats["probed"] == 10 and "temporary file" in result.stats["probe_method"]
    assert result.access.auth == "account_key" and not result.access.use_identity
    assert result.access.job_input == "azureml://datastores/workspaceblobstore/paths/DADA-100-Videos/"


def test_real_label_file_beside_matching_videos_reports_its_quirks_without_stopping(keyed_store, clean_azure_env):
    clean_azure_env.setenv("AZURE_STORAGE_KEY", ACCOUNT_KEY)  # how the az CLI's users give a URL its key
    result = run_preflight(PreflightOptions(uri=f"{keyed_store.account_url}/{CONTAINER}/DADA-100-Videos",
                                            labels_path=str(REAL_LABELS), probe_sample=4, clock=FakeClock()))

    assert result.passed and result.blocking == [], result.to_markdown()
    found = {finding.id: finding for finding in result.warnings}
    assert found["every_video_labelled"].offending == ["images_5_039.avi"]
    assert found["every_label_has_video"].offending == ["images_2_005.avi"]
    [malformed] = found["labels_parse"].offending
    assert malformed.startswith("line 87") and "no video id" in malformed
    # The three quirks of the users' real label file, and (issue 11 item 6) that this read used the orchestrator's
    # account key, which the job will not have: the listing is no proof that the job can read.
    assert set(found) == {"every_video_labelled", "every_label_has_video", "labels_parse", "job_access_unproven"}
    assert result.stats["labelled"] == 99


def test_undecodable_blob_in_the_sample_warns(keyed_store, clean_azure_env):
    clean_azure_env.setenv("AZURE_STORAGE_KEY", ACCOUNT_KEY)
    result = run_preflight(PreflightOptions(uri=f"{keyed_store.account_url}/{CONTAINER}/broken", expected_count=3,
                                            probe_sample=3, clock=FakeClock()))

    assert result.passed
    assert {finding.id for finding in result.warnings} == {"decodable", "job_access_unproven"}
    [undecodable] = [finding for finding in result.warnings if finding.id == "decodable"]
    assert undecodable.offending == ["images_1_002.avi"]
    table = result.table_rows()
    assert {"check": "decodable", "status": "warning"}.items() <= next(r for r in table if r["check"] == "decodable").items()
    json.dumps(table)


def test_identity_over_plain_http_is_a_clear_finding_not_a_crash(keyed_store, clean_azure_env):
    from azure.identity import ManagedIdentityCredential

    result = run_preflight(PreflightOptions(uri=f"{keyed_store.account_url}/{CONTAINER}/DADA-100-Videos",
                                            credential=ManagedIdentityCredential(), clock=FakeClock()))

    [finding] = result.blocking
    assert finding.category == "job_config_invalid" and "https://" in finding.message
