"""Promoting staged rows into the target Delta table by MERGE on the zone's keys.

Created on the first run; afterwards new keys are inserted and a matched row is updated only when
a non-key, non-audit column changed, so re-running on unchanged input rewrites no data file.

Delta's MERGE rewrites every file holding a matched key, even when the update's condition turns
the match down, so the staged rows are first narrowed to those that are new or changed (an
anti join on every compared column); unchanged input then costs no MERGE and no commit at all.
"""
from __future__ import annotations

from dataclasses import dataclass
from functools import reduce
from typing import TYPE_CHECKING

from pyspark.sql import functions as F

from lakehouse.zone.read import AUDIT_COLUMNS

if TYPE_CHECKING:
    from pyspark.sql import DataFrame, SparkSession


@dataclass(frozen=True)
class WriteMetrics:
    inserted: int
    updated: int
    files_added: int
    version: int
    created: bool = False


def _q(column: str) -> str:
    return f"`{column}`"


def merge_condition(keys: list[str]) -> str:
    # Null-safe: a null key matches itself, so re-runs do not insert it again and again.
    return " AND ".join(f"t.{_q(k)} <=> s.{_q(k)}" for k in keys)


def value_columns(columns: list[str], keys: list[str]) -> list[str]:
    """Columns whose change makes an update; audit columns (ingestion time, file) do not."""
    return [c for c in columns if c not in keys and c not in AUDIT_COLUMNS]


def promote(spark: SparkSession, staged: DataFrame, location: str, keys: list[str],
            partition_by: list[str], staged_rows: int) -> WriteMetrics:
    from delta.tables import DeltaTable

    if not DeltaTable.isDeltaTable(spark, location):
        writer = staged.write.format("delta").mode("errorifexists")
        if partition_by:
            writer = writer.partitionBy(*partition_by)
        writer.save(location)
        files = _last_metric(DeltaTable.forPath(spark, location), "numFiles")
        return WriteMetrics(staged_rows, 0, files, 0, created=True)

    target = DeltaTable.forPath(spark, location)
    changes = _new_or_changed(staged, target.toDF(), keys).cache()
    try:
        if changes.isEmpty():
            return WriteMetrics(0, 0, 0, int(target.history(1).first()["version"]))
        merge = target.alias("t").merge(changes.alias("s"), merge_condition(keys))
        if value_columns(staged.columns, keys):
            # Every matched row of `changes` did change. With keys only, a match is the same row:
            # no matched clause lets Delta take its cheaper insert-only path.
            merge = merge.whenMatchedUpdateAll()
        merge.whenNotMatchedInsertAll().execute()
    finally:
        changes.unpersist()
    last = target.history(1).select("version", "operationMetrics").first()
    metrics = last["operationMetrics"] or {}
    return WriteMetrics(int(metrics.get("numTargetRowsInserted", 0)), int(metrics.get("numTargetRowsUpdated", 0)),
                        int(metrics.get("numTargetFilesAdded", 0)), int(last["version"]))


def _new_or_changed(staged: DataFrame, current: DataFrame, keys: list[str]) -> DataFrame:
    """Staged rows with no identical row (audit columns aside) in the target."""
    if set(staged.columns) - set(current.columns):
        return staged  # new columns: every row carries something the target lacks
    compared = [c for c in staged.columns if c not in AUDIT_COLUMNS] or keys
    s, t = staged.alias("s"), current.alias("t")
    same = [F.col(f"s.`{c}`").eqNullSafe(F.col(f"t.`{c}`")) for c in compared]
    return s.join(t, reduce(lambda a, b: a & b, same), "left_anti")


def append_new(spark: SparkSession, rows: DataFrame, location: str, keys: list[str]) -> None:
    """Append-only tables (quarantine): add rows not there yet by ``keys``, rewrite nothing.

    Landing zones re-read every file, so the same bad line comes back each run; it is kept once.
    """
    from delta.tables import DeltaTable

    if DeltaTable.isDeltaTable(spark, location):
        existing = spark.read.format("delta").load(location)
        same = [F.col(f"n.`{k}`").eqNullSafe(F.col(f"o.`{k}`")) for k in keys]
        rows = rows.alias("n").join(existing.alias("o"), reduce(lambda a, b: a & b, same), "left_anti")
    rows = rows.cache()
    try:
        if not rows.isEmpty():
            rows.write.format("delta").mode("append").option("mergeSchema", "true").save(location)
    finally:
        rows.unpersist()


def _last_metric(table, name: str) -> int:
    metrics = table.history(1).select("operationMetrics").first()["operationMetrics"] or {}
    return int(metrics.get(name, 0))
