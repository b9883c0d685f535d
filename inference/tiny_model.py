"""Build a tiny, randomly initialised LLaVA-family model with its processor, offline, for demos and tests.

    python -m inference.tiny_model OUTDIR [--family llava-next-video]

The folder loads with `AutoModelForImageTextToText.from_pretrained(OUTDIR)` and `AutoProcessor.from_pretrained(OUTDIR)`
under HF_HUB_OFFLINE=1. Nothing is downloaded: the tokenizer is a small byte-level BPE trained here on a few
sentences, with the family's chat template and image/video special tokens. Random weights write random text; the job's
parser must cope with that (it falls back to keywords, then to "unparsed").
"""
from __future__ import annotations

import argparse
import json
import sys
from dataclasses import dataclass
from pathlib import Path
from typing import Callable

TINY_VOCAB = 512
TINY_HIDDEN = 32
TINY_IMAGE = 32  # pixels per side after the processor's resize: 16 patches of 8 px, pooled to 4 tokens per frame
TINY_PATCH = 8
TOKENS_FILE = "tiny_model.json"

SPECIAL_TOKENS = [
    "<pad>", "<s>", "</s>", "<unk>", "<image>", "<video>",
    "<|endoftext|>", "<|im_start|>", "<|im_end|>", "<|vision_start|>", "<|vision_end|>", "<|image_pad|>",
    "<|video_pad|>",
]
_CORPUS = [
    "ghost probing yes potential no pedestrian cyclist vehicle car child motorcycle scooter unknown none",
    'Answer with JSON only: {"ghost_probing": "yes", "start_second": 3.5, "actor": "pedestrian", "reason": "..."}',
    "A dashcam video of a road. Frames were sampled at these seconds. Does someone suddenly appear from behind",
    "an obstruction such as a parked car, a bus or a wall, into the path of the ego vehicle?",
    "USER: ASSISTANT: system user assistant The person runs out from behind a parked truck at second 4.",
    "0 1 2 3 4 5 6 7 8 9 10 11 12 13 14 15 16 17 18 19 20 . , : ; ' \" { } [ ] ( ) - _ ? !",
]

# The chat templates follow the shape of the published llava-hf / Qwen templates for each family.
_LLAVA_TEMPLATE = (
    "{% for message in messages %}{% if message['role'] != 'system' %}{{ message['role'].upper() + ': ' }}{% endif %}"
    "{% for content in message['content'] | selectattr('type', 'equalto', 'image') %}{{ '<image>\n' }}{% endfor %}"
    "{% for content in message['content'] | selectattr('type', 'equalto', 'video') %}{{ '<video>\n' }}{% endfor %}"
    "{% for content in message['content'] | selectattr('type', 'equalto', 'text') %}{{ content['text'] + ' ' }}"
    "{% endfor %}{% endfor %}{% if add_generation_prompt %}{{ 'ASSISTANT:' }}{% endif %}"
)
_IM_TEMPLATE = (
    "{% for message in messages %}{{ '<|im_start|>' + message['role'] + '\n' }}"
    "{% for content in message['content'] | selectattr('type', 'equalto', 'image') %}{{ '<image>\n' }}{% endfor %}"
    "{% for content in message['content'] | selectattr('type', 'equalto', 'video') %}{{ '<video>\n' }}{% endfor %}"
    "{% for content in message['content'] | selectattr('type', 'equalto', 'text') %}{{ content['text'] }}{% endfor %}"
    "{{ '<|im_end|>\n' }}{% endfor %}{% if add_generation_prompt %}{{ '<|im_start|>assistant\n' }}{% endif %}"
)
_QWEN_VL_TEMPLATE = (
    "{% for message in messages %}{{ '<|im_start|>' + message['role'] + '\n' }}"
    "{% for content in message['content'] %}{% if content['type'] == 'image' %}"
    "{{ '<|vision_start|><|image_pad|><|vision_end|>' }}{% elif content['type'] == 'video' %}"
    "{{ '<|vision_start|><|video_pad|><|vision_end|>' }}{% elif content['type'] == 'text' %}{{ content['text'] }}"
    "{% endif %}{% endfor %}{{ '<|im_end|>\n' }}{% endfor %}"
    "{% if add_generation_prompt %}{{ '<|im_start|>assistant\n' }}{% endif %}"
)


@dataclass(frozen=True)
class TinyBuild:
    """What was written: the folder, the family and the model type its config declares."""

    folder: Path
    family: str
    model_type: str
    parameters: int


def build_tokenizer(chat_template: str, eos: str = "</s>"):
    """A byte-level BPE tokenizer trained on a few sentences, wrapped for transformers.

    Args:
        chat_template: the Jinja chat template the processor will use.
        eos: the end-of-sequence token of the family.

    Returns:
        A transformers fast tokenizer with pad/bos/eos and the image/video special tokens.
    """
    from tokenizers import Tokenizer, decoders, models, pre_tokenizers, trainers
    from transformers import PreTrainedTokenizerFast

    core = Tokenizer(models.BPE())
    core.pre_tokenizer = pre_tokenizers.ByteLevel(add_prefix_space=False)
    core.decoder = decoders.ByteLevel()
    trainer = trainers.BpeTrainer(
        vocab_size=TINY_VOCAB - len(SPECIAL_TOKENS),
        special_tokens=SPECIAL_TOKENS,
        initial_alphabet=pre_tokenizers.ByteLevel.alphabet(),
        show_progress=False,
    )
    core.train_from_iterator(_CORPUS * 4, trainer=trainer)
    tokenizer = PreTrainedTokenizerFast(
        tokenizer_object=core,
        pad_token="<pad>",
        bos_token="<s>",
        eos_token=eos,
        unk_token="<unk>",
        padding_side="left",
        extra_special_tokens={"image_token": "<image>", "video_token": "<video>"} if "<video>" in chat_template else {},
    )
    tokenizer.chat_template = chat_template
    return tokenizer


def _llama_text(tokenizer) -> dict:
    return dict(
        model_type="llama", vocab_size=len(tokenizer), hidden_size=TINY_HIDDEN, intermediate_size=64,
        num_hidden_layers=2, num_attention_heads=2, num_key_value_heads=1, max_position_embeddings=2048,
        pad_token_id=tokenizer.pad_token_id, bos_token_id=tokenizer.bos_token_id, eos_token_id=tokenizer.eos_token_id,
    )


def _qwen2_text(tokenizer) -> dict:
    return {**_llama_text(tokenizer), "model_type": "qwen2"}


def _build_llava_next_video(folder: Path):
    from transformers import (
        CLIPVisionConfig, LlavaNextImageProcessor, LlavaNextVideoConfig, LlavaNextVideoForConditionalGeneration,
        LlavaNextVideoProcessor, LlavaNextVideoVideoProcessor,
    )

    tokenizer = build_tokenizer(_LLAVA_TEMPLATE)
    vision = CLIPVisionConfig(
        hidden_size=TINY_HIDDEN, intermediate_size=64, num_hidden_layers=2, num_attention_heads=2,
        image_size=TINY_IMAGE, patch_size=TINY_PATCH, projection_dim=TINY_HIDDEN,
    )
    config = LlavaNextVideoConfig(
        vision_config=vision.to_dict(), text_config=_llama_text(tokenizer),
        image_token_index=tokenizer.convert_tokens_to_ids("<image>"),
        video_token_index=tokenizer.convert_tokens_to_ids("<video>"),
        image_grid_pinpoints=[[TINY_IMAGE, TINY_IMAGE]], vision_feature_layer=-1,
        vision_feature_select_strategy="default", image_seq_length=(TINY_IMAGE // TINY_PATCH) ** 2,
        video_seq_length=(TINY_IMAGE // TINY_PATCH) ** 2 // 4,
    )
    size = {"shortest_edge": TINY_IMAGE}
    crop = {"height": TINY_IMAGE, "width": TINY_IMAGE}
    processor = LlavaNextVideoProcessor(
        video_processor=LlavaNextVideoVideoProcessor(size=size, crop_size=crop),
        image_processor=LlavaNextImageProcessor(size=size, crop_size=crop, image_grid_pinpoints=[[TINY_IMAGE] * 2]),
        tokenizer=tokenizer, chat_template=_LLAVA_TEMPLATE, patch_size=TINY_PATCH,
        vision_feature_select_strategy="default", num_additional_image_tokens=1,
    )
    return LlavaNextVideoForConditionalGeneration(config), processor


def _build_llava_onevision(folder: Path):
    from transformers import (
        LlavaOnevisionConfig, LlavaOnevisionForConditionalGeneration, LlavaOnevisionImageProcessor,
        LlavaOnevisionProcessor, LlavaOnevisionVideoProcessor, SiglipVisionConfig,
    )

    tokenizer = build_tokenizer(_IM_TEMPLATE, eos="<|im_end|>")
    vision = SiglipVisionConfig(
        hidden_size=TINY_HIDDEN, intermediate_size=64, num_hidden_layers=2, num_attention_heads=2,
        image_size=TINY_IMAGE, patch_size=TINY_PATCH,
    )
    config = LlavaOnevisionConfig(
        vision_config=vision.to_dict(), text_config=_qwen2_text(tokenizer),
        image_token_index=tokenizer.convert_tokens_to_ids("<image>"),
        video_token_index=tokenizer.convert_tokens_to_ids("<video>"),
        image_grid_pinpoints=[[TINY_IMAGE, TINY_IMAGE]], vision_feature_layer=-1,
        vision_feature_select_strategy="full",
    )
    size = {"height": TINY_IMAGE, "width": TINY_IMAGE}
    processor = LlavaOnevisionProcessor(
        image_processor=LlavaOnevisionImageProcessor(size=size, image_grid_pinpoints=[[TINY_IMAGE] * 2]),
        video_processor=LlavaOnevisionVideoProcessor(size=size),
        tokenizer=tokenizer, chat_template=_IM_TEMPLATE, num_image_tokens=(TINY_IMAGE // TINY_PATCH) ** 2,
        vision_feature_select_strategy="full",
    )
    return LlavaOnevisionForConditionalGeneration(config), processor


def _build_qwen25_vl(folder: Path):
    from transformers import (
        Qwen2_5_VLConfig, Qwen2_5_VLForConditionalGeneration, Qwen2_5_VLProcessor, Qwen2VLImageProcessor,
        Qwen2VLVideoProcessor,
    )

    tokenizer = build_tokenizer(_QWEN_VL_TEMPLATE, eos="<|im_end|>")
    patch = 4
    vision = dict(
        depth=2, hidden_size=TINY_HIDDEN, intermediate_size=64, num_heads=2, patch_size=patch, spatial_merge_size=2,
        temporal_patch_size=2, window_size=16, out_hidden_size=TINY_HIDDEN, fullatt_block_indexes=[1],
    )
    text = {**_llama_text(tokenizer), "model_type": "qwen2_5_vl_text",
            "rope_parameters": {"rope_type": "default", "mrope_section": [2, 2, 4], "rope_theta": 10000.0}}
    config = Qwen2_5_VLConfig(
        vision_config=vision, text_config=text,
        image_token_id=tokenizer.convert_tokens_to_ids("<|image_pad|>"),
        video_token_id=tokenizer.convert_tokens_to_ids("<|video_pad|>"),
        vision_start_token_id=tokenizer.convert_tokens_to_ids("<|vision_start|>"),
        vision_end_token_id=tokenizer.convert_tokens_to_ids("<|vision_end|>"),
    )
    pixels = {"shortest_edge": 16 * 16, "longest_edge": TINY_IMAGE * TINY_IMAGE}
    common = dict(patch_size=patch, merge_size=2, temporal_patch_size=2, size=pixels)
    processor = Qwen2_5_VLProcessor(
        image_processor=Qwen2VLImageProcessor(**common),
        video_processor=Qwen2VLVideoProcessor(**common, cap_pixels_per_frame=True),
        tokenizer=tokenizer, chat_template=_QWEN_VL_TEMPLATE,
    )
    return Qwen2_5_VLForConditionalGeneration(config), processor


BUILDERS: dict[str, Callable] = {
    "llava-next-video": _build_llava_next_video,
    "llava-onevision": _build_llava_onevision,
    # LLaVA-Video-7B-Qwen2-hf is published as a llava_onevision checkpoint; the tiny one mirrors that.
    "llava-video-qwen2": _build_llava_onevision,
    "qwen2.5-vl": _build_qwen25_vl,
}


def build_tiny_model(folder: str | Path, family: str = "llava-next-video", seed: int = 0) -> TinyBuild:
    """Write a tiny random model of one family, with its processor, to a folder.

    Args:
        folder: where to save (created if needed).
        family: one of BUILDERS.
        seed: torch seed for the random weights.

    Returns:
        A TinyBuild describing what was written.

    Raises:
        ValueError: unknown family.
    """
    import torch
    from transformers.utils import logging as hf_logging

    if family not in BUILDERS:
        raise ValueError(f"unknown family {family!r}; choose one of {', '.join(BUILDERS)}")
    out = Path(folder)
    out.mkdir(parents=True, exist_ok=True)
    torch.manual_seed(seed)
    hf_logging.disable_progress_bar()
    model, processor = BUILDERS[family](out)
    model.generation_config.pad_token_id = processor.tokenizer.pad_token_id
    model.generation_config.eos_token_id = processor.tokenizer.eos_token_id
    model.save_pretrained(out)
    processor.save_pretrained(out)
    parameters = sum(p.numel() for p in model.parameters())
    build = TinyBuild(out, family, model.config.model_type, parameters)
    (out / TOKENS_FILE).write_text(json.dumps({"family": family, "model_type": build.model_type,
                                               "parameters": parameters, "seed": seed}, indent=2))
    return build


def main(argv: list[str] | None = None) -> int:
    """CLI: build a tiny model into OUTDIR."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("outdir", help="folder to write the model and processor to")
    parser.add_argument("--family", default="llava-next-video", choices=sorted(BUILDERS), help="model family")
    parser.add_argument("--seed", type=int, default=0, help="seed for the random weights")
    args = parser.parse_args(argv)
    build = build_tiny_model(args.outdir, args.family, args.seed)
    print(f"tiny {build.family} model ({build.model_type}, {build.parameters:,} parameters) written to {build.folder}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
