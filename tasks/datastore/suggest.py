"""Suggest the nearest existing folders or prefixes for one that does not exist (a typo in 'DADA-100-videos')."""
from __future__ import annotations

import difflib
import re
from dataclasses import dataclass, field
from typing import Callable

_SEPARATORS = re.compile(r"[\s_\-.]+")


@dataclass
class Suggestion:
    """Where the missing path stops existing, and what exists there."""

    existing_parent: str  # the deepest part of the path that exists ('' for the top)
    missing_part: str  # the first segment that does not exist
    similar: list[str] = field(default_factory=list)  # full paths that look like the one asked for, best first
    siblings: list[str] = field(default_factory=list)  # what the existing parent holds, for orientation


def _shape(name: str) -> str:
    return _SEPARATORS.sub("", name.casefold())


def rank_similar(wanted: str, candidates: list[str], limit: int = 3, cutoff: float = 0.6) -> list[str]:
    """Candidates that look like `wanted`, best first: same letters ignoring case and separators, then close spellings."""
    shape = _shape(wanted)
    scored = []
    for candidate in candidates:
        candidate_shape = _shape(candidate)
        score = 1.0 if candidate_shape == shape else difflib.SequenceMatcher(None, shape, candidate_shape).ratio()
        # A longer or shorter name that contains the wanted one ('DADA-100-videos-v2') is as good a hint as a typo.
        if shape and candidate_shape and (shape in candidate_shape or candidate_shape in shape):
            score = max(score, 0.8)
        if score >= cutoff:
            scored.append((score, candidate))
    return [candidate for _, candidate in sorted(scored, key=lambda pair: (-pair[0], pair[1]))[:limit]]


def nearest_existing(path: str, child_folders: Callable[[str], list[str]], separator: str = "/", siblings_shown: int = 8) -> Suggestion:
    """Walk `path` down from the top until a segment is missing, and rank what exists at that level.

    Args:
        path: the missing folder or prefix, segments joined by `separator` (no leading separator needed).
        child_folders: folder names directly under a path ('' for the top).
        separator: joins segments in the returned paths.
        siblings_shown: how many existing folders to list for orientation.

    Returns:
        A Suggestion; `similar` holds full paths ending with the separator.
    """
    segments = [segment for segment in path.strip(separator).split(separator) if segment]
    parent: list[str] = []
    for segment in segments:
        children = child_folders(separator.join(parent))
        if segment in children:
            parent.append(segment)
            continue
        prefix = separator.join(parent) + separator if parent else ""
        # Hidden folders are walked through when the path names them, but only offered when a hidden one was asked for.
        offered = [name for name in children if not name.startswith(".") or segment.startswith(".")]
        return Suggestion(
            existing_parent=prefix,
            missing_part=segment,
            similar=[prefix + name + separator for name in rank_similar(segment, offered)],
            siblings=[prefix + name + separator for name in offered[:siblings_shown]],
        )
    # Every segment exists as a folder: nothing to suggest (the folder exists but holds no files).
    return Suggestion(existing_parent=separator.join(parent), missing_part="")
