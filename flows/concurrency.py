"""One job at a time per data and output folder: a Prefect global concurrency limit held from submission to the end.

Two flow runs over the same videos writing to the same place would queue two GPU jobs that race on one output folder;
the second run waits for the first to finish (its slot is visible under Concurrency in the UI).
"""
from __future__ import annotations

import contextlib
import hashlib
import json
from pathlib import Path
from uuid import UUID

from flows.run_state import STATE_DIR

from tasks.config import RunConfig

PREFIX = "ghostwatch-job-"
LEASE_SECONDS = 60
LEASE_RECORD = "slot_lease.json"


def slot_name(config: RunConfig) -> str:
    """The limit's name: a digest of the videos' URI and the output location, so runs on other data never wait."""
    output = (config.azureml.output_datastore_path if config.azureml and config.azureml.output_datastore_path
              else config.run_dir)
    if config.backend == "azureml" and config.azureml:
        output = f"{config.azureml.workspace_name}:{output}"
    digest = hashlib.sha256(f"{config.video_uri.rstrip('/')}|{output}".encode()).hexdigest()[:16]
    return PREFIX + digest


@contextlib.contextmanager
def job_slot(config: RunConfig, logger=None, run_folder: Path | None = None):
    """Hold the run's slot (limit 1, created when missing) while its jobs are submitted and watched.

    With `run_folder`, the slot's lease id is kept in the run's state folder. A try of this flow run that was killed
    while holding the slot left that record behind: the retried run gives its own dead lease back before it asks
    again, instead of waiting on itself (a test harness's server never expires leases; a real one takes a while).
    """
    from prefect.client.orchestration import get_client
    from prefect.client.schemas.actions import GlobalConcurrencyLimitCreate
    from prefect.concurrency._leases import maintain_concurrency_lease
    from prefect.concurrency._sync import acquire_concurrency_slots_with_lease, release_concurrency_slots_with_lease
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
    record = Path(run_folder) / STATE_DIR / LEASE_RECORD if run_folder else None
    if record and record.exists():
        _give_back_dead_lease(record, release_concurrency_slots_with_lease, logger)
    if logger:
        logger.info("holding concurrency slot %s (one job at a time for %s)", name, config.video_uri)
    # The slot is a lease the holder renews in the background; a killed holder stops renewing and the server frees
    # the slot when the lease runs out (short, so a run on this data waits about a minute rather than five).
    acquired = acquire_concurrency_slots_with_lease([name], 1, strict=True, lease_duration=LEASE_SECONDS)
    if record:
        record.parent.mkdir(parents=True, exist_ok=True)
        record.write_text(json.dumps({"slot": name, "lease_id": str(acquired.lease_id)}))
    try:
        with maintain_concurrency_lease(acquired.lease_id, LEASE_SECONDS, raise_on_lease_renewal_failure=False):
            yield name
    finally:
        release_concurrency_slots_with_lease(acquired.lease_id)
        if record:
            record.unlink(missing_ok=True)


def _give_back_dead_lease(record: Path, release, logger) -> None:
    try:
        release(UUID(json.loads(record.read_text())["lease_id"]))
        if logger:
            logger.info("gave back the concurrency slot held by this run's previous try")
    except Exception as exc:  # already expired or revoked: nothing to give back
        if logger:
            logger.info("the previous try's concurrency lease is gone already (%s)", type(exc).__name__)
    record.unlink(missing_ok=True)
