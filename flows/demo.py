"""`make demo` / `make demo-failure`: the whole workflow on this machine, no Azure account and no GPU.

Builds sample clips and a tiny offline model once (cached in the work folder), then runs the `ghost-probing` flow on the
local backend against Prefect's ephemeral server. With --failure it reproduces the seed's failure, a datastore path that
does not exist, and shows the automatic investigation report.
"""
from __future__ import annotations

import argparse
import os
import subprocess
import sys
import time
from pathlib import Path

from tasks.config import RunConfig

DEMO_VIDEOS = 8
# The seed's job pointed at DADA-100-videos; the demo's data lives in DADA-100-video (one letter off), as typos go.
DATA_FOLDER = "DADA-100-video"
MISSING_FOLDER = "DADA-100-videos"


def prepare(workdir: Path) -> tuple[Path, Path, Path]:
    """Sample clips, labels and the tiny model under `workdir`, made once and reused."""
    videos = workdir / "datastore" / DATA_FOLDER
    model = workdir / "tiny-llava-next-video"
    if not (videos / "groundtruth_labels.csv").exists():
        from tasks.sample_data import make_sample_dataset

        print(f"demo: writing {DEMO_VIDEOS} synthetic dashcam clips to {videos}", flush=True)
        make_sample_dataset(videos, videos=DEMO_VIDEOS, seed=7)
    if not (model / "config.json").exists():
        print(f"demo: building a tiny random LLaVA-NeXT-Video model in {model} (offline)", flush=True)
        subprocess.run([sys.executable, "-m", "inference.tiny_model", str(model)], check=True)
    return videos, videos / "groundtruth_labels.csv", model


def demo_config(workdir: Path, failure: bool) -> RunConfig:
    """The demo's run parameters."""
    videos, labels, model = prepare(workdir)
    uri = videos.parent / MISSING_FOLDER if failure else videos
    return RunConfig(
        video_uri=str(uri),
        labels_path=str(labels),
        expected_count=DEMO_VIDEOS,
        model=str(model),
        model_family="llava-next-video",
        num_frames=8,
        max_new_tokens=48,
        run_dir=str(workdir / "runs"),
        max_attempts=2,
        poll_initial_seconds=0.5,
        poll_max_seconds=3.0,
    )


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--workdir", default=".demo", help="where clips, the tiny model and run folders go")
    parser.add_argument("--failure", action="store_true", help="reproduce the seed's failure (a missing data path)")
    args = parser.parse_args(argv)
    for key, value in {"DO_NOT_TRACK": "1", "PREFECT_SERVER_ANALYTICS_ENABLED": "false", "GX_ANALYTICS_ENABLED": "false",
                       "HF_HUB_OFFLINE": "1", "PREFECT_SERVER_EPHEMERAL_STARTUP_TIMEOUT_SECONDS": "60"}.items():
        os.environ.setdefault(key, value)
    workdir = Path(args.workdir).resolve()
    config = demo_config(workdir, args.failure)
    from flows.run import run_and_describe

    started = time.monotonic()
    summary, ok = run_and_describe(config)
    print("\n" + summary["text"])
    print(f"(flow run took {time.monotonic() - started:.1f} s)")
    if args.failure:
        report = summary.get("report")
        if report and Path(report).exists():
            print("\n" + "=" * 30 + " investigation report " + "=" * 30)
            print(Path(report).read_text())
        # The failure demo succeeds when the failure was caught and reported before any job started.
        return 0 if (not ok and report and not summary.get("attempts")) else 1
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
