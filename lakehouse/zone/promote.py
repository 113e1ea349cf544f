"""Promoting staged rows into the target Delta table by MERGE on the zone's keys.

Created on the first run; afterwards new keys are inserted and a matched row is updated only when
a non-key, non-audit column changed, so re-running on unchanged input rewrites no data file.
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING

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


def change_condition(columns: list[str], keys: list[str]) -> str | None:
    compared = [c for c in columns if c not in keys and c not in AUDIT_COLUMNS]
    if not compared:
        return None
    return "NOT (" + " AND ".join(f"t.{_q(c)} <=> s.{_q(c)}" for c in compared) + ")"


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
    merge = target.alias("t").merge(staged.alias("s"), merge_condition(keys))
    changed = change_condition(staged.columns, keys)
    if changed is not None:
        merge = merge.whenMatchedUpdateAll(condition=changed)
    merge.whenNotMatchedInsertAll().execute()
    last = target.history(1).select("version", "operationMetrics").first()
    metrics = last["operationMetrics"] or {}
    return WriteMetrics(int(metrics.get("numTargetRowsInserted", 0)), int(metrics.get("numTargetRowsUpdated", 0)),
                        int(metrics.get("numTargetFilesAdded", 0)), int(last["version"]))


def append(staged: DataFrame, location: str) -> None:
    """Append-only tables (quarantine): every run adds, nothing is rewritten."""
    staged.write.format("delta").mode("append").option("mergeSchema", "true").save(location)


def _last_metric(table, name: str) -> int:
    metrics = table.history(1).select("operationMetrics").first()["operationMetrics"] or {}
    return int(metrics.get(name, 0))
