"""Fast matching of one failure message against the whole catalogue (`classify_message`, `--classify-jsonl`).

The folder scanner (classify.Scanner) streams megabytes of logs; a message is a few hundred characters, and there the
cost is per message, not per byte. This matcher is compiled once per catalogue and process:

1. Literal gates. Every rule has one or more groups of literals (its required keywords, a table's gate words, the
   context words of a word in context); a match needs one literal of every group. Each literal is reduced to its
   longest run of word characters (a "piece"), which always lies inside one whitespace-separated chunk of the text.
   Which groups a chunk satisfies is found once per distinct chunk by one trie-shaped regex and remembered, so a
   message costs one lower(), one split() and a few dictionary look-ups before any rule regex runs.
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

from tasks.triage.catalogue import Catalogue, Rule
from tasks.triage.signals import ContextPattern

if TYPE_CHECKING:
    from tasks.triage.classify import Hit

_PIECE = re.compile(r"\w+")
_MAX_LINE = 4000
_HITS_PER_RULE = 5
_MEMO_LIMIT = 200_000


class _Prepared:
    """One rule as the matcher runs it."""

    __slots__ = ("rule", "position", "multiline", "lowered", "context", "groups", "word", "near", "unless", "window")

    def __init__(self, rule: Rule, position: int, groups: tuple[int, ...]):
        self.rule = rule
        self.position = position
        self.groups = groups
        regex = rule.regex
        # A word in context is read across the whole message (a wrapped line still counts).
        in_context = isinstance(regex, ContextPattern)
        self.context = in_context
        self.multiline = self.word = self.near = self.unless = None
        self.window = 0
        # Case-insensitive patterns run lower-cased on the lower-cased message: re's IGNORECASE costs about 3x.
        self.lowered = bool(regex.flags & re.IGNORECASE)
        if in_context:
            self.word = _lower_compile(regex.word.pattern, 0)
            self.near = _lower_compile(regex.near.pattern, 0) if regex.near is not None else None
            self.unless = _lower_compile(regex.unless.pattern, 0) if regex.unless is not None else None
            self.window = regex.window
            if None in (self.word, self.near if regex.near else 0, self.unless if regex.unless else 0):
                self.lowered = False
        elif self.lowered:
            self.multiline = _lower_compile(regex.pattern, (regex.flags & ~re.IGNORECASE) | re.MULTILINE)
            self.lowered = self.multiline is not None
        if self.multiline is None and not in_context:
            self.multiline = re.compile(regex.pattern, regex.flags | re.MULTILINE)

    def context_search(self, lowered: str):
        """ContextPattern.search on the lower-cased text, with the lower-cased patterns."""
        near, window = self.near, self.window
        if near is not None and not near.search(lowered):
            return None
        for match in self.word.finditer(lowered):
            if near is not None and not near.search(lowered, max(0, match.start() - window),
                                                   min(len(lowered), match.end() + window)):
                continue
            if self.unless is not None and self.unless.search(lowered):
                return None
            return match
        return None


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
        group_ids: dict[frozenset[str], int] = {}
        piece_groups: dict[str, set[int]] = {}
        prepared: list[_Prepared] = []
        always: list[_Prepared] = []
        for position, rule in enumerate(catalogue.rules):
            ids = []
            for group in _literal_groups(rule):
                gid = group_ids.setdefault(group, len(group_ids))
                ids.append(gid)
                for piece in group:
                    piece_groups.setdefault(piece, set()).add(gid)
            item = _Prepared(rule, position, tuple(ids))
            prepared.append(item)
            if not ids:
                always.append(item)
        # The finder reports the longest piece starting at each position; the shorter pieces that start there too
        # are its prefixes, so each piece stands for the groups of all its prefixes.
        self._piece_groups = {piece: frozenset().union(*(piece_groups.get(piece[:n], ()) for n in range(1, len(piece) + 1)))
                              for piece in piece_groups}
        self._finder = re.compile("(?=(" + _trie_pattern(self._piece_groups) + "))") if piece_groups else None
        self._owners: dict[int, list[_Prepared]] = {}
        for item in prepared:
            if item.groups:  # at most two groups per rule (_GROUPS_KEPT): the first owns it, the second is checked
                rest = item.groups[1] if len(item.groups) > 1 else None
                self._owners.setdefault(item.groups[0], []).append((item, rest))
        self._always = always
        self._memo: dict[str, frozenset[int]] = {}
        self._benign = [b.regex for b in catalogue.benign]

    # --- gates ---------------------------------------------------------------------------------------------------

    def _satisfied(self, lowered: str) -> set[int]:
        memo = self._memo
        satisfied: set[int] = set()
        for chunk in set(lowered.split()):
            groups = memo.get(chunk)
            if groups is None:
                groups = self._groups_of(chunk)
            if groups:
                satisfied |= groups
        return satisfied

    def _groups_of(self, chunk: str) -> frozenset[int]:
        found: set[int] = set()
        if self._finder is not None:
            for piece in set(self._finder.findall(chunk)):
                found |= self._piece_groups[piece]
        groups = frozenset(found)
        if len(self._memo) > _MEMO_LIMIT:
            self._memo.clear()
        self._memo[chunk] = groups
        return groups

    def candidates(self, lowered: str) -> list[_Prepared]:
        """The rules whose every literal group is present, highest priority first, then catalogue order."""
        satisfied = self._satisfied(lowered)
        out = list(self._always)
        owners = self._owners
        for gid in satisfied.intersection(owners):
            for item, rest in owners[gid]:
                if rest is None or rest in satisfied:
                    out.append(item)
        out.sort(key=_rank)
        return out

    # --- matching ------------------------------------------------------------------------------------------------

    def all_hits(self, lines: list[str]) -> list["Hit"]:
        """Every hit (at most five per rule), in the order the folder scanner would list them."""
        joined = _join(lines)
        lowered = joined.lower()
        texts = (joined, lowered if len(lowered) == len(joined) else None)
        plain: list[tuple[int, int, Hit]] = []
        context: list[tuple[int, Hit]] = []
        for item in self.candidates(lowered):
            if item.context:
                hit = self._context_hit(item, texts)
                if hit is not None:
                    context.append((item.position, hit))
            else:
                for hit in self._plain_hits(item, texts, _HITS_PER_RULE):
                    plain.append((hit.line or 0, item.position, hit))
        plain.sort(key=lambda t: (t[0], t[1]))
        context.sort(key=lambda t: t[0])
        return [h for _, _, h in plain] + [h for _, h in context]

    def best_and_runner(self, lines: list[str]) -> tuple["Hit | None", "Hit | None"]:
        """The deciding hit and the best hit of another category, evaluating no more rules than needed."""
        joined = _join(lines)
        lowered = joined.lower()
        texts = (joined, lowered if len(lowered) == len(joined) else None)
        best: Hit | None = None
        runner: Hit | None = None
        for _, level in groupby(self.candidates(lowered), key=_priority):
            found: list[tuple[tuple[int, int, int], Hit]] = []
            for item in level:
                if item.context:
                    hit = self._context_hit(item, texts)
                    order = 1
                else:
                    hits = self._plain_hits(item, texts, 1)
                    hit = hits[0] if hits else None
                    order = 0
                if hit is not None:
                    found.append(((hit.line or 0, order, item.position), hit))
            if not found:
                continue
            found.sort(key=lambda t: t[0])
            if best is None:
                best = found[0][1]
                runner = next((h for _, h in found if h.rule.category != best.rule.category), None)
            else:
                runner = next((h for _, h in found if h.rule.category != best.rule.category), None)
            if runner is not None:
                break
        return best, runner

    def _benign_line(self, line: str) -> bool:
        return any(b.search(line) for b in self._benign)

    def _plain_hits(self, item: _Prepared, texts: tuple[str, str | None], limit: int) -> list["Hit"]:
        joined, lowered = texts
        if isinstance(item.rule.regex, ContextPattern):
            return self._line_hits(item, joined, 0, limit)
        if item.lowered and lowered is not None:
            regex, searched = item.multiline, lowered
        else:
            regex, searched = (item.multiline, joined) if not item.lowered else (None, joined)
        if regex is None:
            return self._line_hits(item, joined, 0, limit)
        out: list[Hit] = []
        pos = 0
        length = len(joined)
        while pos <= length and len(out) < limit:
            match = regex.search(searched, pos)
            if match is None:
                break
            start = joined.rfind("\n", 0, match.start()) + 1
            end = joined.find("\n", match.start())
            end = length if end == -1 else end
            if match.end() > end:
                # The match crossed a newline: read this line and the rest one by one, as the folder scanner does.
                out += self._line_hits(item, joined, start, limit - len(out))
                break
            line = joined[start:end]
            if not self._benign_line(line):
                out.append(_hit(item.rule, joined, start, line, match))
            pos = end + 1
        return out

    def _line_hits(self, item: _Prepared, joined: str, start: int, limit: int) -> list["Hit"]:
        out: list[Hit] = []
        lowered = joined.lower() if item.lowered else None
        if lowered is not None and len(lowered) != len(joined):
            lowered = None
        while start <= len(joined) and len(out) < limit:
            end = joined.find("\n", start)
            end = len(joined) if end == -1 else end
            line = joined[start:end]
            if lowered is None:
                match = item.rule.regex.search(line)
            elif item.word is not None:
                match = item.context_search(lowered[start:end])
            else:
                match = item.multiline.search(lowered[start:end])
            if match and not self._benign_line(line):
                out.append(_hit(item.rule, joined, start, line, match, start))
            start = end + 1
        return out

    def _context_hit(self, item: _Prepared, texts: tuple[str, str | None]) -> "Hit | None":
        # Words in context are read across the whole message (a wrapped line still counts), cited at the word's line.
        joined, lowered = texts
        if item.lowered and lowered is not None:
            match = item.context_search(lowered)
        else:
            match = item.rule.regex.search(joined)
        if match is None:
            return None
        start = joined.rfind("\n", 0, match.start()) + 1
        end = joined.find("\n", match.start())
        line = joined[start:len(joined) if end == -1 else end]
        if self._benign_line(line):
            return None
        return _hit(item.rule, joined, start, line, match)


def _rank(item: _Prepared) -> tuple[int, int]:
    return (-item.rule.priority, item.position)


def _priority(item: _Prepared) -> int:
    return item.rule.priority


def _join(lines: list[str]) -> str:
    return "\n".join(line[:_MAX_LINE].rstrip("\r\n") for line in lines)


def _hit(rule: Rule, joined: str, start: int, line: str, match: re.Match, offset: int = 0) -> "Hit":
    """A Hit whose groups are read from the original text (the match may come from the lower-cased copy or from
    one line of the text, `offset` characters in)."""
    from tasks.triage.classify import Hit

    number = joined.count("\n", 0, start) + 1
    groups = {}
    for name in match.re.groupindex:
        begin, end = match.span(name)
        if end > begin:
            groups[name] = joined[offset + begin:offset + end]
    groups["match"] = joined[offset + match.start():offset + match.end()]
    return Hit(rule, "structured", "message", number, line.strip(), groups, (0, 0, number))


def _literal_groups(rule: Rule) -> list[frozenset[str]]:
    """Groups of pieces (lower-case runs of word characters): a text the rule matches holds one piece of every group.

    Read from the parsed pattern (a word in context: its words and its context words), keeping the few groups that
    rule out the most text. An empty list: the rule has no usable literal and is tried on every message.
    """
    regex = rule.regex
    # A table's gate words (signals.gates) are required as well; the sharper of the two readings is kept.
    gated = [frozenset(word for _, word in group) for group in rule.gates or ()]
    gated = [g for g in (_pieces(group) for group in gated) if g]
    if isinstance(regex, ContextPattern):
        words = sorted(set(_required(regex.word.pattern, regex.word.flags) + gated[:1]), key=_selectivity)
        groups = words[:_GROUPS_KEPT - 1] if regex.near is not None else words[:_GROUPS_KEPT]
        if regex.near is not None:
            groups += sorted(set(_required(regex.near.pattern, regex.near.flags) + gated[1:]), key=_selectivity)[:1]
    else:
        groups = sorted(set(_required(regex.pattern, regex.flags) + gated), key=_selectivity)[:_GROUPS_KEPT]
    return groups


def _pieces(group: frozenset[str]) -> frozenset[str] | None:
    """Each literal's longest run of word characters; None when a literal has none (the group then gates nothing)."""
    out = set()
    for literal in group:
        runs = _PIECE.findall(literal.lower())
        if not runs:
            return None
        out.add(max(runs, key=len))
    return frozenset(out)


_GROUPS_KEPT = 2
# Pieces found in most failure messages: a group that holds one of them rules out little, so another is preferred.
_COMMON = frozenset("""
    error errors failed fail failure not no the to of in is on at for with and or be been was were could cannot can
    unable found file files exception warning info run job process python line code status message request an as by
    from this that it get set use using out all any has have data path type value object none true false are did
    you see new end key max min pre lib log one two off per via its but how why may run tmp usr bin opt site http
    https com www lib py sh rror xception
""".split())


def _selectivity(group: frozenset[str]) -> tuple[int, int]:
    """Lower sorts first: groups without common or very short pieces, then the longest shortest piece."""
    weakest = min(group, key=len)
    return (int(any(piece in _COMMON or len(piece) < 3 for piece in group)), -len(weakest))


def _required(pattern: str, flags: int) -> list[frozenset[str]]:
    try:
        parsed = sre_parser.parse(pattern, flags & ~re.IGNORECASE)
    except re.error:
        return []
    groups = _sequence_groups(parsed)
    return sorted(set(groups), key=_selectivity)


def _sequence_groups(items) -> list[frozenset[str]]:
    """Every group a match of this sequence must satisfy (a conjunction of disjunctions)."""
    groups: list[frozenset[str]] = []
    run = ""

    def flush() -> None:
        nonlocal run
        groups.extend(frozenset([piece]) for piece in _PIECE.findall(run.lower()) if len(piece) >= 2)
        run = ""

    for op, arg in items:
        if op is sre_constants.LITERAL:
            run += chr(arg)
            continue
        flush()
        if op is sre_constants.SUBPATTERN:
            groups += _sequence_groups(arg[-1])
        elif op is sre_constants.BRANCH:
            best = []
            for branch in arg[1]:
                options = sorted(_sequence_groups(branch), key=_selectivity)
                if not options:
                    best = None
                    break
                best.append(options[0])
            if best:
                groups.append(frozenset().union(*best))
        elif op in (sre_constants.MAX_REPEAT, sre_constants.MIN_REPEAT) and arg[0] >= 1:
            groups += _sequence_groups(arg[2])
        elif op is sre_constants.ASSERT:  # a positive lookahead or lookbehind: its text is in the line too
            groups += _sequence_groups(arg[1])
    flush()
    return groups


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
