"""Datastore pieces that need no server: URI forms, the error catalogue, redaction, retry timing, prefix suggestions."""
import random

import pytest
from azure.core.exceptions import ClientAuthenticationError, ServiceRequestError

from tasks.clock import FakeClock
from tasks.datastore import DatastoreInfo, RetryPolicy, StorageError, nearest_existing, rank_similar, resolve_location
from tasks.datastore.errors import classify, load_catalogue
from tasks.redact import redact



class Workspace:
    def __init__(self, **stores):
        self.stores = stores

    def get_datastore(self, name):
        return self.stores[name]


@pytest.mark.parametrize("uri, account_url, container, prefix", [
    ("https://acct1.blob.core.windows.net/videos/DADA-100-videos", "https://acct1.blob.core.windows.net", "videos", "DADA-100-videos/"),
    ("https://acct1.blob.core.windows.net/videos", "https://acct1.blob.core.windows.net", "videos", ""),
    ("wasbs://videos@acct1.blob.core.windows.net/a//b/", "https://acct1.blob.core.windows.net", "videos", "a/b/"),
    ("abfss://videos@acct1.dfs.core.windows.net/a/b", "https://acct1.blob.core.windows.net", "videos", "a/b/"),
    ("https://acct1.blob.core.chinacloudapi.cn/videos/x", "https://acct1.blob.core.chinacloudapi.cn", "videos", "x/"),
    ("http://127.0.0.1:10000/devstoreaccount1/videos/x", "http://127.0.0.1:10000/devstoreaccount1", "videos", "x/"),
])
def test_blob_uri_forms(uri, account_url, container, prefix):
    location = resolve_location(uri, environ={})
    assert (location.kind, location.account_url, location.container, location.prefix) == ("blob", account_url, container, prefix)
    assert location.credential_kind == "none"
    assert location.credential_less_url == f"{account_url}/{container}/{prefix}"


def test_sas_in_the_url_is_the_credential_and_never_part_of_the_uri():
    location = resolve_location("https://acct1.blob.core.windows.net/videos/x?sv=2024&sp=rl&sig=SECRETSIG", environ={})
    assert location.credential_kind == "sas" and "SECRETSIG" in location.secret
    assert "sig" not in location.uri and "SECRETSIG" not in repr(location)


def test_az_cli_environment_supplies_keys_for_its_own_account_only():
    env = {"AZURE_STORAGE_ACCOUNT": "acct1", "AZURE_STORAGE_KEY": "k" * 20}
    assert resolve_location("https://acct1.blob.core.windows.net/v/x", environ=env).credential_kind == "account_key"
    assert resolve_location("https://other.blob.core.windows.net/v/x", environ=env).credential_kind == "none"
    login = resolve_location("https://acct1.blob.core.windows.net/v/x", environ={**env, "AZURE_STORAGE_AUTH_MODE": "login"})
    assert login.identity_first


def test_azureml_uris_resolve_through_the_workspace():
    workspace = Workspace(workspaceblobstore=DatastoreInfo("workspaceblobstore", "llavastore", "azureml-blobstore-1",
                                                           "account_key", "KEY" * 10))
    for uri in ("azureml://datastores/workspaceblobstore/paths/DADA-100-videos/",
                "azureml://subscriptions/s/resourcegroups/rg/workspaces/w/datastores/workspaceblobstore/paths/DADA-100-videos"):
        location = resolve_location(uri, workspace)
        assert location.account_url == "https://llavastore.blob.core.windows.net"
        assert (location.container, location.prefix, location.datastore) == ("azureml-blobstore-1", "DADA-100-videos/", "workspaceblobstore")
        assert location.credential_kind == "account_key"
    with pytest.raises(StorageError) as missing:
        resolve_location("azureml://datastores/nope/paths/x", workspace)
    assert missing.value.category == "job_config_invalid" and "nope" in missing.value.detail


def test_a_failing_workspace_lookup_is_a_storage_error_not_a_crash():
    class Unreachable:
        def get_datastore(self, name):
            raise ConnectionError("management.azure.com unreachable")

    with pytest.raises(StorageError) as failed:
        resolve_location("azureml://datastores/workspaceblobstore/paths/x", Unreachable())
    assert failed.value.rule == "datastore_lookup_failed" and "unreachable" in failed.value.detail
    assert failed.value.category == "service_error"


def test_an_expired_token_at_the_workspace_lookup_is_a_credential_problem_not_a_service_error():
    """issue 11, fault matrix 'expired token': the datastore lookup's 401 ExpiredAuthenticationToken is what preflight
    sees first; it names the credential (sign in again), not the service."""
    from tasks.backends.azureml_errors import AzureMLAuthError

    class Expired:
        def get_datastore(self, name):
            raise AzureMLAuthError("get datastore workspaceblobstore: Azure refused the credential (ExpiredAuthenticationToken: "
                                   "The access token expiry UTC time '7/21/2025 5:00:00 AM' is earlier than current UTC time).")

    with pytest.raises(StorageError) as failed:
        resolve_location("azureml://datastores/workspaceblobstore/paths/x", Expired())
    assert failed.value.category == "credential_invalid_or_expired"
    assert failed.value.rule == "token_expired" and "az login" in failed.value.fix


@pytest.mark.parametrize("uri, says", [
    ("azureml://datastores/workspaceblobstore/paths/x", "needs a workspace"),
    ("azureml://workspaceblobstore/x", "cannot parse"),
    ("https://example.com/videos/x", "cannot parse"),
    ("https://acct1.blob.core.windows.net/", "names no container"),
    ("s3://bucket/x", "unsupported scheme"),
    ("", "empty data URI"),
])
def test_unparseable_uris_raise_value_error_with_the_accepted_forms(uri, says):
    with pytest.raises(ValueError, match=says):
        resolve_location(uri, environ={})


def test_local_paths_and_file_uris(tmp_path):
    assert resolve_location(str(tmp_path)).path == tmp_path.resolve()
    assert resolve_location(f"file://{tmp_path}").path == tmp_path.resolve()


def test_catalogue_loads_and_ends_with_a_catch_all():
    rules = load_catalogue()
    assert rules[-1].id == "other" and len({rule.id for rule in rules}) == len(rules)


def test_bad_catalogue_stops_with_the_rule_named(tmp_path):
    bad = tmp_path / "bad.yaml"
    bad.write_text("rules:\n  - id: x\n    category: other\n    colour: red\n  - id: other\n    category: other\n")
    with pytest.raises(ValueError, match="'x'.*colour"):
        load_catalogue(bad)


def test_identity_failure_without_response_is_identity_unavailable():
    error = classify(ClientAuthenticationError("ManagedIdentityCredential authentication unavailable"), {"account": "a"})
    assert (error.rule, error.category, error.retryable) == ("identity_unavailable", "credential_invalid_or_expired", False)


def test_similar_names_rank_case_and_separator_variants_first():
    folders = ["DADA-100-Videos", "dada_100_videos_v2", "results", "DADA-2000", "models"]
    assert rank_similar("DADA-100-videos", folders) == ["DADA-100-Videos", "dada_100_videos_v2"]
    assert rank_similar("zzz", folders) == []


def test_nearest_existing_walks_down_to_the_first_missing_segment():
    tree = {"": ["data", "logs"], "data": ["DADA-100-Videos", "other"], "data/DADA-100-Videos": []}
    suggestion = nearest_existing("data/DADA-100-videos/clips", lambda path: tree.get(path, []))
    assert suggestion.existing_parent == "data/" and suggestion.missing_part == "DADA-100-videos"
    assert suggestion.similar == ["data/DADA-100-Videos/"]
    assert suggestion.siblings == ["data/DADA-100-Videos/", "data/other/"]


def test_datastore_uri_parser_reads_both_forms_and_refuses_others():
    from tasks.datastore.uri import parse_datastore_uri

    assert parse_datastore_uri("azureml://datastores/workspaceblobstore/paths/DADA-100-videos") == \
        ("workspaceblobstore", "DADA-100-videos/")
    assert parse_datastore_uri("azureml://subscriptions/s/resourcegroups/rg/workspaces/w/datastores/out/paths/a//b/") == \
        ("out", "a/b/")
    assert parse_datastore_uri("azureml://datastores/store/paths/") == ("store", "")
    for text in ("https://acct.blob.core.windows.net/c/p", "azureml://datastores/store", "", None):
        assert parse_datastore_uri(text) is None


class _ListingStore:
    """Stands in for AzureBlob: every credential lists two clips."""

    def __init__(self, location, auth, credential, **_):
        self.auth = auth

    def list(self):
        from tasks.datastore.base import BlobInfo

        return [BlobInfo(name="a.avi", size=1), BlobInfo(name="b.avi", size=1)]


def test_a_key_or_sas_the_job_will_not_have_is_not_proof_the_job_can_read(monkeypatch):
    """issue 11 item 6: an https:// input read with this machine's key (or the URL's SAS) lists fine, but the job reads
    the credential-less path with its managed identity: preflight warns and does not count the listing as proof."""
    from tasks.datastore import access

    monkeypatch.setattr(access, "AzureBlob", _ListingStore)
    keyed = resolve_location("https://acct1.blob.core.windows.net/videos/x", environ={"AZURE_STORAGE_KEY": "a2V5"})
    outcome = access.open_and_list(keyed, token_credential=object())
    assert outcome.listing and not outcome.problems
    assert outcome.report.auth == "account_key" and not outcome.report.job_access_proven
    [notice] = outcome.notices
    assert notice.rule == "job_access_unproven" and "managed identity" in notice.detail and "a2V5" not in notice.detail

    sas = resolve_location("https://acct1.blob.core.windows.net/videos/x?sv=2024&sp=rl&sig=SECRETSIG", environ={})
    outcome = access.open_and_list(sas, token_credential=object())
    assert not outcome.report.job_access_proven and outcome.notices[0].rule == "job_access_unproven"

    # A datastore's stored key goes with the job (azureml:// input): that listing is proof.
    class Workspace:
        def get_datastore(self, name):
            return DatastoreInfo(name=name, account_name="acct1", container_name="videos", credential_type="account_key",
                                 secret="a2V5")

    stored = resolve_location("azureml://datastores/videos/paths/x", Workspace())
    outcome = access.open_and_list(stored, token_credential=object())
    assert outcome.report.job_access_proven and not outcome.notices
