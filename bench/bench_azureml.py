"""Watching an Azure ML job: API calls per job-hour and how late the final state is noticed, side by side.

Three ways of watching the same scripted job on the local fake of Azure ML, through the real azure-ai-ml SDK:
ghostwatch's default backoff (tasks/backends/watch.py), a fixed 5-second poll, and the SDK's own `jobs.stream`.
Three jobs: a long healthy one (--hours of running), the seed's, which fails 4 s into running, and one whose
node stops responding (jobs.stream returns silently on it).
Time is the fake's clock: the SDK's stream loop has its `time` module pointed at the same clock while it runs, so
nothing waits for real and the three strategies see identical job timelines. No assertions; figures only.

Run: .venv/bin/python bench/bench_azureml.py [--hours 1.0]
"""
from __future__ import annotations

import argparse
import contextlib
import io
import os
import random
import sys
import tempfile
from dataclasses import dataclass
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from tasks.backends.azureml import AzureMLBackend, make_ml_client  # noqa: E402
from tasks.backends.base import JobSpec  # noqa: E402
from tasks.backends.watch import PollPolicy, watch_job  # noqa: E402
from tasks.clock import FakeClock  # noqa: E402
from tasks.config import AzureMLSettings  # noqa: E402
from tests.azureml_fake import lifecycles  # noqa: E402
from tests.azureml_fake.credentials import StaticTokenCredential  # noqa: E402
from tests.azureml_fake.server import FakeAzureML  # noqa: E402

SPEC = JobSpec(
    name="gw-bench-a1", video_input="azureml://datastores/workspaceblobstore/paths/DADA-100-videos/",
    output_dir="azureml://datastores/workspaceblobstore/paths/ghostwatch/bench/", model="llava-hf/LLaVA-NeXT-Video-7B-hf",
)


@dataclass
class Result:
    strategy: str
    calls: int
    job_hours: float
    delay: float
    noticed: str

    @property
    def per_hour(self) -> float:
        return self.calls / self.job_hours


class _ClockAsTimeModule:
    """Stands in for the `time` module inside the SDK's stream loop, so its sleeps run on the fake clock."""

    def __init__(self, clock: FakeClock) -> None:
        self._clock = clock

    def time(self) -> float:
        return self._clock.now()

    def sleep(self, seconds: float) -> None:
        self._clock.sleep(seconds)


@contextlib.contextmanager
def fake_service(lifecycle, workdir: Path):
    clock = FakeClock()
    fake = FakeAzureML(clock).start()
    saved = dict(os.environ)
    os.environ.update(fake.env(workdir / "ca.pem"))
    try:
        settings = AzureMLSettings(subscription_id=fake.subscription_id, resource_group=fake.resource_group, workspace_name=fake.workspace)
        backend = AzureMLBackend(make_ml_client(settings, StaticTokenCredential()), settings, clock=clock)
        fake.script(lifecycle)
        with contextlib.redirect_stderr(io.StringIO()):  # the SDK's upload progress colours
            handle = backend.submit(SPEC)
        yield fake, clock, backend, handle
    finally:
        fake.stop()
        os.environ.clear()
        os.environ.update(saved)


def run_watch(name: str, lifecycle, policy: PollPolicy, workdir: Path) -> Result:
    with fake_service(lifecycle, workdir) as (fake, clock, backend, handle):
        start_calls = len(fake.requests)
        seen: dict[str, float] = {}

        def on_status(status) -> None:
            if status.state.is_final:
                seen["at"], seen["calls"] = clock.now(), len(fake.requests)

        outcome = watch_job(backend, handle, workdir / name, policy, clock=clock, on_status=on_status, rng=random.Random(0))
        final_at = fake.jobs[handle.name].created + lifecycle.seconds_until(outcome.state.value)
        return Result(name, seen["calls"] - start_calls, final_at / 3600, seen["at"] - final_at, outcome.state.value)


def run_stream(lifecycle, workdir: Path) -> Result:
    from azure.ai.ml.operations import _job_ops_helper

    with fake_service(lifecycle, workdir) as (fake, clock, backend, handle):
        start_calls = len(fake.requests)
        real_time = _job_ops_helper.time
        _job_ops_helper.time = _ClockAsTimeModule(clock)
        noticed = "returned"
        try:
            with contextlib.redirect_stdout(io.StringIO()):
                backend.ml_client.jobs.stream(handle.name)
        except Exception as exc:  # jobs.stream raises JobException on Failed only
            noticed = f"raised {type(exc).__name__}"
        finally:
            _job_ops_helper.time = real_time
        state = fake.job_state(fake.jobs[handle.name])
        final_at = fake.jobs[handle.name].created + lifecycle.seconds_until(state)
        return Result("jobs.stream", len(fake.requests) - start_calls, final_at / 3600, clock.now() - final_at, f"{state}, {noticed}")


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--hours", type=float, default=1.0, help="Running time of the long job, in hours.")
    args = parser.parse_args(argv)
    jobs = {
        f"{args.hours:g} h job, completes": lambda: lifecycles.long_running(args.hours * 3600),
        "seed job, fails 4 s into running": lifecycles.stream_not_found,
        "node stops responding after 42 min": lifecycles.not_responding,
    }
    strategies = {
        "default backoff (2 s x1.5 to 30 s)": PollPolicy(),
        "fixed 5 s poll": PollPolicy(initial_seconds=5, factor=1.0, max_seconds=5, jitter=0.0),
    }
    with tempfile.TemporaryDirectory() as tmp:
        workdir = Path(tmp)
        for title, make in jobs.items():
            results = [run_watch(name.split(" ")[0] + name.split(" ")[1], make(), policy, workdir) for name, policy in strategies.items()]
            for result, name in zip(results, strategies):
                result.strategy = name
            results.append(run_stream(make(), workdir))
            print(f"\n{title} (job time from submission to final state: {results[0].job_hours * 3600:.0f} s)")
            print(f"  {'strategy':<36} {'API calls':>9} {'calls/job-hour':>15} {'notice delay':>13}  final state")
            for r in results:
                print(f"  {r.strategy:<36} {r.calls:>9} {r.per_hour:>15.0f} {r.delay:>11.1f} s  {r.noticed}")
            base = results[0]
            for r in results[1:]:
                print(f"  -> {r.strategy}: {r.per_hour / base.per_hour:.1f}x the calls of the default backoff; "
                      f"notices {r.delay - base.delay:+.1f} s relative to it")


if __name__ == "__main__":
    main()
