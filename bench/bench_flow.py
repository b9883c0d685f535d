"""Benchmark: the flow's overhead over the same stages called as plain functions, and flow start → job submission.

Runs, side by side in one process, on the same sample clips and tiny model:
  plain  — preflight, LocalBackend submit, watch, triage, report as plain Python calls;
  flow   — the `ghost-probing` flow on Prefect's ephemeral server (first run pays the server start; later runs do not).
Prints ratios, not assertions. Usage: python bench/bench_flow.py [--repeats 3] [--workdir bench/out/flow]
"""
from __future__ import annotations

import argparse
import datetime as dt
import os
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
for key, value in {"DO_NOT_TRACK": "1", "PREFECT_SERVER_ANALYTICS_ENABLED": "false", "GX_ANALYTICS_ENABLED": "false",
                   "HF_HUB_OFFLINE": "1", "PREFECT_SERVER_EPHEMERAL_STARTUP_TIMEOUT_SECONDS": "60",
                   "PREFECT_LOGGING_LEVEL": "WARNING"}.items():
    os.environ.setdefault(key, value)


def first_lifecycle_time(run_folder: Path) -> float | None:
    """Wall-clock time (epoch s) at which the first job of a run folder was started."""
    logs = sorted(run_folder.glob("jobs/*/system_logs/lifecycler/lifecycler.log"))
    if not logs:
        return None
    stamp = logs[0].read_text().split(" ", 1)[0]
    return dt.datetime.strptime(stamp, "%Y-%m-%dT%H:%M:%S.%fZ").replace(tzinfo=dt.timezone.utc).timestamp()


def run_plain(config, run_folder: Path) -> float:
    """The stages as plain calls; returns seconds."""
    from tasks.backends.base import JobSpec
    from tasks.backends.local import LocalBackend
    from tasks.backends.factory import LOCAL_JOB_ENV
    from tasks.backends.watch import PollPolicy, watch_job
    from tasks.preflight import run_preflight
    from flows.run_context import preflight_options
    from tasks.triage import TriageContext, triage_evidence, write_report

    start = time.perf_counter()
    result = run_preflight(preflight_options(config))
    assert result.passed, result.to_markdown()
    backend = LocalBackend(run_folder / "jobs", env=LOCAL_JOB_ENV)
    spec = JobSpec(name="plain-a1", video_input=result.access.job_input, output_dir=str(run_folder / "outputs"),
                   model=config.model, num_frames=config.num_frames, max_new_tokens=config.max_new_tokens,
                   labels=config.labels_path)
    outcome = watch_job(backend, backend.submit(spec), run_folder / "evidence",
                        PollPolicy(initial_seconds=config.poll_initial_seconds, max_seconds=config.poll_max_seconds))
    verdict = triage_evidence(outcome.evidence_dir, TriageContext(expected_videos=len(result.manifest)))
    write_report(verdict, run_folder, job=outcome.status.to_dict())
    return time.perf_counter() - start


def run_flow(config) -> tuple[float, float | None, str]:
    """The flow; returns (seconds, seconds from flow start to job start, final state)."""
    from flows.ghost_probing import flow_for

    wall_start = time.time()
    start = time.perf_counter()
    state = flow_for(config)(config, return_state=True)
    elapsed = time.perf_counter() - start
    summary = state.result(raise_on_failure=False)
    submitted = first_lifecycle_time(Path(summary.run_folder))
    return elapsed, (submitted - wall_start) if submitted else None, state.name


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--workdir", default="bench/out/flow")
    args = parser.parse_args()
    from flows.demo import demo_config

    workdir = Path(args.workdir).resolve()
    config = demo_config(workdir, failure=False)  # the demo's 8 clips and fitted tiny model, made once

    plain_times, flow_times, to_submit = [], [], []
    for i in range(args.repeats):
        plain_times.append(run_plain(config, workdir / "plain" / str(i)))
        seconds, submit_after, state = run_flow(config)
        flow_times.append(seconds)
        to_submit.append(submit_after)
        print(f"repeat {i + 1}: plain {plain_times[-1]:.2f} s, flow {seconds:.2f} s ({state}), "
              f"flow start → job start {submit_after:.2f} s" if submit_after is not None else "(no job started)")
    warm_flow = flow_times[1:] or flow_times
    warm_plain = plain_times[1:] or plain_times
    print("\nresults (ratios measured side by side in this run)")
    print(f"  first flow run / plain        : {flow_times[0] / plain_times[0]:.2f}x  (includes the ephemeral server start)")
    print(f"  warm flow run / plain         : {sum(warm_flow) / sum(warm_plain):.2f}x")
    print(f"  warm flow overhead            : {(sum(warm_flow) - sum(warm_plain)) / len(warm_flow):.2f} s per run")
    ok = [s for s in to_submit[1:] if s is not None] or [s for s in to_submit if s is not None]
    if ok:
        print(f"  flow start → job submission   : {sum(ok) / len(ok):.2f} s (warm)")
        print(f"  share of a warm run before submission: {sum(ok) / sum(warm_flow):.2%}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
