"""Tables of structured and generic signals (catalogue.yaml sections), compiled into ordinary catalogue rules.

The catalogue's `rules:` are specific signatures, one regex each. The sections read here are tables that any engineer
would read a failure by, kept as data rather than code branches:

    error_codes:     # layer 1: Azure ML / Azure error codes, nested inner codes included (tier `structured`)
      - id: str
        codes: [str]           # identifiers, matched case-sensitively as whole words; a dotted code also matches its
                               # longer children (ScriptExecution.StreamAccess.NotFound matches ...NotFound.Something)
        category: str
        priority: int
    http_status:     # layer 1: an HTTP status with the service that answered it (tier `structured`)
      - id: str
        status: [int]
        service: str           # regex (case-insensitive) that must occur in the same line: host or service name
        category: str
        priority: int
    exceptions:      # layer 3: the exception type a traceback ends in (tier `generic`)
      - id: str
        types: [str]           # bare names match any module prefix (OutOfMemoryError = torch.cuda.OutOfMemoryError);
                               # dotted names match only that qualified name (java.lang.OutOfMemoryError)
        category: str
        priority: int
    errnos:          # layer 3: errno numbers and names (`[Errno 28]`, `ENOSPC`, `OSError(28, ...`)
      - id: str
        errnos: [int | str]
        category: str
        priority: int
    exit_codes:      # layer 3: a process exit status (`exit code 137`, `exited with status 139`)
      - id: str
        codes: [int]
        category: str
        priority: int
    keywords:        # layer 3: a word read at word boundaries, in context
      - id: str
        category: str
        priority: int
        words: str             # regex of the word(s), wrapped in \\b...\\b, case-insensitive
        near: str = none       # regex that must occur within `window` characters before or after the word
        window: int = 80
        unless: str = none     # regex that, anywhere on the line, vetoes the match

Every entry becomes one Rule (same matching, priority and tie-breaks as `rules:`; see catalogue.py), with a summary
written from the table's kind. A line may be matched by several tables; priorities decide.
"""
from __future__ import annotations

import re
from re import _constants as sre_constants  # noqa: the pattern parser ships with CPython's re
from re import _parser as sre_parse
from typing import Any, Callable

SECTIONS = ("error_codes", "http_status", "exceptions", "errnos", "exit_codes", "keywords")
_EXIT_WORDS = (r"\b(?:exit(?:ed)?|exit_?code|exitcode|exit status|status(?:[ _]?code)?|return(?:ed)?[ _]?code|"
               r"returncode|rc|code)\b")
_ERRNO_NAMES = {"ENOSPC": 28, "ENOMEM": 12, "EACCES": 13, "EPERM": 1, "ENOENT": 2, "ETIMEDOUT": 110,
                "ECONNREFUSED": 111, "ECONNRESET": 104, "EDQUOT": 122, "EROFS": 30, "EIO": 5, "EHOSTUNREACH": 113}


class SignalError(ValueError):
    """A table entry breaks the schema; the message names the entry."""


def compile_section(section: str, entries: Any, where: str, make_rule: Callable[..., Any]) -> list:
    """Rules for one table section.

    Args:
        section: one of SECTIONS.
        entries: the YAML list.
        where: the catalogue's name, for messages.
        make_rule: builds a Rule from (id, category, priority, regex, summary, keywords, tier, raw entry, where).

    Returns:
        The rules, in table order.

    Raises:
        SignalError: an entry is malformed.
    """
    if entries is None:
        return []
    if not isinstance(entries, list):
        raise SignalError(f"{where}: `{section}` must be a list")
    builder = _BUILDERS[section]
    rules = []
    for index, entry in enumerate(entries):
        here = f"{where}: {section}[{index}]"
        if not isinstance(entry, dict):
            raise SignalError(f"{here} must be a mapping")
        allowed = {"id", "category", "priority", "note", *_KEYS[section]}
        extra = sorted(set(entry) - allowed)
        if extra:
            raise SignalError(f"{here}: unknown keys {extra}; allowed: {sorted(allowed)}")
        pattern, flags, summary, keywords, tier = builder(entry, here)
        try:
            regex = pattern if isinstance(pattern, ContextPattern) else re.compile(pattern, flags)
        except re.error as exc:
            raise SignalError(f"{here}: the pattern built from it does not compile: {exc}") from exc
        rules.append(make_rule(entry, regex, summary, keywords, tier, here, gates(section, entry)))
    return rules


def _names(entry: dict, key: str, here: str, kind=str) -> list:
    value = entry.get(key)
    if not isinstance(value, list) or not value or not all(isinstance(v, kind) and str(v).strip() for v in value):
        raise SignalError(f"{here}: `{key}` must be a non-empty list of {kind.__name__ if kind is not tuple else 'values'}")
    return value


def _error_codes(entry: dict, here: str):
    codes = _names(entry, "codes", here)
    alternation = "|".join(re.escape(c) for c in sorted(codes, key=len, reverse=True))
    pattern = rf"(?<![\w.])(?P<code>{alternation})(?!\w)"
    return pattern, 0, "Error code {code} ({category})", frozenset(c.lower() for c in codes), "structured"


def _http_status(entry: dict, here: str):
    statuses = [str(s) for s in _names(entry, "status", here, int)]
    service = entry.get("service")
    if not isinstance(service, str) or not service:
        raise SignalError(f"{here}: `service` must be a regex naming the service that answered")
    status = "|".join(statuses)
    said = (rf"(?:\b(?:status|http(?:\s*error)?|error|response|returned)(?:[ _]?(?:status|code|type))?\W{{0,4}}"
            rf"(?P<status>{status})\b|\b(?P<status2>{status})\s*(?:\(|client error|server error|forbidden|unauthorized|"
            rf"not found|conflict|too many|internal server|bad gateway|service unavailable|bad request))")
    pattern = rf"^(?=.*(?:{service}))(?:.*?){said}"
    return pattern, re.IGNORECASE, "HTTP status from the service that answered ({category}): {match}", frozenset(statuses), "structured"


def _exceptions(entry: dict, here: str):
    types = _names(entry, "types", here)
    qualified = [re.escape(t) for t in types if "." in t]
    bare = [re.escape(t) for t in types if "." not in t]
    parts = []
    if bare:
        parts.append(rf"(?:[A-Za-z_]\w*\.)*(?:{'|'.join(bare)})")
    if qualified:
        parts.append("|".join(qualified))
    pattern = rf"(?<![\w.])(?P<exception>{'|'.join(parts)})(?=:|\.?\s*$|\s*\(|\s+\[|,|\.\s)"
    keywords = frozenset(t.rsplit(".", 1)[-1].lower() for t in types)
    return pattern, 0, "The process raised {exception} ({category})", keywords, "generic"


def _errnos(entry: dict, here: str):
    values = _names(entry, "errnos", here, object)
    numbers = sorted({str(v) for v in values if isinstance(v, int)} |
                     {str(_ERRNO_NAMES[v]) for v in values if isinstance(v, str) and v in _ERRNO_NAMES})
    names = sorted({v for v in values if isinstance(v, str)})
    if not numbers and not names:
        raise SignalError(f"{here}: `errnos` names no errno")
    alts = []
    if numbers:
        n = "|".join(numbers)
        alts += [rf"\[Errno (?:{n})\]", rf"\berrno\W{{0,3}}(?:{n})\b", rf"\b(?:OS|IO)Error\((?:{n}),"]
    if names:
        alts.append(rf"\b(?:{'|'.join(map(re.escape, names))})\b")
    keywords = frozenset(["errno"] * bool(numbers) + ["error("] * bool(numbers) + [n.lower() for n in names])
    return "|".join(alts), 0, "{match} ({category})", keywords, "generic"


def _exit_codes(entry: dict, here: str):
    codes = [str(c) for c in _names(entry, "codes", here, int)]
    pattern = rf"{_EXIT_WORDS}\W{{0,3}}(?:[a-z-]+\W{{1,3}}){{0,3}}?(?P<exit_code>{'|'.join(codes)})\b(?!\.\d)"
    return pattern, re.IGNORECASE, "The process exited with status {exit_code} ({category})", frozenset(codes), "generic"


def bounded(words: str, right: bool) -> str:
    r"""`words` read at word boundaries: `\b(?:words)\b` (only the left one when not `right`). A boundary keeps a
    word from matching inside a longer one; next to punctuation it would instead demand a letter there (`\b'x'\b`
    never matches after a space), so an alternative that starts or ends with punctuation gets no boundary on that
    side."""
    edges = [(a, _punctuation_edge(a, "start"), right and _punctuation_edge(a, "end"))
             for a in _top_level_alternatives(words)]
    if not any(start or end for _, start, end in edges):
        return rf"\b(?:{words})\b" if right else rf"\b(?:{words})"
    edged = [("" if start else r"\b") + f"(?:{a})" + ("" if end or not right else r"\b") for a, start, end in edges]
    return "(?:" + "|".join(edged) + ")"


def _punctuation_edge(alternative: str, side: str) -> bool:
    """Does the alternative begin (`start`) or end (`end`) with a literal that is not a word character?"""
    edge = alternative[:1] if side == "start" else alternative[-1:]
    # Most alternatives begin and end with a letter or a group: no need to parse them (parsing costs start-up).
    escaped = side == "end" and alternative[-2:-1] == "\\"
    if not escaped and (edge in (("(", "[") if side == "start" else (")", "]"))
                        or (edge.isascii() and (edge.isalnum() or edge == "_"))):
        return False
    try:
        items = list(sre_parse.parse(alternative))
    except re.error:
        return False  # an alternative cut from a larger group: leave its boundary as it was
    if not items:
        return False
    op, arg = items[0] if side == "start" else items[-1]
    return op is sre_constants.LITERAL and not (chr(arg).isalnum() or chr(arg) == "_")


class ContextPattern:
    """A word read in context: `words` found at word boundaries, then `near` looked for within `window` characters.

    Behaves like the compiled regex the scanner expects (`search`, `pattern`, `flags`, `groupindex`); matching in
    two steps is what keeps it fast: one small regex finds the word, the context regex only reads a slice around it.
    """

    def __init__(self, words: str, near: str | None, window: int, unless: str | None):
        # The regexes are compiled on first use (`compile`): most rules never meet a message they may match, and
        # compiling some 600 of them would double start-up. load_catalogue compiles them all once per catalogue version.
        self.word_pattern = bounded(words, right=True)
        self.near_pattern = bounded(near, right=False) if near else None
        self.unless_pattern = unless or None
        self._compiled: tuple | None = None
        self.window = window
        self.pattern = self.word_pattern + (f" near {near!r} within {window}" if near else "") + \
            (f" unless {unless!r}" if unless else "")
        self.flags = re.IGNORECASE
        self.groupindex: dict[str, int] = {}

    def compile(self) -> "ContextPattern":
        """Compile the word, context and exception regexes now; re.error if one does not compile."""
        if self._compiled is None:
            self._compiled = tuple(re.compile(p, re.IGNORECASE) if p else None
                                   for p in (self.word_pattern, self.near_pattern, self.unless_pattern))
        return self

    @property
    def word(self) -> re.Pattern[str]:
        return self.compile()._compiled[0]

    @property
    def near(self) -> re.Pattern[str] | None:
        return self.compile()._compiled[1]

    @property
    def unless(self) -> re.Pattern[str] | None:
        return self.compile()._compiled[2]

    def __eq__(self, other: object) -> bool:
        return isinstance(other, ContextPattern) and other.pattern == self.pattern

    def __hash__(self) -> int:
        return hash(self.pattern)

    def search(self, line: str):
        if self.near is not None and not self.near.search(line):
            return None  # no context word anywhere: one search instead of one per occurrence of the word
        for match in self.word.finditer(line):
            if self.near is not None:
                start, end = match.start(), match.end()
                if not self.near.search(line, max(0, start - self.window), min(len(line), end + self.window)):
                    continue
            if self.unless is not None and self.unless.search(line):
                return None
            return match
        return None


def _keywords(entry: dict, here: str):
    words = entry.get("words")
    if not isinstance(words, str) or not words:
        raise SignalError(f"{here}: `words` must be a regex")
    near, unless = entry.get("near"), entry.get("unless")
    window = entry.get("window", 80)
    if not isinstance(window, int) or isinstance(window, bool) or not 0 < window <= 1000:
        raise SignalError(f"{here}: `window` must be a whole number of characters, 1..1000")
    from tasks.triage.catalogue import required_literals  # one literal reader for every rule

    pattern = ContextPattern(words, near, window, unless)
    try:
        keywords = required_literals(pattern.word_pattern)
    except re.error as exc:
        raise SignalError(f"{here}: `words` does not compile: {exc}") from exc
    if not keywords:
        raise SignalError(f"{here}: `words` must hold a literal of 3+ characters, so lines can be prefiltered")
    return pattern, re.IGNORECASE, "'{match}' ({category})", keywords, "generic"


_BUILDERS = {"error_codes": _error_codes, "http_status": _http_status, "exceptions": _exceptions, "errnos": _errnos,
             "exit_codes": _exit_codes, "keywords": _keywords}
_KEYS = {"error_codes": {"codes"}, "http_status": {"status", "service"}, "exceptions": {"types"}, "errnos": {"errnos"},
         "exit_codes": {"codes"}, "keywords": {"words", "near", "window", "unless"}}


# --- word gates: which words a message must hold for an entry to match at all -----------------------------------------
# A message's words (maximal runs of \w, lower-cased) are one set; an entry whose gate word is not in it (`exact`), or
# that no word starts with (`prefix`), is never tried. Testing a set of words beats testing hundreds of substrings.
_WORD = re.compile(r"\w+")
_QUANTIFIERS = set("?*{")


def gates(section: str, entry: dict) -> tuple[tuple[tuple[str, str], ...], ...] | None:
    """Groups of (kind, word) gates: every group must have one gate that a message's words satisfy.

    kind `exact`: a whole word; `prefix`: the start of a word. None when no gate can be read from the entry (the rule
    falls back to substring keywords). A word in context has two groups: its words, and its context words.
    """
    if section == "error_codes":
        return ((tuple(("exact", max(_WORD.findall(c.lower()), key=len)) for c in entry["codes"])),)
    if section == "exceptions":
        return ((tuple(("exact", _WORD.findall(t.lower())[-1]) for t in entry["types"])),)
    if section in ("http_status", "exit_codes"):
        return ((tuple(("exact", str(c)) for c in entry.get("status") or entry.get("codes"))),)
    if section == "errnos":
        names = [("exact", v.lower()) for v in entry["errnos"] if isinstance(v, str)]
        return ((tuple(names + [("exact", "errno"), ("exact", "oserror"), ("exact", "ioerror")])),)
    if section == "keywords":
        words = _prefix_group(entry["words"])
        if words is None:
            return None
        near = _prefix_group(entry["near"]) if entry.get("near") else None
        return (words, near) if near else (words,)
    return None


def _prefix_group(pattern: str) -> tuple[tuple[str, str], ...] | None:
    """One prefix gate per alternative: the longest word of the literal text the alternative starts with.

    Each word of that text starts a word of the message (the alternative itself starts at a word boundary, and the
    words after it follow a space or punctuation), so "a word of the message starts with it" holds for every match.
    """
    out = []
    for alternative in _top_level_alternatives(pattern):
        words = _leading_literal(alternative).split()
        best = max(words, key=len, default="")
        if len(best) < 2:
            return None
        out.append(("prefix", best.lower()))
    return tuple(out)


def _top_level_alternatives(pattern: str) -> list[str]:
    parts, depth, current, escaped = [], 0, "", False
    for char in pattern:
        if escaped:
            current += char
            escaped = False
            continue
        if char == "\\":
            escaped = True
            current += char
            continue
        if char in "([":
            depth += 1
        elif char in ")]":
            depth -= 1
        if char == "|" and depth == 0:
            parts.append(current)
            current = ""
            continue
        current += char
    parts.append(current)
    return parts


def _leading_literal(alternative: str) -> str:
    """The literal text an alternative starts with for sure: word characters and spaces, up to the first regex
    construct (and before a character that is optional or repeated). Punctuation ends a word: it becomes a space."""
    run = ""
    for index, char in enumerate(alternative):
        if not (char.isalnum() or char in "_ -:,'"):
            break
        following = alternative[index + 1: index + 2]
        if following and following in _QUANTIFIERS:
            break
        run += char if (char.isalnum() or char == "_") else " "
    return run
