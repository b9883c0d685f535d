"""Layered classification of a job's evidence folder, streaming every log line once.

Layers, in tie-break order: the run's structured error (job.json), the user process's logs (user_logs/), the system
logs (system_logs/, azureml-logs/), then the output checks for a job that Completed. How a hit wins is documented in
catalogue.py. Memory stays bounded whatever the folder's size: lines are streamed, a few hits per rule are kept, and
the std_log tail is a fixed-size deque.
"""
from __future__ import annotations

import bisect
import json
import os
import re
from collections import deque
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Iterable, Iterator

from tasks.triage.catalogue import LAYERS, Catalogue, Rule, default_catalogue
from tasks.triage.output_checks import OutputFinding, OutputStats, check_outputs
from tasks.redact import redact, redact_obj
from tasks.triage.signals import ContextPattern
from tasks.triage.structured import message_lines, normalise
from tasks.triage.timeline import TimelineBuilder, find_timestamp
from tasks.triage.verdict import (EvidenceLine, TriageContext, Verdict, fill_placeholders, fill_recommendations)

JOB_RECORD = "job.json"
_LAYER_INDEX = {name: i for i, name in enumerate(LAYERS)}
_MAX_LINE = 4000            # longer lines are matched on their first 4000 characters (minified JSON, base64 blobs)
_HITS_PER_RULE = 5          # hits kept per rule (counted beyond that)
_MAX_EVIDENCE = 8
_TAIL_LINES = 20
_BLOCK_CHARS = 1 << 20      # read logs a megabyte at a time
_MAX_CARRY = 8 << 20        # a "line" longer than this is cut rather than held whole
_FIRST_LINES = 50           # lines of a file searched for its first timestamp
_NEWLINE = re.compile("\n")
_WORDS = re.compile(r"\w+")
_OTHER_SIGNAL_MIN_PRIORITY = 25
_SUCCESS_STATES = {"completed"}
_FAILED_STATES = {"failed", "canceled", "cancelled", "notresponding", "paused", "cancelrequested"}
_URI_PATTERNS = (
    re.compile(r"azureml://subscriptions/[^/\s]+/resourcegroups/(?P<resource_group>[^/\s]+)/workspaces/"
               r"(?P<workspace>[^/\s]+)/datastores/(?P<datastore>[^/\s]+)/paths/(?P<path>[^\s'\"]*)", re.I),
    re.compile(r"azureml://datastores/(?P<datastore>[^/\s]+)/paths/(?P<path>[^\s'\"]*)", re.I),
    re.compile(r"https://(?P<storage_account>[a-z0-9]{3,24})\.(?:blob|dfs)\.core\.windows\.net/(?P<container>[^/\s?'\"]+)"
               r"(?:/(?P<path>[^\s?'\"]*))?", re.I),
)


@dataclass
class Hit:
    """One rule matching one line."""

    rule: Rule
    layer: str
    file: str
    line: int | None
    text: str
    groups: dict[str, str]
    order: tuple[int, int, int]

    @property
    def key(self) -> tuple:
        return (-self.rule.priority, *self.order)


@dataclass
class ScanResult:
    """Everything one pass over the logs found."""

    hits: list[Hit] = field(default_factory=list)
    hit_counts: dict[str, int] = field(default_factory=dict)
    timeline: TimelineBuilder = field(default_factory=TimelineBuilder)
    tail: deque = field(default_factory=lambda: deque(maxlen=_TAIL_LINES))
    tail_file: str | None = None
    # The last exception line of the user's logs (`SomethingError: ...`): where a crashed process stopped.
    last_exception: Hit | None = None
    files: list[str] = field(default_factory=list)
    lines: int = 0
    bytes: int = 0


class Scanner:
    """Streams text through the catalogue.

    Files are read in blocks of about a megabyte. A block is first tested for the rules' literal keywords with `in`
    (see catalogue.required_literals); only the lines that hold a keyword are matched against the regexes, and a hit
    is dropped if its line is benign noise. Most blocks of a healthy log contain no keyword and cost one lower() and
    a few dozen substring searches.
    """

    def __init__(self, catalogue: Catalogue, failed: bool, any_layer: bool = False, block_chars: int = _BLOCK_CHARS):
        self.catalogue = catalogue
        self.block_chars = block_chars
        self.result = ScanResult()
        self._rules, self._keyword_rules, self._unkeyed, self._gated = _rule_tables(catalogue, failed, any_layer)
        self._file_index = 0

    def scan_lines(self, layer: str, rel: str, lines: Iterable[tuple[int | None, str]]) -> None:
        """Match a few lines one by one (the structured error, a single message)."""
        file_index = self._next_file(rel)
        lines = [(number, text[:_MAX_LINE].rstrip("\r\n")) for number, text in lines]
        self.result.lines += len(lines)
        original = "\n".join(text for _, text in lines)
        whole = original.lower()
        # Which rules can match at all is asked once of the whole text: substring keywords for the signatures, the
        # set of words for the tables' gates. Each line is then asked only about the rules still in play.
        keyword_rules, substring, gate_table = self._gated[layer]
        present = list(filter(whole.__contains__, substring))
        gated = gate_table.rules_for(set(_WORDS.findall(whole)))
        if not present and not gated and not self._unkeyed[layer]:
            return
        rules = self._rules[layer]
        # Every word in context is read across the whole message, whether its gate was a word or a keyword.
        keyed = {p for keyword in present for p in keyword_rules[keyword]}
        in_context = sorted(p for p in gated | keyed if isinstance(rules[p].regex, ContextPattern))
        per_line = gated.difference(in_context)
        for number, line in lines:
            lowered = line.lower()
            positions = set(self._unkeyed[layer])
            for keyword in present:
                if keyword in lowered:
                    positions.update(keyword_rules[keyword])
            positions.difference_update(in_context)
            if per_line:
                positions.update(per_line if len(lines) == 1 else
                                 per_line & gate_table.rules_for(set(_WORDS.findall(lowered))))
            if positions:
                self._match(layer, rel, file_index, number, line, [rules[p] for p in sorted(positions)])
        if in_context:
            # Words in context are read across the whole message: a wrapped line or a status code under the
            # service's name still counts. The hit is cited at the line where the word is.
            starts = [0] + [m.end() for m in _NEWLINE.finditer(original)]
            for position in in_context:
                match = rules[position].regex.search(original)
                if match:
                    index = bisect.bisect_right(starts, match.start()) - 1
                    number, line = lines[index]
                    self._match(layer, rel, file_index, number, line, [rules[position]], match)

    def _present_keywords(self, layer: str, lowered: str) -> list[str]:
        return list(filter(lowered.__contains__, self._keyword_rules[layer]))

    def _hopeful(self, layer: str, lowered: str) -> list[Rule]:
        """The rules of `layer` whose keywords occur in `lowered`, in catalogue order."""
        positions = set(self._unkeyed[layer])
        for keyword in self._present_keywords(layer, lowered):
            positions.update(self._keyword_rules[layer][keyword])
        rules = self._rules[layer]
        return [rules[p] for p in sorted(positions)]

    def scan_file(self, layer: str, rel: str, path: Path, tail: bool = False, warnings: list[str] | None = None) -> None:
        """Stream one log file in blocks; `tail` keeps its last lines (the failing process's std_log)."""
        file_index = self._next_file(rel)
        if tail:
            self.result.tail_file = rel
        state = _FileState()
        try:
            with path.open("r", encoding="utf-8", errors="replace", newline="") as handle:
                carry = ""
                while True:
                    chunk = handle.read(self.block_chars)
                    if not chunk:
                        break
                    chunk = carry + chunk
                    cut = chunk.rfind("\n")
                    if cut == -1 and len(chunk) < max(_MAX_CARRY, self.block_chars):
                        carry = chunk
                        continue
                    cut = cut if cut != -1 else len(chunk) - 1  # one enormous line: cut it rather than hold it all
                    self._block(layer, rel, file_index, chunk[: cut + 1], state, tail)
                    carry = chunk[cut + 1:]
                if carry:
                    self._block(layer, rel, file_index, carry + "\n", state, tail)
        except OSError as exc:
            if warnings is not None:
                warnings.append(f"could not read {rel}: {exc}")
        if state.last_lines:
            last = next((stamp for stamp in map(find_timestamp, reversed(state.last_lines)) if stamp), None)
            if last:
                self.result.timeline.observe(rel, last)

    def _next_file(self, rel: str) -> int:
        self._file_index += 1
        self.result.files.append(rel)
        return self._file_index - 1

    def _block(self, layer: str, rel: str, file_index: int, body: str, state: "_FileState", tail: bool) -> None:
        result = self.result
        first_line = state.lines + 1
        count = body.count("\n")
        state.lines += count
        result.lines += count
        result.bytes += len(body)
        if not state.seen_timestamp:
            for text in body.split("\n", _FIRST_LINES)[:_FIRST_LINES]:
                stamp = find_timestamp(text)
                if stamp:
                    result.timeline.observe(rel, stamp)
                    state.seen_timestamp = True
                    break
        last = body[:-1].rsplit("\n", _TAIL_LINES)[-_TAIL_LINES:]
        state.last_lines = last
        if tail:
            start = first_line + count - len(last)
            for offset, text in enumerate(last):
                result.tail.append((start + offset, text.rstrip("\r")))
        lowered = body.lower()
        present = self._present_keywords(layer, lowered)
        if not present and not self._unkeyed[layer]:
            return
        newlines = _newline_offsets(body)
        if self._unkeyed[layer] or len(lowered) != len(body):
            # A rule with no keyword, or lower() changed a character's length (rare Unicode) so offsets no longer
            # line up: try every line.
            rules = self._hopeful(layer, lowered)
            per_line: dict[int, list[Rule]] = {index: rules for index in range(count)}
        else:
            per_line = _rules_per_line(lowered, present, self._keyword_rules[layer], self._rules[layer], newlines)
        for index in sorted(per_line):
            start = newlines[index - 1] + 1 if index else 0
            text = body[start:newlines[index]][:_MAX_LINE].rstrip("\r")
            self._match(layer, rel, file_index, first_line + index, text, per_line[index])

    def _match(self, layer: str, rel: str, file_index: int, number: int | None, line: str, rules: list[Rule],
               found: re.Match | None = None) -> None:
        result = self.result
        for rule in rules:
            match = found or rule.regex.search(line)
            if not match:
                continue
            if self.catalogue.is_benign(line):
                return
            seen = result.hit_counts.get(rule.id, 0)
            result.hit_counts[rule.id] = seen + 1
            fatal = layer == "user_log" and match.groupdict().get("exception")
            if seen < _HITS_PER_RULE or fatal:
                groups = {k: v for k, v in match.groupdict().items() if v}
                groups["match"] = match.group(0)
                hit = Hit(rule, layer, rel, number, line.strip(), groups, (_LAYER_INDEX[layer], file_index, number or 0))
                if seen < _HITS_PER_RULE:
                    result.hits.append(hit)
                if fatal and (result.last_exception is None or hit.order >= result.last_exception.order):
                    result.last_exception = hit


_TABLES: dict[tuple[int, bool, bool], tuple[Catalogue, tuple]] = {}


def _rule_tables(catalogue: Catalogue, failed: bool, any_layer: bool) -> tuple:
    """Per layer: the eligible rules, keyword -> rule positions, and the positions of rules without keywords.

    Built once per catalogue: filter() over a bound __contains__ then tests every keyword in C, which is what makes
    the prefilter cheaper than the regexes it spares.
    """
    key = (id(catalogue), failed, any_layer)
    cached = _TABLES.get(key)
    if cached is not None and cached[0] is catalogue:
        return cached[1]
    eligible = [r for r in catalogue.rules if failed or r.when == "any"]
    rules = {layer: [r for r in eligible if any_layer or layer in r.layers] for layer in LAYERS}
    keyword_rules: dict[str, dict[str, list[int]]] = {}
    unkeyed: dict[str, list[int]] = {}
    for layer, layer_rules in rules.items():
        index: dict[str, list[int]] = {}
        for position, rule in enumerate(layer_rules):
            for keyword in rule.keywords or ():
                index.setdefault(keyword, []).append(position)
        keyword_rules[layer] = index
        unkeyed[layer] = [p for p, r in enumerate(layer_rules) if r.keywords is None]
    gated: dict[str, tuple] = {}
    for layer, layer_rules in rules.items():
        substring_rules: dict[str, list[int]] = {}
        for position, rule in enumerate(layer_rules):
            if rule.gates is None:
                for keyword in rule.keywords or ():
                    substring_rules.setdefault(keyword, []).append(position)
        gated[layer] = (substring_rules, tuple(substring_rules), _GateTable(layer_rules))
    if len(_TABLES) > 32:  # tests build many catalogues; keep the cache small
        _TABLES.clear()
    _TABLES[key] = (catalogue, (rules, keyword_rules, unkeyed, gated))
    return rules, keyword_rules, unkeyed, gated


class _GateTable:
    """Which gated rules a set of words lets through (Rule.gates), with what each word satisfies remembered."""

    _MEMO_LIMIT = 100_000

    def __init__(self, rules: list[Rule]):
        group_ids: dict[tuple, int] = {}
        self.exact: dict[str, set[int]] = {}
        self.prefix: dict[str, list[tuple[str, int]]] = {}
        self.owners: dict[int, list[tuple[int, tuple[int, ...]]]] = {}
        for position, rule in enumerate(rules):
            if rule.gates is None:
                continue
            ids = []
            for group in rule.gates:
                gid = group_ids.setdefault(group, len(group_ids))
                ids.append(gid)
                for kind, word in group:
                    if kind == "exact":
                        self.exact.setdefault(word, set()).add(gid)
                    else:
                        self.prefix.setdefault(word[:2], []).append((word, gid))
            self.owners.setdefault(ids[0], []).append((position, tuple(ids[1:])))
        self.memo: dict[str, frozenset[int]] = {}

    def _groups_of(self, word: str) -> frozenset[int]:
        found = self.memo.get(word)
        if found is None:
            groups = set(self.exact.get(word, ()))
            groups.update(gid for start, gid in self.prefix.get(word[:2], ()) if word.startswith(start))
            found = frozenset(groups)
            if len(self.memo) > self._MEMO_LIMIT:
                self.memo.clear()
            self.memo[word] = found
        return found

    def rules_for(self, words: set[str]) -> set[int]:
        satisfied: set[int] = set()
        for word in words:
            satisfied.update(self._groups_of(word))
        return {position for gid in satisfied.intersection(self.owners) for position, rest in self.owners[gid]
                if all(g in satisfied for g in rest)}


@dataclass
class _FileState:
    lines: int = 0
    seen_timestamp: bool = False
    last_lines: list[str] = field(default_factory=list)


def _newline_offsets(body: str) -> list[int]:
    return [m.start() for m in _NEWLINE.finditer(body)]


def _rules_per_line(lowered: str, present: list[str], keyword_rules: dict[str, list[int]], rules: list[Rule],
                    newlines: list[int]) -> dict[int, list[Rule]]:
    """Line index -> the rules (in catalogue order) whose keywords occur in that line of the block."""
    found: dict[int, set[int]] = {}
    for keyword in present:
        position = lowered.find(keyword)
        while position != -1:
            index = bisect.bisect_left(newlines, position)
            found.setdefault(index, set()).update(keyword_rules[keyword])
            next_line = newlines[index] + 1 if index < len(newlines) else len(lowered)
            position = lowered.find(keyword, next_line)
    return {index: [rules[p] for p in sorted(positions)] for index, positions in found.items()}


def triage_evidence(evidence_dir: Path, context: TriageContext | None = None, *,
                    catalogue: Catalogue | None = None) -> Verdict:
    """Classify one job from its evidence folder (the `az ml job download --all` layout, job.json optional).

    Args:
        evidence_dir: the folder.
        context: what the flow knows (expected videos, label classes, the job's state).
        catalogue: default: the shipped catalogue.

    Returns:
        The Verdict: category `none` for a healthy completed job.

    Raises:
        FileNotFoundError: the folder does not exist.
        NotADirectoryError: the path is a file.
    """
    evidence_dir = Path(evidence_dir)
    if not evidence_dir.exists():
        raise FileNotFoundError(f"evidence folder {evidence_dir} does not exist; pass the folder that "
                                "`az ml job download --all` (or a ghostwatch backend) wrote")
    if not evidence_dir.is_dir():
        raise NotADirectoryError(f"evidence path {evidence_dir} is a file; pass the folder that holds user_logs/ "
                                 "and system_logs/")
    catalogue = catalogue or default_catalogue()
    context = context or TriageContext()
    warnings: list[str] = []
    job = _read_job(evidence_dir / JOB_RECORD, warnings)
    state = context.job_state or (job or {}).get("state")
    state = getattr(state, "value", state)  # a JobState member works as well as its string
    state_key = str(state).replace(" ", "").lower() if state else None
    completed = state_key in _SUCCESS_STATES
    scanner = Scanner(catalogue, failed=not completed)
    scanner.scan_lines("structured", JOB_RECORD, _structured_lines(job))
    for layer, rel, path, is_main_log in _log_files(evidence_dir):
        scanner.scan_file(layer, rel, path, tail=is_main_log, warnings=warnings)
    result = scanner.result

    findings: list[OutputFinding] = []
    stats: OutputStats | None = None
    best = min(result.hits, key=lambda h: h.key) if result.hits else None
    if completed or (state_key is None and best is None) or (state_key is None and best and best.rule.when == "any"):
        findings, stats = check_outputs(evidence_dir, context)
    finding = findings[0] if findings else None
    if finding and (best is None or finding.priority > best.rule.priority):
        return _verdict_from_finding(catalogue, finding, findings, result, job, state, stats, warnings)
    if best is not None:
        return _verdict_from_hit(catalogue, best, result, job, state, stats, warnings)
    if completed or state_key is None:
        return _healthy_verdict(catalogue, result, job, state, stats, warnings)
    return _unknown_failure_verdict(catalogue, result, job, state, warnings)


def classify_message(text: str, *, catalogue: Catalogue | None = None, fallback: bool = True) -> Verdict:
    """Classify one error message (any number of lines) with the catalogue, every rule eligible.

    Args:
        text: e.g. a job's error message or a log excerpt.
        catalogue: default: the shipped catalogue.
        fallback: when no rule matches, let the learned fallback (fallback.py) guess, with confidence `low`.

    Returns:
        The Verdict; `other` when no rule matches and the fallback is not confident.
    """
    catalogue = catalogue or default_catalogue()
    text = normalise(text)
    result = scan_message(text, catalogue)
    best = min(result.hits, key=lambda h: h.key) if result.hits else None
    guess = _fallback_guess(text, catalogue, best) if fallback else None
    if guess is not None:
        info = catalogue.category(guess.category)
        return Verdict(category=info.name, retryable=info.retryable, action=info.action,
                       summary=_fallback_summary(guess, best), root_cause=info.root_cause,
                       recommendations=fill_recommendations(info.recommendations, info.docs, {}),
                       next_steps=list(info.next_steps), rule_id=FALLBACK_RULE_ID,
                       evidence=_evidence(sorted(result.hits, key=lambda h: h.key)), timeline=[],
                       error_details={"fallback_probability": round(guess.probability, 3)},
                       confidence="low", runner_up=best.rule.category if best else None)
    if not result.hits:
        info = catalogue.category("other")
        first = next((line.strip() for line in text.splitlines() if line.strip()), "")
        return Verdict(category="other", retryable=info.retryable, action=info.action,
                       summary=redact(f"No known signature: {first[:200]}") if first else "Empty message",
                       root_cause=info.root_cause, recommendations=fill_recommendations(info.recommendations, info.docs, {}),
                       next_steps=list(info.next_steps), rule_id=None, evidence=[], timeline=[], error_details={},
                       confidence="low", runner_up=None)
    return _verdict_from_hit(catalogue, best, result, None, None, None, [])


def scan_message(text: str, catalogue: Catalogue | None = None) -> ScanResult:
    """Every hit of the catalogue (every rule eligible, whatever its layer) on one normalised message."""
    from tasks.triage.message_scan import matcher_for

    lines = message_lines(text)
    result = ScanResult(files=["message"], lines=len(lines))
    result.hits = matcher_for(catalogue or default_catalogue()).all_hits(lines)
    for hit in result.hits:
        result.hit_counts[hit.rule.id] = result.hit_counts.get(hit.rule.id, 0) + 1
    return result


FALLBACK_RULE_ID = "fallback.learned"


def _fallback_guess(text: str, catalogue: Catalogue, best: Hit | None):
    """The learned fallback's guess for a message no rule matched, or whose deciding rule is a wrapper that says only
    that a process failed (catalogue `wrappers`); None when it has none, when it agrees with the wrapper, or for
    known noise (a benign line)."""
    if best is not None and best.rule.id not in catalogue.wrappers:
        return None  # a rule that names a cause decides: the common case, before any import
    from tasks.triage.fallback import load_fallback
    from tasks.triage.message_scan import matcher_for

    model = load_fallback()
    if model is None or not text.strip() or matcher_for(catalogue).has_benign_line(text):
        return None
    guess = model.guess(text)
    return None if guess is None or (best is not None and guess.category == best.rule.category) else guess


def _fallback_summary(guess, wrapper: Hit | None = None) -> str:
    said = (f"The error says only that the process failed ({wrapper.rule.id}); its other words" if wrapper else
            "No signature matched; the message's words")
    return f"{said} resemble {guess.category} failures (learned fallback, p={guess.probability:.2f})"


def classify_record(record: Any, *, catalogue: Catalogue | None = None, fallback: bool = True) -> dict:
    """One `--classify-jsonl` output row for one input record: the verdict's essentials, never an exception.

    Args:
        record: a decoded JSON line, expected to be an object with `id` and `message` (the message may be any JSON
            value: a string, an error object, null).
        catalogue: default: the shipped catalogue.
        fallback: when no rule matches, let the learned fallback (fallback.py) guess, with confidence `low`.

    Returns:
        {"id", "category", "retryable", "action", "rule_id", "confidence", "runner_up", "summary"}; for a record
        that is not an object with `id` and `message`, {"id": <id or None>, "error": "<what was wrong>"}.
    """
    if not isinstance(record, dict) or "id" not in record or "message" not in record:
        rid = record.get("id") if isinstance(record, dict) else None
        return {"id": rid, "error": "expected an object with `id` and `message`"}
    from tasks.triage.message_scan import matcher_for

    catalogue = catalogue or default_catalogue()
    try:
        text = normalise(record["message"])
        best, runner = matcher_for(catalogue).best_and_runner(message_lines(text))
    except (RecursionError, MemoryError) as exc:  # a pathological message is a per-line error, not a crash
        return {"id": record["id"], "error": f"message could not be read ({type(exc).__name__})"}
    guess = _fallback_guess(text, catalogue, best) if fallback else None
    if guess is not None:
        info = catalogue.category(guess.category)
        return {"id": record["id"], "category": info.name, "retryable": info.retryable, "action": info.action,
                "rule_id": FALLBACK_RULE_ID, "confidence": "low", "runner_up": best.rule.category if best else None,
                "summary": _fallback_summary(guess, best)}
    if best is None:
        info = catalogue.category("other")
        return {"id": record["id"], "category": "other", "retryable": info.retryable, "action": info.action,
                "rule_id": None, "confidence": "low", "runner_up": None,
                "summary": "No known signature" if text.strip() else "Empty message"}
    info = catalogue.category(best.rule.category)
    confidence, runner_up = judge_confidence(best, [best] + ([runner] if runner else []))
    return {"id": record["id"], "category": info.name, "retryable": info.retryable, "action": info.action,
            "rule_id": best.rule.id, "confidence": confidence, "runner_up": runner_up,
            "summary": redact(fill_placeholders(best.rule.summary, {**best.groups, "match": best.groups["match"][:200]}))}


# Confidence follows the layer that decided and how close the best other category came.
_CLOSE = 6                   # a runner-up within this many priority points makes the verdict less sure
_HIGH_PRIORITY = 60          # a signature or code at least this specific is `high` on its own
_CATCH_ALL_PRIORITY = 11     # below this only a bare traceback or a non-zero exit matched


def judge_confidence(best: Hit, hits: list[Hit]) -> tuple[str, str | None]:
    """(confidence, runner-up category) for the deciding hit among all hits."""
    others: dict[str, Hit] = {}
    for hit in hits:
        category = hit.rule.category
        if category != best.rule.category and (category not in others or hit.key < others[category].key):
            others[category] = hit
    runner = min(others.values(), key=lambda h: h.key) if others else None
    priority = best.rule.priority
    if priority < _CATCH_ALL_PRIORITY:
        level = 0
    elif best.rule.tier != "generic" and priority >= _HIGH_PRIORITY:
        level = 2
    else:
        level = 1
    if runner is not None and priority - runner.rule.priority < _CLOSE:
        level = max(0, level - 1)
    return ("low", "medium", "high")[level], (runner.rule.category if runner else None)


# --- reading -------------------------------------------------------------------------------------------------------

def _read_job(path: Path, warnings: list[str]) -> dict | None:
    if not path.is_file():
        return None
    try:
        data = json.loads(path.read_text(encoding="utf-8", errors="replace"))
    except json.JSONDecodeError as exc:
        warnings.append(f"{JOB_RECORD} is not valid JSON ({exc}); triage used the logs only")
        return None
    if not isinstance(data, dict):
        warnings.append(f"{JOB_RECORD} is not a JSON object; triage used the logs only")
        return None
    return data


_STATES_WITHOUT_ERROR = ("NotResponding", "Paused")


def _structured_lines(job: dict | None) -> Iterator[tuple[None, str]]:
    if not job:
        return
    error = job.get("error") or {}
    if isinstance(error, dict):
        for key in ("code", "message", "target", "category"):
            value = error.get(key)
            if value:
                for line in message_lines(normalise(value)):
                    if line.strip():
                        yield None, line
        for key, value in error.items():
            if key not in ("code", "message", "target", "category") and isinstance(value, (dict, list)):
                # innerError / details: the nested codes say more than the outer UserError
                for line in message_lines(normalise(value)):
                    if line.strip():
                        yield None, line
    elif error:
        yield None, str(error)
    if job.get("state") in _STATES_WITHOUT_ERROR:
        # Azure ML records no error for these final states: the state itself is the signal the catalogue matches.
        yield None, f"Job ended in state {job['state']}"
    exit_code = job.get("exit_code")
    if exit_code not in (None, 0):
        yield None, f"User process exited with exit code {exit_code}"
    properties = job.get("properties") or {}
    if isinstance(properties, dict) and properties.get("gave_up_reason"):
        yield None, str(properties["gave_up_reason"])
    if job.get("gave_up_reason"):
        yield None, str(job["gave_up_reason"])


def _log_files(evidence_dir: Path) -> Iterator[tuple[str, str, Path, bool]]:
    """(layer, relative path, path, is the main user log) for every log file, user logs first."""
    user = sorted(_walk(evidence_dir / "user_logs", evidence_dir), key=lambda rp: (not _is_std_log(rp[0]), rp[0]))
    main = user[0][0] if user else None
    for rel, path in user:
        yield "user_log", rel, path, rel == main
    for folder in ("system_logs", "azureml-logs", "logs"):
        for rel, path in sorted(_walk(evidence_dir / folder, evidence_dir)):
            yield "system_log", rel, path, False


def _is_std_log(rel: str) -> bool:
    name = rel.rsplit("/", 1)[-1]
    return name.startswith("std_log") or name.startswith("70_driver_log")


def _walk(root: Path, base: Path) -> Iterator[tuple[str, Path]]:
    if not root.is_dir():
        return
    for folder, dirs, files in os.walk(root, followlinks=False):
        dirs.sort()
        for name in sorted(files):
            path = Path(folder) / name
            if path.is_file() and not path.is_symlink():
                yield path.relative_to(base).as_posix(), path


# --- verdicts ------------------------------------------------------------------------------------------------------

def _verdict_from_hit(catalogue: Catalogue, best: Hit, result: ScanResult, job: dict | None, state: str | None,
                      stats: OutputStats | None, warnings: list[str]) -> Verdict:
    info = catalogue.category(best.rule.category)
    same = sorted((h for h in result.hits if h.rule.category == best.rule.category), key=lambda h: h.key)
    cited = [best] + [h for h in same if h is not best]
    fatal = result.last_exception
    if fatal is not None and (fatal.file, fatal.line) != (best.file, best.line):
        # A crashed process: the exception it ended in is cited next to the line that explains it.
        cited = [cited[0], fatal] + [h for h in cited[1:] if (h.file, h.line) != (fatal.file, fatal.line)]
    evidence = _evidence(cited)
    confidence, runner_up = judge_confidence(best, result.hits)
    # Only the deciding category's lines fill placeholders: a log-upload URL of another signal names another container.
    values = _placeholder_values(job, same)
    values.update({k: v for k, v in best.groups.items() if k != "match"})
    details = _error_details(job, state, result, warnings, stats)
    details.update({"rule_id": best.rule.id, "matched": redact(best.groups["match"][:300])})
    details.update({k: redact(v) for k, v in values.items() if k not in details})
    details["other_signals"] = _other_signals(result.hits, best.rule.category)
    summary = fill_placeholders(best.rule.summary, {**values, "match": best.groups["match"][:200]})
    failure = _failure_event(best, summary, result)
    return Verdict(
        category=info.name, retryable=info.retryable, action=info.action, summary=summary,
        root_cause=best.rule.root_cause or info.root_cause,
        recommendations=fill_recommendations(best.rule.recommendations or info.recommendations, info.docs, values),
        next_steps=[fill_placeholders(s, values) for s in (best.rule.next_steps or info.next_steps)],
        rule_id=best.rule.id, evidence=evidence,
        timeline=result.timeline.build(job, failure, state), error_details=redact_obj(details),
        confidence=confidence, runner_up=runner_up,
    )


def _verdict_from_finding(catalogue: Catalogue, finding: OutputFinding, findings: list[OutputFinding],
                          result: ScanResult, job: dict | None, state: str | None, stats: OutputStats | None,
                          warnings: list[str]) -> Verdict:
    info = catalogue.category(finding.category)
    values = _placeholder_values(job, [h for h in result.hits if h.rule.category == finding.category])
    details = _error_details(job, state, result, warnings, stats)
    details["output_checks_failed"] = [f.check for f in findings]
    details["other_signals"] = _other_signals(result.hits, finding.category)
    evidence = list(finding.evidence)
    evidence += [e for f in findings[1:] for e in f.evidence][: max(0, _MAX_EVIDENCE - len(evidence))]
    evidence += _evidence([h for h in result.hits if h.rule.category == finding.category])
    return Verdict(
        category=info.name, retryable=info.retryable, action=info.action, summary=redact(finding.summary),
        root_cause=info.root_cause, recommendations=fill_recommendations(info.recommendations, info.docs, values),
        next_steps=[fill_placeholders(s, values) for s in info.next_steps], rule_id=f"output.{finding.check}",
        evidence=[EvidenceLine(e.file, e.line, redact(e.text)) for e in evidence][:_MAX_EVIDENCE],
        timeline=result.timeline.build(job, None, state), error_details=redact_obj(details),
        confidence="high", runner_up=_runner_up(result.hits, finding.category),
    )


def _healthy_verdict(catalogue: Catalogue, result: ScanResult, job: dict | None, state: str | None,
                     stats: OutputStats | None, warnings: list[str]) -> Verdict:
    info = catalogue.category("none")
    count = stats.predictions if stats else 0
    details = _error_details(job, state, result, warnings, stats)
    details.pop("std_log_tail", None)
    return Verdict(
        category="none", retryable=False, action="stop",
        summary=(f"Job completed; {count} predictions passed the output checks" if state else
                 f"No failure signature in the logs (no job.json); {count} predictions passed the output checks"),
        root_cause=info.root_cause, recommendations=[], next_steps=list(info.next_steps), rule_id=None,
        evidence=[], timeline=result.timeline.build(job, None, state), error_details=redact_obj(details),
    )


def _unknown_failure_verdict(catalogue: Catalogue, result: ScanResult, job: dict | None, state: str | None,
                             warnings: list[str]) -> Verdict:
    info = catalogue.category("other")
    error = (job or {}).get("error") or {}
    message = str(error.get("message") or "").strip().splitlines() if isinstance(error, dict) else [str(error)]
    first = message[0][:200] if message else ""
    code = error.get("code") if isinstance(error, dict) else None
    summary = f"Job {state or 'failed'} with no known signature" + (f": {code}: {first}" if code or first else "")
    evidence = [EvidenceLine(JOB_RECORD, None, redact(line[:500])) for line in message[:3]]
    evidence += [EvidenceLine(result.tail_file, n, redact(t.strip()[:500])) for n, t in list(result.tail)[-5:] if t.strip()]
    values = _placeholder_values(job, [])
    return Verdict(
        category="other", retryable=info.retryable, action=info.action, summary=redact(summary),
        root_cause=info.root_cause, recommendations=fill_recommendations(info.recommendations, info.docs, values),
        next_steps=list(info.next_steps), rule_id=None, evidence=evidence,
        timeline=result.timeline.build(job, None, state),
        error_details=redact_obj(_error_details(job, state, result, warnings, None)),
        confidence="low", runner_up=None,
    )


def _runner_up(hits: list[Hit], category: str) -> str | None:
    others = [h for h in hits if h.rule.category != category]
    return min(others, key=lambda h: h.key).rule.category if others else None


def _evidence(hits: list[Hit]) -> list[EvidenceLine]:
    out: list[EvidenceLine] = []
    seen: set[tuple[str, int | None, str]] = set()
    for hit in hits:
        key = (hit.file, hit.line, hit.text if hit.line is None else "")
        if key in seen:
            continue
        seen.add(key)
        out.append(EvidenceLine(hit.file, hit.line, redact(hit.text[:500])))
        if len(out) >= _MAX_EVIDENCE:
            break
    return out


def _other_signals(hits: list[Hit], category: str) -> list[dict]:
    best: dict[str, Hit] = {}
    for hit in hits:
        if hit.rule.category == category or hit.rule.priority < _OTHER_SIGNAL_MIN_PRIORITY:
            continue
        if hit.rule.category not in best or hit.key < best[hit.rule.category].key:
            best[hit.rule.category] = hit
    return [{"category": h.rule.category, "rule_id": h.rule.id, "summary": h.rule.summary.split("{")[0].strip(),
             "file": h.file, "line": h.line, "text": redact(h.text[:300])}
            for h in sorted(best.values(), key=lambda h: h.key)]


def _error_details(job: dict | None, state: str | None, result: ScanResult, warnings: list[str],
                   stats: OutputStats | None) -> dict:
    details: dict = {"state": state}
    error = (job or {}).get("error")
    if isinstance(error, dict):
        details.update({k: error.get(k) for k in ("code", "message", "category", "target") if error.get(k)})
    if job and job.get("exit_code") is not None:
        details["exit_code"] = job["exit_code"]
    if result.tail_file and result.tail:
        details["std_log_tail"] = {"file": result.tail_file, "lines": [f"{n}: {t}" for n, t in result.tail]}
    if stats is not None:
        details["outputs"] = {"predictions": stats.predictions, "failed": stats.failed, "verdicts": stats.verdicts,
                              "labelled_positive": stats.labelled_positive, "labelled_negative": stats.labelled_negative}
    details["scanned"] = {"files": len(result.files), "lines": result.lines}
    if warnings:
        details["warnings"] = list(warnings)
    return details


def _placeholder_values(job: dict | None, hits: list[Hit]) -> dict[str, str]:
    """Facts that fill recommendation placeholders: from job.json, then from URIs in the evidence."""
    values: dict[str, str] = {}
    if job:
        handle = job.get("handle") or {}
        props = {**(handle.get("details") or {}), **(job.get("properties") or {})} if isinstance(handle, dict) else {}
        values["job_name"] = str(handle.get("name") or job.get("name") or "") if isinstance(handle, dict) else ""
        for key in ("compute", "resource_group", "workspace", "workspace_name", "environment", "model_id", "model"):
            if props.get(key):
                values["workspace" if key == "workspace_name" else key] = str(props[key])
        if "model" in values and "model_id" not in values:
            values["model_id"] = values["model"]
    # The lines that decided name the path that failed; then the job's inputs. Never its outputs: a data-not-found
    # command filled with the output folder sends the reader to look in the wrong place.
    for hit in hits:
        _uri_values(hit.text, values)
    if job:
        inputs = [text for key, text in _keyed_strings(job) if "output" not in key and "input" in key]
        rest = [text for key, text in _keyed_strings(job) if "output" not in key and "input" not in key]
        for text in inputs + rest:
            _uri_values(text, values)
    return {k: v for k, v in values.items() if v}


def _uri_values(text: str, values: dict[str, str]) -> None:
    for pattern in _URI_PATTERNS:
        match = pattern.search(text)
        if match:
            values.setdefault("input_uri", match.group(0).rstrip(".,;"))
            for key, value in match.groupdict().items():
                if value:
                    values.setdefault(key, value.rstrip(".,;"))


def _keyed_strings(value, path: str = "") -> Iterator[tuple[str, str]]:
    """(lower-cased key path, string) for every string in a JSON value."""
    if isinstance(value, str):
        yield path, value
    elif isinstance(value, dict):
        for k, v in value.items():
            yield from _keyed_strings(v, f"{path}.{str(k).lower()}")
    elif isinstance(value, list):
        for v in value:
            yield from _keyed_strings(v, path)


def _failure_event(best: Hit, summary: str, result: ScanResult) -> tuple[str, str] | None:
    """The failure's place on the timeline: the deciding line's timestamp, else the earliest dated line of its category."""
    dated = [(find_timestamp(best.text), best)]
    if not dated[0][0]:
        dated = sorted(((find_timestamp(h.text), h) for h in result.hits if h.rule.category == best.rule.category),
                       key=lambda pair: (pair[0] or "~", pair[1].order))
    stamp, hit = dated[0] if dated else (None, best)
    return (stamp, f"Failure: {summary} ({hit.file}:{hit.line})") if stamp else None
