"""Model families: one builder per family, looked up by name; loading that fails loudly on a wrong checkpoint.

The users' job loaded a checkpoint in the original LLaVA repository's format into a transformers class: every
language-model weight was "newly initialised" and the job went on to write noise. Here the checkpoint's declared
model type is checked against the family before any weight is read, and the load report (missing / mismatched keys)
is checked before any video is touched.
"""
from __future__ import annotations

import json
import logging
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Sequence

from .frames import Clip


class ModelLoadError(RuntimeError):
    """The model cannot be used: not found, wrong family, or weights not loaded from the checkpoint."""


@dataclass(frozen=True)
class ModelFamily:
    """How one family is loaded and fed.

    Attributes:
        name: the --model-family value.
        model_types: config.json `model_type` values a checkpoint of this family declares.
        default_model: the hub id used when --model is not given.
        sends_video_metadata: pass each clip's fps and frame indices to the processor (Qwen2.5-VL uses them for
            its time-aligned position ids).
    """

    name: str
    model_types: tuple[str, ...]
    default_model: str
    sends_video_metadata: bool = False


FAMILIES: dict[str, ModelFamily] = {
    family.name: family
    for family in (
        ModelFamily("llava-next-video", ("llava_next_video",), "llava-hf/LLaVA-NeXT-Video-7B-hf"),
        ModelFamily("llava-onevision", ("llava_onevision",), "llava-hf/llava-onevision-qwen2-7b-ov-hf"),
        # The transformers port of lmms-lab/LLaVA-Video-7B-Qwen2 (the model the users wanted) is a llava_onevision.
        ModelFamily("llava-video-qwen2", ("llava_onevision",), "llava-hf/LLaVA-Video-7B-Qwen2-hf"),
        ModelFamily("qwen2.5-vl", ("qwen2_5_vl",), "Qwen/Qwen2.5-VL-7B-Instruct", sends_video_metadata=True),
    )
}

# Checkpoints in the original LLaVA / LLaVA-NeXT repositories' format: transformers cannot load them.
_ORIGINAL_FORMAT_HINTS = {
    "llava_qwen": "--model llava-hf/LLaVA-Video-7B-Qwen2-hf --model-family llava-video-qwen2",
    "llava_llama": "--model llava-hf/LLaVA-NeXT-Video-7B-hf --model-family llava-next-video",
    "llava_mistral": "--model llava-hf/LLaVA-NeXT-Video-7B-hf --model-family llava-next-video",
}
_SHOWN_KEYS = 5


@dataclass
class LoadedModel:
    """A model ready to generate, with what its loading reported."""

    model: Any
    processor: Any
    family: ModelFamily
    model_id: str
    model_type: str
    device: str
    dtype: Any
    load_info: dict[str, int] = field(default_factory=dict)  # counts of missing/unexpected/mismatched keys
    load_warnings: list[str] = field(default_factory=list)


def read_model_type(model_id: str) -> tuple[str, list[str]]:
    """The model_type and architectures a checkpoint's config.json declares, read without transformers' registry.

    Args:
        model_id: a local folder or a hub id (resolved from the local cache when offline).

    Returns:
        (model_type, architectures).

    Raises:
        ModelLoadError: no such folder, no config.json, or a hub id that is not available.
    """
    folder = Path(model_id).expanduser()
    if folder.is_dir():
        config_file = folder / "config.json"
        if not config_file.is_file():
            raise ModelLoadError(f"model folder {folder} has no config.json: it is not a saved transformers model")
    elif _looks_like_path(model_id):
        raise ModelLoadError(f"model folder not found: {model_id} (pass --model with an existing folder or a hub id)")
    else:
        from transformers.utils import cached_file

        try:
            config_file = Path(cached_file(model_id, "config.json"))
        except (OSError, ValueError) as error:
            raise ModelLoadError(
                f"model {model_id!r} not found: not a local folder, and the hub id could not be resolved "
                f"({_first_line(error)}); offline runs need the model in the cache or a local folder"
            ) from None
    try:
        config = json.loads(config_file.read_text(encoding="utf-8"))
    except (OSError, ValueError) as error:
        raise ModelLoadError(f"cannot read {config_file}: {error}") from None
    return str(config.get("model_type", "")), list(config.get("architectures") or [])


def check_family(model_id: str, family: ModelFamily) -> str:
    """Refuse a checkpoint whose declared model type is not the family's, before any weight is read.

    Args:
        model_id: local folder or hub id.
        family: the family asked for.

    Returns:
        The checkpoint's model_type.

    Raises:
        ModelLoadError: the checkpoint belongs to another family or is not in transformers format.
    """
    model_type, architectures = read_model_type(model_id)
    if model_type in family.model_types:
        return model_type
    declared = f"model_type {model_type!r}" + (f" (architectures {', '.join(architectures)})" if architectures else "")
    if model_type in _ORIGINAL_FORMAT_HINTS:
        raise ModelLoadError(
            f"checkpoint {model_id} declares {declared}: the original LLaVA repository's format, which transformers "
            f"cannot load (every language-model weight would be newly initialised). Use its transformers port: "
            f"{_ORIGINAL_FORMAT_HINTS[model_type]}"
        )
    matching = [name for name, other in FAMILIES.items() if model_type in other.model_types]
    advice = f"use --model-family {' or '.join(matching)}" if matching else "pick a checkpoint of this family"
    raise ModelLoadError(
        f"checkpoint {model_id} declares {declared}, but --model-family {family.name} expects "
        f"{' or '.join(family.model_types)}; {advice}"
    )


def resolve_device_dtype(device: str | None, dtype: str | None):
    """The torch device and dtype to use: bf16 on GPU, fp32 on CPU unless told otherwise.

    Args:
        device: "cuda", "cpu", "cuda:1" or None (auto).
        dtype: "bf16", "fp16", "fp32" or None (auto).

    Returns:
        (device string, torch dtype).
    """
    import torch

    chosen = device or ("cuda" if torch.cuda.is_available() else "cpu")
    if chosen.startswith("cuda") and not torch.cuda.is_available():
        raise ModelLoadError(f"--device {chosen} asked for, but torch sees no CUDA device")
    names = {"bf16": torch.bfloat16, "bfloat16": torch.bfloat16, "fp16": torch.float16, "float16": torch.float16,
             "fp32": torch.float32, "float32": torch.float32}
    if dtype in (None, "auto"):
        return chosen, torch.bfloat16 if chosen.startswith("cuda") else torch.float32
    if dtype not in names:
        raise ModelLoadError(f"unknown --dtype {dtype!r}; choose bf16, fp16 or fp32")
    return chosen, names[dtype]


def load_model(model_id: str, family: ModelFamily, device: str | None = None, dtype: str | None = None) -> LoadedModel:
    """Load a checkpoint of a family with its processor, and prove its weights came from the checkpoint.

    Args:
        model_id: local folder or hub id.
        family: the family (from FAMILIES).
        device: see resolve_device_dtype.
        dtype: see resolve_device_dtype.

    Returns:
        The LoadedModel, in eval mode, on its device, processor padding on the left.

    Raises:
        ModelLoadError: not found, wrong family, or any weight newly initialised / of mismatched shape.
    """
    from transformers import AutoModelForImageTextToText, AutoProcessor
    from transformers.utils import logging as hf_logging

    hf_logging.disable_progress_bar()  # one progress bar per load would drown the per-video log lines
    model_type = check_family(model_id, family)
    device_name, torch_dtype = resolve_device_dtype(device, dtype)
    kwargs: dict[str, Any] = {"dtype": torch_dtype, "output_loading_info": True}
    if device_name.startswith("cuda"):
        kwargs["attn_implementation"] = "sdpa"
    with _CapturedWarnings() as captured:
        try:
            model, info = AutoModelForImageTextToText.from_pretrained(model_id, **kwargs)
            processor = AutoProcessor.from_pretrained(model_id)
        except (OSError, ValueError, KeyError, RuntimeError) as error:
            raise ModelLoadError(f"cannot load {model_id} as {family.name}: {_first_line(error)}") from None
    missing = sorted(info.get("missing_keys") or [])
    mismatched = sorted(str(item[0]) if isinstance(item, tuple) else str(item) for item in info.get("mismatched_keys") or [])
    unexpected = sorted(info.get("unexpected_keys") or [])
    if missing or mismatched:
        total = sum(1 for _ in model.state_dict())
        raise ModelLoadError(
            f"checkpoint {model_id} did not provide {len(missing)} of {total} weights (newly initialised) and "
            f"{len(mismatched)} had mismatched shapes, e.g. {', '.join((missing + mismatched)[:_SHOWN_KEYS])}; "
            f"the model would generate noise. Is the checkpoint in transformers format and of family {family.name}?"
        )
    warnings = list(captured.messages)
    if unexpected:
        warnings.append(f"{len(unexpected)} checkpoint weights unused, e.g. {', '.join(unexpected[:_SHOWN_KEYS])}")
    processor.tokenizer.padding_side = "left"
    model = model.to(device_name).eval()
    counts = {"missing_keys": len(missing), "mismatched_keys": len(mismatched), "unexpected_keys": len(unexpected)}
    return LoadedModel(model, processor, family, model_id, model_type, device_name, torch_dtype, counts, warnings)


def build_inputs(loaded: LoadedModel, clips: Sequence[Clip], prompts: Sequence[str]):
    """Processor inputs for a batch: chat template per clip, frames as arrays, left padding.

    Args:
        loaded: the model and processor.
        clips: decoded clips, all with the same frame count.
        prompts: one rendered prompt per clip.

    Returns:
        A BatchFeature on the model's device, floating tensors in the model's dtype.
    """
    processor = loaded.processor
    texts = [
        processor.apply_chat_template(
            [{"role": "user", "content": [{"type": "video"}, {"type": "text", "text": prompt}]}],
            add_generation_prompt=True,
            tokenize=False,
        )
        for prompt in prompts
    ]
    extra: dict[str, Any] = {}
    if loaded.family.sends_video_metadata:
        from transformers.video_utils import VideoMetadata

        extra["video_metadata"] = [
            VideoMetadata(total_num_frames=clip.total_frames, fps=clip.fps, frames_indices=list(clip.indices),
                          duration=clip.duration, height=clip.frames.shape[1], width=clip.frames.shape[2])
            for clip in clips
        ]
    inputs = processor(
        text=texts, videos=[clip.frames for clip in clips], padding=True, return_tensors="pt", **extra
    )
    return inputs.to(loaded.device, dtype=loaded.dtype)


def generate(loaded: LoadedModel, inputs, max_new_tokens: int) -> list[str]:
    """Greedy generation; returns only the new text of each batch row, special tokens removed."""
    import torch

    tokenizer = loaded.processor.tokenizer
    pad = tokenizer.pad_token_id if tokenizer.pad_token_id is not None else tokenizer.eos_token_id
    with torch.inference_mode():
        output = loaded.model.generate(**inputs, max_new_tokens=max_new_tokens, do_sample=False, pad_token_id=pad)
    new_tokens = output[:, inputs["input_ids"].shape[1]:]
    return [text.strip() for text in loaded.processor.batch_decode(new_tokens, skip_special_tokens=True)]


def family_names() -> list[str]:
    """The --model-family choices."""
    return list(FAMILIES)


def _looks_like_path(model_id: str) -> bool:
    # A hub id is exactly "owner/name"; anything else with a separator or a leading dot/tilde is a path.
    return model_id.startswith((".", "/", "~")) or model_id.count("/") > 1 or "\\" in model_id


def _first_line(error: BaseException) -> str:
    lines = [line for line in str(error).splitlines() if line.strip()]
    return lines[0][:400] if lines else type(error).__name__


class _CapturedWarnings(logging.Handler):
    """Collect transformers' warnings during a load, so the summary can show them."""

    def __init__(self) -> None:
        super().__init__(level=logging.WARNING)
        self.messages: list[str] = []

    def emit(self, record: logging.LogRecord) -> None:
        self.messages.append(record.getMessage()[:500])

    def __enter__(self) -> "_CapturedWarnings":
        logging.getLogger("transformers").addHandler(self)
        return self

    def __exit__(self, *exc: object) -> None:
        logging.getLogger("transformers").removeHandler(self)

