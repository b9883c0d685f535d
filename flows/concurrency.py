"""One job at a time per data and output folder: a Prefect global concurrency limit held from submission to the end.

Two flow runs over the same videos writing to the same place would queue two GPU jobs that race on one output folder;
the second run waits for the first to finish (its slot is visible under Concurrency in the UI).
"""
from __future__ import annotations

import contextlib
import hashlib

from tasks.config import RunConfig

PREFIX = "ghostwatch-job-"
LEASE_SECONDS = 60


def slot_name(config: RunConfig) -> str:
    """The limit's name: a digest of the videos' URI and the output location, so runs on other data never wait."""
    output = (config.azureml.output_datastore_path if config.azureml and config.azureml.output_datastore_path
              else config.run_dir)
    if config.backend == "azureml" and config.azureml:
        output = f"{config.azureml.workspace_name}:{output}"
    digest = hashlib.sha256(f"{config.video_uri.rstrip('/')}|{output}".encode()).hexdigest()[:16]
    return PREFIX + digest


@contextlib.contextmanager
def job_slot(config: RunConfig, logger=None):
    """Hold the run's slot (limit 1, created when missing) while its jobs are submitted and watched."""
    from prefect.client.orchestration import get_client
    from prefect.client.schemas.actions import GlobalConcurrencyLimitCreate
    from prefect.concurrency.sync import concurrency
    from prefect.exceptions import ObjectAlreadyExists, ObjectNotFound

    name = slot_name(config)
    with get_client(sync_client=True) as client:
        try:
            client.read_global_concurrency_limit_by_name(name)
        except ObjectNotFound:
            try:
                client.create_global_concurrency_limit(GlobalConcurrencyLimitCreate(name=name, limit=1))
            except ObjectAlreadyExists:  # another run created it first
                pass
    if logger:
        logger.info("holding concurrency slot %s (one job at a time for %s)", name, config.video_uri)
    # The slot is a lease the holder renews in the background. A process that is killed (SIGKILL, a lost worker) stops
    # renewing, and its slot comes free when the lease runs out: short, so the retried flow run (or the next run on
    # this data) waits about a minute rather than Prefect's default five.
    with concurrency(name, occupy=1, strict=True, lease_duration=LEASE_SECONDS):
        yield name
