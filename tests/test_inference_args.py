"""The job's command line: every option parses to its declared type, and bad values are refused at parse time."""
from __future__ import annotations

import dataclasses
import typing

import pytest

from inference.llava_ghost_probing_batch import JobArgs, build_parser, parse_args

# A value for every option, written as a user would on the command line.
FULL_ARGV = {
    "--video-folder": "videos", "--output-folder": "out", "--start-index": "3", "--limit": "7", "--save-interval": "2",
    "--model": "/models/tiny", "--model-family": "llava-onevision", "--num-frames": "12", "--batch-size": "4",
    "--max-new-tokens": "64", "--labels": "labels.tsv", "--dtype": "bf16", "--device": "cpu", "--prompt": "p.txt",
    "--decoder": "pyav", "--shard-index": "1", "--num-shards": "2",
}


def _declared(field: dataclasses.Field) -> type:
    kinds = [k for k in typing.get_args(typing.get_type_hints(JobArgs)[field.name]) if k is not type(None)]
    return kinds[0] if kinds else typing.get_type_hints(JobArgs)[field.name]


def test_every_field_has_an_option_and_every_option_a_value_here():
    options = {a.option_strings[0] for a in build_parser()._actions if a.option_strings and a.dest != "help"}
    assert options == set(FULL_ARGV) == {"--" + f.name.replace("_", "-") for f in dataclasses.fields(JobArgs)}


def test_every_option_parses_to_its_declared_type():
    args = parse_args([token for pair in FULL_ARGV.items() for token in pair])
    for field in dataclasses.fields(JobArgs):
        value = getattr(args, field.name)
        assert type(value) is _declared(field), f"--{field.name} parsed as {type(value).__name__}"
    assert (args.start_index, args.num_frames, args.num_shards) == (3, 12, 2)


def test_defaults_are_the_dataclass_defaults():
    args = parse_args(["--video-folder", "v"])
    assert args == JobArgs(video_folder="v")


@pytest.mark.parametrize("argv", [
    ["--num-frames", "eight"], ["--num-frames", "0"], ["--model-family", "gpt"], ["--dtype", "fp64"],
    ["--shard-index", "1"], ["--limit", "0"],
])
def test_bad_values_are_refused_with_status_2(argv, capsys):
    with pytest.raises(SystemExit) as exit_:
        parse_args(["--video-folder", "v", *argv])
    assert exit_.value.code == 2
    err = capsys.readouterr().err
    assert argv[0] in err or argv[0].lstrip("-").replace("-", "_") in err or "--shard-index and --num-shards" in err
