"""A zone's table keyed anew when the keys its YAML declares no longer identify its rows.

A table holds one row per key of the YAML that wrote it. When the YAML's ``merge_keys`` shrink
(``[user, timestamp, x, y, z]`` to ``[user, timestamp]``), several rows share one new key, and a
MERGE, which matches every one of them, keeps them all where a rebuild keeps one. So before a
zone whose configuration changed writes, its table is deduplicated by the new keys, each key's
survivor picked as the zone's dedupe picks it; the next write then meets one row per key. A
one-time rewrite of the table (one overwrite commit, which the change feed shows as every row
deleted and the survivors inserted, so the zones downstream follow). Rows with a null key are
never folded together (see ``transform.dedupe``), so they do not count as sharing one.
"""
from __future__ import annotations

from functools import reduce
from typing import TYPE_CHECKING

from pyspark.sql import functions as F

from lakehouse.zone.transform import dedupe, default_order

if TYPE_CHECKING:
    from pyspark.sql import SparkSession


def rekey(spark: SparkSession, location: str, keys: list[str], order_by: list[str] | None,
          partition_by: list[str]) -> int:
    """Deduplicates the table at ``location`` by ``keys`` if some key is held by several rows;
    the number of rows removed (0: nothing written)."""
    table = spark.read.format("delta").load(location)
    if not {k.lower() for k in keys} <= {c.lower() for c in table.columns}:
        return 0  # a key the YAML adds with its column: no row holds it yet, so none can share it
    present = reduce(lambda a, b: a & b, [F.col(f"`{k}`").isNotNull() for k in keys])
    if table.where(present).groupBy(*keys).count().where(F.col("count") > 1).isEmpty():
        return 0
    before = table.count()
    kept = dedupe(table, keys, order_by or default_order(table.columns, keys))
    # Delta reads the snapshot it overwrites: a run committing meanwhile makes this a conflict,
    # which the runner retries like any other.
    writer = kept.write.format("delta").mode("overwrite")
    if partition_by:
        writer = writer.partitionBy(*partition_by)
    writer.save(location)
    return before - spark.read.format("delta").load(location).count()
