"""The scaffolding every `ghostwatch` subcommand shares: how one is declared, argument types, exit statuses.

A subcommand is a module of flows/cli with NAME, HELP, DESCRIPTION, `add_arguments(parser)` and `main(args) -> int`;
flows/cli/__init__.py registers the modules listed in SUBCOMMANDS, so adding one is a new module and a line there.
"""
from __future__ import annotations

import argparse
import sys
from types import ModuleType

EXIT_OK, EXIT_FAILURE_FOUND, EXIT_BAD_INPUT = 0, 1, 2
_NONE_WORDS = ("none", "skip", "any")


def whole_number(minimum: int, none_means: str | None = None):
    """An argparse type: a whole number >= minimum; with `none_means`, 'none' (or skip/any) gives None.

    Args:
        minimum: the smallest value accepted.
        none_means: what 'none' does, for the error message ("skip the count check"); None: 'none' is refused.
    """
    def parse(text: str) -> int | None:
        if none_means and text.strip().lower() in _NONE_WORDS:
            return None
        hint = f" (or 'none' to {none_means})" if none_means else ""
        try:
            value = int(text)
        except ValueError:
            raise argparse.ArgumentTypeError(f"expected a whole number{hint}, got {text!r}") from None
        if value < minimum:
            raise argparse.ArgumentTypeError(f"expected at least {minimum}{hint}, got {value}")
        return value

    return parse


def register(subparsers, module: ModuleType) -> argparse.ArgumentParser:
    """Add one subcommand module to an argparse subparsers object; its `main` becomes the handler.

    Returns:
        The subcommand's parser.
    """
    parser = subparsers.add_parser(module.NAME, help=module.HELP, description=module.DESCRIPTION)
    module.add_arguments(parser)
    parser.set_defaults(handler=module.main)
    return parser


def standalone_parser(module: ModuleType) -> argparse.ArgumentParser:
    """A parser for one subcommand alone (`parse_args([...])` without the subcommand's name), for tests and scripts."""
    parser = argparse.ArgumentParser(prog=f"ghostwatch {module.NAME}", description=module.DESCRIPTION)
    module.add_arguments(parser)
    parser.set_defaults(handler=module.main)
    return parser


def bad_input(command: str, message: str) -> int:
    """Print `ghostwatch <command>: <message>` on stderr and return the bad-input exit status."""
    print(f"ghostwatch {command}: {message}", file=sys.stderr)
    return EXIT_BAD_INPUT
