"""Pytest fixtures for the storage tests (load with `pytest_plugins = ["tests.azurite_fixtures"]` in conftest.py).

Session-scoped: one plain-HTTP Azurite, one HTTPS Azurite with OAuth, the TLS material. Function-scoped: the proxy
that refuses shared keys, the managed-identity endpoint (its variables set for the test only), trust in the test CA.
"""
from __future__ import annotations

import pytest

from tests.azurite import AzuriteServer, IdentityEndpoint, KeyRefusingProxy, TLSFiles

_IDENTITY_VARIABLES = ("MSI_ENDPOINT", "MSI_SECRET", "IDENTITY_ENDPOINT", "IDENTITY_HEADER", "IDENTITY_SERVER_THUMBPRINT",
                       "IMDS_ENDPOINT", "AZURE_CLIENT_ID", "AZURE_TENANT_ID", "AZURE_CLIENT_SECRET",
                       "AZURE_FEDERATED_TOKEN_FILE", "AZURE_STORAGE_KEY", "AZURE_STORAGE_SAS_TOKEN",
                       "AZURE_STORAGE_ACCOUNT", "AZURE_STORAGE_AUTH_MODE")


@pytest.fixture(scope="session")
def tls_files(tmp_path_factory) -> TLSFiles:
    return TLSFiles.create(tmp_path_factory.mktemp("tls"))


@pytest.fixture(scope="session")
def azurite(tmp_path_factory):
    """Azurite over plain HTTP (account key and SAS only, as the SDK sends no bearer token over HTTP)."""
    server = AzuriteServer(tmp_path_factory.mktemp("azurite"))
    yield server
    server.stop()


@pytest.fixture(scope="session")
def azurite_oauth(tmp_path_factory, tls_files):
    """Azurite over HTTPS with `--oauth basic`: accepts the account key and bearer tokens."""
    server = AzuriteServer(tmp_path_factory.mktemp("azurite-oauth"), tls=tls_files, oauth=True)
    yield server
    server.stop()


@pytest.fixture
def clean_azure_env(monkeypatch):
    """No identity or storage credential from the developer's shell leaks into a test."""
    for name in _IDENTITY_VARIABLES:
        monkeypatch.delenv(name, raising=False)
    return monkeypatch


@pytest.fixture
def trust_test_ca(clean_azure_env, tls_files):
    """The SDK (requests, through azure-core) trusts the test CA, as a corporate CA bundle would be configured."""
    clean_azure_env.setenv("REQUESTS_CA_BUNDLE", str(tls_files.ca))
    return tls_files


@pytest.fixture
def identity_endpoint(clean_azure_env):
    """A managed-identity endpoint, announced the way Azure ML compute announces it (MSI_ENDPOINT, MSI_SECRET)."""
    endpoint = IdentityEndpoint()
    for name, value in endpoint.environment("azureml").items():
        clean_azure_env.setenv(name, value)
    yield endpoint
    endpoint.stop()


@pytest.fixture
def key_refusing_proxy(azurite_oauth, trust_test_ca):
    """An HTTPS front for the OAuth Azurite that refuses shared-key and key-derived SAS requests."""
    proxy = KeyRefusingProxy(azurite_oauth, tls=trust_test_ca)
    yield proxy
    proxy.stop()


@pytest.fixture
def flaky_proxy(azurite):
    """An HTTP front for the plain Azurite that accepts keys; tests queue transient failures on it."""
    proxy = KeyRefusingProxy(azurite, refuse_keys=False)
    yield proxy
    proxy.stop()
