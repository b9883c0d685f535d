"""Shared test set-up: telemetry off, offline hubs, Prefect's test harness, and the real local services' fixtures."""
import os

for _key, _value in {
    "DO_NOT_TRACK": "1",
    "PREFECT_SERVER_ANALYTICS_ENABLED": "false",
    "GX_ANALYTICS_ENABLED": "false",
    "HF_HUB_OFFLINE": "1",
    "TRANSFORMERS_OFFLINE": "1",
    "HF_HUB_DISABLE_TELEMETRY": "1",
    "TOKENIZERS_PARALLELISM": "false",
    "PREFECT_SERVER_EPHEMERAL_STARTUP_TIMEOUT_SECONDS": "60",
}.items():
    os.environ.setdefault(_key, _value)
os.environ.pop("SLACK_WEBHOOK_URL", None)  # a developer's own webhook must never receive test alerts

import pytest  # noqa: E402

pytest_plugins = ["tests.azurite_fixtures", "tests.azureml_fake.fixtures"]


@pytest.fixture(scope="session")
def prefect_harness():
    """A temporary Prefect server and database for the whole session (Prefect's own test harness)."""
    from prefect.testing.utilities import prefect_test_harness

    with prefect_test_harness(server_startup_timeout=120):
        yield


# Markers follow from the fixtures a test uses, so `make check` (the fast loop) can leave out everything that starts a
# server or builds a model without each test having to remember its markers.
_MARK_BY_FIXTURE = {
    "azurite": "azurite", "azurite_oauth": "azurite", "key_refusing_proxy": "azurite", "flaky_proxy": "azurite",
    "prefect_harness": "prefect",
    "azureml_fake": "azureml",
    "tiny_models": "slow", "twelve_clips": "slow",
}


def pytest_collection_modifyitems(config, items):
    for item in items:
        for fixture in item.fixturenames:
            mark = _MARK_BY_FIXTURE.get(fixture)
            if mark:
                item.add_marker(getattr(pytest.mark, mark))
