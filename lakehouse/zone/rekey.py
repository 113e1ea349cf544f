"""A zone's table keyed anew when the keys its YAML declares no longer identify its rows.

A table holds one row per key of the YAML that wrote it. When the YAML's ``merge_keys`` shrink
(``[user, timestamp, x, y, z]`` to ``[user, timestamp]``), several rows share one new key, and a
MERGE, which matches every one of them, keeps them all where a rebuild keeps one. So before a
zone whose configuration changed writes, its table is deduplicated by the new keys, each key's
survivor picked as the zone's dedupe picks it; the next write then meets one row per key. A
one-time rewrite of the table (one overwrite commit, which the change feed shows as every row
deleted and the survivors inserted, so the zones downstream follow). Rows with a null key are
never folded together (see ``transform.dedupe``), so they do not count as sharing one.

A key the YAML adds together with its column (``derive: {email_key: lower(email)}``) is one no
stored row holds: each is null there, so the MERGE would match none of them and store every row
again beside its old self. A mirror deletes them itself (its full run departs every row it no
longer makes). A landing table rebuilds its rows from the files it reads again in full, so its
write first deletes its rows from those files (``unkeyed``: once the gate has passed the batch,
so a failed gate leaves the table as it was); rows of files no longer in the folder stay, as
they would under any YAML. Any other table cannot be keyed anew: ``NewKeyColumns``.
"""
from __future__ import annotations

from functools import reduce
from typing import TYPE_CHECKING

from pyspark.sql import functions as F

from lakehouse.storage import delta_version
from lakehouse.zone import commit
from lakehouse.zone.sources import SOURCE_FILE
from lakehouse.zone.transform import dedupe, default_order

if TYPE_CHECKING:
    from pyspark.sql import Column, SparkSession


class NewKeyColumns(Exception):
    """Merge keys naming columns the stored rows lack, in a table that cannot be rebuilt here."""

    def __init__(self, columns: list[str]):
        self.columns = columns
        super().__init__(", ".join(columns))


def unkeyed(spark: SparkSession, location: str, keys: list[str], deletes: bool,
            relanded: list[str] | None) -> Column | None:
    """Which stored rows the zone's write must delete before it stores its batch, because no key
    of the YAML can match them (see above); None: no such rows. ``deletes``: the zone's write
    deletes the rows its full run does not make. ``relanded``: names of the landing files the
    zone reads again, as their rows' ``_source_file`` ends (``sources.stored_names``)."""
    table = spark.read.format("delta").load(location)
    new = [k for k in keys if k.lower() not in {c.lower() for c in table.columns}]
    if not new or deletes or table.isEmpty():
        return None
    if relanded is None or SOURCE_FILE not in table.columns:
        raise NewKeyColumns(new)
    return F.element_at(F.split(F.col(SOURCE_FILE), "/"), -1).isin(relanded)


def delete_rows(spark: SparkSession, location: str, condition: Column) -> int:
    """Deletes the rows meeting ``condition``; how many, as the DELETE's own commit counts them
    (a count before and after would also count what a run committing meanwhile did)."""
    done = commit.delete(spark, location, delta_version(spark, location), condition)
    return int(done.metrics.get("numDeletedRows", 0))


def rekey(spark: SparkSession, location: str, keys: list[str], order_by: list[str] | None,
          partition_by: list[str]) -> int:
    """Deduplicates the table at ``location`` by ``keys`` if some key is held by several rows;
    the number of rows removed (0: nothing written)."""
    table = spark.read.format("delta").load(location)
    if not {k.lower() for k in keys} <= {c.lower() for c in table.columns}:
        return 0  # a key the YAML adds with its column: see ``unkeyed``
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
