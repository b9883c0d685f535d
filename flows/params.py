"""Turn user input (CLI flags, a JSON/YAML file) into a RunConfig, with errors that name the offending field."""
from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import yaml
from pydantic import ValidationError

from tasks.config import RunConfig


class ParameterError(ValueError):
    """A run parameter is invalid; the message names each bad field and what it accepts."""


def describe_validation_error(error: ValidationError) -> str:
    """One line per bad field: `field.path: what is wrong (got value)`."""
    lines = []
    for item in error.errors():
        where = ".".join(str(p) for p in item["loc"]) or "(parameters)"
        got = item.get("input")
        shown = "" if isinstance(got, dict) or got is None else f" (got {got!r})"
        lines.append(f"  {where}: {item['msg']}{shown}")
    return "invalid run parameters:\n" + "\n".join(lines)


def load_run_config(values: dict[str, Any], config_file: str | None = None) -> RunConfig:
    """Merge a parameters file (JSON or YAML) with explicit values (which win) and validate.

    Raises:
        ParameterError: unreadable file or invalid values; the message names the field.
    """
    merged: dict[str, Any] = {}
    if config_file:
        path = Path(config_file)
        if not path.is_file():
            raise ParameterError(f"parameters file {path} does not exist")
        try:
            loaded = yaml.safe_load(path.read_text()) if path.suffix in (".yaml", ".yml") else json.loads(path.read_text())
        except (yaml.YAMLError, json.JSONDecodeError) as exc:
            raise ParameterError(f"parameters file {path} is not valid {path.suffix.lstrip('.') or 'JSON'}: {exc}") from exc
        if not isinstance(loaded, dict):
            raise ParameterError(f"parameters file {path} must hold a mapping of parameter names to values")
        merged.update(loaded.get("config", loaded))
    merged.update({k: v for k, v in values.items() if v is not None})
    try:
        return RunConfig.model_validate(merged)
    except ValidationError as exc:
        raise ParameterError(describe_validation_error(exc)) from None
