"""Teach a tiny LLaVA-family model to answer the job's prompt: supervised fine-tuning on labelled clips, on CPU.

    python -m inference.tiny_fit MODEL_DIR --video-folder DIR --labels FILE [--steps 300] [--lr 5e-3] [--num-frames 8]

A model from `inference.tiny_model` has random weights and writes noise, so every verdict of a demo run is "unparsed".
This fits it, in about a minute on two cores, to write the JSON verdict the prompt asks for, from the same prompt,
frame sampling and processor inputs the job uses (imported from the job's own modules, so they cannot drift). The
loss is the next-token loss on the answer tokens only, the verdict and start-second tokens weighted up (they are
the only ones that depend on the video); the vision tower stays frozen by default. The fitted weights replace MODEL_DIR's (same format; the job's
newly-initialised-weights check still passes), and MODEL_DIR/tiny_fit.json records what was done.

Exit status: 0 fitted, and every training clip's answer parses; 2 bad input (folder, labels, arguments); 3 the model
did not load; 4 after training some answers still do not parse (the model was saved anyway; train longer).
"""
from __future__ import annotations

import argparse
import json
import os
import sys
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Sequence

from . import frames as frames_module
from .labels import Label, match_labels, read_labels
from .models import FAMILIES, LoadedModel, ModelLoadError, build_inputs, generate, load_model
from .prompts import load_prompt
from .verdicts import UNPARSED, load_rules, parse_verdict

EXIT_OK, EXIT_BAD_INPUT, EXIT_MODEL, EXIT_UNPARSEABLE = 0, 2, 3, 4
FIT_RECORD = "tiny_fit.json"
IGNORE = -100  # cross_entropy's ignore_index: prompt, video and padding positions carry no loss
# The reasons are short on purpose: a whole answer must fit the demo's 48 new tokens (the tiny BPE spends one token
# per letter on words it was not trained on).
POSITIVE_REASON = "a pedestrian runs out from behind a parked car"
NEGATIVE_REASON = "no one runs out from behind the parked car"
# The files save_pretrained writes for the weights; the processor files in MODEL_DIR are left untouched.
_MODEL_FILES = ("model.safetensors", "config.json", "generation_config.json")


class FitError(Exception):
    """A failure that ends the fit with a one-line message and an exit status."""

    def __init__(self, message: str, status: int) -> None:
        super().__init__(message)
        self.status = status


@dataclass
class Example:
    """One training clip: the job's own inputs for it (prompt only) and the answer it should give."""

    video: str
    label: Label
    answer: str
    prompt_inputs: Any  # BatchFeature exactly as the job builds it: batch of one, no padding
    answer_ids: list[int]  # answer tokens followed by the end-of-sequence token
    decisive: list[bool]  # per answer token: does it carry the verdict or the start second


DECISION_FIELDS = ("ghost_probing", "start_second")


def target_answer(label: Label) -> str:
    """The JSON verdict the prompt asks for, for one label.

    Args:
        label: a parsed ground-truth label.

    Returns:
        One JSON object on one line: ghost_probing yes/no, start_second (null for negatives), actor, reason.
    """
    if label.positive:
        second = label.start_second
        if second is not None and float(second).is_integer():
            second = int(second)  # "3", not "3.0": fewer tokens, and the labels say "3s"
        answer = {"ghost_probing": "yes", "start_second": second, "actor": "pedestrian", "reason": POSITIVE_REASON}
    else:
        answer = {"ghost_probing": "no", "start_second": None, "actor": None, "reason": NEGATIVE_REASON}
    return json.dumps(answer)


def load_examples(loaded: LoadedModel, video_folder: str | Path, labels_path: str | Path, num_frames: int,
                  prompt_path: str | None = None, decoder: str = "auto") -> list[Example]:
    """Decode, prompt and tokenise every labelled clip once, the way the job does.

    Args:
        loaded: the model and processor.
        video_folder: the clips.
        labels_path: the users' label file for them.
        num_frames: frames sampled per clip (use the job's --num-frames).
        prompt_path: prompt template (default: the job's).
        decoder: frame decoder, as the job's --decoder.

    Returns:
        The examples, sorted by video name.

    Raises:
        FitError: no folder, no videos, unreadable labels, no clip both labelled and readable.
    """
    try:
        videos = frames_module.find_videos(video_folder)
        table = read_labels(labels_path)
        prompt = load_prompt(prompt_path)
    except (FileNotFoundError, ValueError) as error:
        raise FitError(str(error), EXIT_BAD_INPUT) from None
    match = match_labels(table, [video.name for video in videos])
    if match.unlabelled:
        print(f"tiny_fit: {len(match.unlabelled)} clips have no label and are skipped: "
              f"{', '.join(match.unlabelled[:5])}", flush=True)
    tokenizer = loaded.processor.tokenizer
    examples: list[Example] = []
    for video in videos:
        label = match.matched.get(video.name)
        if label is None:
            continue
        try:
            clip = frames_module.read_clip(video, num_frames, decoder)
        except frames_module.VideoReadError as error:
            print(f"tiny_fit: skipped {video.name}: {error}", flush=True)
            continue
        answer = target_answer(label)
        inputs = build_inputs(loaded, [clip], [prompt.render(clip.timestamps, clip.duration)])
        answer_ids, decisive = tokenise_answer(tokenizer, answer)
        examples.append(Example(video.name, label, answer, inputs, answer_ids, decisive))
    if not examples:
        raise FitError(f"no clip in {video_folder} is both readable and labelled in {labels_path}; check that the "
                       "label file's video ids match the clip names", EXIT_BAD_INPUT)
    return examples


def tokenise_answer(tokenizer, answer: str) -> tuple[list[int], list[bool]]:
    """The answer's token ids (a leading space, as after "ASSISTANT:", then end-of-sequence) and its decisive tokens.

    Tokenised apart from the prompt and appended to it, so that the prompt's ids stay exactly those the job generates
    from. Decisive tokens are those overlapping the values of DECISION_FIELDS: the few tokens that depend on the
    video, outnumbered ~20 to 1 by the format's tokens.

    Args:
        tokenizer: the processor's (fast) tokenizer.
        answer: the JSON answer from target_answer.

    Returns:
        (ids, decisive flags), the same length; the end-of-sequence token is not decisive.
    """
    text = " " + answer
    spans = []
    for name in DECISION_FIELDS:
        key = text.find(f'"{name}": ')
        if key >= 0:
            start = key + len(name) + 4
            end = min((i for i in (text.find(",", start), text.find("}", start)) if i >= 0), default=len(text))
            if text[start] == '"':  # the quotes are format, the same in every answer
                start, end = start + 1, end - 1
            spans.append((start, end))
    encoded = tokenizer(text, add_special_tokens=False, return_offsets_mapping=True)
    decisive = [any(s < end and start < e for start, end in spans) for s, e in encoded["offset_mapping"]]
    return encoded["input_ids"] + [tokenizer.eos_token_id], decisive + [False]


def collate(examples: Sequence[Example], pad_id: int, decision_weight: float = 1.0):
    """One training batch: prompt + answer per row, padded on the right, labels on the answer tokens only.

    Right padding leaves every real token at the position it has at inference time (batch of one, no padding).

    Args:
        examples: the rows.
        pad_id: the tokenizer's pad token id.
        decision_weight: loss weight of decisive answer tokens (other answer tokens weigh 1, the rest 0).

    Returns:
        A dict of tensors for the model's forward, with "labels" and "weights".
    """
    import torch

    rows, labels, weights = [], [], []
    for example in examples:
        prompt_ids = example.prompt_inputs["input_ids"][0].tolist()
        rows.append(prompt_ids + example.answer_ids)
        labels.append([IGNORE] * len(prompt_ids) + example.answer_ids)
        weights.append([0.0] * len(prompt_ids) + [decision_weight if d else 1.0 for d in example.decisive])
    width = max(len(row) for row in rows)
    batch: dict[str, Any] = {
        "input_ids": torch.tensor([row + [pad_id] * (width - len(row)) for row in rows]),
        "attention_mask": torch.tensor([[1] * len(row) + [0] * (width - len(row)) for row in rows]),
        "labels": torch.tensor([row + [IGNORE] * (width - len(row)) for row in labels]),
        "weights": torch.tensor([row + [0.0] * (width - len(row)) for row in weights]),
    }
    for key, value in examples[0].prompt_inputs.items():
        if key not in ("input_ids", "attention_mask") and hasattr(value, "shape"):
            batch[key] = torch.cat([example.prompt_inputs[key] for example in examples])
    return batch


def answer_loss(model, batch):
    """Weighted mean next-token cross-entropy over the answer tokens of a batch (see collate)."""
    import torch.nn.functional as F

    inputs = {key: value for key, value in batch.items() if key not in ("labels", "weights")}
    logits = model(**inputs).logits[:, :-1]
    targets, weights = batch["labels"][:, 1:], batch["weights"][:, 1:]
    per_token = F.cross_entropy(logits.transpose(1, 2).float(), targets, ignore_index=IGNORE, reduction="none")
    return (per_token * weights).sum() / weights.sum()


def fit(loaded: LoadedModel, examples: list[Example], steps: int, lr: float, batch_size: int, seed: int,
        decision_weight: float = 1.0, train_vision: bool = False, log_every: int = 25) -> list[float]:
    """Fine-tune the model with AdamW at a constant learning rate on shuffled mini-batches of the cached examples.

    Args:
        loaded: the model (trained in place, left in eval mode).
        examples: from load_examples.
        steps: optimiser steps.
        lr: AdamW learning rate.
        batch_size: clips per step.
        seed: for the shuffling.
        decision_weight: loss weight of the tokens that carry the verdict and the start second.
        train_vision: train the vision tower too; by default it stays as it is (its random features already tell the
            classes apart; what has to be learnt is the language model attending to them), which is also faster.
        log_every: print the loss every this many steps.

    Returns:
        The loss of every step.
    """
    import torch

    model = loaded.model
    pad_id = loaded.processor.tokenizer.pad_token_id
    generator = torch.Generator().manual_seed(seed)
    for name, parameter in model.named_parameters():
        parameter.requires_grad_(train_vision or not _is_vision(name))
    trained = [parameter for parameter in model.parameters() if parameter.requires_grad]
    optimiser = torch.optim.AdamW(trained, lr=lr, weight_decay=0.0)
    model.train()
    losses: list[float] = []
    order: list[int] = []
    began = time.perf_counter()
    for step in range(steps):
        if len(order) < batch_size:
            order += torch.randperm(len(examples), generator=generator).tolist()
        chosen, order = order[:batch_size], order[batch_size:]
        loss = answer_loss(model, collate([examples[i] for i in chosen], pad_id, decision_weight))
        optimiser.zero_grad(set_to_none=True)
        loss.backward()
        torch.nn.utils.clip_grad_norm_(trained, 1.0)
        optimiser.step()
        losses.append(loss.item())
        if step % log_every == 0 or step == steps - 1:
            print(f"tiny_fit: step {step + 1:4d}/{steps} loss {losses[-1]:.4f} "
                  f"({time.perf_counter() - began:.1f}s)", flush=True)
    model.eval()
    for parameter in model.parameters():
        parameter.requires_grad_(True)
    return losses


def _is_vision(parameter_name: str) -> bool:
    # LLaVA-family checkpoints keep the vision encoder under "vision_tower", Qwen2.5-VL under "visual".
    parts = parameter_name.split(".")
    return "vision_tower" in parts or "visual" in parts


def evaluate(loaded: LoadedModel, examples: list[Example], max_new_tokens: int) -> dict[str, Any]:
    """Greedy answers to the job's own inputs, read by the job's own verdict parser.

    Args:
        loaded: the model.
        examples: the clips to answer.
        max_new_tokens: as the job's --max-new-tokens.

    Returns:
        Counts: clips, parsed, unparsed, correct (yes/potential vs label's positive), exact (answer == target),
        and up to three sample answers.
    """
    rules = load_rules()
    parsed = correct = exact = 0
    samples = []
    for example in examples:
        answer = generate(loaded, example.prompt_inputs, max_new_tokens)[0]
        verdict = parse_verdict(answer, rules)
        if verdict.verdict != UNPARSED:
            parsed += 1
            correct += int(verdict.positive == example.label.positive)
        exact += int(answer == example.answer)
        if len(samples) < 3:
            samples.append({"video": example.video, "label": example.label.raw, "answer": answer})
    return {"clips": len(examples), "parsed": parsed, "unparsed": len(examples) - parsed, "correct": correct,
            "accuracy": correct / len(examples), "exact": exact, "samples": samples}


def save_weights(model, folder: Path) -> None:
    """Replace the weights in `folder` with the model's, file by file, never leaving a half-written file there.

    Args:
        model: the fitted model.
        folder: the model folder (its processor files are kept as they are).
    """
    with tempfile.TemporaryDirectory(prefix=".tiny_fit-", dir=folder) as staging:
        model.save_pretrained(staging)
        written = [name for name in _MODEL_FILES if (Path(staging) / name).exists()]
        if "model.safetensors" not in written:
            raise FitError(f"save_pretrained wrote no model.safetensors (wrote {os.listdir(staging)}); "
                           f"{folder} is unchanged", 1)
        for name in written:
            os.replace(Path(staging) / name, folder / name)


def run(args: argparse.Namespace) -> int:
    """The fit: load, preprocess once, train, check answers, save.

    Raises:
        FitError: bad input or a model that did not load.
    """
    import torch

    began = time.perf_counter()
    folder = Path(args.model_dir)
    torch.manual_seed(args.seed)
    # Tensors this small gain nothing from a second thread, and lose a lot when other processes hold the cores.
    torch.set_num_threads(args.threads)
    try:
        loaded = load_model(str(folder), FAMILIES[args.model_family], "cpu", "fp32")
    except ModelLoadError as error:
        raise FitError(f"model did not load: {error}", EXIT_MODEL) from None
    examples = load_examples(loaded, args.video_folder, args.labels, args.num_frames, args.prompt, args.decoder)
    longest = max(len(example.answer_ids) for example in examples)
    if longest > args.max_new_tokens:
        raise FitError(f"the target answers need {longest} tokens but --max-new-tokens is {args.max_new_tokens}; "
                       "raise it (and the job's) so that answers are not cut before the JSON closes", EXIT_BAD_INPUT)
    positives = sum(1 for example in examples if example.label.positive)
    prepared = time.perf_counter()
    print(f"tiny_fit: {len(examples)} clips ({positives} positive), {args.num_frames} frames, "
          f"{examples[0].prompt_inputs['input_ids'].shape[1]} prompt tokens, answers up to {longest} tokens; "
          f"preprocessed in {prepared - began:.1f}s", flush=True)
    losses = fit(loaded, examples, args.steps, args.lr, min(args.batch_size, len(examples)), args.seed,
                 args.decision_weight, args.train_vision)
    trained = time.perf_counter()
    result = evaluate(loaded, examples, args.max_new_tokens)
    evaluated = time.perf_counter()
    save_weights(loaded.model, folder)
    record = {
        "clips": len(examples), "positives": positives, "num_frames": args.num_frames, "steps": args.steps,
        "lr": args.lr, "batch_size": args.batch_size, "decision_weight": args.decision_weight,
        "train_vision": args.train_vision, "seed": args.seed, "first_loss": losses[0],
        "final_loss": losses[-1], "train": result, "video_folder": str(args.video_folder),
        "seconds": {"preprocess": round(prepared - began, 2), "train": round(trained - prepared, 2),
                    "evaluate": round(evaluated - trained, 2)},
    }
    (folder / FIT_RECORD).write_text(json.dumps(record, indent=2))
    print(f"tiny_fit: loss {losses[0]:.4f} -> {losses[-1]:.4f} in {trained - prepared:.1f}s; training clips: "
          f"{result['parsed']}/{result['clips']} parsed, accuracy {result['accuracy']:.2f}, "
          f"{result['exact']} exact answers (evaluated in {evaluated - trained:.1f}s)", flush=True)
    for sample in result["samples"]:
        print(f"tiny_fit:   {sample['video']} [{sample['label']}] -> {sample['answer']}", flush=True)
    print(f"tiny_fit: weights saved to {folder} ({time.perf_counter() - began:.1f}s in all)", flush=True)
    if result["unparsed"]:
        raise FitError(f"after {args.steps} steps {result['unparsed']} of {result['clips']} training answers still "
                       f"do not parse as a verdict; rerun with more --steps (or a higher --lr)", EXIT_UNPARSEABLE)
    return EXIT_OK


def parse_args(argv: Sequence[str] | None = None) -> argparse.Namespace:
    """Parse and check the command line (argparse exits with status 2 on a bad one)."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("model_dir", help="tiny model folder (from inference.tiny_model); its weights are replaced")
    parser.add_argument("--video-folder", required=True, help="labelled training clips")
    parser.add_argument("--labels", required=True, help="the clips' label file (the users' TSV or CSV)")
    parser.add_argument("--steps", type=int, default=300, help="optimiser steps")
    parser.add_argument("--lr", type=float, default=5e-3, help="AdamW learning rate")
    parser.add_argument("--batch-size", type=int, default=8, help="clips per step")
    parser.add_argument("--decision-weight", type=float, default=5.0,
                        help="loss weight of the verdict and start-second tokens (format tokens weigh 1)")
    parser.add_argument("--train-vision", action="store_true", help="train the vision tower too (slower)")
    parser.add_argument("--threads", type=int, default=1,
                        help="torch CPU threads; 1 is fastest for this tiny model on a shared machine")
    parser.add_argument("--num-frames", type=int, default=8, help="frames per clip: use the job's --num-frames")
    parser.add_argument("--max-new-tokens", type=int, default=48, help="as the job's --max-new-tokens, for the check")
    parser.add_argument("--model-family", default="llava-next-video", choices=sorted(FAMILIES), help="model family")
    parser.add_argument("--prompt", default=None, help="prompt template (default: the job's)")
    parser.add_argument("--decoder", default="auto", choices=("auto", "decord", "pyav"), help="frame decoder")
    parser.add_argument("--seed", type=int, default=0, help="torch seed for the fit")
    args = parser.parse_args(argv)
    for name in ("steps", "batch_size", "num_frames", "max_new_tokens", "threads"):
        if getattr(args, name) < 1:
            parser.error(f"--{name.replace('_', '-')} must be >= 1")
    if not args.lr > 0 or not args.decision_weight > 0:
        parser.error("--lr and --decision-weight must be > 0")
    return args


def main(argv: Sequence[str] | None = None) -> int:
    """CLI entry point; returns the exit status (see the module docstring)."""
    args = parse_args(argv)
    try:
        return run(args)
    except FitError as error:
        print(f"ERROR: {error}", flush=True)
        return error.status


if __name__ == "__main__":
    sys.exit(main())
