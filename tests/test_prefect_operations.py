"""Operate it the way Prefect users do, against a real `prefect server start`: `make deploy`, a worker, the CLI.

One server, one `make deploy` and one worker for the module (each start costs tens of seconds on 2 cores):
- `prefect deployment run 'ghost-probing/local-demo' --watch` completes, with the progress artifact at 100 %, the
  results report and table, the job's log lines in the flow run's logs (the browser test reads the same run);
- a run whose process is SIGKILLed mid-watch gets exactly one Slack message, from the server's backstop automation;
- a failed run that alerted itself gets no second message from the automation;
- an invalid parameter is refused before any run starts, naming the field.
"""
import json
import os
import signal
import subprocess
import time
from pathlib import Path

import psutil
import pytest

from tests.support.prefect_server import PREFECT, PrefectServer, stop
from tests.support.slack_server import SlackWebhookServer

pytestmark = [pytest.mark.prefect, pytest.mark.slow]
REPO = Path(__file__).resolve().parents[1]
VENV = Path(os.sys.executable).parents[1]
BACKSTOP_SECONDS = 10


@pytest.fixture(scope="module")
def slack():
    with SlackWebhookServer() as server:
        yield server


@pytest.fixture(scope="module")
def server(tmp_path_factory):
    with PrefectServer(tmp_path_factory.mktemp("prefect-home")) as live:
        yield live


@pytest.fixture(scope="module")
def deployed(server, slack):
    """`make deploy` (twice: it is idempotent), then a worker, as a user does."""
    env = {**server.env, "SLACK_WEBHOOK_URL": slack.url}
    for _ in range(2):
        done = subprocess.run(["make", "-s", "deploy", f"VENV={VENV}", f"BACKSTOP_SECONDS={BACKSTOP_SECONDS}"],
                              cwd=REPO, env=env, capture_output=True, text=True, timeout=900)
        assert done.returncode == 0, done.stdout + done.stderr
    worker = server.start_worker(REPO)
    yield done.stdout
    stop(worker)


def client():
    from prefect.client.orchestration import get_client

    return get_client(sync_client=True)


def prefect_cli(server, *args, timeout=600):
    return subprocess.run([PREFECT, *args], cwd=REPO, env=server.env, capture_output=True, text=True, timeout=timeout)


@pytest.fixture
def api(server, monkeypatch):
    from prefect.settings import PREFECT_API_URL, temporary_settings

    with temporary_settings({PREFECT_API_URL: server.api_url}):
        yield


def demo_config(tmp_path, **overrides) -> dict:
    from flows.automation import AUTOMATION_NAME  # noqa: F401  (import check: the module loads without a server)

    with client() as c:
        deployment = c.read_deployment_by_name("ghost-probing/local-demo")
    return {**deployment.parameters["config"], "run_dir": str(tmp_path / "runs"), **overrides}


def wait_for(predicate, timeout, what):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = predicate()
        if value:
            return value
        time.sleep(1)
    raise AssertionError(f"timed out after {timeout} s waiting for {what}")


def posts_about(slack, run_name):
    return [p for p in slack.posts if run_name in json.dumps(p["json"])]


@pytest.fixture(scope="module")
def demo_run(server, deployed):
    """The README's CLI command, as is: `prefect deployment run 'ghost-probing/local-demo' --watch`."""
    done = prefect_cli(server, "deployment", "run", "ghost-probing/local-demo", "--watch", timeout=900)
    return done


def test_deploy_is_idempotent_and_creates_blocks_and_automation(deployed, api):
    from flows.automation import AUTOMATION_NAME

    assert "automation ghostwatch-alert-backstop updated" in deployed, deployed
    with client() as c:
        assert len(c.read_automations_by_name(AUTOMATION_NAME)) == 1
        names = {d.name for d in c.read_deployments()}
        assert {"local-demo", "azure-a100"} <= names
        azure = c.read_deployment_by_name("ghost-probing/azure-a100")
    assert "azureml" not in azure.parameters["config"], "no made-up workspace coordinates"
    assert "<subscription-id>" not in json.dumps(azure.parameters)


def test_local_demo_runs_from_the_cli_with_progress_logs_and_results(demo_run, api):
    assert demo_run.returncode == 0, demo_run.stdout + demo_run.stderr
    assert "Completed" in demo_run.stdout
    from prefect.client.schemas.filters import FlowRunFilter, FlowRunFilterName, LogFilter, LogFilterFlowRunId

    with client() as c:
        run = [r for r in c.read_flow_runs() if r.state and r.state.is_completed()][-1]
        logs = [l.message for l in c.read_logs(log_filter=LogFilter(flow_run_id=LogFilterFlowRunId(any_=[run.id])))]
        artifacts = {a.key: a for a in c.read_artifacts() if a.flow_run_id == run.id}
    assert run.name.startswith("DADA-100-video-local-"), run.name
    text = "\n".join(logs)
    assert "job | " in text and "model loaded" in text, "the job's own log lines reach the flow run's logs"
    assert "metrics on" in text
    assert any(m.startswith("preflight") or "videos" in m for m in logs)
    assert artifacts["ghostwatch-progress"].data == 100.0
    assert "ghostwatch-results" in artifacts and "ghostwatch-report" in artifacts
    assert "Error details" not in artifacts["ghostwatch-report"].data
    assert "Unexpected result for failed state" not in text


def test_killed_run_alerts_exactly_once_from_the_server_backstop(server, deployed, slack, api, tmp_path):
    params = demo_config(tmp_path, limit=None)
    done = prefect_cli(server, "deployment", "run", "ghost-probing/local-demo", "--param", f"config={json.dumps(params)}")
    assert done.returncode == 0, done.stdout + done.stderr
    def submitted():
        # The attempt is recorded before the submit and again with the job's pid after it: wait for the second.
        for path in (tmp_path / "runs").glob("*/.ghostwatch/active_job.json"):
            try:
                if json.loads(path.read_text()).get("details", {}).get("pid"):
                    return path
            except (OSError, ValueError):
                pass  # being rewritten
        return None

    active = wait_for(submitted, 300, "the run to submit its job")
    job = json.loads(active.read_text())
    flow_process = psutil.Process(job["details"]["pid"]).parent()
    run_folder = active.parents[1]
    os.kill(flow_process.pid, signal.SIGKILL)  # as the OOM killer would: no hook runs in that process

    with client() as c:
        run = wait_for(lambda: next((r for r in c.read_flow_runs() if str(r.id).startswith(run_folder.name[-8:])
                                     and r.state and r.state.is_crashed()), None), 120, "the run to turn Crashed")
    posts = wait_for(lambda: posts_about(slack, run.name), BACKSTOP_SECONDS + 120, "the backstop's Slack message")
    time.sleep(BACKSTOP_SECONDS + 10)
    posts = posts_about(slack, run.name)
    assert len(posts) == 1, posts
    assert "server backstop" in posts[0]["json"]["text"] and "crashed" in posts[0]["json"]["text"]
    assert "testtoken" not in json.dumps(posts[0]["json"])
    wait_for(lambda: not psutil.pid_exists(job["details"]["pid"]), 60, "the orphaned job to be cancelled")


def test_failed_run_that_alerted_itself_gets_no_second_message(server, deployed, slack, api, tmp_path):
    params = demo_config(tmp_path, video_uri=str(tmp_path / "DADA-100-videos"))
    done = prefect_cli(server, "deployment", "run", "ghost-probing/local-demo", "--param",
                       f"config={json.dumps(params)}", "--watch", timeout=600)
    assert "Failed" in done.stdout, done.stdout + done.stderr
    reports = list((tmp_path / "runs").glob("*/investigation_report.md"))
    assert len(reports) == 1
    with client() as c:
        run = next(r for r in c.read_flow_runs() if r.state and r.state.message
                   and r.state.message.startswith("data_not_found"))
    wait_for(lambda: posts_about(slack, run.name), 60, "the run's own alert")
    time.sleep(BACKSTOP_SECONDS + 15)
    posts = posts_about(slack, run.name)
    assert len(posts) == 1 and "server backstop" not in posts[0]["json"]["text"], posts


def test_invalid_parameter_is_refused_before_any_run_naming_the_field(server, deployed, api, tmp_path):
    with client() as c:
        before = len(c.read_flow_runs())
    params = demo_config(tmp_path, num_frames=500)
    done = prefect_cli(server, "deployment", "run", "ghost-probing/local-demo", "--param", f"config={json.dumps(params)}")
    assert done.returncode != 0
    assert "num_frames" in done.stdout + done.stderr
    with client() as c:
        assert len(c.read_flow_runs()) == before, "nothing was created"


CHROMIUM = "/usr/bin/chromium"  # Debian's package (`make browser` installs it); Playwright downloads no browser
CHROMIUM_ARGS = ["--no-sandbox", "--disable-gpu", "--disable-background-networking", "--disable-component-update",
                 "--disable-sync", "--no-first-run"]


@pytest.fixture(scope="module")
def browser():
    if not Path(CHROMIUM).exists():
        pytest.fail(f"{CHROMIUM} is missing: run `make browser` (apt-get install chromium)")
    from playwright.sync_api import sync_playwright

    with sync_playwright() as playwright:
        chromium = playwright.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        yield chromium
        chromium.close()


def test_what_a_person_sees_in_the_ui(server, demo_run, browser, api, tmp_path):
    """The run form, the finished run's progress bar, results report and table, as Chromium renders them."""
    assert demo_run.returncode == 0, demo_run.stdout + demo_run.stderr
    with client() as c:
        deployment = c.read_deployment_by_name("ghost-probing/local-demo")
        run = [r for r in c.read_flow_runs() if r.deployment_id == deployment.id and r.state.is_completed()][0]
        artifacts = {a.key: a.id for a in c.read_artifacts() if a.flow_run_id == run.id}
    page = browser.new_page(viewport={"width": 1400, "height": 1000})

    def show(path: str, shot: str) -> str:
        page.goto(f"{server.url}{path}", wait_until="networkidle")
        page.wait_for_timeout(1500)
        page.screenshot(path=str(tmp_path / f"{shot}.png"), full_page=True)
        return page.inner_text("body")

    # The run form: every field described; placeholders survive the markdown; the URL is not a parameter.
    form = show(f"/deployments/deployment/{deployment.id}/run", "run-form")
    for label in ("Video Uri", "Labels Path", "Num Frames", "Model Family", "Slack Webhook Block", "Azureml"):
        assert label in form, label
    assert "https://<account>.blob.core.windows.net/<container>/<prefix>" in form
    assert "Frames sampled uniformly from each video." in form
    assert "Slack Webhook Url" not in form
    page.get_by_text("AzureMLSettings", exact=True).click()
    page.wait_for_timeout(500)
    page.get_by_text("Input Mode (Optional)").scroll_into_view_if_needed()
    page.screenshot(path=str(tmp_path / "run-form-azureml.png"))
    # A choice renders as the UI's select (like Backend), a free string as a text area.
    assert page.locator('.p-select-button__control[modelvalue="job_yaml"]').count() == 1, "input_mode is a choice"
    assert "<subscription-id>" not in page.inner_text("body")

    # An invalid value is refused naming the field (the UI shows the server's answer).
    page.goto(f"{server.url}/deployments/deployment/{deployment.id}/run", wait_until="networkidle")
    frames = page.get_by_text("Num Frames (Optional)").locator("xpath=ancestor::*[.//input][1]").locator("input").first
    frames.fill("500")
    page.get_by_role("button", name="Submit").click()
    page.get_by_text("config.num_frames").first.wait_for(timeout=15000)
    page.screenshot(path=str(tmp_path / "run-form-invalid.png"))

    # The finished run: readable name, progress at 100 %, the results report, the results table.
    show(f"/runs/flow-run/{run.id}", "flow-run")
    assert run.name in page.inner_text("body")
    progress = show(f"/artifacts/artifact/{artifacts['ghostwatch-progress']}", "progress")
    assert "100%" in progress and "8 of 8 videos done" in progress
    report = show(f"/artifacts/artifact/{artifacts['ghostwatch-report']}", "report")
    for text in ("Healthy run", "Always-yes baseline", "Confusion matrix", "Per-video verdicts", "Prefect flow run"):
        assert text in report, text
    assert "Error Details" not in report and "Error details" not in report
    table = show(f"/artifacts/artifact/{artifacts['ghostwatch-results']}", "results-table")
    for column in ("verdict", "reason", "label", "correct"):
        assert column in table, column
    assert "8 Items" in table
    page.close()
