"""`make deploy`: everything a Prefect server needs to run ghostwatch, created or updated in place (idempotent).

1. the `ghostwatch` process work pool;
2. the Secret block `ghostwatch-slack-webhook` from SLACK_WEBHOOK_URL, when the block is missing (an existing block
   is left as the user set it), and the Webhook block the backstop automation posts through;
3. the demo's sample clips, labels and tiny model, when missing (the `local-demo` deployment reads them);
4. the deployments in deployments/prefect.yaml (`local-demo`, `azure-a100`);
5. the backstop automation (flows/automation.py).
"""
from __future__ import annotations

import argparse
import os
import subprocess
import sys
from pathlib import Path

from flows.automation import DEFAULT_WITHIN_SECONDS, ensure_backstop

REPO = Path(__file__).resolve().parents[1]
WORK_POOL = "ghostwatch"
SECRET_BLOCK = "ghostwatch-slack-webhook"
PREFECT_FILE = REPO / "deployments" / "prefect.yaml"


def _prefect(*args: str) -> subprocess.CompletedProcess:
    prefect = str(Path(sys.executable).with_name("prefect"))
    return subprocess.run([prefect, *args], cwd=REPO, capture_output=True, text=True)


def ensure_work_pool() -> str:
    if _prefect("work-pool", "inspect", WORK_POOL).returncode == 0:
        return f"work pool {WORK_POOL} exists"
    done = _prefect("work-pool", "create", WORK_POOL, "--type", "process")
    if done.returncode != 0:
        raise SystemExit(f"make deploy: could not create the work pool {WORK_POOL}:\n{done.stdout}{done.stderr}")
    return f"work pool {WORK_POOL} created"


def ensure_secret_block() -> tuple[str, str | None]:
    """(what was done, the webhook URL now in the block or None)."""
    from prefect.blocks.system import Secret

    from_env = os.environ.get("SLACK_WEBHOOK_URL", "").strip()
    try:
        current = str(Secret.load(SECRET_BLOCK).get() or "").strip()
    except ValueError:
        current = ""
        if from_env:
            Secret(value=from_env).save(SECRET_BLOCK, overwrite=True)
            return f"Secret block {SECRET_BLOCK} created from SLACK_WEBHOOK_URL", from_env
        return (f"Secret block {SECRET_BLOCK} not created: SLACK_WEBHOOK_URL is not set (runs will print where the "
                "report is instead of alerting)"), None
    return f"Secret block {SECRET_BLOCK} exists (left as it is)", current or None


def deploy_flows() -> str:
    done = _prefect("--no-prompt", "deploy", "--all", "--prefect-file", str(PREFECT_FILE))
    if done.returncode != 0:
        raise SystemExit(f"make deploy: `prefect deploy` failed:\n{done.stdout}{done.stderr}")
    return "deployments ghost-probing/local-demo and ghost-probing/azure-a100 deployed"


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--demo-dir", default=".demo", help="where the local-demo deployment's clips and model live")
    parser.add_argument("--skip-demo-data", action="store_true", help="do not build the demo's clips and model")
    parser.add_argument("--backstop-seconds", type=float, default=DEFAULT_WITHIN_SECONDS,
                        help="how long the backstop automation waits for a run's own alert")
    args = parser.parse_args(argv)
    from prefect.settings import PREFECT_API_URL

    if not PREFECT_API_URL.value():
        raise SystemExit("make deploy: PREFECT_API_URL is not set; start a server with `make server` first")
    print(f"deploying to {PREFECT_API_URL.value()}", flush=True)
    print(ensure_work_pool(), flush=True)
    note, webhook = ensure_secret_block()
    print(note, flush=True)
    if not args.skip_demo_data:
        from flows.demo import prepare

        videos, _, model = prepare((REPO / args.demo_dir).resolve())
        print(f"demo data at {videos}, model at {model}", flush=True)
    print(deploy_flows(), flush=True)
    print(ensure_backstop(webhook, args.backstop_seconds), flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
