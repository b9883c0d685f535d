"""What start-up learned about one catalogue version, kept in the cache folder so that the next start-up need not
learn it again.

The same catalogue text, read by the same loader code and the same Python, parses and compiles the same way. The first
load of a version compiles and checks every pattern and records the literals each pattern requires; its marker
(`catalogue-<key>.checked`, JSON) says so. Later loads of that version compile their words-in-context patterns on first
use and parse none of them for literals, which halves start-up. A marker that cannot be read or written only costs
the check again; with no cache folder to name (no home directory) every load checks.
"""
from __future__ import annotations

import hashlib
import json
import sys
from pathlib import Path
from typing import Iterable

_KEEP = 8  # one marker per catalogue version edited: keep the newest few


class CheckedVersion:
    """One catalogue text (with the code that reads it) and its marker in the cache folder."""

    def __init__(self, text: str, code: Iterable[Path]):
        from tasks.triage.prefilter import cache_dir

        digest = hashlib.sha256(f"{sys.version}\0{text}\0".encode("utf-8"))
        try:
            for path in code:
                digest.update(path.read_bytes())
            self.marker: Path | None = cache_dir() / f"catalogue-{digest.hexdigest()[:24]}.checked"
        except (OSError, RuntimeError):  # RuntimeError: Path.home() with no home directory
            self.marker = None

    def literals(self) -> dict[str, frozenset[str] | None] | None:
        """The literals this version's patterns require, as a checked load recorded them; None when this version
        was not checked here (or its marker cannot be read: it is checked again)."""
        if self.marker is None:
            return None
        try:
            recorded = json.loads(self.marker.read_text(encoding="utf-8"))["literals"]
            return {key: None if value is None else frozenset(str(v) for v in value) for key, value in recorded.items()}
        except (OSError, ValueError, KeyError, TypeError, AttributeError):
            return None

    def remember(self, literals: dict[str, frozenset[str] | None]) -> None:
        """Mark this version checked, with the literals its patterns require; failures only cost the next check."""
        from tasks.triage.prefilter import prune_cache, write_atomically

        if self.marker is None:
            return
        body = {"literals": {key: None if value is None else sorted(value) for key, value in literals.items()}}
        write_atomically(self.marker, json.dumps(body, ensure_ascii=False).encode("utf-8"))
        prune_cache(self.marker, "catalogue-*.checked", _KEEP)

