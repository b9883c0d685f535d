"""Advice for a local video folder that failed preflight (local_advice.yaml): shell steps, not Azure commands."""
from __future__ import annotations

from functools import lru_cache
from pathlib import Path

import yaml

ADVICE_FILE = Path(__file__).with_name("local_advice.yaml")
_REMOTE = ("azureml://", "https://", "http://", "abfss://", "wasbs://", "az://")


def is_local(uri: str) -> bool:
    return not uri.lower().startswith(_REMOTE)


@lru_cache(maxsize=1)
def _advice() -> dict:
    return yaml.safe_load(ADVICE_FILE.read_text()) or {}


def local_advice(category: str, uri: str, nearest: list[str]) -> tuple[list[str], list[str]] | None:
    """(recommendations, next steps) for a local folder, or None when the catalogue's advice stands."""
    entry = _advice().get(category)
    if not entry or not is_local(uri):
        return None
    values = {"path": uri.rstrip("/"), "parent": str(Path(uri.rstrip("/")).parent),
              "nearest": ", ".join(f"`{n}`" for n in nearest) or "none found"}
    return ([r.format(**values) for r in entry.get("recommendations", [])],
            [s.format(**values) for s in entry.get("next_steps", [])])
