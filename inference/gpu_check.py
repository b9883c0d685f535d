"""GPU smoke check: run the tiny model (or a given one) on CUDA in bf16 and print frames/s and peak GPU memory.

    python -m inference.gpu_check [--model FOLDER] [--family llava-next-video] [--num-frames 16] [--videos 8]

Without --model it builds the tiny random model in a temporary folder first (offline, seconds). Frames are synthetic
arrays, so the figure is model throughput, not decoding. Exit 2 when torch sees no CUDA device (unless --device cpu).
"""
from __future__ import annotations

import argparse
import sys
import tempfile
import time

import numpy as np

from .frames import Clip, sample_indices
from .models import FAMILIES, build_inputs, generate, load_model
from .prompts import load_prompt


def synthetic_clips(count: int, num_frames: int, height: int = 360, width: int = 640, fps: float = 30.0,
                    total_frames: int = 300, seed: int = 0) -> list[Clip]:
    """Random RGB clips shaped like decoded dashcam frames."""
    rng = np.random.default_rng(seed)
    indices = sample_indices(total_frames, num_frames)
    return [
        Clip(rng.integers(0, 256, (num_frames, height, width, 3), dtype=np.uint8), indices,
             [i / fps for i in indices], fps, total_frames, "synthetic")
        for _ in range(count)
    ]


def main(argv: list[str] | None = None) -> int:
    """Run the check; prints one result line per measurement and returns the exit status."""
    import torch

    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--model", help="model folder or hub id (default: build the tiny model)")
    parser.add_argument("--family", default="llava-next-video", choices=list(FAMILIES))
    parser.add_argument("--num-frames", type=int, default=16)
    parser.add_argument("--videos", type=int, default=8)
    parser.add_argument("--batch-size", type=int, default=4)
    parser.add_argument("--max-new-tokens", type=int, default=32)
    parser.add_argument("--device", default="cuda")
    parser.add_argument("--dtype", default="bf16", choices=("bf16", "fp16", "fp32"))
    args = parser.parse_args(argv)
    if args.device.startswith("cuda") and not torch.cuda.is_available():
        print("ERROR: torch sees no CUDA device (torch.cuda.is_available() is False); run on a GPU machine")
        return 2
    with tempfile.TemporaryDirectory() as scratch:
        model_id = args.model
        if model_id is None:
            from .tiny_model import build_tiny_model

            model_id = str(build_tiny_model(scratch, args.family).folder)
        loaded = load_model(model_id, FAMILIES[args.family], args.device, args.dtype)
        prompt = load_prompt()
        clips = synthetic_clips(args.videos, args.num_frames)
        print(f"device {torch.cuda.get_device_name(0) if args.device.startswith('cuda') else 'cpu'}, "
              f"model {model_id} ({loaded.model_type}), dtype {loaded.dtype}, load report {loaded.load_info}")
        _run(loaded, clips[: args.batch_size], prompt, args)  # warm-up: kernels, allocator
        if args.device.startswith("cuda"):
            torch.cuda.synchronize()
            torch.cuda.reset_peak_memory_stats()
        began = time.perf_counter()
        answers = _run(loaded, clips, prompt, args)
        if args.device.startswith("cuda"):
            torch.cuda.synchronize()
        seconds = time.perf_counter() - began
        frames = args.videos * args.num_frames
        peak = torch.cuda.max_memory_allocated() / 2**20 if args.device.startswith("cuda") else float("nan")
        print(f"{args.videos} videos x {args.num_frames} frames, batch {args.batch_size}: {seconds:.2f}s, "
              f"{frames / seconds:.1f} frames/s, {seconds / args.videos:.3f} s/video, peak GPU memory {peak:.1f} MiB")
        print(f"answers: {len(answers)} (first: {answers[0][:60]!r})")
    return 0


def _run(loaded, clips, prompt, args) -> list[str]:
    answers = []
    for start in range(0, len(clips), args.batch_size):
        batch = clips[start:start + args.batch_size]
        inputs = build_inputs(loaded, batch, [prompt.render(c.timestamps, c.duration) for c in batch])
        answers += generate(loaded, inputs, args.max_new_tokens)
    return answers


if __name__ == "__main__":
    sys.exit(main())
