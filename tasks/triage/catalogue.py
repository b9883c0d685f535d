"""The failure catalogue: one typed schema, loaded from catalogue.yaml, compiled and validated at start-up.

Schema (the only place it is documented; catalogue.yaml follows it):

    version: 1
    categories:                      # one entry per taxonomy name (../shared/DESIGN.md), all of them required
      <category>:
        retryable: bool              # may the flow run the job again for this failure at all?
        action: str                  # one of ACTIONS: what remediation does next
        max_retries: int | null      # attempts this category may trigger; null = bounded only by max_attempts
        root_cause: str              # what went wrong, for people (report "Root Cause")
        recommendations: [str]       # commands and advice; `{name}` is filled from the evidence or job, else `<name>`
        next_steps: [str]
        docs: [str]                  # documentation links, printed under the recommendations
    benign:                          # lines that look alarming but are known noise; never evidence
      - id: str                      # stable, never reused
        pattern: str                 # Python regex, searched within one line
        source: str                  # where this noise was seen
    rules:
      - id: str                      # stable, never reused ("family.name")
        category: str                # a key of `categories`
        priority: int                # 0..100; higher wins (see matching below)
        pattern: str                 # Python regex, searched (re.search) within ONE line; named groups become
                                     # error details and fill `{name}` placeholders in recommendations
        ignore_case: bool = false
        layers: [str] = all          # where the rule may match: structured, user_log, system_log
        when: failed | any = failed  # `any`: also on a job that Completed (e.g. newly initialised weights)
        summary: str                 # one line for people; `{match}` is the matched text, `{name}` a named group
        root_cause / recommendations / next_steps: optional overrides of the category's defaults

    error_codes / http_status:       # layer 1 of classification: structured errors (tier `structured`)
    exceptions / errnos / exit_codes / keywords:   # layer 3: generic signals (tier `generic`)
                                     # tables, documented in signals.py; each entry is compiled into one Rule

Classification is layered by priority: structured error codes (nested inner codes included, read from JSON at any
depth by structured.py), then the specific signatures of `rules:`, then the generic signals; the catch-alls last.
A verdict's confidence follows the tier and priority that decided and how close the runner-up came.

Matching: every line of every layer (the run's structured error in job.json, the user process's logs, the system
logs) is tested; a line that matches a `benign` pattern is skipped. Of all hits, the highest `priority` wins; a tie
goes to the earlier layer (structured, then user_log, then system_log), then to the earlier line. Specific
signatures therefore carry high priorities and catch-alls (a bare traceback, a non-zero exit) low ones, so that a
generic structured error ("user process exited with status 1") never hides the CUDA OOM line in std_log.
A job that Completed is judged by `when: any` rules and the output checks only. No hit on a failed job: `other`.
Speed: each rule's required literals (`Rule.keywords`, read from the parsed pattern at load) are looked for in whole
blocks of log text first; a regex only runs on a line that holds one of its rule's keywords.
"""
from __future__ import annotations

import re
import threading
from dataclasses import dataclass
from re import _constants as sre_constants  # noqa: the pattern parser ships with CPython's re
from re import _parser as sre_parser
from functools import lru_cache
from pathlib import Path
from typing import Any

import yaml

from tasks.triage.checked_versions import CheckedVersion

DEFAULT_CATALOGUE = Path(__file__).with_name("catalogue.yaml")

CATEGORIES = (
    "data_not_found", "storage_auth_key_disabled", "storage_permission_denied", "credential_invalid_or_expired",
    "preempted_low_priority", "cuda_oom", "host_oom_killed", "disk_full", "dependency_missing", "model_load_failed",
    "user_script_error", "script_or_code_missing", "image_build_failed", "image_pull_failed", "quota_exceeded",
    "compute_unavailable", "job_config_invalid", "timeout", "nccl_distributed_error", "service_error",
    "output_invalid", "other", "none",
)
ACTIONS = ("resubmit", "resubmit_with_identity", "resubmit_smaller_batch", "wait_and_resubmit",
           "rebuild_environment", "stop")
LAYERS = ("structured", "user_log", "system_log")
WHEN = ("failed", "any")
_ID = re.compile(r"^[a-z0-9_]+(\.[a-z0-9_]+)+$")


class CatalogueError(ValueError):
    """The catalogue file is malformed; the message names the rule or category and what to fix."""


@dataclass(frozen=True)
class CategoryInfo:
    """Per-category defaults: what a verdict of this category says and what remediation may do."""

    name: str
    retryable: bool
    action: str
    max_retries: int | None
    root_cause: str
    recommendations: tuple[str, ...]
    next_steps: tuple[str, ...]
    docs: tuple[str, ...]


@dataclass(frozen=True)
class Rule:
    """One signature: a compiled pattern mapped onto a category."""

    id: str
    category: str
    priority: int
    regex: re.Pattern[str]
    summary: str
    layers: frozenset[str]
    when: str
    root_cause: str | None = None
    recommendations: tuple[str, ...] | None = None
    next_steps: tuple[str, ...] | None = None
    # Lower-case literals of which every match contains one (derived from the pattern at load); None: no literal of 3+
    # characters is required, so every line must be tried.
    keywords: frozenset[str] | None = None
    # Which layer of classification the rule belongs to: `structured` (an error code or HTTP status), `signature`
    # (a rule of `rules:`), `generic` (an exception type, errno, exit code or keyword in context). Confidence follows it.
    tier: str = "signature"
    # Groups of word gates, ("exact", word) or ("prefix", start of a word): a match needs one gate of every group
    # among the text's words. Read from the tables at load (signals.gates); None: prefilter with `keywords`.
    gates: tuple[tuple[tuple[str, str], ...], ...] | None = None


@dataclass(frozen=True)
class BenignPattern:
    """Known noise: a line that says "error" or "failed" but never explains a failure."""

    id: str
    regex: re.Pattern[str]
    source: str


@dataclass(frozen=True)
class Catalogue:
    """The loaded catalogue: categories, benign noise and rules, all compiled."""

    categories: dict[str, CategoryInfo]
    rules: tuple[Rule, ...]
    benign: tuple[BenignPattern, ...]
    source: Path
    # Rules that say only that a process failed, not why (Azure ML's wrappers): when one decides a single message,
    # the learned fallback may still name the cause from the rest of its words.
    wrappers: frozenset[str] = frozenset()

    def category(self, name: str) -> CategoryInfo:
        """The defaults of one category.

        Raises:
            KeyError: `name` is not in the taxonomy.
        """
        try:
            return self.categories[name]
        except KeyError:
            raise KeyError(f"unknown failure category {name!r}; known: {', '.join(sorted(self.categories))}") from None

    def rule(self, rule_id: str) -> Rule:
        for rule in self.rules:
            if rule.id == rule_id:
                return rule
        raise KeyError(f"no rule {rule_id!r} in {self.source}")

    def is_benign(self, line: str) -> bool:
        return any(b.regex.search(line) for b in self.benign)


def load_catalogue(path: Path | str | None = None) -> Catalogue:
    """Load, compile and validate a catalogue file.

    Args:
        path: the YAML file; default: the catalogue shipped beside this module.

    Returns:
        The compiled Catalogue.

    Raises:
        CatalogueError: the file is missing, is not valid YAML, or a rule/category breaks the schema (the message
            names which and why). A bad rule stops start-up rather than being skipped.
    """
    source = Path(path) if path else DEFAULT_CATALOGUE
    try:
        # libyaml's loader when PyYAML has it: the same data, read eight times faster (start-up of every triage).
        text = source.read_text(encoding="utf-8")
        data = yaml.load(text, Loader=getattr(yaml, "CSafeLoader", yaml.SafeLoader))
    except OSError as exc:
        raise CatalogueError(f"cannot read catalogue {source}: {exc}") from exc
    except yaml.YAMLError as exc:
        raise CatalogueError(f"catalogue {source} is not valid YAML: {exc}") from exc
    if not isinstance(data, dict) or data.get("version") != 1:
        raise CatalogueError(f"catalogue {source}: expected a mapping with `version: 1` at the top")
    categories = _load_categories(data.get("categories"), source)
    version = CheckedVersion(text, code=[Path(__file__).with_name(m) for m in ("catalogue.py", "signals.py")])
    with _LOADING:
        known = version.literals()
        _LITERALS.update(known or {})
        _RECORDING[:] = [[]]
        try:
            benign = tuple(_load_benign(entry, i, source)
                           for i, entry in enumerate(_as_list(data.get("benign"), "benign", source)))
            rules = tuple(_load_rule(entry, i, categories, source)
                          for i, entry in enumerate(_as_list(data.get("rules"), "rules", source)))
            rules += _load_signal_tables(data, categories, source)
        finally:
            used = _RECORDING.pop() if _RECORDING else []
    _check_unique([r.id for r in rules] + [b.id for b in benign], source)
    wrappers = _load_wrappers(data.get("wrappers"), rules, source)
    if known is None:
        _check_context_patterns(rules, source)
        version.remember({key: _LITERALS[key] for key in used})
    # One pass of one combined regex per line decides whether any rule can match at all: most log lines match
    # nothing, and testing 40 patterns on each of them would dominate the time to triage a large folder.
    return Catalogue(categories=categories, rules=rules, benign=benign, source=source, wrappers=wrappers)


# required_literals' answers, remembered ("<min>\0<flags>\0<pattern>" -> literals) and kept per catalogue version in
# the cache folder (checked_versions.py): a version seen before parses none of its patterns at start-up.
_LITERALS: dict[str, frozenset[str] | None] = {}
_RECORDING: list[list[str]] = []                   # the keys one load asks for (to remember them for its version)
_LOADING = threading.Lock()


def _check_context_patterns(rules: tuple[Rule, ...], source: Path) -> None:
    """Compile every word-in-context pattern; refuse one that does not compile or matches the empty string."""
    from tasks.triage.signals import ContextPattern

    for rule in rules:
        if not isinstance(rule.regex, ContextPattern):
            continue
        try:
            empty = rule.regex.compile().search("")
        except re.error as exc:
            raise CatalogueError(f"catalogue {source}: keywords entry {rule.id}: `words`, `near` or `unless` does not "
                                 f"compile: {exc}") from None
        if empty:
            raise CatalogueError(f"catalogue {source}: keywords entry {rule.id}: the pattern built from it matches "
                                 "the empty string")


@lru_cache(maxsize=4)
def default_catalogue() -> Catalogue:
    """The shipped catalogue, loaded once per process."""
    return load_catalogue(DEFAULT_CATALOGUE)


def _as_list(value: Any, what: str, source: Path) -> list:
    if value is None:
        return []
    if not isinstance(value, list):
        raise CatalogueError(f"catalogue {source}: `{what}` must be a list")
    return value


def _load_categories(raw: Any, source: Path) -> dict[str, CategoryInfo]:
    if not isinstance(raw, dict):
        raise CatalogueError(f"catalogue {source}: `categories` must be a mapping of category name to defaults")
    unknown = sorted(set(raw) - set(CATEGORIES))
    missing = sorted(set(CATEGORIES) - set(raw))
    if unknown:
        raise CatalogueError(f"catalogue {source}: unknown categories {unknown}; the taxonomy is {list(CATEGORIES)}")
    if missing:
        raise CatalogueError(f"catalogue {source}: categories {missing} have no defaults; add an entry for each")
    out = {}
    for name, entry in raw.items():
        where = f"catalogue {source}: category {name!r}"
        if not isinstance(entry, dict):
            raise CatalogueError(f"{where} must be a mapping")
        _no_extra_keys(entry, {"retryable", "action", "max_retries", "root_cause", "recommendations", "next_steps", "docs"}, where)
        if not isinstance(entry.get("retryable"), bool):
            raise CatalogueError(f"{where}: `retryable` must be true or false")
        action = entry.get("action")
        if action not in ACTIONS:
            raise CatalogueError(f"{where}: `action` {action!r} is not one of {list(ACTIONS)}")
        if not entry["retryable"] and action != "stop":
            raise CatalogueError(f"{where}: not retryable, so its action must be `stop` (is {action!r})")
        max_retries = entry.get("max_retries")
        if max_retries is not None and (not isinstance(max_retries, int) or max_retries < 0):
            raise CatalogueError(f"{where}: `max_retries` must be a non-negative integer or null")
        root_cause = entry.get("root_cause")
        if not isinstance(root_cause, str) or not root_cause.strip():
            raise CatalogueError(f"{where}: `root_cause` must be a non-empty string")
        out[name] = CategoryInfo(
            name=name, retryable=entry["retryable"], action=action, max_retries=max_retries,
            root_cause=root_cause.strip(),
            recommendations=_str_tuple(entry.get("recommendations"), f"{where}: recommendations"),
            next_steps=_str_tuple(entry.get("next_steps"), f"{where}: next_steps"),
            docs=_str_tuple(entry.get("docs"), f"{where}: docs"),
        )
    return out


def _load_benign(entry: Any, index: int, source: Path) -> BenignPattern:
    where = f"catalogue {source}: benign[{index}]"
    if not isinstance(entry, dict):
        raise CatalogueError(f"{where} must be a mapping with id, pattern, source")
    _no_extra_keys(entry, {"id", "pattern", "source"}, where)
    bid = _check_id(entry.get("id"), where)
    return BenignPattern(id=bid, regex=_compile(entry.get("pattern"), False, f"{where} ({bid})"), source=str(entry.get("source", "")))


def _load_rule(entry: Any, index: int, categories: dict[str, CategoryInfo], source: Path) -> Rule:
    where = f"catalogue {source}: rules[{index}]"
    if not isinstance(entry, dict):
        raise CatalogueError(f"{where} must be a mapping")
    _no_extra_keys(entry, {"id", "category", "priority", "pattern", "ignore_case", "layers", "when", "summary",
                           "root_cause", "recommendations", "next_steps"}, where)
    rid = _check_id(entry.get("id"), where)
    where = f"{where} ({rid})"
    category = entry.get("category")
    if category not in categories or category in ("none",):
        raise CatalogueError(f"{where}: `category` {category!r} is not a failure category of the taxonomy")
    priority = entry.get("priority")
    if not isinstance(priority, int) or isinstance(priority, bool) or not 0 <= priority <= 100:
        raise CatalogueError(f"{where}: `priority` must be an integer 0..100 (explicit, never implied by order)")
    layers = entry.get("layers", list(LAYERS))
    if not isinstance(layers, list) or not layers or any(layer not in LAYERS for layer in layers):
        raise CatalogueError(f"{where}: `layers` must be a non-empty subset of {list(LAYERS)}")
    when = entry.get("when", "failed")
    if when not in WHEN:
        raise CatalogueError(f"{where}: `when` must be one of {list(WHEN)}")
    summary = entry.get("summary")
    if not isinstance(summary, str) or not summary.strip():
        raise CatalogueError(f"{where}: `summary` must be a non-empty string")
    regex = _compile(entry.get("pattern"), bool(entry.get("ignore_case", False)), where)
    placeholders = set(re.findall(r"\{(\w+)\}", summary)) - {"match"}
    missing = placeholders - set(regex.groupindex)
    if missing:
        raise CatalogueError(f"{where}: summary uses {sorted(missing)} but the pattern has no such named group")
    recs = entry.get("recommendations")
    steps = entry.get("next_steps")
    return Rule(
        keywords=required_literals(regex),
        id=rid, category=category, priority=priority, regex=regex, summary=summary.strip(),
        layers=frozenset(layers), when=when,
        root_cause=str(entry["root_cause"]).strip() if entry.get("root_cause") else None,
        recommendations=_str_tuple(recs, f"{where}: recommendations") if recs is not None else None,
        next_steps=_str_tuple(steps, f"{where}: next_steps") if steps is not None else None,
    )


def _load_signal_tables(data: dict, categories: dict[str, CategoryInfo], source: Path) -> tuple[Rule, ...]:
    """The structured and generic tables (signals.py documents them), compiled into rules."""
    from tasks.triage.signals import SECTIONS, ContextPattern, SignalError, compile_section

    def make_rule(entry: dict, regex: re.Pattern[str], summary: str, keywords, tier: str, where: str, gates) -> Rule:
        rid = _check_id(entry.get("id"), where)
        where = f"{where} ({rid})"
        category = entry.get("category")
        if category not in categories or category == "none":
            raise CatalogueError(f"{where}: `category` {category!r} is not a failure category of the taxonomy")
        priority = entry.get("priority")
        if not isinstance(priority, int) or isinstance(priority, bool) or not 0 <= priority <= 100:
            raise CatalogueError(f"{where}: `priority` must be an integer 0..100")
        if not isinstance(regex, ContextPattern) and regex.search(""):  # words in context: _check_context_patterns
            raise CatalogueError(f"{where}: the pattern built from it matches the empty string")
        return Rule(id=rid, category=category, priority=priority, regex=regex,
                    summary=summary.replace("{category}", category),
                    # A generic word in a system log (a capability's "timeout" while retrying) is no reason for the
                    # user's job to have failed; system logs speak through codes and specific signatures only.
                    layers=frozenset(LAYERS) if tier == "structured" else frozenset(("structured", "user_log")),
                    when="failed",
                    keywords=frozenset(keywords) if keywords else None, tier=tier, gates=gates)

    rules: list[Rule] = []
    for section in SECTIONS:
        try:
            rules += compile_section(section, data.get(section), f"catalogue {source}", make_rule)
        except SignalError as exc:
            raise CatalogueError(str(exc)) from None
    return tuple(rules)


def _compile(pattern: Any, ignore_case: bool, where: str) -> re.Pattern[str]:
    if not isinstance(pattern, str) or not pattern:
        raise CatalogueError(f"{where}: `pattern` must be a non-empty string")
    try:
        regex = re.compile(pattern, re.IGNORECASE if ignore_case else 0)
    except re.error as exc:
        raise CatalogueError(f"{where}: pattern {pattern!r} does not compile: {exc}") from exc
    if regex.search(""):
        raise CatalogueError(f"{where}: pattern {pattern!r} matches the empty string, so it would match every line")
    return regex


def _check_id(value: Any, where: str) -> str:
    if not isinstance(value, str) or not _ID.match(value):
        raise CatalogueError(f"{where}: `id` {value!r} must look like 'family.name' (lowercase, dots, underscores)")
    return value


def _load_wrappers(raw: Any, rules: tuple[Rule, ...], source: Path) -> frozenset[str]:
    ids = _as_list(raw, "wrappers", source)
    known = {rule.id for rule in rules}
    unknown = [rid for rid in ids if not isinstance(rid, str) or rid not in known]
    if unknown:
        raise CatalogueError(f"catalogue {source}: `wrappers` names rules that do not exist: {unknown}; list rule ids")
    return frozenset(ids)


def _check_unique(ids: list[str], source: Path) -> None:
    seen: set[str] = set()
    for rid in ids:
        if rid in seen:
            raise CatalogueError(f"catalogue {source}: id {rid!r} is used twice; ids are stable and never reused")
        seen.add(rid)


def _no_extra_keys(entry: dict, allowed: set[str], where: str) -> None:
    extra = sorted(set(entry) - allowed)
    if extra:
        raise CatalogueError(f"{where}: unknown keys {extra}; allowed: {sorted(allowed)}")


def _str_tuple(value: Any, where: str) -> tuple[str, ...]:
    if value is None:
        return ()
    if not isinstance(value, list) or not all(isinstance(v, str) and v.strip() for v in value):
        raise CatalogueError(f"{where} must be a list of non-empty strings")
    return tuple(v.strip() for v in value)


def required_literals(regex: re.Pattern[str] | str, min_length: int = 3) -> frozenset[str] | None:
    """Lower-case literals of which any match must contain at least one, or None when the pattern has none.

    Read from the parsed pattern: a run of literal characters, a group, or an alternation whose every branch has one.
    Triage tests these with `in` on whole blocks of log text before running any regex, which is what keeps a 50 MB
    folder fast; a superset is always safe (the regex still decides).
    """
    pattern, flags = (regex, 0) if isinstance(regex, str) else (regex.pattern, regex.flags)
    key = f"{min_length}\0{flags}\0{pattern}"
    if _RECORDING:
        _RECORDING[-1].append(key)
    if key not in _LITERALS:
        _LITERALS[key] = _best_literals(sre_parser.parse(pattern, flags), min_length)
    return _LITERALS[key]


def _best_literals(items, min_length: int) -> frozenset[str] | None:
    candidates: list[frozenset[str]] = []
    run = ""
    for op, arg in items:
        if op is sre_constants.LITERAL:
            run += chr(arg)
            continue
        if run:
            candidates.append(frozenset([run.lower()]))
            run = ""
        if op is sre_constants.SUBPATTERN:
            found = _best_literals(arg[-1], min_length)
        elif op is sre_constants.BRANCH:
            branches = [_best_literals(branch, min_length) for branch in arg[1]]
            found = frozenset().union(*branches) if all(branches) else None
        elif op in (sre_constants.MAX_REPEAT, sre_constants.MIN_REPEAT) and arg[0] >= 1:
            found = _best_literals(arg[2], min_length)
        else:
            found = None
        if found:
            candidates.append(found)
    if run:
        candidates.append(frozenset([run.lower()]))
    usable = [c for c in candidates if min(map(len, c)) >= min_length]
    return max(usable, key=lambda c: (min(map(len, c)), -len(c))) if usable else None
