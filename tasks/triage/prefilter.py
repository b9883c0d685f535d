"""Which of many regexes can match a text, found in one pass (Hyperscan), so that Python's `re` runs only on those.

The message matcher (message_scan.py) must run every rule whose regex matches a message and none other, at ten
thousand messages a second. Gating on literals still leaves several regexes per message that turn out not to match.
Hyperscan compiles every rule's regex into one automaton and reports, in one scan, which of them match. An expression
with a lookaround or a back-reference is compiled in *prefilter* mode, where Hyperscan widens what it cannot run
exactly; the others run exactly (a third faster to scan). Either way its answer is a superset of the rules that
match, never a subset; `re` then decides, finds the groups and the exact span, as before.

Safety rules (a superset is only guaranteed where both engines read the text the same way):
  - only ASCII text is scanned (Hyperscan's \\w, \\b and \\s are ASCII unless told otherwise; Python's are Unicode),
    and only lower-cased text with case-insensitive expressions (a superset of the case-sensitive ones); other text
    is scanned through `ascii_stand_in`, whose answer is a superset only, never proof of a match;
  - an expression Hyperscan refuses is reported as always matching (its rule goes back to the literal gates);
  - an expression compiled exactly (no lookaround, no back-reference; `Prefilter.exact`) that hits on the text itself
    does match it: the matcher then skips its own search for a rule's context words over the whole message.

Compiling some 300 expressions takes seconds on these machines, so the compiled database is kept on disk under the
user's cache folder, keyed by the expressions, the flags and Hyperscan's version; a cache that cannot be read or
written only costs the compile. Without the `hyperscan` package everything still works, through the literal gates.
"""
from __future__ import annotations

import hashlib
import os
import re
import tempfile
import threading
from functools import lru_cache
from pathlib import Path
from typing import Iterable

try:  # optional: a wheel for x86-64 Linux and macOS; elsewhere the literal gates do the job alone
    import hyperscan
except ImportError:  # pragma: no cover - exercised where the wheel is missing
    hyperscan = None

_CACHE_ENV = "GHOSTWATCH_CACHE_DIR"
_FLAGS = (hyperscan.HS_FLAG_SINGLEMATCH | hyperscan.HS_FLAG_CASELESS | hyperscan.HS_FLAG_ALLOWEMPTY
          | hyperscan.HS_FLAG_MULTILINE) if hyperscan else 0
_DOTALL = hyperscan.HS_FLAG_DOTALL if hyperscan else 0
_PREFILTER = hyperscan.HS_FLAG_PREFILTER if hyperscan else 0
# What Hyperscan cannot run exactly: lookarounds and back-references (prefilter mode widens them).
_INEXACT = re.compile(r"\(\?<?[=!]|\(\?P=|\\[1-9]")
_CACHE_FORMAT = 2  # 2: the companion file also says whether the database was compiled exact


@lru_cache(maxsize=1)
def available() -> bool:
    """Is the Hyperscan engine installed, and does it run on this CPU (it needs SSSE3)?"""
    return hyperscan is not None and _compiled([("probe", False)], [0])[0] is not None


def cache_dir() -> Path:
    """Where compiled databases are kept: $GHOSTWATCH_CACHE_DIR, else $XDG_CACHE_HOME/ghostwatch, else ~/.cache."""
    explicit = os.environ.get(_CACHE_ENV)
    if explicit:
        return Path(explicit)
    base = os.environ.get("XDG_CACHE_HOME") or str(Path.home() / ".cache")
    return Path(base) / "ghostwatch"


class Prefilter:
    """Expressions compiled into one database; `scan` returns the ids of those that may match a text."""

    def __init__(self, expressions: Iterable[tuple[str, bool]]):
        """`expressions`: (regex source, dot matches newline) per id, ids counting from 0."""
        self.sources = list(expressions)
        self.always: frozenset[int] = frozenset()
        self.exact: frozenset[int] = frozenset()  # ids whose hit means the regex matches (not only may match)
        self._database = None
        self._threads = threading.local()  # a scratch space per thread: one scratch cannot serve two scans at once

    @property
    def key(self) -> str:
        """The cache key: the expressions, their flags and the engine's version."""
        digest = hashlib.sha256(f"{hyperscan.__version__}\0{_FLAGS}\0{_INEXACT.pattern}\0{_CACHE_FORMAT}\0".encode())
        for source, dotall in self.sources:
            digest.update(f"{int(dotall)}{source}\0".encode())
        return digest.hexdigest()[:24]

    def compile(self, *, when_not_cached: bool = True) -> bool:
        """Load the database from the cache, or compile it (and cache it); False when it is not cached and
        `when_not_cached` is False (compiling costs seconds: worth it for a large input only). Expressions the
        engine refuses are left out and reported by `scan` as always matching."""
        if not self.sources:
            return True
        path = cache_dir() / f"prefilter-{self.key}.hsdb"
        refused_path = path.with_suffix(".refused")
        try:
            database = hyperscan.loadb(path.read_bytes(), hyperscan.HS_MODE_BLOCK)
            probe = hyperscan.Scratch(database)  # a database built for another CPU fails here or in the scan
            database.scan(b"probe", match_event_handler=_collect, context=set(), scratch=probe)
            refused_line, mode = (refused_path.read_text(encoding="ascii").split("\n") + [""])[:2]
            self._use(database, {int(i) for i in refused_line.split()}, exact=mode == "exact")
            return True
        except (OSError, ValueError, hyperscan.HyperscanError):
            if not when_not_cached:
                return False  # no cache yet, or one from another machine
        refused: set[int] = set()
        database, exact = _compiled(self.sources, range(len(self.sources)))
        if database is None:  # some expression is refused: find which, one at a time (rare; costs a second compile)
            refused = {i for i in range(len(self.sources)) if _compiled(self.sources, [i])[0] is None}
            kept = [i for i in range(len(self.sources)) if i not in refused]
            database, exact = _compiled(self.sources, kept) if kept else (None, False)
        self._use(database, refused, exact)
        if database is not None:
            write_atomically(refused_path, (" ".join(map(str, sorted(refused))) + "\n" +
                                            ("exact" if exact else "prefilter")).encode("ascii"))
            write_atomically(path, hyperscan.dumpb(database))
            prune_cache(path, "prefilter-*.hsdb", _KEEP_DATABASES, companions=(".refused",))  # ~1.5 MB each
        return True

    def _use(self, database, refused: set[int], exact: bool) -> None:
        """Take a compiled (or cached) database; `exact`: it was compiled with exact expressions where it could be."""
        self._database = database
        self.always = frozenset(refused)
        self.exact = frozenset(i for i, (source, _) in enumerate(self.sources)
                               if exact and i not in refused and not _INEXACT.search(source))

    def scan(self, lowered_ascii: str) -> frozenset[int]:
        """Ids of the expressions that may match the text (lower-cased ASCII), the refused ones included."""
        if self._database is None:
            return self.always
        hits: set[int] = set()
        scratch = getattr(self._threads, "scratch", None)
        if scratch is None:
            scratch = self._threads.scratch = hyperscan.Scratch(self._database)
        self._database.scan(lowered_ascii.encode("ascii"), match_event_handler=_collect, context=hits,
                            scratch=scratch)
        return frozenset(hits) | self.always if self.always else frozenset(hits)


class _StandIns(dict):
    """code point -> the ASCII character that stands in for it (ASCII ones stand for themselves), worked out on first
    sight: a character of the same classes for every regex element that can match it on its own. A letter that
    folds to an ASCII letter under IGNORECASE (the long s, the Kelvin sign) becomes that letter; other digits `0`,
    other letters `a`, other spaces ` `, anything else DEL. A regex that matches the text then matches the stand-in
    (only a literal non-ASCII character in a pattern could not, and those expressions are not trusted with it)."""

    def __missing__(self, code: int) -> int:
        char = chr(code)
        if code < 128:
            stand_in = code
        elif _ASCII_LETTER.fullmatch(char):
            stand_in = ord(next(a for a in "abcdefghijklmnopqrstuvwxyz" if re.fullmatch(a, char, re.IGNORECASE)))
        elif char.isdecimal():
            stand_in = ord("0")
        elif char.isalnum():
            stand_in = ord("a")
        elif char.isspace():
            stand_in = ord(" ")
        else:
            stand_in = 0x7F
        self[code] = stand_in
        return stand_in


_ASCII_LETTER = re.compile("[a-z]", re.IGNORECASE)
_STAND_INS = _StandIns()


def ascii_stand_in(text: str) -> str:
    """The text with every non-ASCII character replaced by an ASCII stand-in of its classes (same length), so that
    the database, which reads ASCII only, can still name the rules that may match it (a superset, not an exact
    answer). Expressions with a literal non-ASCII character must be treated as always matching by the caller."""
    return text.translate(_STAND_INS)


def _collect(expression: int, start: int, end: int, flags: int, hits: set[int]) -> None:
    hits.add(expression)


def _flags(source: str, dotall: bool, exact: bool = True) -> int:
    inexact = not exact or _INEXACT.search(source) is not None
    return _FLAGS | (_DOTALL if dotall else 0) | (_PREFILTER if inexact else 0)


def _compiled(sources: list[tuple[str, bool]], ids: Iterable[int], exact: bool = True):
    """(a block-mode database of the expressions `ids` (ids kept) or None if the engine refuses one of them, whether
    it runs the expressions without lookarounds exactly); when an exact compile fails, every expression is compiled
    in prefilter mode (the engine accepts more that way)."""
    ids = list(ids)
    try:
        database = hyperscan.Database(mode=hyperscan.HS_MODE_BLOCK)
        database.compile(expressions=[sources[i][0].encode("utf-8") for i in ids], ids=ids, elements=len(ids),
                         flags=[_flags(sources[i][0], sources[i][1], exact) for i in ids])
    except hyperscan.HyperscanError:
        return (None, False) if exact is False else _compiled(sources, ids, exact=False)
    return database, exact


_KEEP_DATABASES = 4  # a catalogue edited often leaves one database per version behind: keep the newest few


def prune_cache(keep: Path, pattern: str, count: int, companions: tuple[str, ...] = ()) -> None:
    """Remove all but the newest `count` files matching `pattern` beside `keep` (never `keep` itself), with their
    companion files (same name, these suffixes); failures only leave files behind."""
    try:
        cached = sorted(keep.parent.glob(pattern), key=lambda p: p.stat().st_mtime, reverse=True)
        for old in cached[count:]:
            if old != keep:
                old.unlink(missing_ok=True)
                for suffix in companions:
                    old.with_suffix(suffix).unlink(missing_ok=True)
    except OSError:
        pass


def write_atomically(path: Path, data: bytes) -> None:
    """Write a cache file whole or not at all (two processes may build it at once); failures only cost speed."""
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        handle, temporary = tempfile.mkstemp(dir=path.parent, prefix=path.name, suffix=".tmp")
        with os.fdopen(handle, "wb") as out:
            out.write(data)
        os.replace(temporary, path)
    except OSError:
        pass


def main() -> int:
    """`python -m tasks.triage.prefilter`: compile the shipped catalogue's prefilter into the cache (make install)."""
    if not available():
        print("hyperscan is not installed: triage uses its literal gates (correct, a little slower)")
        return 0
    from tasks.triage.batch import prepare_matcher

    if prepare_matcher(compile_prefilter=True):
        print(f"triage prefilter compiled into {cache_dir()}")
    else:
        print("triage prefilter switched off (GHOSTWATCH_TRIAGE_PREFILTER); nothing compiled")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
