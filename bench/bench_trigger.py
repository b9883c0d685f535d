"""Benchmark: trigger-to-first-stage latency through the Prefect CLI, against a real server and a process worker.

Starts `prefect server start` (127.0.0.1, temporary home), applies `make deploy` (without the demo's model build), starts
`prefect worker start --pool ghostwatch`, then triggers `prefect deployment run 'ghost-probing/local-demo'` several
times (on a folder that does not exist, so each run ends right after its first stage) and reads from the API when each
run was created, picked up by the worker, started, and when its first stage (check-data) started. Prints medians and
where the time goes, for the worker's default poll (PREFECT_WORKER_QUERY_SECONDS=10) and a 2 s poll.
Usage: python bench/bench_trigger.py [--runs 3]
"""
from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))
for key, value in {"DO_NOT_TRACK": "1", "PREFECT_SERVER_ANALYTICS_ENABLED": "false"}.items():
    os.environ.setdefault(key, value)

from tests.support.prefect_server import PREFECT, PrefectServer, stop  # noqa: E402


def trigger(server: PrefectServer, params: dict) -> tuple[float, str]:
    started = time.time()
    done = subprocess.run([PREFECT, "deployment", "run", "ghost-probing/local-demo", "--param",
                           f"config={json.dumps(params)}"], cwd=REPO, env=server.env, capture_output=True, text=True)
    if done.returncode != 0:
        raise SystemExit(done.stdout + done.stderr)
    run_id = next(line.split("UUID:")[1].strip() for line in done.stdout.splitlines() if "UUID:" in line)
    return started, run_id


def timings(run_id: str, timeout: float = 300) -> dict:
    from prefect.client.orchestration import get_client
    from prefect.client.schemas.filters import FlowRunFilter, FlowRunFilterId, TaskRunFilter, TaskRunFilterName

    deadline = time.time() + timeout
    with get_client(sync_client=True) as client:
        while time.time() < deadline:
            run = client.read_flow_run(run_id)
            tasks = client.read_task_runs(flow_run_filter=FlowRunFilter(id=FlowRunFilterId(any_=[run_id])))
            first = [t for t in tasks if t.name.startswith("check-data") and t.start_time]
            if run.state.is_final() and first:
                states = {s.type.value: s.timestamp.timestamp() for s in client.read_flow_run_states(run_id)}
                return {"created": run.created.timestamp(), "pending": states.get("PENDING"),
                        "running": states.get("RUNNING"), "first_stage": first[0].start_time.timestamp()}
            time.sleep(1)
    raise SystemExit(f"run {run_id} did not finish in {timeout} s")


def measure(runs: int, query_seconds: float, home: Path) -> list[dict]:
    from prefect.settings import PREFECT_API_URL, temporary_settings

    with PrefectServer(home) as server, temporary_settings({PREFECT_API_URL: server.api_url}):
        server.env["PREFECT_WORKER_QUERY_SECONDS"] = str(query_seconds)
        done = subprocess.run(["make", "-s", "deploy", f"VENV={Path(sys.executable).parents[1]}", "DEPLOY_FLAGS=--skip-demo-data"],
                              cwd=REPO, env=server.env, capture_output=True, text=True)
        if done.returncode != 0:
            raise SystemExit(done.stdout + done.stderr)
        worker = server.start_worker(REPO)
        rows = []
        try:
            for i in range(runs):
                params = {"video_uri": str(home / f"missing-{i}"), "run_dir": str(home / "runs"), "expected_count": 1,
                          "slack_webhook_block": None}
                started, run_id = trigger(server, params)
                rows.append({"trigger": started, **timings(run_id)})
        finally:
            stop(worker)
    return rows


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=3)
    args = parser.parse_args(argv)
    results = {}
    with tempfile.TemporaryDirectory() as tmp:
        for query in (10.0, 2.0):
            results[query] = measure(args.runs, query, Path(tmp) / f"q{query:g}")
    print(f"{'worker poll':<12}{'trigger→created':>17}{'created→picked up':>19}{'→process running':>18}"
          f"{'→first stage':>14}{'total (median)':>16}")
    totals = {}
    for query, rows in results.items():
        med = lambda key_a, key_b: statistics.median(r[key_b] - r[key_a] for r in rows)  # noqa: E731
        totals[query] = med("trigger", "first_stage")
        print(f"{query:>9g} s{med('trigger', 'created'):>17.1f}{med('created', 'pending'):>19.1f}"
              f"{med('pending', 'running'):>18.1f}{med('running', 'first_stage'):>14.1f}{totals[query]:>16.1f}")
    print(f"ratio 2 s poll / 10 s poll: {totals[2.0] / totals[10.0]:.2f} (seconds, {args.runs} runs each)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
