"""Benchmark: ETA-aware polling against the plain backoff, on the same scripted job lengths.

Each scripted job queues, loads its model, does 100 videos at a per-video pace with jitter and finalizes — or fails
right after it starts, or half-way. Both policies watch every job through the real watch loop (tasks/backends/watch.py)
on a fake clock; the ETA-aware one also reads predictions.jsonl between polls. Prints API calls per job-hour (status
polls + progress reads) and the delay in noticing the final state, as medians and ratios. Goal: ETA-aware at most
60 calls per job-hour with a median delay of at most 10 s.
Usage: python bench/bench_polling.py [--jobs 40] [--seed 1]
"""
from __future__ import annotations

import argparse
import json
import random
import statistics
import sys
import tempfile
from dataclasses import dataclass
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from tasks.backends.base import JobHandle, JobState, JobStatus  # noqa: E402
from tasks.backends.eta_poll import EtaPollSchedule  # noqa: E402
from tasks.backends.progress import ProgressReader  # noqa: E402
from tasks.backends.watch import PollPolicy, watch_job  # noqa: E402
from tasks.clock import FakeClock  # noqa: E402

VIDEOS = 100
MODEL_LOAD = 90.0
FINALIZE = 15.0


@dataclass
class ScriptedJob:
    kind: str  # completes | dies_at_start | dies_midway
    queued: float
    video_done: list[float]  # time each video is done, from submission
    end: float

    @classmethod
    def make(cls, rng: random.Random, kind: str) -> "ScriptedJob":
        queued = rng.uniform(30, 1200)
        pace = rng.choice([8, 15, 30, 60, 120])  # seconds per video: jobs of ~15 min to ~3.5 h
        t, done = queued + MODEL_LOAD, []
        for _ in range(VIDEOS):
            t += max(1.0, rng.gauss(pace, pace * 0.2))
            done.append(t)
        if kind == "dies_at_start":
            return cls(kind, queued, [], queued + rng.uniform(3, 60))
        if kind == "dies_midway":
            cut = rng.randint(10, 90)
            return cls(kind, queued, done[:cut], done[cut - 1] + rng.uniform(0, pace))
        return cls(kind, queued, done, done[-1] + FINALIZE)


class ScriptedBackend:
    name = "scripted"

    def __init__(self, job: ScriptedJob, clock: FakeClock) -> None:
        self.job, self.clock, self.gets = job, clock, 0

    def get(self, handle: JobHandle) -> JobStatus:
        self.gets += 1
        now = self.clock.now()
        if now >= self.job.end:
            state = JobState.COMPLETED if self.job.kind == "completes" else JobState.FAILED
        else:
            state = JobState.QUEUED if now < self.job.queued else JobState.RUNNING
        return JobStatus(handle=handle, state=state)

    def cancel(self, handle): pass

    def collect_evidence(self, handle, dest: Path) -> Path:
        dest.mkdir(parents=True, exist_ok=True)
        return dest

    def predictions(self) -> str | None:
        now = self.clock.now()
        done = [t for t in self.job.video_done if t <= now]
        if not done:
            return None
        last = self.job.video_done
        return "".join(json.dumps({"video": f"v{i}", "seconds": (t - (last[i - 1] if i else self.job.queued + MODEL_LOAD))})
                       + "\n" for i, t in enumerate(done))


def watch(job: ScriptedJob, eta_aware: bool, folder: Path) -> tuple[float, float, float]:
    """(API calls, job hours, delay in noticing the end) for one job under one policy."""
    clock = FakeClock()
    backend = ScriptedBackend(job, clock)
    policy = PollPolicy(initial_seconds=2.0, max_seconds=30.0)  # the flow's defaults
    schedule = reader = None
    if eta_aware:
        reader = ProgressReader(backend.predictions, VIDEOS, clock.now)
        schedule = EtaPollSchedule(progress=reader.read, initial_seconds=2.0, max_seconds=10 * policy.max_seconds,
                                   max_seconds_without_eta=4 * policy.max_seconds, near_end_seconds=5.0)
    outcome = watch_job(backend, JobHandle(backend="scripted", name="job"), folder, policy, clock=clock,
                        rng=random.Random(0), schedule=schedule,
                        on_poll=(lambda s: schedule.observe(s.state.value)) if schedule else None)
    calls = backend.gets + (reader.reads if reader else 0)
    return calls, job.end / 3600, outcome.watch_seconds - job.end


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--jobs", type=int, default=40)
    parser.add_argument("--seed", type=int, default=1)
    args = parser.parse_args(argv)
    rng = random.Random(args.seed)
    kinds = ["completes"] * 6 + ["dies_at_start"] * 2 + ["dies_midway"] * 2  # 60 / 20 / 20 %
    jobs = [ScriptedJob.make(rng, kinds[i % len(kinds)]) for i in range(args.jobs)]
    results = {}
    with tempfile.TemporaryDirectory() as tmp:
        for eta_aware in (False, True):
            rows = [watch(job, eta_aware, Path(tmp) / f"{eta_aware}-{i}") for i, job in enumerate(jobs)]
            results[eta_aware] = rows
    print(f"{len(jobs)} scripted jobs ({VIDEOS} videos each; 60 % complete, 20 % die at start, 20 % half-way), "
          f"{sum(j.end for j in jobs) / 3600:.1f} job-hours in all")
    print(f"{'policy':<22}{'calls/job-hour':>16}{'median delay s':>16}{'p90 delay s':>13}  median delay by kind")
    summary = {}
    for eta_aware, rows in results.items():
        calls = sum(r[0] for r in rows) / sum(r[1] for r in rows)
        delays = [r[2] for r in rows]
        by_kind = {k: statistics.median(r[2] for r, j in zip(rows, jobs) if j.kind == k)
                   for k in ("completes", "dies_at_start", "dies_midway")}
        p90 = sorted(delays)[int(0.9 * len(delays)) - 1]
        name = "ETA-aware" if eta_aware else "backoff (2 s → 30 s)"
        summary[eta_aware] = (calls, statistics.median(delays))
        print(f"{name:<22}{calls:>16.1f}{statistics.median(delays):>16.1f}{p90:>13.1f}  "
              + ", ".join(f"{k} {v:.1f}" for k, v in by_kind.items()))
    (c0, d0), (c1, d1) = summary[False], summary[True]
    print(f"ratio ETA-aware / backoff: calls per job-hour {c1 / c0:.2f}, median delay {d1 / d0:.2f}")
    print(f"goal (≤ 60 calls/job-hour, median delay ≤ 10 s): {'met' if c1 <= 60 and d1 <= 10 else 'NOT met'}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
