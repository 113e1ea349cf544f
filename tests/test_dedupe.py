"""The dedupe that carries a landing file's path as a number (``transform.dedupe(coded=...)``).

Spark's dropDuplicates keeps the first value of every non-key column, and a string among them
turns its hash aggregation into a sort of every row. Carrying the path as a number must change
nothing but the plan: the oracles are plain Python over the same rows and over the landing files.
"""
from __future__ import annotations

import shutil

from lakehouse.engine import run_pipeline
from lakehouse.zone import sources
from lakehouse.zone.transform import dedupe
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
    real = dedupe

    def spy(df, keys, order_by, coded_columns=()):
        coded.append(tuple(coded_columns))
        return real(df, keys, order_by, coded_columns)

    monkeypatch.setattr(sources, "CODE_PATHS_FROM", 0)
    monkeypatch.setattr("lakehouse.zone.runner.dedupe", spy)
    project = project_for(STEDI_CONFIGS, landing, tmp_path / "lake")
    assert run_pipeline(project, "accelerometer_landing", spark=spark).ok
    assert coded == [("_source_file",)]

    # A zone whose YAML shapes its rows could make the path anything: it keeps the plain dedupe.
    shaped = copy_project(tmp_path / "shaped")
    edit(shaped / "zones" / "accelerometer_landing.yml", "target:", "columns: {drop: []}\ntarget:")
    assert run_pipeline(project_for(shaped, landing, tmp_path / "shaped_lake"), "accelerometer_landing", spark=spark).ok
    assert coded[1:] == [()]

    schema = project.zones["accelerometer_landing"].source.schema_
    files: dict[tuple, set[str]] = {}
    for row in landing_lines(folder, schema)["rows"]:
        files.setdefault(tuple(row[c] for c in schema), set()).add(row["_file"])
    stored = table(spark, project, "accelerometer_landing").collect()
    assert len(stored) == len(files)
    for r in stored:
        assert r._source_file.rsplit("/", 1)[-1] in files[tuple(r[c] for c in schema)]
