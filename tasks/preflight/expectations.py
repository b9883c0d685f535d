"""Run the preflight data-quality suite (expectations.yaml) with Great Expectations over in-memory tables.

One ephemeral GX context per process (no files written anywhere, progress bars and analytics off); each table is one
pandas batch validated with the suite's expectations for that table in a single pass.
"""
from __future__ import annotations

import logging
import os
from dataclasses import dataclass, field
from functools import lru_cache
from pathlib import Path
from typing import Any

import yaml

SUITE_PATH = Path(__file__).with_name("expectations.yaml")
SEVERITIES = ("blocking", "warning")
TABLES = ("files", "videos", "probed", "labels", "label_problems", "label_duplicates")
_ENTRY_FIELDS = {"id", "table", "expectation", "kwargs", "requires", "severity", "category", "offending", "message"}
_SHOWN = 10  # offending values quoted in a message; the full list stays in the Finding


@dataclass(frozen=True)
class ExpectationSpec:
    """One entry of the suite (see the header of expectations.yaml)."""

    id: str
    table: str
    expectation: str
    kwargs: dict
    severity: str
    category: str
    offending: Any
    message: str
    requires: tuple[str, ...] = ()


@dataclass(frozen=True)
class Suite:
    """The suite's default parameters and entries."""

    parameters: dict
    entries: tuple[ExpectationSpec, ...]


@dataclass
class ExpectationOutcome:
    """One expectation's verdict, with the values that broke it and a message for people."""

    spec: ExpectationSpec
    success: bool
    message: str = ""
    offending: list = field(default_factory=list)
    observed: Any = None
    skipped: str | None = None  # why it did not run


@lru_cache(maxsize=None)
def load_suite(path: Path = SUITE_PATH) -> Suite:
    """Load and check the suite.

    Raises:
        ValueError: an entry has unknown fields, a duplicate id, an unknown table, severity or GX expectation, or
            names a parameter that is not defined (the message names the entry).
    """
    import great_expectations as gx

    data = yaml.safe_load(Path(path).read_text())
    parameters = dict(data.get("parameters") or {})
    entries, seen = [], set()
    for raw in data.get("expectations") or []:
        where = f"{path}: expectation {raw.get('id')!r}"
        if set(raw) - _ENTRY_FIELDS or not {"id", "table", "expectation", "severity", "message"} <= set(raw):
            raise ValueError(f"{where}: unknown fields {sorted(set(raw) - _ENTRY_FIELDS)} or missing id/table/expectation/severity/message")
        if raw["id"] in seen:
            raise ValueError(f"{where}: id used twice")
        if raw["table"] not in TABLES:
            raise ValueError(f"{where}: table must be one of {TABLES}")
        unknown_needs = [need for need in raw.get("requires") or [] if need != "labels" and need not in seen]
        if unknown_needs:
            raise ValueError(f"{where}: requires {unknown_needs}: neither 'labels' nor the id of an earlier entry")
        if raw["severity"] not in SEVERITIES:
            raise ValueError(f"{where}: severity must be one of {SEVERITIES}")
        if not hasattr(gx.expectations, raw["expectation"]):
            raise ValueError(f"{where}: gx.expectations has no {raw['expectation']}")
        for value in (raw.get("kwargs") or {}).values():
            if isinstance(value, str) and value.startswith("$") and value[1:] not in parameters:
                raise ValueError(f"{where}: parameter {value} is not defined under `parameters`")
        seen.add(raw["id"])
        entries.append(ExpectationSpec(
            id=raw["id"], table=raw["table"], expectation=raw["expectation"], kwargs=dict(raw.get("kwargs") or {}),
            severity=raw["severity"], category=raw.get("category", "data_quality"), offending=raw.get("offending"),
            message=" ".join(str(raw["message"]).split()), requires=tuple(raw.get("requires") or ()),
        ))
    return Suite(parameters=parameters, entries=tuple(entries))


@lru_cache(maxsize=1)
def _context():
    """The process's ephemeral GX context: created once (importing GX takes seconds), in memory, no docs site,
    no progress bars, no analytics."""
    os.environ.setdefault("GX_ANALYTICS_ENABLED", "false")
    import great_expectations as gx
    from great_expectations.data_context.types.base import (
        DataContextConfig,
        InMemoryStoreBackendDefaults,
        ProgressBarsConfig,
    )

    logging.getLogger("great_expectations").setLevel(logging.WARNING)
    config = DataContextConfig(
        store_backend_defaults=InMemoryStoreBackendDefaults(init_temp_docs_sites=False),
        progress_bars=ProgressBarsConfig(globally=False, metric_calculations=False),
        analytics_enabled=False,
    )
    return gx.get_context(mode="ephemeral", project_config=config)


def _batch(table: str, frame):
    context = _context()
    try:
        source = context.data_sources.get("ghostwatch-preflight")
    except (KeyError, ValueError, LookupError):
        source = context.data_sources.add_pandas("ghostwatch-preflight")
    try:
        asset = source.get_asset(table)
    except LookupError:
        asset = source.add_dataframe_asset(table)
    try:
        definition = asset.get_batch_definition("whole")
    except (KeyError, ValueError, LookupError):
        definition = asset.add_batch_definition_whole_dataframe("whole")
    return definition.get_batch(batch_parameters={"dataframe": frame})


def run_suite(tables: dict, parameters: dict | None = None, context: dict | None = None, suite: Suite | None = None) -> list[ExpectationOutcome]:
    """Validate the tables with the suite.

    Args:
        tables: table name -> pandas DataFrame (a table that is absent skips its expectations).
        parameters: overrides of the suite's parameters (None values skip the entries that use them).
        context: extra message placeholders (uri, labels flag under key 'labels').
        suite: default: expectations.yaml.

    Returns:
        One ExpectationOutcome per entry, in suite order.
    """
    import great_expectations as gx

    suite = suite or load_suite()
    values = {**suite.parameters, **(parameters or {})}
    context = dict(context or {})
    outcomes: list[ExpectationOutcome] = []
    by_table: dict[str, list[tuple[ExpectationSpec, Any]]] = {}
    entry_ids = {spec.id for spec in suite.entries}
    for spec in suite.entries:
        missing_requirement = next((need for need in spec.requires if need not in entry_ids and not context.get(need)), None)
        kwargs = {key: values[value[1:]] if isinstance(value, str) and value.startswith("$") else value
                  for key, value in spec.kwargs.items()}
        if missing_requirement:
            outcomes.append(ExpectationOutcome(spec, True, skipped=f"no {missing_requirement} given"))
        elif spec.table not in tables:
            outcomes.append(ExpectationOutcome(spec, True, skipped=f"no {spec.table} table"))
        elif any(value is None for value in kwargs.values()):
            outcomes.append(ExpectationOutcome(spec, True, skipped="turned off (parameter is none)"))
        else:
            outcome = ExpectationOutcome(spec, True)
            outcomes.append(outcome)
            by_table.setdefault(spec.table, []).append((outcome, getattr(gx.expectations, spec.expectation)(**kwargs)))
    for table, pending in by_table.items():
        frame = tables[table].reset_index(drop=True)
        batch = _batch(table, frame)
        suite_object = gx.ExpectationSuite(name=f"preflight-{table}", expectations=[expectation for _, expectation in pending])
        result = batch.validate(suite_object, result_format={"result_format": "COMPLETE"})
        for (outcome, _), check in zip(pending, result.results):
            _fill(outcome, check, frame, tables, {**values, **context})
    failed = {outcome.spec.id for outcome in outcomes if not outcome.success}
    for outcome in outcomes:
        unmet = next((need for need in outcome.spec.requires if need in failed), None)
        if unmet and not outcome.success:
            outcome.success, outcome.skipped, outcome.offending, outcome.message = True, f"{unmet} failed", [], ""
    return outcomes


def _fill(outcome: ExpectationOutcome, check, frame, tables: dict, placeholders: dict) -> None:
    spec = outcome.spec
    outcome.success = bool(check.success)
    details = check.result or {}
    outcome.observed = details.get("observed_value")
    if check.exception_info and check.exception_info.get("raised_exception"):
        outcome.success = False
        outcome.message = f"{spec.id}: Great Expectations could not evaluate it: {check.exception_info.get('exception_message')}"
        return
    if outcome.success:
        return
    if spec.offending == "observed":
        offending = [outcome.observed]
    elif isinstance(spec.offending, dict) and "table" in spec.offending:
        source = tables.get(spec.offending["table"])
        offending = [] if source is None else list(source[spec.offending["column"]])
    elif isinstance(spec.offending, dict):
        rows = details.get("unexpected_index_list") or []
        offending = [frame.at[row, spec.offending["column"]] for row in rows if row in frame.index]
    else:
        offending = list(details.get("partial_unexpected_list") or [])
    outcome.offending = [_plain(value) for value in offending]
    shown = ", ".join(str(value) for value in outcome.offending[:_SHOWN]) or "nothing"
    if len(outcome.offending) > _SHOWN:
        shown += f" and {len(outcome.offending) - _SHOWN} more"
    total = details.get("element_count", len(frame))
    readable = {key: ", ".join(map(str, value)) if isinstance(value, (list, tuple)) else value
                for key, value in placeholders.items()}
    outcome.message = spec.message.format_map(_Lenient(
        {**readable, "count": len(outcome.offending), "offending": shown, "observed": outcome.observed, "total": total}
    ))


def _plain(value: Any) -> Any:
    """numpy scalars to Python ones, so findings serialise to JSON."""
    return value.item() if hasattr(value, "item") else value


class _Lenient(dict):
    def __missing__(self, key: str) -> str:
        return "{" + key + "}"
