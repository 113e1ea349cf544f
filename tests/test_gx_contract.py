"""The contract with Great Expectations that quarantining rests on, pinned to the GX version in setup.cfg.

Quarantine keeps out the rows selected by the condition GX renders into ``unexpected_index_query``
(``df.filter(F.expr("<sql>"))``), which is undocumented and may change with any GX release. For every
type in QUARANTINABLE, a case here runs the expectation through the real gate on a small DataFrame
with nulls and edge values and checks that the condition selects exactly the rows a plain-Python
oracle calls unexpected, and that GX counts as many. The oracles mirror GX's null semantics: column
map expectations skip nulls; a column pair is skipped when both values are missing (GX's default
``ignore_row_if``), and a comparison with one missing value is not unexpected, while equality is
null-safe (a missing value differs from a present one).
"""
from __future__ import annotations

import configparser
import json
import re
from collections.abc import Callable
from dataclasses import dataclass

import pytest

from lakehouse.quality.gate import QualityGate
from lakehouse.quality.suites import GX_REQUIREMENT, QUARANTINABLE, import_gx, load_suite
from tests.conftest import ROOT, SUITES


def pinned_gx() -> str:
    cfg = configparser.ConfigParser()
    cfg.read(ROOT / "setup.cfg")
    pins = [line.strip() for line in cfg["options"]["install_requires"].splitlines()
            if line.strip().startswith("great-expectations")]
    assert len(pins) == 1 and "==" in pins[0], f"setup.cfg should pin great-expectations exactly, has {pins}"
    return pins[0]


def test_gx_is_the_version_the_contract_was_checked_on():
    pin = pinned_gx()
    great_expectations = import_gx()
    assert great_expectations.__version__ == pin.split("==")[1], (
        f"great_expectations {great_expectations.__version__} is installed but setup.cfg pins {pin}: the row "
        "conditions quarantine relies on are undocumented GX behaviour, so on a GX upgrade re-check this "
        "contract (tests/test_gx_contract.py) and QUARANTINABLE in lakehouse/quality/suites.py")
    assert GX_REQUIREMENT == pin, "lakehouse/quality/suites.py installs another GX on Glue than setup.cfg pins"


# --- one case per quarantinable type ------------------------------------------------------------

@dataclass(frozen=True)
class Case:
    id: str
    type: str
    kwargs: dict
    schema: str                    # Spark DDL; the first column is `id`
    rows: list[tuple]
    unexpected: Callable[[dict], bool]  # the oracle, on a row as a dict


def _present(*values) -> bool:
    return all(v is not None for v in values)


def _search(pattern: str, value: str) -> bool:  # Spark's RLIKE finds the pattern anywhere, as re.search
    return re.search(pattern, value) is not None


TEXT = "id int, s string"
TEXTS = [(1, "abc"), (2, None), (3, ""), (4, "a1"), (5, "zz"), (6, "é"), (7, "éé"), (8, "ABC"), (9, None),
         (10, "c'x"), (11, "a\\b"), (12, " abc")]
NUMBERS = "id int, x double, n int, ts bigint"
NUMBERS_ROWS = [(1, -16.0, 0, 1577836800000), (2, 16.0, 10, 2051222400000), (3, 16.000001, 9, 1577836799999),
                (4, None, None, None), (5, -17.5, -1, 2051222400001), (6, 0.0, 11, 0), (7, float("nan"), 5, -1),
                (8, -0.0, None, 1655564376361)]
PAIRS = "id int, a bigint, b bigint, x double, y double"
PAIRS_ROWS = [(1, 1, 1, 1.0, 1.0), (2, 1, 2, 1.0, 2.0), (3, 2, 1, 2.0, 1.0), (4, None, 1, None, 1.0),
              (5, 1, None, 1.0, None), (6, None, None, None, None), (7, 1655564376361, 1655564376360, 0.0, -0.0),
              (8, -5, -5, -1.5, -1.25)]
UUID = "^[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}$"
EMAIL = "^[^@\\s]+@[^@\\s]+$"
IDS = [(1, "11111111-2222-4333-8444-555555555555"), (2, "11111111-2222-4333-8444-55555555555"), (3, None),
       (4, "a@b.c"), (5, "a b@c"), (6, "a@@b"), (7, ""), (8, "@b"), (9, "x@y")]


def between(lo, hi, strict_min=False, strict_max=False):
    def unexpected(v):
        low = lo is None or (v > lo if strict_min else v >= lo)
        high = hi is None or (v < hi if strict_max else v <= hi)
        return not (low and high)  # NaN fails, as in Spark, where NaN is above every number
    return unexpected


def column(name: str, unexpected: Callable) -> Callable[[dict], bool]:
    """A column map oracle: nulls are skipped, as GX does."""
    return lambda row: row[name] is not None and unexpected(row[name])


CASES = [
    Case("not_null", "expect_column_values_to_not_be_null", {"column": "s"}, TEXT, TEXTS,
         lambda r: r["s"] is None),
    Case("not_null, odd column name", "expect_column_values_to_not_be_null", {"column": "e-mail addr"},
         "id int, `e-mail addr` string", [(1, "a@b"), (2, None), (3, "")], lambda r: r["e-mail addr"] is None),
    Case("null", "expect_column_values_to_be_null", {"column": "s"}, TEXT, TEXTS, lambda r: r["s"] is not None),
    Case("between, double", "expect_column_values_to_be_between", {"column": "x", "min_value": -16.0, "max_value": 16.0},
         NUMBERS, NUMBERS_ROWS, column("x", between(-16.0, 16.0))),
    Case("between, strict", "expect_column_values_to_be_between",
         {"column": "n", "min_value": 0, "max_value": 10, "strict_min": True, "strict_max": True},
         NUMBERS, NUMBERS_ROWS, column("n", between(0, 10, True, True))),
    Case("between, min only", "expect_column_values_to_be_between", {"column": "n", "min_value": 0},
         NUMBERS, NUMBERS_ROWS, column("n", between(0, None))),
    Case("between, epoch millis", "expect_column_values_to_be_between",
         {"column": "ts", "min_value": 1577836800000, "max_value": 2051222400000},
         NUMBERS, NUMBERS_ROWS, column("ts", between(1577836800000, 2051222400000))),
    Case("in_set", "expect_column_values_to_be_in_set", {"column": "s", "value_set": ["abc", "", "c'x"]},
         TEXT, TEXTS, column("s", lambda v: v not in {"abc", "", "c'x"})),
    Case("in_set, numbers", "expect_column_values_to_be_in_set", {"column": "n", "value_set": [0, 5, 10]},
         NUMBERS, NUMBERS_ROWS, column("n", lambda v: v not in {0, 5, 10})),
    Case("not_in_set", "expect_column_values_to_not_be_in_set", {"column": "s", "value_set": ["abc", "c'x", "x"]},
         TEXT, TEXTS, column("s", lambda v: v in {"abc", "c'x", "x"})),
    Case("regex, uuid", "expect_column_values_to_match_regex", {"column": "s", "regex": UUID},
         "id int, s string", IDS, column("s", lambda v: not _search(UUID, v))),
    Case("regex, email", "expect_column_values_to_match_regex", {"column": "s", "regex": EMAIL},
         "id int, s string", IDS, column("s", lambda v: not _search(EMAIL, v))),
    Case("regex, quote and backslash", "expect_column_values_to_match_regex", {"column": "s", "regex": "'|\\\\|^a"},
         TEXT, TEXTS, column("s", lambda v: not _search("'|\\\\|^a", v))),
    Case("not_regex", "expect_column_values_to_not_match_regex", {"column": "s", "regex": "\\d|'"},
         TEXT, TEXTS, column("s", lambda v: _search("\\d|'", v))),
    Case("regex_list, any", "expect_column_values_to_match_regex_list", {"column": "s", "regex_list": ["^a", "z$"]},
         TEXT, TEXTS, column("s", lambda v: not any(_search(p, v) for p in ("^a", "z$")))),
    Case("regex_list, all", "expect_column_values_to_match_regex_list",
         {"column": "s", "regex_list": ["^a", "c$|1$"], "match_on": "all"},
         TEXT, TEXTS, column("s", lambda v: not all(_search(p, v) for p in ("^a", "c$|1$")))),
    Case("not_regex_list", "expect_column_values_to_not_match_regex_list", {"column": "s", "regex_list": ["^a", "\\d"]},
         TEXT, TEXTS, column("s", lambda v: any(_search(p, v) for p in ("^a", "\\d")))),
    Case("lengths_between", "expect_column_value_lengths_to_be_between", {"column": "s", "min_value": 2, "max_value": 3},
         TEXT, TEXTS, column("s", lambda v: not 2 <= len(v) <= 3)),
    Case("lengths_between, min only", "expect_column_value_lengths_to_be_between", {"column": "s", "min_value": 1},
         TEXT, TEXTS, column("s", lambda v: len(v) < 1)),
    Case("lengths_equal", "expect_column_value_lengths_to_equal", {"column": "s", "value": 2},
         TEXT, TEXTS, column("s", lambda v: len(v) != 2)),
    Case("pair_equal", "expect_column_pair_values_to_be_equal", {"column_A": "a", "column_B": "b"},
         PAIRS, PAIRS_ROWS, lambda r: not (r["a"] is None and r["b"] is None) and r["a"] != r["b"]),
    Case("pair_equal, doubles", "expect_column_pair_values_to_be_equal", {"column_A": "x", "column_B": "y"},
         PAIRS, PAIRS_ROWS, lambda r: not (r["x"] is None and r["y"] is None) and r["x"] != r["y"]),
    Case("a_greater_than_b", "expect_column_pair_values_a_to_be_greater_than_b", {"column_A": "a", "column_B": "b"},
         PAIRS, PAIRS_ROWS, lambda r: _present(r["a"], r["b"]) and not r["a"] > r["b"]),
    Case("a_greater_than_b, or_equal", "expect_column_pair_values_a_to_be_greater_than_b",
         {"column_A": "a", "column_B": "b", "or_equal": True},
         PAIRS, PAIRS_ROWS, lambda r: _present(r["a"], r["b"]) and not r["a"] >= r["b"]),
    Case("a_greater_than_b, doubles", "expect_column_pair_values_a_to_be_greater_than_b",
         {"column_A": "x", "column_B": "y", "or_equal": True},
         PAIRS, PAIRS_ROWS, lambda r: _present(r["x"], r["y"]) and not r["x"] >= r["y"]),
]


def test_every_quarantinable_type_has_a_contract_case_and_no_other():
    covered = {c.type for c in CASES}
    assert not QUARANTINABLE - covered, f"QUARANTINABLE types without a contract case: {QUARANTINABLE - covered}"
    assert not covered - QUARANTINABLE, f"contract cases for types not in QUARANTINABLE: {covered - QUARANTINABLE}"
    assert len({c.id for c in CASES}) == len(CASES)


def test_every_type_the_repository_quarantines_by_is_verified():
    used = {e["type"] for f in sorted(SUITES.glob("*.json")) for e in json.loads(f.read_text())["expectations"]
            if (e.get("meta") or {}).get("action") == "quarantine"}
    assert used and used <= QUARANTINABLE, f"quarantined by without a verified row condition: {used - QUARANTINABLE}"


@pytest.fixture(scope="module")
def gate(tmp_path_factory) -> QualityGate:
    """One gate, so one GX context, for every case."""
    return QualityGate(str(tmp_path_factory.mktemp("gx_contract") / "reports"), "contract")


@pytest.mark.parametrize("case", CASES, ids=lambda c: c.id)
def test_gx_row_condition_selects_exactly_the_unexpected_rows(spark, gate, tmp_path, case):
    from pyspark.sql import functions as F

    df = spark.createDataFrame(case.rows, case.schema)
    names = df.columns
    expected = {row[0] for row in case.rows if case.unexpected(dict(zip(names, row)))}
    assert expected and len(expected) < len(case.rows), "a case needs both expected and unexpected rows"

    # The suite as a user writes it, loaded as `lakehouse validate` loads it.
    path = tmp_path / "contract.json"
    path.write_text(json.dumps({"name": "contract", "expectations": [
        {"type": case.type, "kwargs": case.kwargs, "meta": {"name": case.id, "action": "quarantine"}}]}))
    problems: list = []
    suite = load_suite(path, "contract", {}, None, problems)
    assert suite is not None and not problems, [str(p) for p in problems]

    zone = "c" + re.sub(r"\W+", "_", case.id)
    outcome = gate.check(zone, suite, df, len(case.rows))
    result = outcome.results[0]
    assert not result.error and not outcome.failure, (result.error, outcome.failure)
    assert result.condition, f"GX rendered no usable row condition for {case.type}"
    selected = {r.id for r in df.where(F.expr(result.condition)).select("id").collect()}
    assert selected == expected, f"condition {result.condition!r} selects {sorted(selected)}, oracle {sorted(expected)}"
    assert result.unexpected_count == len(expected), f"GX counts {result.unexpected_count}, oracle {sorted(expected)}"
    assert result.taken == "quarantined" and outcome.quarantined_rows == len(expected)
    assert {r.id for r in outcome.passed.select("id").collect()} == {row[0] for row in case.rows} - expected


# --- what may not quarantine --------------------------------------------------------------------

@pytest.mark.parametrize("kind, kwargs, says", [
    ("expect_multicolumn_sum_to_equal", {"column_list": ["a", "b"], "sum_total": 6}, "is not among"),
    ("expect_column_values_to_be_json_parseable", {"column": "s"}, "is not among"),
    ("expect_column_values_to_be_unique", {"column": "s"}, "judges rows together"),
    ("expect_table_row_count_to_be_between", {"min_value": 1}, "no single row can be quarantined"),
    ("expect_column_values_to_not_be_null", {"column": "s", "row_condition": "id > 1", "condition_parser": "spark"},
     "row_condition"),
    ("expect_column_pair_values_to_be_equal", {"column_A": "a", "column_B": "b", "ignore_row_if": "either_value_is_missing"},
     "ignore_row_if 'either_value_is_missing'"),
])
def test_quarantine_is_refused_where_the_row_condition_is_not_verified(tmp_path, kind, kwargs, says):
    path = tmp_path / "s.json"
    path.write_text(json.dumps({"name": "s", "expectations": [
        {"type": "expect_column_values_to_not_be_null", "kwargs": {"column": "id"}, "meta": {"action": "quarantine"}},
        {"type": kind, "kwargs": kwargs, "meta": {"action": "quarantine"}}]}))
    problems: list = []
    assert load_suite(path, "s", {}, None, problems) is None
    assert [(p.file, p.key) for p in problems] == [(str(path), "expectations[1].meta.action")]
    assert says in problems[0].message and "fail or warn" in problems[0].hint


def test_a_refused_type_may_still_warn_or_fail_and_the_default_ignore_row_if_may_quarantine(tmp_path):
    path = tmp_path / "s.json"
    path.write_text(json.dumps({"name": "s", "expectations": [
        {"type": "expect_multicolumn_sum_to_equal", "kwargs": {"column_list": ["a", "b"], "sum_total": 6},
         "meta": {"action": "warn"}},
        {"type": "expect_column_pair_values_to_be_equal",
         "kwargs": {"column_A": "a", "column_B": "b", "ignore_row_if": "both_values_are_missing"},
         "meta": {"action": "quarantine"}}]}))
    problems: list = []
    assert load_suite(path, "s", {}, None, problems) is not None and not problems, [str(p) for p in problems]
    # a zone's override to quarantine is refused as the suite's own action would be
    name = "expect_multicolumn_sum_to_equal(a,b)"
    assert load_suite(path, "s", {name: "quarantine"}, None, problems) is None
    assert [p.key for p in problems] == ["expectations[0].meta.action"]

