"""Expectation suites as JSON in GX's own format, checked before any Spark work.

Each expectation carries an action in its ``meta`` (overridable per zone in the zone's YAML):
``warn`` reports only, ``quarantine`` keeps failing rows out of the target (row-level
expectations only), ``fail`` stops the zone and everything downstream of it.
"""
from __future__ import annotations

import json
import logging
import os
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from lakehouse.errors import Problem

ACTIONS = ("warn", "quarantine", "fail")
GX_REQUIREMENT = "great-expectations==1.24.1"  # as pinned in setup.cfg; installed on Glue at job start
DEFAULT_ACTION = "fail"  # an expectation nobody gave an action to guards the target strictly


def import_gx():
    """great_expectations, imported only through here: it must not phone home, and that is read
    from the environment at its first import; its logging would drown the run's output."""
    os.environ.setdefault("GX_ANALYTICS_ENABLED", "false")
    logging.getLogger("great_expectations").setLevel(logging.CRITICAL)
    import great_expectations

    return great_expectations


# The types that may take action quarantine: row-level expectations whose row condition as GX
# renders it (unexpected_index_query) tests/test_gx_contract.py shows to select exactly the rows GX
# counts as unexpected, on the GX version pinned in setup.cfg; re-check that contract on any upgrade.
# Left out on 1.24.1 after checking: expect_multicolumn_sum_to_equal and
# expect_select_column_values_to_be_unique_within_record (the condition also selects the all-null
# rows GX skips), _to_be_json_parseable and _to_match_strftime_format (the condition calls a Python
# UDF Spark SQL cannot name), _to_be_of_type and _to_be_increasing (no condition), the like-pattern
# and dateutil types (no Spark implementation).
QUARANTINABLE = frozenset({
    "expect_column_values_to_not_be_null", "expect_column_values_to_be_null",
    "expect_column_values_to_be_between", "expect_column_values_to_be_in_set",
    "expect_column_values_to_not_be_in_set", "expect_column_values_to_match_regex",
    "expect_column_values_to_not_match_regex", "expect_column_values_to_match_regex_list",
    "expect_column_values_to_not_match_regex_list", "expect_column_value_lengths_to_be_between",
    "expect_column_value_lengths_to_equal", "expect_column_pair_values_to_be_equal",
    "expect_column_pair_values_a_to_be_greater_than_b",
})

# Row-level in GX's terms, but decided over groups of rows (a window): no per-row condition exists.
_JUDGES_ROWS_TOGETHER = {"expect_column_values_to_be_unique", "expect_compound_columns_to_be_unique",
                         "expect_select_column_values_to_be_unique_within_record"}
# Table-level, but answered by the schema alone: a part of the table answers as the whole would.
_SCHEMA_ONLY = {"expect_table_columns_to_match_set", "expect_table_columns_to_match_ordered_list",
                "expect_column_to_exist", "expect_table_column_count_to_equal",
                "expect_table_column_count_to_be_between"}


@dataclass(frozen=True)
class ExpectationSpec:
    name: str
    type: str
    action: str
    row_level: bool
    mostly: float | None
    config: dict[str, Any]


@dataclass(frozen=True)
class SuiteSpec:
    name: str
    file: Path
    expectations: list[ExpectationSpec] = field(default_factory=list)
    max_quarantined_fraction: float | None = None

    @property
    def judges_whole_table(self) -> bool:
        """Whether some expectation's verdict depends on rows other than the one judged (counts,
        uniqueness): then an incremental zone is judged on its table as promotion would leave it."""
        return any((not e.row_level and e.type not in _SCHEMA_ONLY) or e.type in _JUDGES_ROWS_TOGETHER
                   for e in self.expectations)

    @property
    def judges_shares(self) -> bool:
        """Whether a verdict depends on what share of the judged rows fail (``mostly``, or
        ``max_quarantined_fraction``): then which rows a batch holds decides it, not only which fail."""
        return self.max_quarantined_fraction is not None or any(e.mostly is not None for e in self.expectations)

    def gx_json(self) -> dict[str, Any]:
        """The suite for GX, each expectation tagged with its name so results map back to it."""
        return {"name": self.name, "expectations": [
            {**e.config, "meta": {**(e.config.get("meta") or {}), "name": e.name, "action": e.action}}
            for e in self.expectations]}


def expectation_name(config: dict[str, Any]) -> str:
    meta = config.get("meta") or {}
    if meta.get("name"):
        return str(meta["name"])
    kwargs = config.get("kwargs") or {}
    subject = kwargs.get("column") or kwargs.get("column_list") or \
        [kwargs[k] for k in ("column_A", "column_B") if k in kwargs]
    subject = ",".join(map(str, subject)) if isinstance(subject, list) else subject
    return f"{config.get('type')}({subject or ''})"


def _build(config: dict[str, Any]):
    """The GX expectation object, or an exception saying why GX cannot use this entry."""
    from great_expectations.expectations.expectation_configuration import ExpectationConfiguration

    clean = {k: v for k, v in config.items() if k in ("type", "kwargs", "meta", "notes", "id", "description")}
    return ExpectationConfiguration(**clean).to_domain_obj()


def _cannot_quarantine(kind: str, expectation, row_level: bool) -> str:
    """Why GX's row condition for this expectation cannot be trusted to quarantine by; empty if it can."""
    if not row_level or kind in _JUDGES_ROWS_TOGETHER:
        return f"{kind} judges rows together, so no single row can be quarantined"
    if kind not in QUARANTINABLE:
        return (f"{kind} is not among the expectations whose row condition is verified to select exactly "
                f"its failing rows (QUARANTINABLE: {', '.join(sorted(QUARANTINABLE))})")
    # GX narrows the rows it judges by these, but leaves them out of the condition it reports.
    if expectation.row_condition:
        return "with a row_condition, GX's row condition would also quarantine rows the expectation never judged"
    ignore = type(expectation).__fields__.get("ignore_row_if")
    if ignore is not None and expectation.ignore_row_if != ignore.default:
        return (f"with ignore_row_if {expectation.ignore_row_if!r}, GX's row condition would also quarantine "
                f"rows GX skips (only the default {ignore.default!r} is verified)")
    return ""


def load_suite(path: Path, suite_name: str, overrides: dict[str, str], max_fraction: float | None,
               problems: list[Problem]) -> SuiteSpec | None:
    """Parse one suite; every entry GX would reject or silently drop becomes a Problem."""
    gx = import_gx()
    from great_expectations.expectations.expectation import (
        ColumnMapExpectation,
        ColumnPairMapExpectation,
        MulticolumnMapExpectation,
    )

    start = len(problems)
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, json.JSONDecodeError) as exc:
        problems.append(Problem(str(path), "", f"not a readable JSON suite: {exc}", "fix the JSON syntax"))
        return None
    entries = data.get("expectations") if isinstance(data, dict) else None
    if not isinstance(entries, list):
        problems.append(Problem(str(path), "expectations", "a suite needs a list 'expectations'",
                                'write {"name": ..., "expectations": [{"type": ..., "kwargs": {...}}]}'))
        return None
    if data.get("name") not in (None, suite_name):
        problems.append(Problem(str(path), "name", f"suite is named {data.get('name')!r} but the file is {path.name}",
                                f"name it {suite_name!r} or rename the file"))

    specs: list[ExpectationSpec] = []
    names: set[str] = set()
    for i, config in enumerate(entries):
        key = f"expectations[{i}]"
        if not isinstance(config, dict) or "type" not in config:
            problems.append(Problem(str(path), key, "each expectation needs a 'type' and 'kwargs'"))
            continue
        try:
            expectation = _build(config)
        except Exception as exc:  # GX raises many kinds; all mean "GX cannot use this entry"
            message = str(exc).strip().splitlines()
            problems.append(Problem(str(path), f"{key} ({config['type']})",
                                    f"GX cannot use this expectation: {' '.join(message)[:300]}",
                                    "check the type name and its kwargs against the GX expectation gallery"))
            continue
        value_set = (config.get("kwargs") or {}).get("value_set")
        if isinstance(value_set, list) and not value_set:
            # GX would judge every row (in_set) or none (not_in_set), and render no condition Spark parses.
            problems.append(Problem(str(path), f"{key}.kwargs.value_set", "is empty",
                                    "list the values the column may (or may not) hold"))
            continue
        name = expectation_name(config)
        if name in names:
            problems.append(Problem(str(path), f"{key}.meta.name", f"two expectations are named {name!r}",
                                    "give one of them a distinct meta.name"))
        names.add(name)
        action = overrides.get(name, (config.get("meta") or {}).get("action", DEFAULT_ACTION))
        row_level = isinstance(expectation, (ColumnMapExpectation, ColumnPairMapExpectation, MulticolumnMapExpectation))
        if action not in ACTIONS:
            problems.append(Problem(str(path), f"{key}.meta.action", f"unknown action {action!r}",
                                    f"use one of {', '.join(ACTIONS)}"))
        elif action == "quarantine" and (refusal := _cannot_quarantine(config["type"], expectation, row_level)):
            problems.append(Problem(str(path), f"{key}.meta.action", refusal, "use action fail or warn"))
        mostly = (config.get("kwargs") or {}).get("mostly")
        specs.append(ExpectationSpec(name, config["type"], action, row_level, mostly, config))

    unknown = set(overrides) - names
    if unknown:
        problems.append(Problem(str(path), "", f"the zone's expectations.actions name {', '.join(sorted(unknown))}, "
                                "which this suite does not have", f"known: {', '.join(sorted(names))}"))
    if len(problems) > start:
        return None
    # The guard the entries above should make redundant: GX's own suite must hold every entry.
    built = gx.ExpectationSuite(**SuiteSpec(suite_name, path, specs).gx_json())
    if len(built.expectations) != len(specs):
        problems.append(Problem(str(path), "expectations", f"GX kept {len(built.expectations)} of {len(specs)} "
                                "expectations", "an expectation GX cannot parse was dropped: check each type"))
        return None
    return SuiteSpec(suite_name, path, specs, max_fraction)


def with_key_checks(suite: SuiteSpec | None, keys: list[str], table: str, zone_file: Path) -> SuiteSpec:
    """Every zone's rows need their merge keys: a row without one cannot be upserted, and dedupe
    must not fold such rows together, so each key the suite leaves unchecked gets a not-null
    check that quarantines."""
    checked = {e.config.get("kwargs", {}).get("column") for e in (suite.expectations if suite else [])
               if e.type == "expect_column_values_to_not_be_null"}
    added = [ExpectationSpec(f"merge key {key} is present", "expect_column_values_to_not_be_null", "quarantine",
                             True, None, {"type": "expect_column_values_to_not_be_null", "kwargs": {"column": key}})
             for key in keys if key not in checked]
    if suite is None:
        return SuiteSpec(f"{table}_keys", zone_file, added)
    return SuiteSpec(suite.name, suite.file, [*suite.expectations, *added], suite.max_quarantined_fraction)
