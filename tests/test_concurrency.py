"""One job at a time per data and output folder: a second run waits for the first one's slot."""
import threading

import pytest

from flows.concurrency import job_slot, slot_name
from tasks.config import RunConfig


def test_slot_is_per_data_and_output_folder():
    a = RunConfig(video_uri="/data/a", run_dir="runs")
    assert slot_name(a) == slot_name(RunConfig(video_uri="/data/a/", run_dir="runs", num_frames=8))
    assert slot_name(a) != slot_name(RunConfig(video_uri="/data/b", run_dir="runs"))
    assert slot_name(a) != slot_name(RunConfig(video_uri="/data/a", run_dir="other-runs"))


@pytest.mark.prefect
def test_second_run_on_the_same_data_waits_for_the_first(prefect_harness):
    from prefect.concurrency.sync import concurrency

    config = RunConfig(video_uri="/data/same", run_dir="runs")
    held, release = threading.Event(), threading.Event()

    def first():
        with job_slot(config):
            held.set()
            release.wait(30)

    thread = threading.Thread(target=first)
    thread.start()
    assert held.wait(30)
    try:
        with pytest.raises(TimeoutError):
            with concurrency(slot_name(config), occupy=1, timeout_seconds=2, strict=True):
                pass
        with job_slot(RunConfig(video_uri="/data/other", run_dir="runs")):
            pass  # other data does not wait
    finally:
        release.set()
        thread.join()
    with concurrency(slot_name(config), occupy=1, timeout_seconds=10, strict=True):
        pass  # free again once the first run ends
