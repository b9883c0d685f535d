"""Deploy the flow from deployments/prefect.yaml and trigger it from the Prefect CLI, as users do, on a real server."""
import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

pytestmark = [pytest.mark.prefect, pytest.mark.slow]
REPO = Path(__file__).resolve().parents[1]
PREFECT = str(Path(sys.executable).with_name("prefect"))


def prefect_cli(*args, env, timeout=180):
    result = subprocess.run([PREFECT, *args], cwd=REPO, env=env, capture_output=True, text=True, timeout=timeout)
    assert result.returncode == 0, f"prefect {' '.join(args)} failed:\n{result.stdout}\n{result.stderr}"
    return result.stdout


def test_deploy_and_trigger_from_the_prefect_cli(prefect_harness, tmp_path):
    from prefect.client.orchestration import get_client
    from prefect.settings import PREFECT_API_URL

    env = {**os.environ, "PREFECT_API_URL": PREFECT_API_URL.value(), "PREFECT_LOGGING_LEVEL": "WARNING"}
    prefect_cli("work-pool", "create", "ghostwatch", "--type", "process", env=env)
    prefect_cli("--no-prompt", "deploy", "--all", "--prefect-file", "deployments/prefect.yaml", env=env)

    with get_client(sync_client=True) as client:
        deployment = client.read_deployment_by_name("ghost-probing/local-demo")
    # The UI renders the run form from this schema: RunConfig's fields, each described.
    schema = json.dumps(deployment.parameter_openapi_schema)
    for field in ("video_uri", "num_frames", "slack_webhook_block", "model_family"):
        assert field in schema
    assert "Frames sampled uniformly from each video." in schema

    missing = tmp_path / "DADA-100-videos"
    params = {"video_uri": str(missing), "run_dir": str(tmp_path / "runs"), "expected_count": 4}
    out = prefect_cli("deployment", "run", "ghost-probing/local-demo", "--param", f"config={json.dumps(params)}", env=env)
    assert "Created flow run" in out
    prefect_cli("worker", "start", "--pool", "ghostwatch", "--run-once", env=env, timeout=300)

    with get_client(sync_client=True) as client:
        runs = client.read_flow_runs()
    run = next(r for r in runs if r.deployment_id == deployment.id)
    assert run.state.is_failed(), run.state
    assert run.state.message.startswith("data_not_found")
    reports = list((tmp_path / "runs").glob("*/investigation_report.md"))
    assert len(reports) == 1 and str(missing) in reports[0].read_text()
