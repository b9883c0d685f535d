"""The scaffolding every `ghostwatch` subcommand shares (flows/cli/common.py): its whole contract in one place."""
from __future__ import annotations

import argparse
import types

import pytest

from flows.cli import SUBCOMMANDS, build_parser
from flows.cli.common import EXIT_BAD_INPUT, bad_input, register, standalone_parser, whole_number


def _module(name="echo"):
    def add_arguments(parser):
        parser.add_argument("--count", type=whole_number(1), default=1)

    return types.SimpleNamespace(NAME=name, HELP="say it", DESCRIPTION="Say it COUNT times.",
                                 add_arguments=add_arguments, main=lambda args: args.count * 10)


def test_whole_number_accepts_minimum_and_none_words_only_when_allowed():
    assert whole_number(1)("3") == 3
    assert whole_number(0, none_means="skip")("None") is None
    for parse, text, message in ((whole_number(1), "0", "at least 1"), (whole_number(1), "x", "whole number"),
                                 (whole_number(1), "none", "whole number"), (whole_number(1), "2.5", "whole number")):
        with pytest.raises(argparse.ArgumentTypeError, match=message):
            parse(text)


def test_register_and_standalone_parser_wire_arguments_and_handler():
    module = _module()
    parser = argparse.ArgumentParser()
    register(parser.add_subparsers(dest="command", required=True), module)
    args = parser.parse_args(["echo", "--count", "2"])
    assert args.handler(args) == 20
    alone = standalone_parser(module).parse_args(["--count", "3"])
    assert alone.handler(alone) == 30


def test_every_subcommand_module_follows_the_contract():
    names = []
    for module in SUBCOMMANDS:
        for attribute in ("NAME", "HELP", "DESCRIPTION", "add_arguments", "main"):
            assert getattr(module, attribute, None), f"{module.__name__} lacks {attribute}"
        names.append(module.NAME)
        standalone_parser(module)  # builds without the others
    assert names == ["run", "sample-data", "preflight", "triage"]
    assert build_parser().parse_args(["sample-data", "out"]).command == "sample-data"


def test_bad_input_names_the_command_on_stderr(capsys):
    assert bad_input("run", "num_frames must be at least 1") == EXIT_BAD_INPUT
    assert capsys.readouterr().err == "ghostwatch run: num_frames must be at least 1\n"
