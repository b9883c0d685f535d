"""pytest fixtures for the fake Azure ML (load with `pytest_plugins = ["tests.azureml_fake.fixtures"]`).

`azureml_fake` starts the fake on 127.0.0.1 and points this process's azure-ai-ml at it (environment restored on
teardown); `azureml_settings` and `ml_client` are the workspace coordinates and the real MLClient that reach it.
"""
from __future__ import annotations

from typing import Iterator

import pytest

from tasks.clock import FakeClock
from tests.azureml_fake.credentials import StaticTokenCredential
from tests.azureml_fake.server import FakeAzureML


@pytest.fixture
def azureml_clock() -> FakeClock:
    """The clock shared by the fake's job lifecycles and the watch."""
    return FakeClock()


@pytest.fixture
def azureml_fake(azureml_clock, tmp_path_factory, monkeypatch) -> Iterator[FakeAzureML]:
    fake = FakeAzureML(clock=azureml_clock).start()
    for key, value in fake.env(tmp_path_factory.mktemp("fake-ca") / "ca.pem").items():
        monkeypatch.setenv(key, value)
    try:
        yield fake
    finally:
        fake.stop()


@pytest.fixture
def azureml_settings(azureml_fake):
    from tasks.config import AzureMLSettings

    return AzureMLSettings(
        subscription_id=azureml_fake.subscription_id,
        resource_group=azureml_fake.resource_group,
        workspace_name=azureml_fake.workspace,
    )


@pytest.fixture
def azureml_credential() -> StaticTokenCredential:
    return StaticTokenCredential()


@pytest.fixture
def ml_client(azureml_fake, azureml_settings, azureml_credential):
    from tasks.backends.azureml import make_ml_client

    return make_ml_client(azureml_settings, azureml_credential)
