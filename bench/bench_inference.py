"""Benchmark the ghost-probing job's per-video cost on synthetic clips with the tiny model.

    python bench/bench_inference.py [--videos 4] [--frames 8,16,32] [--device cpu|cuda] [--seconds 10 --fps 25]

Prints, measured side by side in one run:
  1. decoding: every frame decoded (PyAV) against seek-sampled decoding (decord; PyAV sequential-until-last-index),
     as ratios;
  2. seconds per video split into decode / preprocess / generate for each --num-frames, and how each grows
     relative to the smallest frame count;
  3. peak memory per frame count (process RSS on CPU; torch peak allocated on CUDA).
The tiny model's absolute numbers say nothing about a 7B model's; the ratios (decode share, growth with frames) are
what carries over. No assertions: this is a measurement script.
"""
from __future__ import annotations

import argparse
import os
import statistics
import sys
import tempfile
import threading
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")

from inference.frames import read_clip, read_clip_decoding_all  # noqa: E402
from inference.models import FAMILIES, build_inputs, generate, load_model  # noqa: E402
from inference.prompts import load_prompt  # noqa: E402
from inference.tiny_model import build_tiny_model  # noqa: E402
from flows.sample_data import make_sample_dataset  # noqa: E402


class PeakRss:
    """Sample this process's resident memory in a thread; `peak_mib` after the block."""

    def __init__(self, interval: float = 0.005) -> None:
        import psutil

        self._process = psutil.Process()
        self._interval = interval
        self._stop = threading.Event()
        self.peak_mib = 0.0

    def _sample(self) -> None:
        while not self._stop.is_set():
            self.peak_mib = max(self.peak_mib, self._process.memory_info().rss / 2**20)
            self._stop.wait(self._interval)

    def __enter__(self) -> "PeakRss":
        self._thread = threading.Thread(target=self._sample, daemon=True)
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        self._thread.join()


def timed(function, *args):
    began = time.perf_counter()
    result = function(*args)
    return result, time.perf_counter() - began


def bench_decoding(videos: list[Path], num_frames: int, repeats: int) -> None:
    print(f"\n== decoding, {num_frames} frames sampled per video, best of {repeats} ==")
    ways = {
        "decord seek-sampled": lambda path: read_clip(path, num_frames, "decord"),
        "pyav until last sampled": lambda path: read_clip(path, num_frames, "pyav"),
        "pyav decode every frame": lambda path: read_clip_decoding_all(path, num_frames),
    }
    seconds = {}
    for name, read in ways.items():
        per_video = [min(timed(read, path)[1] for _ in range(repeats)) for path in videos]
        seconds[name] = statistics.mean(per_video)
    base = seconds["decord seek-sampled"]
    for name, value in seconds.items():
        print(f"{name:26s} {value * 1000:8.1f} ms/video   x{value / base:5.2f} vs decord seek")


def bench_model(loaded, videos: list[Path], frame_counts: list[int], max_new_tokens: int, device: str) -> None:
    import torch

    prompt = load_prompt()
    print(f"\n== per-video seconds by --num-frames (batch 1, {max_new_tokens} new tokens, {device}) ==")
    print(f"{'frames':>6} {'decode':>8} {'preproc':>8} {'generate':>9} {'total':>8} {'x vs first':>10} {'peak MiB':>9}")
    first_total = None
    for num_frames in frame_counts:
        warm = read_clip(videos[0], num_frames)
        generate(loaded, build_inputs(loaded, [warm], [prompt.render(warm.timestamps, warm.duration)]), max_new_tokens)
        if device.startswith("cuda"):
            torch.cuda.synchronize()
            torch.cuda.reset_peak_memory_stats()
        stages = {"decode": [], "preprocess": [], "generate": []}
        with PeakRss() as rss:
            for path in videos:
                clip, decode_s = timed(read_clip, path, num_frames)
                inputs, prep_s = timed(build_inputs, loaded, [clip], [prompt.render(clip.timestamps, clip.duration)])
                _, gen_s = timed(generate, loaded, inputs, max_new_tokens)
                if device.startswith("cuda"):
                    torch.cuda.synchronize()
                for stage, value in zip(stages, (decode_s, prep_s, gen_s)):
                    stages[stage].append(value)
        means = {stage: statistics.mean(values) for stage, values in stages.items()}
        total = sum(means.values())
        first_total = first_total or total
        peak = torch.cuda.max_memory_allocated() / 2**20 if device.startswith("cuda") else rss.peak_mib
        print(f"{num_frames:>6} {means['decode']:8.3f} {means['preprocess']:8.3f} {means['generate']:9.3f} "
              f"{total:8.3f} {total / first_total:10.2f} {peak:9.1f}")
    print("(peak: process RSS on CPU, torch max allocated on CUDA; decode share carries over to large models, "
          "generate does not)")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--videos", type=int, default=4, help="synthetic clips to measure on")
    parser.add_argument("--frames", default="8,16,32", help="comma-separated --num-frames values")
    parser.add_argument("--device", default="cpu", help="cpu or cuda")
    parser.add_argument("--family", default="llava-next-video", choices=list(FAMILIES))
    parser.add_argument("--width", type=int, default=320)
    parser.add_argument("--height", type=int, default=192)
    parser.add_argument("--fps", type=int, default=25)
    parser.add_argument("--seconds", type=float, default=10.0)
    parser.add_argument("--max-new-tokens", type=int, default=24)
    parser.add_argument("--repeats", type=int, default=2, help="decoding repeats (best of)")
    parser.add_argument("--workdir", help="keep clips and model here (default: a temporary folder)")
    args = parser.parse_args(argv)
    frame_counts = [int(value) for value in args.frames.split(",")]
    with tempfile.TemporaryDirectory() as scratch:
        work = Path(args.workdir or scratch)
        began = time.perf_counter()
        data = make_sample_dataset(work / "clips", videos=args.videos, width=args.width, height=args.height,
                                   fps=args.fps, seconds=args.seconds)
        print(f"{args.videos} synthetic clips {args.width}x{args.height}, {args.seconds:g}s at {args.fps} fps "
              f"({int(args.seconds * args.fps)} frames) written in {time.perf_counter() - began:.1f}s")
        bench_decoding(data.videos, frame_counts[len(frame_counts) // 2], args.repeats)
        model_dir = build_tiny_model(work / "tiny-model", args.family).folder
        loaded = load_model(str(model_dir), FAMILIES[args.family], args.device)
        print(f"\ntiny {args.family} model: {sum(p.numel() for p in loaded.model.parameters()):,} parameters, "
              f"{loaded.dtype}, {loaded.device}")
        bench_model(loaded, data.videos, frame_counts, args.max_new_tokens, loaded.device)
    return 0


if __name__ == "__main__":
    sys.exit(main())
