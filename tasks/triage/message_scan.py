"""Fast matching of one failure message against the whole catalogue (`classify_message`, `--classify-jsonl`).

The folder scanner (classify.Scanner) streams megabytes of logs; a message is a few hundred characters, and there the
cost is per message, not per byte. This matcher is compiled once per catalogue and process:

1. Literal gates. Every rule has one or more groups of literals (its required keywords, a table's gate words, the
   context words of a word in context); a match needs one literal of every group. Each literal is reduced to its
   longest run of word characters (a "piece"), which always lies inside one whitespace-separated chunk of the text.
   Which groups a chunk satisfies is found once per distinct chunk by one trie-shaped regex and remembered, so a
   message costs one lower(), one split() and a few dictionary look-ups before any rule regex runs.
   With the Hyperscan prefilter on (prefilter.py), one scan names the candidate rules instead, and a rule's context
   words that the database found exactly are not searched for again.
2. Whole-message regexes. A candidate rule's regex (compiled again with re.MULTILINE) searches the joined message
   once; a match inside one line is that line's match, a match that crosses a newline falls back to line-by-line
   search. A hit on a benign line is dropped and the search goes on after it, as in the folder scanner.
3. Priority order with an early exit. `best_and_runner` evaluates candidates from the highest priority down and stops
   once it has the deciding hit and the best hit of another category (all that a `--classify-jsonl` row needs);
   `all_hits` evaluates every candidate (what a full Verdict cites).

The result equals the folder scanner's on the same lines (tests/test_triage_messages.py checks it on the corpus).
"""
from __future__ import annotations

import re
from itertools import groupby
from typing import TYPE_CHECKING

from re import _constants as sre_constants  # noqa: the pattern parser ships with CPython's re
from re import _parser as sre_parser

from tasks.triage import prefilter
from tasks.triage.catalogue import Catalogue, Rule, required_literals
from tasks.triage.signals import ContextPattern, _top_level_alternatives

if TYPE_CHECKING:
    from tasks.triage.classify import Hit

_PIECE = re.compile(r"\w+")
_MAX_LINE = 4000
_HITS_PER_RULE = 5
_MEMO_LIMIT = 200_000


class _Prepared:
    """One rule as the matcher runs it. Its lower-cased regexes are compiled on first use (`compile`): with the
    prefilter on, most rules never meet a message they may match, and compiling them all would double start-up."""

    __slots__ = ("rule", "position", "multiline", "lowered", "context", "groups", "word", "near", "unless", "window",
                 "parts", "part_sources", "compiled")

    def __init__(self, rule: Rule, position: int, groups: tuple[int, ...]):
        self.rule = rule
        self.position = position
        self.groups = groups
        regex = rule.regex
        # A word in context is read across the whole message (a wrapped line still counts).
        in_context = isinstance(regex, ContextPattern)
        self.context = in_context
        self.multiline = self.word = self.near = self.unless = None
        self.parts: list[re.Pattern[str]] | None = None
        self.part_sources: list[str] | None = None  # the alternatives of a long word list, each with its boundaries
        self.window = regex.window if in_context else 0
        self.compiled = False
        # Case-insensitive patterns run lower-cased on the lower-cased message: re's IGNORECASE costs about 3x.
        self.lowered = bool(regex.flags & re.IGNORECASE)
        if in_context and self.lowered:
            # A long alternation of words is also kept one alternative at a time: only the alternatives whose
            # literals a message holds are searched, each a small regex instead of one large one.
            inner = regex.word_pattern[len(r"\b(?:"):-len(r")\b")] if regex.word_pattern.startswith(r"\b(?:") else None
            alternatives = _top_level_alternatives(inner) if inner else []
            if len(alternatives) >= _SPLIT_ALTERNATIVES:
                self.part_sources = [rf"\b(?:{a})\b" for a in alternatives]  # each one read as the whole is

    def compile(self) -> None:
        """Compile the lower-cased regexes (a pattern that cannot be lower-cased runs as written, IGNORECASE)."""
        self.compiled = True
        regex = self.rule.regex
        if self.context:
            self.near = _fast(regex.near_pattern, 0) if regex.near_pattern is not None else None
            self.unless = _lower_compile(regex.unless_pattern, 0) if regex.unless_pattern is not None else None
            if self.lowered and self.part_sources is not None:
                # Each alternative is compiled when a message first may match it (most never meet one); the whole
                # alternation only when a message comes without the list of alternatives it may match.
                self.parts = [None] * len(self.part_sources)
            else:
                self.word = _fast(regex.word_pattern, 0)
            if None in (self.word if self.parts is None else 0, self.near if regex.near_pattern else 0,
                        self.unless if regex.unless_pattern else 0):
                self.lowered = False
        elif self.lowered:
            self.multiline = _lower_compile(regex.pattern, (regex.flags & ~re.IGNORECASE) | re.MULTILINE)
            self.lowered = self.multiline is not None
        if self.multiline is None and not self.context:
            self.multiline = re.compile(regex.pattern, regex.flags | re.MULTILINE)

    def context_search(self, lowered: str, parts: frozenset[int] | None = None, near_found: bool = False):
        """ContextPattern.search on the lower-cased text, with the lower-cased patterns; `parts`: only these
        alternatives of the words can match (their literals are present), so only they are searched; `near_found`:
        the context words are known to occur in the text (the prefilter ran their regex exactly)."""
        near, window = self.near, self.window
        if near is not None and not near_found and not near.search(lowered):
            return None  # no context word anywhere: one search instead of one per occurrence of the word
        if parts is not None and self.parts is not None and None not in (self._part(i) for i in parts):
            best = None
            for index in sorted(parts):
                for match in self.parts[index].finditer(lowered):
                    if best is not None and match.start() >= best.start():
                        break
                    if near is None or near.search(lowered, max(0, match.start() - window),
                                                   min(len(lowered), match.end() + window)):
                        best = match
                        break
            if best is None or (self.unless is not None and self.unless.search(lowered)):
                return None
            return best
        for match in self._whole_word().finditer(lowered):
            if near is not None and not near.search(lowered, max(0, match.start() - window),
                                                   min(len(lowered), match.end() + window)):
                continue
            if self.unless is not None and self.unless.search(lowered):
                return None
            return match
        return None

    def _part(self, index: int):
        """The alternative `index` of the words, compiled on first use; None if it cannot be lower-cased."""
        part = self.parts[index]
        if part is None:
            part = self.parts[index] = _fast(self.part_sources[index], 0)
        return part

    def _whole_word(self):
        """The whole alternation of the words, compiled on first use (the rule's own case-insensitive regex when
        its lower-cased form does not compile: the same matches on the lower-cased text)."""
        if self.word is None:
            self.word = _fast(self.rule.regex.word_pattern, 0) or self.rule.regex.word
        return self.word


class _LeftBounded:
    """A regex that starts with \\b, searched without it and the boundary checked on each match found.

    re cannot scan ahead for a literal that follows \\b, so `\\bkey based` tries every position of the text while
    `key based` jumps from one `k` to the next: ten times faster on a long message. A match whose left boundary
    fails is dropped and the search resumes one character later, so the matches are exactly those of the original.
    """

    __slots__ = ("regex", "pattern")

    def __init__(self, regex: re.Pattern[str]):
        self.regex = regex
        self.pattern = regex.pattern

    def search(self, text: str, pos: int = 0, endpos: int | None = None):
        endpos = len(text) if endpos is None else endpos
        search = self.regex.search
        while True:
            match = search(text, pos, endpos)
            if match is None or _at_boundary(text, match.start()):
                return match
            pos = match.start() + 1

    def finditer(self, text: str):
        pos = 0
        while pos <= len(text):
            match = self.search(text, pos)
            if match is None:
                return
            yield match
            pos = match.end() if match.end() > match.start() else match.start() + 1


_WORD_CHAR = re.compile(r"\w")
_ANCHORED = re.compile(r"(?<!\\)[\^$]|\\[AZz]")


def _at_boundary(text: str, position: int) -> bool:
    before = position > 0 and _WORD_CHAR.match(text, position - 1) is not None
    after = position < len(text) and _WORD_CHAR.match(text, position) is not None
    return before != after


def _fast(pattern: str, flags: int):
    """The lower-cased pattern compiled, as a _LeftBounded when it is one \\b-led expression; None if it fails."""
    if pattern.startswith(r"\b") and len(_top_level_alternatives(pattern)) == 1 and not pattern.startswith(r"\b|"):
        inner = _lower_compile(pattern[2:], flags)
        return _LeftBounded(inner) if inner is not None else None
    return _lower_compile(pattern, flags)


def _lower_compile(pattern: str, flags: int) -> re.Pattern[str] | None:
    """The pattern with its literal letters lower-cased (escapes and group names kept), compiled; None if it fails."""
    out, i = [], 0
    while i < len(pattern):
        char = pattern[i]
        if char == "\\":
            out.append(pattern[i:i + 2])
            i += 2
            continue
        if pattern.startswith(("(?P<", "(?P="), i):
            end = pattern.find(">" if pattern[i + 3] == "<" else ")", i)
            out.append(pattern[i:end + 1])
            i = end + 1
            continue
        out.append(char.lower())
        i += 1
    try:
        return re.compile("".join(out), flags)
    except re.error:
        return None


class MessageMatcher:
    """The catalogue compiled for single messages (every rule eligible, whatever its layer)."""

    def __init__(self, catalogue: Catalogue):
        self.catalogue = catalogue
        self._prepared = [_Prepared(rule, position, ()) for position, rule in enumerate(catalogue.rules)]
        self._gates_built = False  # the literal gates are built on first use: with the prefilter on, rarely
        self._benign = [b.regex for b in catalogue.benign]
        self._prefilter = None
        self._roles: list[tuple[_Prepared, str, int | None]] = []
        self._near_exact: frozenset[_Prepared] = frozenset()  # rules whose context regex the prefilter runs exactly
        self._stand_in_always: frozenset[int] = frozenset()
        self._prefilter_memo: dict[tuple[frozenset[int], bool], list] = {}
        # A benign pattern can only match a line that holds one of its literals: most messages hold none.
        literals = [required_literals(b.regex) for b in catalogue.benign]
        self._benign_gates = None if any(lit is None for lit in literals) else \
            tuple(sorted(set().union(*literals))) if literals else ()

    def _build_gates(self) -> None:
        prepared = self._prepared
        self._always: list[_Prepared] = []
        # piece -> [(rule, the other pieces of that alternative, the context pieces of which one is needed)]
        self._index: dict[str, list[tuple[_Prepared, frozenset[str], frozenset[str] | None]]] = {}
        for item in prepared:
            alternatives, also = _gate(item.rule)
            if not alternatives:
                self._always.append(item)
                continue
            split = _part_gates(item)
            if split is not None:
                for index, part_alternatives in enumerate(split):
                    self._add_entries(item, part_alternatives, also, index)
            else:
                self._add_entries(item, alternatives, also, None)
        self._keys = frozenset(self._index)
        pieces = set(self._index)
        pieces.update(piece for entries in self._index.values() for _, others, also, _ in entries
                      for piece in (*(p for rest in others for p in rest), *(also or ())))
        # The finder reports the longest piece starting at each position; the shorter pieces that start there too
        # are its prefixes, so each piece stands for itself and all its prefixes.
        self._closure = {piece: frozenset(piece[:n] for n in range(1, len(piece) + 1) if piece[:n] in pieces)
                         for piece in pieces}
        self._finder = re.compile("(?=(" + _trie_pattern(pieces) + "))") if pieces else None
        self._memo: dict[str, frozenset[str]] = {}
        self._pieces = frozenset(pieces)
        self._candidate_memo: dict[frozenset[str], list] = {}
        self._gates_built = True

    def _add_entries(self, item: _Prepared, alternatives, also, part: int | None) -> None:
        rests: dict[str, set[frozenset[str]]] = {}
        for key, *rest in alternatives:
            rests.setdefault(key, set()).add(frozenset(rest))
        for key, options in rests.items():
            # One entry per rule, part and key, with the other pieces of each alternative that starts with the key
            # (none: the key alone lets the rule through).
            others = () if frozenset() in options else tuple(sorted(options, key=len))
            self._index.setdefault(key, []).append((item, others, also, part))

    # --- gates ---------------------------------------------------------------------------------------------------

    def _present(self, lowered: str) -> set[str]:
        """The catalogue's pieces that occur in the text, read chunk by chunk (whitespace-separated)."""
        chunks = set(lowered.split())
        found = list(map(self._memo.get, chunks))
        if None in found:
            found = [self._pieces_of(chunk) if pieces is None else pieces for chunk, pieces in zip(chunks, found)]
        return set().union(*found)

    def _pieces_of(self, chunk: str) -> frozenset[str]:
        found: set[str] = set()
        if self._finder is not None:
            for piece in set(self._finder.findall(chunk)):
                found |= self._closure[piece]
        result = frozenset(found)
        if len(self._memo) > _MEMO_LIMIT:
            self._memo.clear()
        self._memo[chunk] = result
        return result

    def use_prefilter(self, *, compile: bool = True) -> bool:
        """Load the Hyperscan prefilter of every rule from the disk cache, or compile it when `compile` (seconds);
        later messages in ASCII get their candidates from it (rules that may match) instead of from the literal
        gates. False where it is not installed, or not cached and `compile` is False."""
        if self._prefilter is not None:
            return True
        if not prefilter.available():
            return False
        roles: list[tuple[_Prepared, str, int | None]] = []
        sources: list[tuple[str, bool]] = []
        for item in self._prepared:
            regex = item.rule.regex
            if not item.context:
                roles.append((item, "regex", None))
                sources.append((regex.pattern, bool(regex.flags & re.DOTALL)))
                continue
            if item.part_sources is not None:
                for index, source in enumerate(item.part_sources):
                    roles.append((item, "word", index))
                    sources.append((source, False))
            else:
                roles.append((item, "word", None))
                sources.append((regex.word_pattern, False))
            if regex.near_pattern is not None:
                roles.append((item, "near", None))
                sources.append((regex.near_pattern, False))
        built = prefilter.Prefilter(sources)
        if not built.compile(when_not_cached=compile):
            return False
        self._roles, self._prefilter = roles, built
        # The database reads ^ and $ at every line (MULTILINE), the matcher's context search at the text's ends only:
        # an anchored context regex is not taken as proven.
        self._near_exact = frozenset(roles[i][0] for i in built.exact if roles[i][1] == "near"
                                     and not _ANCHORED.search(sources[i][0].replace("[^", "[")))
        self._stand_in_always = frozenset(i for i, (source, _) in enumerate(sources) if not source.isascii())
        return True

    def candidates(self, lowered: str, same_length: bool = True
                   ) -> list[tuple[_Prepared, frozenset[int] | None, bool]]:
        """(rule, the alternatives of its words that may match or None for all, whether its context words are known
        to occur) for every rule that may match, by priority: from the prefilter when it is on, else from the literal
        gates (one alternative whole, one context word). `same_length`: `lowered` is as long as the original text
        (lower-casing changed no character's length), which the prefilter's reading of non-ASCII text needs."""
        if self._prefilter is not None:
            if lowered.isascii():
                return self._prefiltered(lowered, exact=True)
            if same_length:
                return self._prefiltered(prefilter.ascii_stand_in(lowered), exact=False)
        if not self._gates_built:
            self._build_gates()
        present = self._present(lowered)
        # Messages of the same failure hold the same pieces (ids, paths and timestamps aside): the rules to try
        # depend on the pieces only, so they are remembered per set of pieces (the regexes still run per message).
        key = frozenset(present & self._pieces)
        cached = self._candidate_memo.get(key)
        if cached is not None:
            return cached
        found: dict[_Prepared, set[int] | None] = {item: None for item in self._always}
        has_all = present.issuperset
        index = self._index
        for piece in present & self._keys:  # two sets: iterates the smaller one
            for item, others, also, part in index[piece]:
                if (not others or any(map(has_all, others))) and (also is None or not also.isdisjoint(present)):
                    if part is None:
                        found[item] = None
                    else:
                        found.setdefault(item, set()).add(part)
        result = sorted(((item, frozenset(parts) if parts is not None else None, False)
                         for item, parts in found.items()), key=_rank_pair)
        if len(self._candidate_memo) > _MEMO_LIMIT // 10:
            self._candidate_memo.clear()
        self._candidate_memo[key] = result
        return result

    def _prefiltered(self, lowered: str, exact: bool) -> list[tuple[_Prepared, frozenset[int] | None, bool]]:
        """Candidates from one Hyperscan scan; `exact`: the scanned text is the text itself (not a stand-in), so an
        exact expression's hit proves its regex matches."""
        hits = self._prefilter.scan(lowered)
        if not exact:
            hits |= self._stand_in_always  # a literal non-ASCII character in the expression: the stand-in cannot say
        key = (hits, exact)
        cached = self._prefilter_memo.get(key)
        if cached is not None:
            return cached
        words: dict[_Prepared, set[int] | None] = {}
        near: set[_Prepared] = set()
        for expression in hits:
            item, role, part = self._roles[expression]
            if role == "near":
                near.add(item)
            elif part is None:
                words[item] = None
            elif item not in words or words[item] is not None:
                words.setdefault(item, set()).add(part)
        proven = self._near_exact if exact else frozenset()
        found = [(item, frozenset(parts) if parts is not None else None, item in proven)
                 for item, parts in words.items()
                 if not item.context or item.rule.regex.near_pattern is None or item in near]
        result = sorted(found, key=_rank_pair)
        if len(self._prefilter_memo) > _MEMO_LIMIT // 10:
            self._prefilter_memo.clear()
        self._prefilter_memo[key] = result
        return result

    # --- matching ------------------------------------------------------------------------------------------------

    def all_hits(self, lines: list[str]) -> list["Hit"]:
        """Every hit (at most five per rule), in the order the folder scanner would list them."""
        text = self._text(lines)
        plain: list[tuple[int, int, Hit]] = []
        context: list[tuple[int, Hit]] = []
        for item, parts, near_found in self.candidates(text.lowered_or_joined, text.lowered is not None):
            if item.context:
                found = self._context_match(item, text, parts, near_found)
                if found is not None:
                    context.append((item.position, _hit(item.rule, text.joined, found)))
            else:
                for found in self._plain_matches(item, text, _HITS_PER_RULE):
                    plain.append((found[0], item.position, _hit(item.rule, text.joined, found)))
        plain.sort(key=lambda t: (t[0], t[1]))
        context.sort(key=lambda t: t[0])
        return [h for _, _, h in plain] + [h for _, h in context]

    def best_and_runner(self, lines: list[str]) -> tuple["Hit | None", "Hit | None"]:
        """The deciding hit and the best hit of another category, evaluating no more rules than needed."""
        text = self._text(lines)
        best = runner = None
        candidates = self.candidates(text.lowered_or_joined, text.lowered is not None)
        for _, level in groupby(candidates, key=_priority):
            found = []
            for item, parts, near_found in level:
                if best is not None and item.rule.category == best[3].rule.category:
                    continue  # only another category can be the runner-up
                if item.context:
                    match = self._context_match(item, text, parts, near_found)
                    if match is not None:
                        found.append((match[0], 1, item.position, item, match))
                else:
                    matches = self._plain_matches(item, text, 1)
                    if matches:
                        found.append((matches[0][0], 0, item.position, item, matches[0]))
            if not found:
                continue
            found.sort(key=_found_order)
            if best is None:
                best = found[0]
            runner = next((f for f in found if f[3].rule.category != best[3].rule.category), None)
            if runner is not None:
                break
        joined = text.joined
        return (_hit(best[3].rule, joined, best[4]) if best else None,
                _hit(runner[3].rule, joined, runner[4]) if runner else None)

    def _text(self, lines: list[str]) -> "_Text":
        joined = _join(lines)
        lowered = joined.lower()
        benign = self._benign_gates is None or any(gate in lowered for gate in self._benign_gates)
        return _Text(joined, lowered if len(lowered) == len(joined) else None, benign)

    def has_benign_line(self, text: str) -> bool:
        """Does any line of the text match a benign pattern (known noise)?"""
        if self._benign_gates is not None:
            lowered = text.lower()
            if not any(gate in lowered for gate in self._benign_gates):
                return False
        return any(self._benign_line(line) for line in text.splitlines())

    def _benign_line(self, line: str) -> bool:
        return any(b.search(line) for b in self._benign)

    def _plain_matches(self, item: _Prepared, text: "_Text", limit: int) -> list[tuple]:
        """(line number, line start, line, match, offset of the searched text) of the first `limit` lines it hits."""
        if not item.compiled:
            item.compile()
        joined = text.joined
        if item.lowered:
            if text.lowered is None:
                return self._line_matches(item, text, 0, limit)
            searched = text.lowered
        else:
            searched = joined
        regex = item.multiline
        if text.single_line:
            match = regex.search(searched)
            if match is None or (text.benign and self._benign_line(joined)):
                return []
            return [(1, 0, joined, match, 0)]
        out: list[tuple] = []
        pos, length = 0, len(joined)
        while pos <= length and len(out) < limit:
            match = regex.search(searched, pos)
            if match is None:
                break
            start = joined.rfind("\n", 0, match.start()) + 1
            end = joined.find("\n", match.start())
            end = length if end == -1 else end
            if match.end() > end:
                # The match crossed a newline: read this line and the rest one by one, as the folder scanner does.
                out += self._line_matches(item, text, start, limit - len(out))
                break
            line = joined[start:end]
            if not (text.benign and self._benign_line(line)):
                out.append((joined.count("\n", 0, start) + 1, start, line, match, 0))
            pos = end + 1
        return out

    def _line_matches(self, item: _Prepared, text: "_Text", start: int, limit: int) -> list[tuple]:
        joined, lowered = text.joined, text.lowered
        out: list[tuple] = []
        while start <= len(joined) and len(out) < limit:
            end = joined.find("\n", start)
            end = len(joined) if end == -1 else end
            line = joined[start:end]
            if item.lowered and lowered is not None:
                match = item.multiline.search(lowered[start:end])
            else:
                match = item.rule.regex.search(line)
            if match and not (text.benign and self._benign_line(line)):
                out.append((joined.count("\n", 0, start) + 1, start, line, match, start))
            start = end + 1
        return out

    def _context_match(self, item: _Prepared, text: "_Text", parts: frozenset[int] | None = None,
                       near_found: bool = False) -> tuple | None:
        if not item.compiled:
            item.compile()
        # Words in context are read across the whole message (a wrapped line still counts), cited at the word's line.
        joined = text.joined
        if item.lowered and text.lowered is not None:
            match = item.context_search(text.lowered, parts, near_found)
        else:
            match = item.rule.regex.search(joined)
        if match is None:
            return None
        if text.single_line:
            start, line = 0, joined
        else:
            start = joined.rfind("\n", 0, match.start()) + 1
            end = joined.find("\n", match.start())
            line = joined[start:len(joined) if end == -1 else end]
        if text.benign and self._benign_line(line):
            return None
        return (joined.count("\n", 0, start) + 1, start, line, match, 0)


class _Text:
    """One message as the matcher reads it."""

    __slots__ = ("joined", "lowered", "benign", "single_line", "lowered_or_joined")

    def __init__(self, joined: str, lowered: str | None, benign: bool):
        self.joined = joined
        self.lowered = lowered            # None when lower() changed the length (offsets would not line up)
        self.benign = benign              # could a benign pattern match at all?
        self.single_line = "\n" not in joined
        self.lowered_or_joined = lowered if lowered is not None else joined.lower()


def _found_order(found: tuple) -> tuple[int, int, int]:
    return found[:3]


def _rank(item: _Prepared) -> tuple[int, int]:
    return (-item.rule.priority, item.position)


def _priority(pair: tuple) -> int:
    return pair[0].rule.priority


def _rank_pair(pair: tuple) -> tuple[int, int]:
    return (-pair[0].rule.priority, pair[0].position)


_SPLIT_ALTERNATIVES = 6


def _part_gates(item: _Prepared) -> list | None:
    """The gate of each alternative of a split word alternation, or None when the rule is not split (or one of its
    alternatives has no literal to gate on: then the rule is gated as a whole)."""
    if item.part_sources is None:
        return None
    gates = [_dnf_of(source) for source in item.part_sources]
    return gates if all(gates) else None


def _join(lines: list[str]) -> str:
    return "\n".join(line[:_MAX_LINE].rstrip("\r\n") for line in lines)


def _hit(rule: Rule, joined: str, found: tuple) -> "Hit":
    """A Hit whose groups are read from the original text (the match may come from the lower-cased copy or from
    one line of the text)."""
    from tasks.triage.classify import Hit

    number, _, line, match, offset = found
    groups = {}
    for name in match.re.groupindex:
        begin, end = match.span(name)
        if end > begin:
            groups[name] = joined[offset + begin:offset + end]
    groups["match"] = joined[offset + match.start():offset + match.end()]
    return Hit(rule, "structured", "message", number, line.strip(), groups, (0, 0, number))


def _gate(rule: Rule) -> tuple[list[tuple[str, ...]], frozenset[str] | None]:
    """What a text must hold for the rule to match: one of `alternatives` whole (each a few pieces, the sharpest
    first), and one piece of `also` (a word in context's context words) when that is not None.

    Pieces are lower-case runs of word characters read from the parsed pattern; a piece of a literal is a substring of
    one whitespace-separated chunk of any text the literal occurs in. No alternatives: the rule is always tried.
    """
    regex = rule.regex
    also = None
    # A table's gate words (signals.gates): one word of the first group is in every match.
    first = [_PIECE.findall(word.lower()) for _, word in rule.gates[0]] if rule.gates else []
    gated = [(max(runs, key=len),) for runs in first] if first and all(first) else []
    if isinstance(regex, ContextPattern):
        alternatives = _dnf_of(regex.word_pattern) or gated
        if regex.near_pattern is not None:
            near = _dnf_of(regex.near_pattern)
            also = frozenset(alternative[0] for alternative in near) if near else None
    else:
        alternatives = _dnf_of(regex.pattern)
        if not alternatives:
            alternatives = gated
        elif gated:
            also = frozenset(piece for piece, in gated)
    return alternatives, also


_MAX_ALTERNATIVES = 256
_MAX_BRANCHES = 1024


def _sharpest_only(alternatives: list[frozenset[str]]) -> list[frozenset[str]]:
    """Each alternative reduced to its sharpest piece (still required by every match of it), deduplicated."""
    return list({frozenset([min(a, key=_sharpness)]) if a else a for a in alternatives})
_PIECES_KEPT = 3
# Pieces found in most failure messages: gating on them alone rules out little, so sharper pieces go first.
_COMMON = frozenset("""
    error errors failed fail failure not no the to of in is on at for with and or be been was were could cannot can
    unable found file files exception warning info run job process python line code status message request an as by
    from this that it get set use using out all any has have data path type value object none true false are did
    you see new end key max min pre lib log one two off per via its but how why may run tmp usr bin opt site http
    https com www lib py sh rror xception
""".split())


def _sharpness(piece: str) -> tuple[int, int]:
    if piece.isdigit() and len(piece) >= 3:
        return (0, -8)  # a status or exit code: rare in text, as sharp as a long word
    return (int(piece in _COMMON or len(piece) < 3), -len(piece))


def _dnf_of(pattern: str) -> list[tuple[str, ...]]:
    """Alternatives of required pieces (sharpest first) for a case-insensitive reading of `pattern`; [] when some
    match needs no piece at all."""
    try:
        parsed = sre_parser.parse(pattern, 0)
    except re.error:
        return []
    alternatives = _dnf(parsed)
    if alternatives is None or any(not a for a in alternatives):
        return []
    return sorted({tuple(sorted(a, key=_sharpness)[:_PIECES_KEPT]) for a in alternatives})


def _dnf(items) -> list[frozenset[str]] | None:
    """A disjunction of conjunctions of pieces that every match of the sequence satisfies; None: too many to keep."""
    result: list[frozenset[str]] = [frozenset()]
    run = ""

    def conjoin(options: list[frozenset[str]] | None) -> None:
        nonlocal result
        if options is None:
            return  # dropping a requirement only lets more texts through; the regex still decides
        if len(result) * len(options) > _MAX_ALTERNATIVES:
            result, options = _sharpest_only(result), _sharpest_only(options)
        product = [a | b for a in result for b in options]
        if len(product) <= _MAX_ALTERNATIVES:
            result = product
        elif len(options) <= _MAX_ALTERNATIVES and len(result) == 1 and not result[0]:
            result = options

    def flush() -> None:
        nonlocal run
        pieces = frozenset(piece for piece in _PIECE.findall(run.lower()) if len(piece) >= 2)
        run = ""
        if pieces:
            conjoin([pieces])

    for op, arg in items:
        if op is sre_constants.LITERAL:
            run += chr(arg)
            continue
        if op is sre_constants.IN and run and len(arg) <= 8 and all(o is sre_constants.LITERAL for o, _ in arg):
            op, arg = sre_constants.BRANCH, (None, [[(sre_constants.LITERAL, c)] for _, c in arg])
        if op is sre_constants.BRANCH and run[-1:].isalnum():
            # re's parser moves a prefix that all branches share in front of them ("40(?:1|3)" for "401|403"):
            # give the run back to each branch so that its pieces stay whole words.
            prefix = [(sre_constants.LITERAL, ord(c)) for c in run]
            run = ""
            arg = (arg[0], [prefix + list(branch) for branch in arg[1]])
        flush()
        if op is sre_constants.SUBPATTERN:
            conjoin(_dnf(arg[-1]))
        elif op is sre_constants.BRANCH:
            options: list[frozenset[str]] | None = []
            for branch in arg[1]:
                found = _dnf(branch)
                if found is None or any(not a for a in found):
                    options = None  # a branch that needs nothing: the alternation needs nothing
                    break
                options += found
            if options and len(options) > _MAX_ALTERNATIVES:
                options = _sharpest_only(options)  # a long alternation: each branch keeps its sharpest piece
            if options and len(options) <= _MAX_BRANCHES:
                conjoin(options)
        elif op in (sre_constants.MAX_REPEAT, sre_constants.MIN_REPEAT) and arg[0] >= 1:
            conjoin(_dnf(arg[2]))
        elif op is sre_constants.ASSERT:  # a positive lookahead or lookbehind: its text is in the line too
            conjoin(_dnf(arg[1]))
    flush()
    return result


def _trie_pattern(words) -> str:
    """A regex matching any of `words`, longest first, shaped as a trie so that each position costs a few steps."""
    trie: dict = {}
    for word in words:
        node = trie
        for char in word:
            node = node.setdefault(char, {})
        node[""] = {}

    def emit(node: dict) -> str:
        branches = [re.escape(char) + emit(child) for char, child in sorted(node.items()) if char]
        if not branches:
            return ""
        body = branches[0] if len(branches) == 1 else "(?:" + "|".join(branches) + ")"
        return f"(?:{body})?" if "" in node else body

    return emit(trie)


_MATCHERS: dict[int, tuple[Catalogue, MessageMatcher]] = {}


def matcher_for(catalogue: Catalogue) -> MessageMatcher:
    """The compiled matcher of a catalogue, built once per process."""
    cached = _MATCHERS.get(id(catalogue))
    if cached is not None and cached[0] is catalogue:
        return cached[1]
    if len(_MATCHERS) > 16:  # tests build many catalogues
        _MATCHERS.clear()
    matcher = MessageMatcher(catalogue)
    _MATCHERS[id(catalogue)] = (catalogue, matcher)
    return matcher
