"""A zone's write commits only on top of the version its changes were computed against.

New keys alone are appended (one Spark job, not a MERGE's six to ten); anything that matches a
row goes through MERGE. Either way, a write computed against a version another writer has since
moved past is refused, and the runner computes the zone again instead of duplicating a row.
"""
from __future__ import annotations

import pytest
from delta.tables import DeltaTable

from lakehouse.storage import commit_info, delta_version, only_inserts
from lakehouse.zone.context import Tables
from lakehouse.zone.commit import ConcurrentWriteSkipped
from lakehouse.zone.runner import is_conflict
from lakehouse.zone.targets import Mirror, Upsert, Write, table_at

SCHEMA = "k int, v string"


@pytest.fixture
def table(spark, tmp_path):
    location = str(tmp_path / "t")
    spark.createDataFrame([(1, "a"), (2, "b"), (3, "c")], SCHEMA).write.format("delta").save(location)
    return location


def _write(spark, mode, location, rows, read_version=None, computed=True, schema=SCHEMA):
    """``computed``: the caller hands over the changes it computed (the runner's usual path);
    otherwise the write computes them itself (as when the gate quarantined rows)."""
    staged = spark.createDataFrame(rows, schema)
    w = Write(location, staged, ["k"], [], len(rows), read_version=read_version)
    given = computed and read_version is not None
    return mode.write(spark, w, mode.changes(w, table_at(spark, location, read_version)) if given else None)


def _rows(spark, location):
    return sorted(tuple(r) for r in spark.read.format("delta").load(location).collect())


def _operations(spark, location):
    return [r["operation"] for r in DeltaTable.forPath(spark, location).history().orderBy("version").collect()]


def test_new_keys_are_appended_and_a_changed_or_departed_key_is_merged(spark, table):
    added = _write(spark, Upsert(), table, [(4, "d"), (5, "e"), (1, "a")])  # (1, "a") is unchanged
    assert (added.inserted, added.updated, added.deleted) == (2, 0, 0)
    changed = _write(spark, Upsert(), table, [(2, "B"), (6, "f")])
    assert (changed.inserted, changed.updated) == (1, 1)
    assert _operations(spark, table) == ["WRITE", "WRITE", "MERGE"]
    assert _rows(spark, table) == [(1, "a"), (2, "B"), (3, "c"), (4, "d"), (5, "e"), (6, "f")]

    mirrored = _write(spark, Mirror(), table, [(1, "a"), (2, "B"), (3, "c"), (4, "d"), (5, "e")])
    assert (mirrored.inserted, mirrored.updated, mirrored.deleted) == (0, 0, 1)  # 6 left the result
    assert _operations(spark, table)[-1] == "MERGE"


@pytest.mark.parametrize("rows,computed", [([(4, "d")], True), ([(1, "z"), (4, "d")], True),
                                           ([(1, "z"), (4, "d")], False)],
                         ids=["append", "merge", "merge-computed-in-write"])
def test_a_write_computed_before_another_writer_committed_is_refused_not_duplicated(spark, table, rows, computed):
    seen = delta_version(spark, table)
    _write(spark, Upsert(), table, [(4, "d")], read_version=seen)  # another run, first to commit
    with pytest.raises(ConcurrentWriteSkipped) as refused:
        _write(spark, Upsert(), table, rows, read_version=seen, computed=computed)  # read the same version
    assert is_conflict(refused.value), "the runner computes the zone again"
    assert _rows(spark, table) == [(1, "a"), (2, "b"), (3, "c"), (4, "d")]
    again = _write(spark, Upsert(), table, rows, read_version=delta_version(spark, table))
    assert again.inserted == 0 and again.updated == len(rows) - 1


def test_a_commit_without_the_transaction_id_since_the_read_also_refuses_the_write(spark, table):
    """OPTIMIZE, ALTER TABLE, erase and restore commit without Delta's transaction identifier."""
    seen = delta_version(spark, table)
    spark.sql(f"ALTER TABLE delta.`{table}` SET TBLPROPERTIES ('lakehouse.note' = 'x')")
    with pytest.raises(ConcurrentWriteSkipped):
        _write(spark, Upsert(), table, [(4, "d")], read_version=seen)
    assert _rows(spark, table) == [(1, "a"), (2, "b"), (3, "c")]


def test_an_append_keeps_the_table_types_as_a_merge_would(spark, table):
    written = _write(spark, Upsert(), table, [(7, "g")], schema="k bigint, v string")
    assert written.inserted == 1 and _operations(spark, table)[-1] == "WRITE"
    assert spark.read.format("delta").load(table).schema["k"].dataType.simpleString() == "int"


def test_only_inserts_tells_from_each_commit_s_metrics_whether_rows_were_only_added(spark, table):
    """What lets a zone over this table skip comparing with its own: no key it had changed or left."""
    seen = delta_version(spark, table)
    _write(spark, Upsert(), table, [(4, "d")])  # an append
    (DeltaTable.forPath(spark, table).alias("t").merge(spark.createDataFrame([(5, "e")], SCHEMA).alias("s"), "t.k = s.k")
     .whenMatchedUpdateAll().whenNotMatchedInsertAll().execute())  # a MERGE that only inserted
    assert only_inserts(spark, table, seen, seen + 2)
    _write(spark, Upsert(), table, [(2, "B")])  # a MERGE that updated
    assert not only_inserts(spark, table, seen, seen + 3)
    assert only_inserts(spark, table, seen + 3, seen + 3), "no commit in the range"
    (DeltaTable.forPath(spark, table).alias("t").merge(spark.createDataFrame([(1, "a"), (6, "f")], SCHEMA).alias("s"),
                                                       "t.k = s.k")
     .whenMatchedUpdateAll(condition="s.v <> t.v").whenNotMatchedInsertAll().execute())
    assert not only_inserts(spark, table, seen + 3, seen + 4), \
        "a MERGE that inserted, and rewrote a matched row's file as it was: its copies read as inserts in the feed"
    seen += 1  # the versions below, as before that MERGE
    DeltaTable.forPath(spark, table).delete("k = 5")
    spark.sql(f"ALTER TABLE delta.`{table}` SET TBLPROPERTIES ('lakehouse.note' = 'x')")
    assert not only_inserts(spark, table, seen + 3, seen + 4) and not only_inserts(spark, table, seen + 4, seen + 5)


def test_commit_info_read_from_the_commit_file_is_what_delta_history_reports(spark, table):
    """A write's metrics and token come from the commit file, without history's Spark job."""
    _write(spark, Upsert(), table, [(4, "d")])  # an append, with its token
    _write(spark, Upsert(), table, [(2, "B")])  # a MERGE
    history = {r["version"]: r for r in DeltaTable.forPath(spark, table).history().collect()}
    for version, entry in history.items():
        info = commit_info(spark, table, version)
        assert (info["operation"], info.get("userMetadata")) == (entry["operation"], entry["userMetadata"])
        assert (info.get("operationMetrics") or {}) == (entry["operationMetrics"] or {})
    assert history[max(history)]["userMetadata"].startswith("lakehouse:")
    assert commit_info(spark, table, max(history) + 1) is None


class _Pinned(Tables):
    """The pinning of a zone's upstream tables, over one plain table."""

    def __init__(self, spark, location):
        self.spark, self.pinned, self._location = spark, {}, location

    def location(self, table):
        return self._location


def test_rows_added_since_a_version_come_from_the_feed_only_while_the_table_is_at_its_pin(spark, table):
    """A change feed read takes its columns from the newest version: past the pin, the zone reads
    its source the long way instead."""
    spark.sql(f"ALTER TABLE delta.`{table}` SET TBLPROPERTIES ('delta.enableChangeDataFeed' = 'true')")
    seen = delta_version(spark, table)
    _write(spark, Upsert(), table, [(4, "d"), (1, "a")])  # (1, "a") is there already: not written
    tables = _Pinned(spark, table)
    assert tables.version("t") == seen + 1
    assert sorted(tuple(r) for r in tables.added("t", seen).collect()) == [(4, "d")]
    spark.sql(f"ALTER TABLE delta.`{table}` ADD COLUMNS (w string)")  # another run, after the pin
    assert tables.added("t", seen) is None
