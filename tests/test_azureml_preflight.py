"""Bad input against the fake Azure ML: unknown compute, missing environment, wrong workspace, refused credentials."""
from __future__ import annotations

import pytest

from tasks.backends.azureml import AzureMLBackend, make_ml_client
from tasks.backends.azureml_errors import AzureMLAuthError
from tasks.backends.azureml_job import DEFAULT_JOB_YAML, JobDefinitionError
from tasks.backends.base import JobSpec
from tests.azureml_fake.credentials import StaticTokenCredential


SPEC = JobSpec(
    name="gw-3f2a9c1d-a1",
    video_input="azureml://datastores/workspaceblobstore/paths/DADA-100-videos/",
    output_dir="azureml://datastores/workspaceblobstore/paths/ghostwatch/3f2a9c1d/",
    model="llava-hf/LLaVA-NeXT-Video-7B-hf",
)


def backend_for(settings, clock, credential=None, **kwargs) -> AzureMLBackend:
    return AzureMLBackend(make_ml_client(settings, credential or StaticTokenCredential()), settings, clock=clock, **kwargs)


def test_healthy_workspace_has_no_problems_and_reports_the_compute(azureml_fake, azureml_settings, azureml_clock):
    report = backend_for(azureml_settings, azureml_clock).workspace_report(SPEC)

    assert report.problems == []
    assert report.facts["vm_size"] == "standard_nc24ads_a100_v4"
    assert report.facts["vm_priority"] == "low_priority"
    assert report.facts["quota"]["limit"] == 100


def test_unknown_compute_is_named_with_the_fix(azureml_fake, azureml_settings, azureml_clock):
    settings = azureml_settings.model_copy(update={"compute": "llava-a100-typo"})
    problems = backend_for(settings, azureml_clock).check_workspace(SPEC)

    assert len(problems) == 1
    assert "'llava-a100-typo' does not exist" in problems[0] and "az ml compute create" in problems[0]
    assert azureml_fake.count("PUT", r"/jobs/") == 0


def test_compute_that_is_not_ready_or_has_no_quota_is_reported(azureml_fake, azureml_settings, azureml_clock):
    azureml_fake.computes["llava-a100-low-priority"].provisioning_state = "Failed"
    azureml_fake.usages["Low-priority cores"] = (90, 100)
    problems = backend_for(azureml_settings, azureml_clock).check_workspace(SPEC)

    assert any("provisioning state 'Failed'" in p for p in problems)
    assert any("10 vCPUs free" in p and "needs 24" in p for p in problems)


def test_environment_that_does_not_exist_is_reported(azureml_fake, azureml_settings, azureml_clock, tmp_path):
    job_yaml = tmp_path / "job.yaml"
    text = DEFAULT_JOB_YAML.read_text()
    start = text.index("environment:\n")
    end = text.index("compute:")
    job_yaml.write_text(text[:start] + "environment: azureml:ghostwatch-llava:9\n" + text[end:].replace("code: ../..", f"code: {DEFAULT_JOB_YAML.parents[2]}"))
    problems = backend_for(azureml_settings, azureml_clock, job_yaml=job_yaml).check_workspace(SPEC)

    assert len(problems) == 1
    assert "environment 'ghostwatch-llava:9' does not exist" in problems[0] and "az ml environment create" in problems[0]


@pytest.mark.parametrize(
    "field, value, expected",
    [
        ("workspace_name", "llava-workspce", "workspace 'llava-workspce' was not found"),
        ("resource_group", "llava-rg-typo", "resource group 'llava-rg-typo'"),
        ("subscription_id", "99999999-0000-0000-0000-000000000000", "subscription '99999999-0000-0000-0000-000000000000'"),
    ],
)
def test_wrong_workspace_coordinates_say_which_and_how_to_check(azureml_fake, azureml_settings, azureml_clock, field, value, expected):
    settings = azureml_settings.model_copy(update={field: value})
    problems = backend_for(settings, azureml_clock).check_workspace(SPEC)

    assert len(problems) == 1
    assert expected in problems[0] and "az ml workspace list" in problems[0]


class ExpiredSignIn:
    """What azure-identity's AzureCliCredential does when the CLI's sign-in has expired."""

    def get_token(self, *scopes, **kwargs):
        from azure.core.exceptions import ClientAuthenticationError

        raise ClientAuthenticationError("AADSTS700082: The refresh token has expired due to inactivity. Please run 'az login' to setup account.")

    get_token_info = get_token


def test_expired_sign_in_fails_fast_naming_the_fix(azureml_fake, azureml_settings, azureml_clock):
    backend = backend_for(azureml_settings, azureml_clock, credential=ExpiredSignIn())
    with pytest.raises(AzureMLAuthError, match=r"az login.*AzureML Data Scientist"):
        backend.submit(SPEC)
    assert azureml_fake.count("PUT", r"/jobs/") == 0


def test_token_the_service_calls_expired_is_an_auth_error_not_a_retry(azureml_fake, azureml_settings, azureml_clock):
    azureml_fake.all_tokens_expired = True
    with pytest.raises(AzureMLAuthError, match=r"ExpiredAuthenticationToken.*az login"):
        backend_for(azureml_settings, azureml_clock).check_workspace(SPEC)
    assert azureml_clock.sleeps == []  # not retried: waiting does not renew a sign-in


def test_local_video_folder_is_refused_before_anything_is_sent(azureml_fake, azureml_settings, azureml_clock, tmp_path):
    backend = backend_for(azureml_settings, azureml_clock)
    spec = JobSpec(name="gw-1-a1", video_input=str(tmp_path), output_dir=SPEC.output_dir, model="m")
    with pytest.raises(JobDefinitionError, match="not something an Azure ML job can reach.*azureml://datastores"):
        backend.submit(spec)
    assert azureml_fake.count("PUT", r"/jobs/") == 0


def test_output_datastore_that_does_not_exist_is_reported(azureml_fake, azureml_settings, azureml_clock):
    spec = JobSpec(name="gw-1-a1", video_input=SPEC.video_input, output_dir="azureml://datastores/nosuchstore/paths/x/", model="m")
    problems = backend_for(azureml_settings, azureml_clock).check_workspace(spec)

    assert problems == ["the output folder's datastore 'nosuchstore' does not exist; use workspaceblobstore or register 'nosuchstore'"]


def test_throttled_preflight_waits_for_retry_after_on_the_clock(azureml_fake, azureml_settings, azureml_clock):
    azureml_fake.add_fault(r"/computes/", 2, status=429, retry_after=11)
    problems = backend_for(azureml_settings, azureml_clock).check_workspace(SPEC)

    assert problems == []
    assert azureml_clock.sleeps[:2] == [11.0, 11.0]


def test_datastore_resolver_returns_account_container_and_secret(azureml_fake, azureml_settings, azureml_clock):
    from tests.azureml_fake.server import FAKE_ACCOUNT_KEY

    resolver = backend_for(azureml_settings, azureml_clock).resolver
    info = resolver.get_datastore("workspaceblobstore")

    assert (info.account_name, info.container_name, info.credential_type) == (azureml_fake.storage_account, azureml_fake.blob_container, "account_key")
    assert info.secret == FAKE_ACCOUNT_KEY and FAKE_ACCOUNT_KEY not in repr(info)
    with pytest.raises(KeyError, match="no datastore named 'missing'"):
        resolver.get_datastore("missing")


def test_identity_requested_on_a_datastore_that_stores_a_key_is_refused(azureml_fake, azureml_settings, azureml_clock):
    spec = JobSpec(**{**SPEC.__dict__, "use_identity": True})
    problems = backend_for(azureml_settings, azureml_clock).check_workspace(spec)

    assert len(problems) == 1
    assert "stores an account key or SAS" in problems[0] and "identity-based datastore" in problems[0]
