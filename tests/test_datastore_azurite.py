"""AzureBlob and the credential chain against real Azurite: listing, missing prefix/container, wrong key, SAS,
transient failures retried on the clock, permission errors not retried."""
import pytest

from tasks.clock import FakeClock
from tasks.datastore import AzureBlob, DatastoreInfo, StorageError, open_and_list, resolve_location
from tests.azurite import ACCOUNT, ACCOUNT_KEY, Fault, sas_token

pytestmark = pytest.mark.azurite
CONTAINER = "datastore-tests"


class Workspace:
    def __init__(self, info):
        self.info = info

    def get_datastore(self, name):
        if name != self.info.name:
            raise KeyError(name)
        return self.info


def keyed(account_url, key=ACCOUNT_KEY, container=CONTAINER, name="workspaceblobstore"):
    return Workspace(DatastoreInfo(name, ACCOUNT, container, "account_key", key, account_url=account_url))


@pytest.fixture(scope="module")
def uploaded(azurite):
    azurite.upload(CONTAINER, {
        "DADA-100-Videos/images_1_001.avi": b"a" * 11,
        "DADA-100-Videos/images_1_002.avi": b"b" * 22,
        "DADA-100-Videos/sub/images_1_003.avi": b"c" * 33,
        "DADA-100-Videos/.hidden": b"h",
        "results/run1.json": b"{}",
    })
    return azurite


def test_listing_is_recursive_relative_and_sorted(uploaded, clean_azure_env):
    location = resolve_location("azureml://datastores/workspaceblobstore/paths/DADA-100-Videos", keyed(uploaded.account_url))
    store = AzureBlob(location, "account_key")

    listing = store.list()

    # Hidden files are listed too, so preflight can warn about the ones the job will not read (inference/videos.py).
    assert [(info.name, info.size) for info in listing] == [
        (".hidden", 1), ("images_1_001.avi", 11), ("images_1_002.avi", 22), ("sub/images_1_003.avi", 33)]
    assert all(info.modified is not None for info in listing)
    assert store.child_folders("") == ["sub"]
    assert store.stat("images_1_002.avi").size == 22
    assert store.open_read("images_1_001.avi").read() == b"a" * 11


def test_missing_prefix_is_an_empty_listing_not_an_error(uploaded, clean_azure_env):
    location = resolve_location("azureml://datastores/workspaceblobstore/paths/DADA-100-videos", keyed(uploaded.account_url))
    assert AzureBlob(location, "account_key").list() == []

    outcome = open_and_list(location, clock=FakeClock())
    [problem] = outcome.problems
    assert problem.rule == "prefix_not_found" and problem.category == "data_not_found"
    assert outcome.report.suggestions == ["azureml://datastores/workspaceblobstore/paths/DADA-100-Videos/"]
    assert outcome.report.auth == "account_key" and not outcome.report.use_identity


def test_missing_container_is_data_not_found_with_similar_containers(uploaded, clean_azure_env):
    location = resolve_location("azureml://datastores/workspaceblobstore/paths/x", keyed(uploaded.account_url, container="datastore-test"))

    with pytest.raises(StorageError) as failure:
        AzureBlob(location, "account_key", clock=FakeClock()).list()
    assert (failure.value.rule, failure.value.category) == ("container_not_found", "data_not_found")
    assert "datastore-test" in failure.value.fix

    outcome = open_and_list(location, clock=FakeClock())
    assert outcome.report.suggestions == [CONTAINER]


def test_wrong_key_is_credential_invalid_not_retried_and_not_leaked(uploaded, clean_azure_env):
    wrong = "A" * 86 + "=="
    location = resolve_location("azureml://datastores/workspaceblobstore/paths/DADA-100-Videos", keyed(uploaded.account_url, key=wrong))
    clock = FakeClock()

    outcome = open_and_list(location, clock=clock)

    [problem] = outcome.problems
    assert problem.category == "credential_invalid_or_expired" and "rotated or mistyped" in problem.fix
    assert clock.sleeps == [] and not outcome.report.switched_to_identity
    assert wrong not in str(problem) + problem.fix


def test_sas_url_lists_and_the_job_input_carries_no_signature(uploaded, clean_azure_env):
    token = sas_token(CONTAINER)
    outcome = open_and_list(resolve_location(f"{uploaded.account_url}/{CONTAINER}/DADA-100-Videos?{token}"), clock=FakeClock())

    assert outcome.problems == [] and len(outcome.listing) == 4
    assert outcome.report.auth == "sas" and "sig=" not in outcome.report.job_input


def test_throttling_and_server_errors_are_retried_honouring_retry_after(uploaded, flaky_proxy, clean_azure_env):
    flaky_proxy.fail_next(Fault(503, "ServerBusy", {"Retry-After": "3"}), Fault(500, "InternalError"))
    location = resolve_location("azureml://datastores/workspaceblobstore/paths/DADA-100-Videos", keyed(flaky_proxy.account_url))
    clock = FakeClock()

    outcome = open_and_list(location, clock=clock)

    assert outcome.problems == [] and len(outcome.listing) == 4
    assert outcome.report.retries == 2 and len(clock.sleeps) == 2
    assert clock.sleeps[0] >= 3  # the service asked for 3 seconds
    assert [entry[2] for entry in flaky_proxy.seen] == ["SharedKey"] * 3


def test_persistent_server_errors_give_up_after_the_policy(uploaded, flaky_proxy, clean_azure_env):
    flaky_proxy.fail_next(*[Fault(500, "InternalError")] * 5)
    location = resolve_location("azureml://datastores/workspaceblobstore/paths/DADA-100-Videos", keyed(flaky_proxy.account_url))
    clock = FakeClock()

    outcome = open_and_list(location, clock=clock)

    [problem] = outcome.problems
    assert problem.rule == "server_error" and "gave up after 5 attempts" in problem.detail
    assert len(clock.sleeps) == 4


def test_permission_errors_are_not_retried_and_name_the_role(uploaded, flaky_proxy, clean_azure_env):
    flaky_proxy.fail_next(Fault(403, "AuthorizationPermissionMismatch"))
    location = resolve_location("azureml://datastores/workspaceblobstore/paths/DADA-100-Videos", keyed(flaky_proxy.account_url))
    clock = FakeClock()

    outcome = open_and_list(location, clock=clock)

    [problem] = outcome.problems
    assert problem.category == "storage_permission_denied" and "Storage Blob Data Reader" in problem.fix
    assert clock.sleeps == [] and len(flaky_proxy.seen) == 1


def test_unreachable_account_is_retried_then_reported(clean_azure_env):
    from tests.azurite import free_port

    location = resolve_location(f"http://127.0.0.1:{free_port()}/{ACCOUNT}/{CONTAINER}/x",
                                environ={"AZURE_STORAGE_KEY": ACCOUNT_KEY})
    clock = FakeClock()

    outcome = open_and_list(location, clock=clock)

    [problem] = outcome.problems
    assert problem.rule == "connection" and problem.retryable and len(clock.sleeps) == 4
