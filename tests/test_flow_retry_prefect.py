"""issue 11 item 8 through Prefect: what the UI's Retry does to a failed ghost-probing run (the fault matrix's machinery:
the Azure ML fake, the flow executed as a worker executes it)."""
from __future__ import annotations

import pytest

from tests.azureml_fake.lifecycles import Lifecycle, Phase
from tests.test_fault_matrix import (  # noqa: F401 - clips is a fixture
    EngineProcess, Scene, clips, completed, create_flow_run, flow_run_state, retry_flow_run,
)

pytestmark = [pytest.mark.prefect, pytest.mark.azureml, pytest.mark.slow, pytest.mark.timeout(300)]

def test_retrying_a_failed_flow_run_makes_a_new_attempt_and_alerts_per_try(prefect_harness, clean_azure_env, clips, tmp_path):
    """issue 11 item 8, through Prefect: the UI's Retry on a failed run executes the same flow run again. The old,
    failed job is not re-triaged: a new attempt (a new job) runs; a try that fails again alerts once more, and a try
    that succeeds sends nothing."""
    scene = Scene("retried flow run", clean_azure_env, clips, tmp_path)
    try:
        refused = Lifecycle(name="user_error", phases=(Phase("Queued", 0.2), Phase("Running", 0.3), Phase("Failed")),
                            error={"code": "UserError", "message": "ERROR: unexpected KeyError: 'pixel_values_videos'"})
        scene.script(refused, refused, completed(scene))
        config = scene.config(max_attempts=1)
        flow_run = create_flow_run(config)
        states, alerts = [], []
        for try_number in (1, 2, 3):
            if try_number > 1:
                retry_flow_run(flow_run.id)
            EngineProcess(scene, flow_run.id).wait()
            states.append(flow_run_state(flow_run.id))
            alerts.append(len(scene.slack.posts))
        jobs = sorted(scene.fake.jobs)
    finally:
        scene.close()
    assert states == ["Failed", "Failed", "Completed"]
    assert alerts == [1, 2, 2]  # one per failed try, none for the try that succeeded
    assert [name.rsplit("-", 1)[-1] for name in jobs] == ["a1", "a2", "a3"]  # a new job per try, never the old one again
