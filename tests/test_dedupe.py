"""The landing dedupe's two shortcuts for large batches.

- ``transform.dedupe(coded=...)`` carries a landing file's path as a number: Spark's dropDuplicates
  keeps the first value of every non-key column, and a string among them turns its hash
  aggregation into a sort of every row.
- ``transform.dedupe_repeated`` deduplicates only the rows whose key occurs more than once.

Each must change nothing but the plan: the oracles are plain Python over the same rows and over
the landing files.
"""
from __future__ import annotations

import math
import shutil

import pytest

from lakehouse.engine import run_pipeline
from lakehouse.zone import sources, transform
from lakehouse.zone.transform import dedupe, dedupe_repeated
from tests.conftest import STEDI_CONFIGS, copy_project, project_for
from tests.helpers import edit, landing_lines, table

KEYS = ["user", "timestamp"]
ROWS = [  # (user, path, timestamp): the coded column between two keys, so its place is checked
    ("a", "file:/landing/1.json", 1), ("a", "file:/landing/2.json", 1),  # delivered twice
    ("a", "file:/landing/2.json", 2), ("b", "file:/landing/3.json", 1),
    ("c", None, 1),                                                      # a row of no file
    (None, "file:/landing/1.json", 1), (None, "file:/landing/1.json", 1),  # no key: never folded
]


def _plan(df) -> str:
    return df._jdf.queryExecution().executedPlan().toString()


def test_coding_the_path_keeps_one_row_per_key_with_one_of_its_own_paths(spark):
    df = spark.createDataFrame(ROWS, "user string, _source_file string, timestamp bigint").cache()
    out = dedupe(df, KEYS, [], coded=["_source_file"])
    rows = out.collect()
    assert out.columns == df.columns
    keyed = [r for r in rows if r.user is not None]
    assert sorted((r.user, r.timestamp) for r in keyed) == sorted({(u, t) for u, _, t in ROWS if u is not None})
    for r in keyed:  # any one of the key's rows, with its own path (null included)
        assert r._source_file in {p for u, p, t in ROWS if (u, t) == (r.user, r.timestamp)}
    assert len(rows) - len(keyed) == sum(1 for u, _, _ in ROWS if u is None)
    # A coded column that is a key (spelled as Spark resolves it, any case) stays as it is.
    by_path = dedupe(df, ["user", "_SOURCE_FILE"], [], coded=["_source_file"]).collect()
    expected = [*{(u, p) for u, p, _ in ROWS if u is not None}, *((u, p) for u, p, _ in ROWS if u is None)]
    assert sorted(map(str, ((r.user, r._source_file) for r in by_path))) == sorted(map(str, expected))
    # The point of coding: a hash aggregation, where the plain dropDuplicates sorts.
    assert "SortAggregate" in _plan(dedupe(df, KEYS, [])) and "SortAggregate" not in _plan(out)
    df.unpersist()


def test_a_landing_batch_above_the_threshold_is_coded_and_stores_what_the_files_hold(spark, sample, tmp_path,
                                                                                        monkeypatch):
    landing = tmp_path / "landing"
    shutil.copytree(sample[0], landing)
    folder = landing / "accelerometer" / "landing"
    first = sorted(folder.glob("*.json"))[0]
    # Some readings delivered again in a later file: stored once, with either file's path.
    (folder / "accelerometer-9999999999999.json").write_text("".join(first.read_text().splitlines(True)[:5]))
    coded = []

    def spy(real):
        def call(df, keys, order_by, coded_columns=()):
            coded.append((real.__name__, tuple(coded_columns)))
            return real(df, keys, order_by, coded_columns)
        return call

    monkeypatch.setattr(sources, "CODE_PATHS_FROM", 0)
    monkeypatch.setattr("lakehouse.zone.runner.dedupe", spy(dedupe))
    monkeypatch.setattr("lakehouse.zone.runner.dedupe_repeated", spy(dedupe_repeated))
    project = project_for(STEDI_CONFIGS, landing, tmp_path / "lake")
    assert run_pipeline(project, "accelerometer_landing", spark=spark).ok
    assert coded == [("dedupe_repeated", ("_source_file",))]

    # A zone whose YAML shapes its rows could make the path anything: it keeps the plain dedupe.
    shaped = copy_project(tmp_path / "shaped")
    edit(shaped / "zones" / "accelerometer_landing.yml", "target:", "columns: {drop: []}\ntarget:")
    assert run_pipeline(project_for(shaped, landing, tmp_path / "shaped_lake"), "accelerometer_landing", spark=spark).ok
    assert coded[1:] == [("dedupe", ())]

    schema = project.zones["accelerometer_landing"].source.schema_
    files: dict[tuple, set[str]] = {}
    for row in landing_lines(folder, schema)["rows"]:
        files.setdefault(tuple(row[c] for c in schema), set()).add(row["_file"])
    stored = table(spark, project, "accelerometer_landing").collect()
    assert len(stored) == len(files)
    for r in stored:
        assert r._source_file.rsplit("/", 1)[-1] in files[tuple(r[c] for c in schema)]


# (key, x, order, tag): x a double key, so -0.0 and 0.0 (two bit patterns, one value to Spark's
# grouping, which the hash must agree with) and NaN are checked.
REPEATS = [
    ("a", 1.0, 1, "a-old"), ("a", 1.0, 3, "a-new"), ("a", 1.0, 2, "a-mid"),  # three rows of one key
    ("b", 0.0, 1, "b-zero"), ("b", -0.0, 2, "b-negative-zero"),              # one key to Spark
    ("c", math.nan, 5, "c-nan"), ("c", -math.nan, 4, "c-other-nan"),         # one key to Spark
    ("d", 2.0, 1, "d"), ("e", 2.0, 1, "e"), ("f", None, 1, "f"),
    (None, 1.0, 1, "no-key-1"), (None, 1.0, 1, "no-key-2"),                  # no key: never folded
]


def _key(k, x):
    return (k, "nan" if x is not None and math.isnan(x) else (0.0 if x == 0 else x))


def _winners(rows):
    """The oracle: per key (as Spark groups it) the row of the highest ``order``; keyless rows all stay."""
    best = {}
    for row in rows:
        if row[0] is None or row[1] is None:
            continue
        key = _key(row[0], row[1])
        if key not in best or row[2] > best[key][2]:
            best[key] = row
    return sorted([r[3] for r in best.values()] + [r[3] for r in rows if r[0] is None or r[1] is None])


@pytest.fixture()
def repeats(spark):
    df = spark.createDataFrame(REPEATS, "k string, x double, order bigint, tag string").cache()
    yield df
    df.unpersist()


def test_only_the_rows_whose_key_repeats_are_deduplicated_with_the_same_winners(spark, repeats):
    out = dedupe_repeated(repeats, ["k", "x"], ["order DESC"])
    assert out.columns == repeats.columns
    assert sorted(r.tag for r in out.collect()) == _winners(REPEATS)
    # The same winners as deduplicating every row.
    assert sorted(r.tag for r in dedupe(repeats, ["k", "x"], ["order DESC"]).collect()) == _winners(REPEATS)
    # Without order_by, one row per key, each one of its own key's rows.
    any_one = dedupe_repeated(repeats, ["k", "x"], []).collect()
    assert sorted(_key(r.k, r.x) for r in any_one if r.k is not None and r.x is not None) == \
        sorted({_key(k, x) for k, x, _, _ in REPEATS if k is not None and x is not None})
    assert sum(1 for r in any_one if r.k is None or r.x is None) == \
        sum(1 for k, x, _, _ in REPEATS if k is None or x is None)


def test_a_batch_whose_keys_never_repeat_is_left_as_it_is(spark, repeats):
    unique = repeats.where("tag IN ('a-new', 'b-zero', 'c-nan', 'd', 'e', 'f', 'no-key-1')")
    assert dedupe_repeated(unique, ["k", "x"], ["order DESC"]) is unique
    assert dedupe_repeated(repeats, ["k", "x"], ["order DESC"]) is not repeats


def test_too_many_repeated_keys_send_every_row_through_the_dedupe(spark, repeats, monkeypatch):
    calls = []
    real = transform.dedupe

    def spy(df, keys, order_by, coded=()):
        calls.append(df.count())
        return real(df, keys, order_by, coded)

    monkeypatch.setattr(transform, "dedupe", spy)
    # Four keys repeat: a, b, c, and the keyless rows' (their hashes meet; the dedupe keeps both).
    monkeypatch.setattr(transform, "REPEATS_AT_MOST", 3)
    assert sorted(r.tag for r in dedupe_repeated(repeats, ["k", "x"], ["order DESC"]).collect()) == _winners(REPEATS)
    assert calls == [len(REPEATS)]
    monkeypatch.setattr(transform, "REPEATS_AT_MOST", 4)
    assert sorted(r.tag for r in dedupe_repeated(repeats, ["k", "x"], ["order DESC"]).collect()) == _winners(REPEATS)
    assert calls[1:] == [3 + 2 + 2 + 2]  # only the rows of the four


def test_a_large_batch_whose_keys_never_repeat_is_held_once_and_stores_every_line(spark, sample, tmp_path,
                                                                                   monkeypatch):
    from lakehouse.zone.context import ZoneContext

    held = []
    real = ZoneContext.materialize
    monkeypatch.setattr(ZoneContext, "materialize", lambda self, df: held.append(self.zone.name) or real(self, df))
    monkeypatch.setattr(sources, "CODE_PATHS_FROM", 0)
    project = project_for(STEDI_CONFIGS, sample[0], tmp_path / "lake")
    result = run_pipeline(project, "step_trainer_landing", spark=spark)
    assert result.ok
    # The parsed lines are the one copy in memory: none repeats a key, so they are staged as they are.
    assert held == ["step_trainer_landing"]
    schema = project.zones["step_trainer_landing"].source.schema_
    lines = landing_lines(sample[0] / "step_trainer" / "landing", schema)["rows"]
    keys = {(r["serialNumber"], r["sensorReadingTime"]) for r in lines}
    assert len(keys) == len(lines), "the sample's step readings were meant to repeat no key"
    stored = table(spark, project, "step_trainer_landing").count()
    assert stored == len(lines) == result.zone("step_trainer_landing").promoted
