"""Ghost-probing batch job: videos folder → sampled frames → LLaVA-family model → predictions.jsonl + summary.json.

    python -m inference.llava_ghost_probing_batch --video-folder ./inputs/video_data --output-folder ./outputs \\
        [--model ID_OR_FOLDER] [--model-family llava-next-video] [--labels groundtruth_labels.csv] ...

Standalone (no Prefect, no Azure SDK). Every video is appended to predictions.jsonl as soon as it is done, so a rerun
with the same output folder (after preemption, or a kill) does only what is left. With several nodes, each takes
its shard of the sorted video list (--shard-index/--num-shards, default from the rank variables Azure ML sets) and
writes its own predictions.shard-II-of-NN.jsonl; `python -m inference.merge OUTPUT_FOLDER` merges them.

Exit status: 0 done (some videos may have failed: see summary.json); 2 bad input (no videos, missing folder, bad
labels file or arguments); 3 the model did not load properly; 4 every video failed; 5 CUDA out of memory; 143
terminated by SIGTERM (a low-priority node preempted, or the job cancelled); 1 anything unexpected. On failure the last line of the log is one `ERROR: ...` line that says what to do.
"""
from __future__ import annotations

import argparse
import logging
import signal
import sys
import time
import dataclasses
from dataclasses import dataclass
from datetime import datetime, timezone
from pathlib import Path
from typing import Any, Sequence

from . import frames as frames_module
from .models import FAMILIES
from .labels import Label, LabelMatch, match_labels, read_labels
from .outputs import (
    CSV_FILE, PREDICTIONS_FILE, RESUME_FIELDS, SUMMARY_FILE, PredictionLog, prompt_sha256, resume_key, shard_file_name,
    write_csv, write_json_atomic,
)
from .sharding import select_shard, shard_from_env, validate_shard

EXIT_OK, EXIT_UNEXPECTED, EXIT_BAD_INPUT, EXIT_MODEL, EXIT_ALL_FAILED, EXIT_OOM = 0, 1, 2, 3, 4, 5
EXIT_TERMINATED = 128 + signal.SIGTERM
log = logging.getLogger("ghost_probing")


class Terminated(BaseException):
    """SIGTERM arrived. A BaseException, so that no per-video `except Exception` records it as a video's failure."""


class JobError(Exception):
    """A failure that ends the run with a one-line message and an exit status."""

    def __init__(self, message: str, status: int) -> None:
        super().__init__(message)
        self.status = status


@dataclass
class JobArgs:
    """The job's arguments (the first five are compatible with the users' original script); see build_parser."""

    video_folder: str
    output_folder: str = "./outputs"
    start_index: int = 0
    limit: int | None = None
    save_interval: int = 10
    model: str | None = None
    model_family: str = "llava-next-video"
    num_frames: int = 16
    batch_size: int = 1
    max_new_tokens: int = 160
    labels: str | None = None
    dtype: str = "auto"
    device: str | None = None
    prompt: str | None = None
    decoder: str = "auto"
    shard_index: int | None = None
    num_shards: int | None = None

    def validate(self) -> None:
        """Raise ValueError naming the first bad argument."""
        checks = [
            (self.start_index >= 0, "--start-index must be >= 0"),
            (self.limit is None or self.limit >= 1, "--limit must be >= 1"),
            (self.save_interval >= 1, "--save-interval must be >= 1"),
            (self.num_frames >= 1, "--num-frames must be >= 1"),
            (self.batch_size >= 1, "--batch-size must be >= 1"),
            (self.max_new_tokens >= 1, "--max-new-tokens must be >= 1"),
            ((self.shard_index is None) == (self.num_shards is None), "give --shard-index and --num-shards together"),
        ]
        for ok, message in checks:
            if not ok:
                raise ValueError(message)
        if self.num_shards is not None:
            validate_shard(self.shard_index, self.num_shards)


def build_parser() -> argparse.ArgumentParser:
    """The job's command line, every option with its explicit type (defaults are JobArgs')."""
    d = JobArgs(video_folder="")
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    add = parser.add_argument
    add("--video-folder", type=str, required=True, help="folder with the videos (*.avi, *.mp4, ...)")
    add("--output-folder", type=str, default=d.output_folder, help="where predictions and summary go")
    add("--start-index", type=int, default=d.start_index, help="skip this many videos of the sorted list")
    add("--limit", type=int, default=d.limit, help="process at most this many videos")
    add("--save-interval", type=int, default=d.save_interval,
        help="refresh summary.json/CSV every N videos (predictions are written per video)")
    add("--model", type=str, default=d.model, help="hub id or local folder (default: the family's model)")
    add("--model-family", type=str, default=d.model_family, choices=tuple(FAMILIES), help="model family")
    add("--num-frames", type=int, default=d.num_frames, help="frames sampled uniformly per video")
    add("--batch-size", type=int, default=d.batch_size, help="videos per generate() call")
    add("--max-new-tokens", type=int, default=d.max_new_tokens, help="most tokens written per answer")
    add("--labels", type=str, default=d.labels, help="ground-truth labels file (TSV or CSV) for metrics")
    add("--dtype", type=str, default=d.dtype, choices=("auto", "bf16", "fp16", "fp32"),
        help="auto = bf16 on GPU, fp32 on CPU")
    add("--device", type=str, default=d.device, help="cuda, cuda:N or cpu (default: cuda when available)")
    add("--prompt", type=str, default=d.prompt, help="prompt template file (default: prompts/ghost_probing.txt)")
    add("--decoder", type=str, default=d.decoder, choices=("auto", "decord", "pyav"), help="frame decoder")
    add("--shard-index", type=int, default=d.shard_index, help="this node's shard (default: from RANK etc.)")
    add("--num-shards", type=int, default=d.num_shards, help="number of shards (default: from WORLD_SIZE etc.)")
    return parser


def parse_args(argv: Sequence[str] | None = None) -> JobArgs:
    """Parse and validate command-line arguments into JobArgs (argparse exits with status 2 on bad ones)."""
    parser = build_parser()
    args = JobArgs(**vars(parser.parse_args(argv)))
    try:
        args.validate()
    except ValueError as error:
        parser.error(str(error))
    return args


def main(argv: Sequence[str] | None = None) -> int:
    """Run the job; returns the exit status (see the module docstring)."""
    _configure_logging()
    args = parse_args(argv)
    previous = signal.signal(signal.SIGTERM, _terminated)
    try:
        return run(args)
    except JobError as error:
        print(f"ERROR: {error}", flush=True)
        return error.status
    except Terminated:
        message = ("terminated by SIGTERM (node preempted or job cancelled); predictions written so far are kept and "
                   "a rerun with the same --output-folder resumes")
        print(f"ERROR: {message}", flush=True)
        return EXIT_TERMINATED
    except Exception as error:  # noqa: BLE001 - the last line must say what happened, whatever it was
        log.exception("unexpected failure")
        print(f"ERROR: unexpected {type(error).__name__}: {_one_line(error)}", flush=True)
        return EXIT_UNEXPECTED
    finally:
        signal.signal(signal.SIGTERM, previous)


def _terminated(signum, frame) -> None:
    # Azure ML sends SIGTERM before taking a low-priority node back; every finished video is already on disk.
    raise Terminated()


@dataclass
class _RunState:
    """What one run works on, passed between its steps."""

    args: JobArgs
    videos: list[Path]
    predictions: PredictionLog
    label_match: LabelMatch | None
    label_facts: dict[str, Any] | None
    facts: dict[str, Any]
    shard_index: int
    num_shards: int

    @property
    def output(self) -> Path:
        return Path(self.args.output_folder)


def run(args: JobArgs) -> int:
    """The job body: select videos, resume, load the model, predict, summarise.

    Raises:
        JobError: bad input, model not loaded properly, every video failed, CUDA out of memory.
    """
    started = _now()
    log.info("ghost-probing job: videos %s -> %s; model %s (%s), %d frames, batch %d", args.video_folder,
             args.output_folder, args.model or "family default", args.model_family, args.num_frames, args.batch_size)
    shard_index, num_shards = _shard(args)
    found, videos = _select_videos(args, shard_index, num_shards)
    label_match, label_facts = _labels(args, found)
    predictions = PredictionLog(Path(args.output_folder) / shard_file_name(PREDICTIONS_FILE, shard_index, num_shards))
    _refuse_foreign_predictions(args, predictions)
    todo = [video for video in videos if video.name not in predictions.done()]
    log.info("%d videos in shard %d/%d; %d already done in %s; %d to do", len(videos), shard_index, num_shards,
             len(videos) - len(todo), predictions.path, len(todo))
    facts: dict[str, Any] = {
        "model": args.model, "model_family": args.model_family, "num_frames": args.num_frames,
        "batch_size": args.batch_size, "max_new_tokens": args.max_new_tokens, "shard_index": shard_index,
        "num_shards": num_shards, "videos_total": len(videos), "video_folder": str(args.video_folder),
        "started_at": started, "ended_at": None, "load_warnings": [], "load_info": None,
        "newly_initialized": None, "device": None, "dtype": None, "prompt_sha256": _resume_key(args)[3],
    }
    state = _RunState(args, videos, predictions, label_match, label_facts, facts, shard_index, num_shards)
    if todo:
        _predict(state, todo)
    facts["ended_at"] = _now()
    summary = _write_summary(state, charts=True)
    return _final_status(summary, state)


def _resume_key(args: JobArgs) -> tuple:
    try:
        prompt_hash = prompt_sha256(args.prompt)
    except OSError as error:
        raise JobError(f"prompt template not readable: {error}", EXIT_BAD_INPUT) from None
    return (args.model or FAMILIES[args.model_family].default_model, args.model_family, args.num_frames, prompt_hash)


def _refuse_foreign_predictions(args: JobArgs, predictions: PredictionLog) -> None:
    """Stop before mixing: predictions made with another model, family, frame count or prompt are not resumed."""
    key = _resume_key(args)
    foreign = predictions.foreign(key)
    if not foreign:
        return
    theirs = dict(zip(RESUME_FIELDS, resume_key(foreign[0])))
    ours = dict(zip(RESUME_FIELDS, key))
    differs = ", ".join(f"{name} {theirs[name]!r} (this run: {ours[name]!r})" for name in RESUME_FIELDS
                        if theirs[name] != ours[name])
    raise JobError(
        f"{predictions.path} holds {len(foreign)} predictions made another way: {differs}. Refusing to mix them: "
        "use a fresh --output-folder, or move the old predictions aside to redo them", EXIT_BAD_INPUT)


def _shard(args: JobArgs) -> tuple[int, int]:
    if args.num_shards is not None:
        return args.shard_index, args.num_shards
    try:
        return shard_from_env()
    except ValueError as error:
        raise JobError(f"bad rank variables: {error}", EXIT_BAD_INPUT) from None


def _select_videos(args: JobArgs, shard_index: int, num_shards: int) -> tuple[list[Path], list[Path]]:
    """(every video in the folder, this shard's share of --start-index/--limit)."""
    try:
        found = frames_module.find_videos(args.video_folder)
    except FileNotFoundError as error:
        raise JobError(str(error), EXIT_BAD_INPUT) from None
    if not found:
        patterns = ", ".join(f"*{ext}" for ext in frames_module.VIDEO_EXTENSIONS)
        raise JobError(f"no videos found in {args.video_folder} (looked for {patterns})", EXIT_BAD_INPUT)
    end = None if args.limit is None else args.start_index + args.limit
    chosen = found[args.start_index:end]
    if not chosen:
        raise JobError(f"--start-index {args.start_index} is past the {len(found)} videos in {args.video_folder}",
                       EXIT_BAD_INPUT)
    return found, select_shard(chosen, shard_index, num_shards)


def _labels(args: JobArgs, videos: list[Path]) -> tuple[LabelMatch | None, dict[str, Any] | None]:
    """Read and match labels against every video in the folder (not just this shard's, so that "labels without
    video" means what it says)."""
    if not args.labels:
        return None, None
    try:
        table = read_labels(args.labels)
    except (FileNotFoundError, ValueError) as error:
        raise JobError(str(error), EXIT_BAD_INPUT) from None
    match = match_labels(table, [video.name for video in videos])
    for problem in table.problems:
        log.warning("labels %s line %d unusable (%s): %r", args.labels, problem.line, problem.reason, problem.text)
    for duplicate in table.duplicates:
        log.warning("labels %s line %d: %s", args.labels, duplicate.line, duplicate.reason)
    if match.unlabelled:
        log.warning("%d videos have no label: %s", len(match.unlabelled), ", ".join(match.unlabelled[:10]))
    log.info("labels: %d usable rows, %d of the folder's %d videos matched", len(table.labels), len(match.matched),
             len(videos))
    facts = {
        "path": str(args.labels),
        "rows_usable": len(table.labels),
        "matched": len(match.matched),
        "problems": [dataclasses.asdict(problem) for problem in table.problems],
        "duplicates": [dataclasses.asdict(problem) for problem in table.duplicates],
        "unlabelled_videos": match.unlabelled,
        "labels_without_video": match.labels_without_video,
    }
    return match, facts


def _predict(state: _RunState, todo: list[Path]) -> None:
    """Load the model (failing loudly before any video), then predict `todo` batch by batch."""
    from .models import ModelLoadError, build_inputs, generate, load_model
    from .prompts import load_prompt
    from .verdicts import load_rules

    args, facts = state.args, state.facts
    family = FAMILIES[args.model_family]
    model_id = args.model or family.default_model
    facts["model"] = model_id
    try:
        prompt = load_prompt(args.prompt)
        rules = load_rules()
    except (FileNotFoundError, ValueError) as error:
        raise JobError(str(error), EXIT_BAD_INPUT) from None
    log.info("loading %s as %s", model_id, family.name)
    began = time.perf_counter()
    try:
        loaded = load_model(model_id, family, args.device, None if args.dtype == "auto" else args.dtype)
    except ModelLoadError as error:
        raise JobError(f"model did not load properly: {error}", EXIT_MODEL) from None
    facts.update(
        load_warnings=loaded.load_warnings, load_info=loaded.load_info, newly_initialized=loaded.load_info["missing_keys"],
        device=loaded.device, dtype=str(loaded.dtype).replace("torch.", ""), model_type=loaded.model_type,
        load_seconds=round(time.perf_counter() - began, 3),
    )
    log.info("model loaded in %.1fs on %s (%s), all weights from the checkpoint",
             facts["load_seconds"], loaded.device, facts["dtype"])
    position = len(state.videos) - len(todo)
    since_save = 0
    for start in range(0, len(todo), args.batch_size):
        batch = todo[start:start + args.batch_size]
        for record in _predict_batch(state, batch, loaded, prompt, rules, build_inputs, generate):
            record["tries"] = state.predictions.tries(record["video"]) + 1
            state.predictions.append(record)
            position += 1
            since_save += 1
            outcome = f"verdict={record['verdict']}" if not record["error"] else f"FAILED: {record['error']}"
            log.info("[%d/%d] %s %.1fs %s", position, len(state.videos), record["video"], record["seconds"], outcome)
        if since_save >= args.save_interval:
            since_save = 0
            facts["ended_at"] = _now()
            _write_summary(state)


def _predict_batch(state: _RunState, batch: list[Path], loaded, prompt, rules, build_inputs, generate):
    """Decode, prompt and generate one batch; yields one record per video (failed decodes included)."""
    import torch

    from .verdicts import parse_verdict

    args = state.args
    clips, records = [], {}
    for video in batch:
        began = time.perf_counter()
        record = _base_record(state, video, loaded.model_id)
        try:
            clip = frames_module.read_clip(video, args.num_frames, args.decoder)
        except frames_module.VideoReadError as error:
            record.update(error=str(error), seconds=round(time.perf_counter() - began, 3))
            record["timings"]["decode"] = record["seconds"]
            yield _finish(record)
            continue
        record["timings"]["decode"] = time.perf_counter() - began
        record.update(frames=len(clip.indices), frame_times=[round(t, 3) for t in clip.timestamps],
                      duration=round(clip.duration, 3), decoder=clip.backend)
        clips.append((video, clip))
        records[video.name] = record
    if not clips:
        return
    began = time.perf_counter()
    try:
        inputs = build_inputs(loaded, [clip for _, clip in clips], [prompt.render(c.timestamps, c.duration) for _, c in clips])
        prepared = time.perf_counter()
        answers = generate(loaded, inputs, args.max_new_tokens)
    except torch.cuda.OutOfMemoryError:
        raise JobError(
            f"CUDA out of memory with --batch-size {args.batch_size} and --num-frames {args.num_frames}; rerun with a "
            "smaller --batch-size (videos already done are kept)", EXIT_OOM) from None
    except Exception as error:  # noqa: BLE001 - a batch that cannot be processed is recorded; the run goes on
        share = (time.perf_counter() - began) / len(clips)
        for video, _ in clips:
            record = records[video.name]
            record.update(error=f"inference failed: {type(error).__name__}: {_one_line(error)}")
            record["seconds"] = round(record["timings"]["decode"] + share, 3)
            yield _finish(record)
        return
    finished = time.perf_counter()
    preprocess_share, generate_share = (prepared - began) / len(clips), (finished - prepared) / len(clips)
    for (video, _), answer in zip(clips, answers):
        record = records[video.name]
        verdict = parse_verdict(answer, rules)
        record.update(verdict=verdict.verdict, positive=verdict.positive, start_second=verdict.start_second,
                      actor=verdict.actor, reason=verdict.reason, parsed_by=verdict.parsed_by, raw_text=answer)
        record["timings"].update(preprocess=preprocess_share, generate=generate_share)
        record["seconds"] = round(record["timings"]["decode"] + preprocess_share + generate_share, 3)
        yield _finish(record)


def _base_record(state: _RunState, video: Path, model_id: str) -> dict:
    label: Label | None = state.label_match.matched.get(video.name) if state.label_match else None
    return {
        "video": video.name, "verdict": None, "positive": None, "start_second": None, "actor": None, "reason": None,
        "parsed_by": "none", "raw_text": None, "error": None, "seconds": 0.0,
        "timings": {"decode": 0.0, "preprocess": 0.0, "generate": 0.0}, "frames": 0, "frame_times": [],
        "duration": None, "decoder": None,
        "label": label.raw if label else None, "label_positive": label.positive if label else None,
        "label_start_second": label.start_second if label else None,
        "model": model_id, "model_family": state.args.model_family, "num_frames": state.args.num_frames,
        "prompt_sha256": state.facts["prompt_sha256"], "tries": 1, "shard": f"{state.shard_index}/{state.num_shards}",
        "finished_at": None,
    }


def _finish(record: dict) -> dict:
    record["timings"] = {stage: round(value, 4) for stage, value in record["timings"].items()}
    record["finished_at"] = _now()
    return record


def _write_summary(state: _RunState, charts: bool = False) -> dict:
    """summary.json and the CSV of this shard; the charts too at the end of a single-shard run."""
    from .summary import build_summary

    records = list(state.predictions.records.values())
    summary = build_summary(records, run=state.facts, labels=state.label_facts)
    write_json_atomic(state.output / shard_file_name(SUMMARY_FILE, state.shard_index, state.num_shards), summary)
    write_csv(records, state.output / shard_file_name(CSV_FILE, state.shard_index, state.num_shards))
    # Shards draw no charts: `inference.merge` draws them once over every shard's predictions.
    if charts and summary["metrics"] and state.num_shards == 1:
        from .charts import write_charts

        for path in write_charts(records, summary["metrics"], state.output):
            log.info("chart written: %s", path)
    return summary


def _final_status(summary: dict, state: _RunState) -> int:
    records = state.predictions.records
    mine = [records[video.name] for video in state.videos if video.name in records]
    failed = [record for record in mine if record.get("error")]
    metrics = summary.get("metrics")
    if metrics and metrics["n"]:
        log.info("metrics on %d labelled videos: F1 %s (always-yes baseline %s), MCC %s", metrics["n"],
                 _fmt(metrics["f1"]), _fmt(metrics["baseline_always_positive"]["f1"]), _fmt(metrics["mcc"]))
    if mine and len(failed) == len(mine):
        raise JobError(f"every video failed ({len(failed)} of {len(state.videos)}); first error: {failed[0]['error']}",
                       EXIT_ALL_FAILED)
    log.info("done: %d videos predicted, %d failed; summary in %s", len(mine) - len(failed), len(failed), state.output)
    return EXIT_OK


def _configure_logging() -> None:
    handler = logging.StreamHandler(sys.stdout)
    handler.setFormatter(logging.Formatter("%(asctime)s %(levelname)s %(message)s", "%Y-%m-%d %H:%M:%S"))
    log.handlers[:] = [handler]
    log.setLevel(logging.INFO)
    log.propagate = False


def _fmt(value: float | None) -> str:
    return "n/a" if value is None else f"{value:.3f}"


def _one_line(error: BaseException) -> str:
    lines = [line for line in str(error).splitlines() if line.strip()]
    return lines[0][:400] if lines else type(error).__name__


def _now() -> str:
    return datetime.now(timezone.utc).isoformat(timespec="seconds")


if __name__ == "__main__":
    sys.exit(main())
