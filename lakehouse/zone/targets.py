"""Target modes: how a zone's staged rows maintain its Delta table, each one small class.

- ``upsert`` (landing's default): new keys inserted, changed rows updated, nothing deleted.
  Landing keeps what landed: a file removed from the landing folder takes no rows with it.
- ``mirror`` (trusted and curated): the table equals the zone's result. Rows that left the result
  are deleted in the same MERGE, within the scope the batch speaks for, so an incremental run
  never deletes a row it did not look at.
- ``append``: rows with a key not yet present are added; nothing is updated or deleted
  (quarantine tables).

Every write is one commit (``commit``): an append when every row it carries adds a key the table
lacks, else one MERGE. Only rows that are new, changed or gone reach it: Delta's MERGE rewrites
each file holding a matched key even when a condition turns the match down, so an anti join
first drops the staged rows identical to the target's (unchanged input: no commit).
``whenNotMatchedBySourceDelete`` would need the whole result as the MERGE's source and so rewrite
every file; the departed keys are computed instead and deleted by a matched-delete clause.
"""
from __future__ import annotations

from dataclasses import dataclass
from functools import reduce
from typing import TYPE_CHECKING, ClassVar

from pyspark.sql import functions as F

from lakehouse.storage import delta_version
from lakehouse.zone import commit
from lakehouse.zone.changes import within
from lakehouse.zone.handoff import same_schema, storable
from lakehouse.zone.sources import AUDIT_COLUMNS

if TYPE_CHECKING:
    from pyspark.sql import DataFrame, SparkSession

OP = "__lakehouse_op"
KNOWN = "__lakehouse_known"  # the row's key is in the table already: only a MERGE can apply it
TARGET_MODES: dict[str, type[TargetMode]] = {}


@dataclass(frozen=True)
class WriteMetrics:
    inserted: int = 0
    updated: int = 0
    deleted: int = 0
    files_added: int = 0
    version: int | None = None
    created: bool = False
    exact: bool = False  # the table at ``version`` holds exactly the staged rows, in their schema


@dataclass(frozen=True)
class Write:
    """One write: the staged rows, and (mirror) which part of the table they replace."""

    location: str
    staged: DataFrame
    keys: list[str]
    partition_by: list[str]
    staged_rows: int
    scope: DataFrame | None = None        # None: the whole table
    scope_keys: list[str] | None = None
    read_version: int | None = None       # the table's version the caller's changes were computed against
    new_keys: bool = False                # every staged row adds a key the table lacks (the caller knows)


def register(cls: type[TargetMode]) -> type[TargetMode]:
    TARGET_MODES[cls.name] = cls
    return cls


def default_mode(layer: str) -> str:
    return "upsert" if layer == "landing" else "mirror"


class TargetMode:
    name: ClassVar[str]
    updates: ClassVar[bool] = True
    deletes: ClassVar[bool] = False

    def write(self, spark: SparkSession, w: Write, ops: DataFrame | None = None) -> WriteMetrics:
        """``ops``: this write's ``changes`` against the table as of ``w.read_version``, when the
        caller has them already (cached)."""
        if delta_version(spark, w.location) is None:
            return _create(spark, w)
        read, table = w.read_version, spark.read.format("delta").load(w.location)
        if add_new_columns(spark, w.location, w.staged, table):
            ops = None  # compared against the table with its new columns, which this commit added
            if read is not None:
                read = _own_commit_on(spark, w.location, read)
            table = spark.read.format("delta").load(w.location)
        # A mirror of the whole table leaves it holding the staged rows and nothing else; but a row
        # whose audit columns alone differ is not rewritten (value_columns), so not with those.
        exact = (self.deletes and w.scope is None and same_schema(table.schema, w.staged.schema)
                 and not set(AUDIT_COLUMNS) & set(w.staged.columns))
        quick = w.new_keys and read is not None  # every row adds a key: nothing to compare or tally
        if not quick and ops is None:
            read = delta_version(spark, w.location) if read is None else read
            ops = self.changes(w, table_at(spark, w.location, read))
        ops = w.staged if quick else ops.cache()
        try:
            if quick:
                total, known = w.staged_rows, 0
            else:
                total, known = ops.agg(F.count("*"), F.count(F.when(F.col(KNOWN), 1))).first()
            if not total:  # the table is as it should be (as read: unless another run wrote since)
                now = delta_version(spark, w.location)
                return WriteMetrics(version=now, exact=exact and now == read)
            if not known:  # only keys the table lacks: nothing to match, so an append
                done = commit.append(_as_in(table, ops, w.staged.columns), w.location, read)
                return WriteMetrics(int(done.metrics.get("numOutputRows", total)), 0, 0,
                                    int(done.metrics.get("numFiles", 0)), done.version, exact=exact)
            done = commit.merge(spark, w.location, read,
                                lambda target: _merge(target, ops, w, self.updates, self.deletes))
        finally:
            if not quick:
                ops.unpersist()
        m = done.metrics
        return WriteMetrics(int(m.get("numTargetRowsInserted", 0)), int(m.get("numTargetRowsUpdated", 0)),
                            int(m.get("numTargetRowsDeleted", 0)), int(m.get("numTargetFilesAdded", 0)),
                            done.version, exact=exact)

    def changes(self, w: Write, current: DataFrame) -> DataFrame:
        """The rows the write needs: new or changed (upsert), and (mirror) departed keys (delete),
        each flagged with whether its key is in ``current`` already."""
        current = _with_missing_columns(current, w.staged)
        ops = _new_or_changed(w.staged, current, w.keys, compare=self.updates).withColumn(OP, F.lit("upsert"))
        if self.deletes:
            gone = _departed(w, current).withColumn(OP, F.lit("delete")).withColumn(KNOWN, F.lit(True))
            ops = ops.unionByName(gone, allowMissingColumns=True)
        return ops


@register
class Upsert(TargetMode):
    name = "upsert"


@register
class Mirror(TargetMode):
    name = "mirror"
    deletes = True


@register
class Append(TargetMode):
    name = "append"
    updates = False


def _own_commit_on(spark: SparkSession, location: str, read: int) -> int:
    """The version this writer's ALTER just made, which must follow the one it read."""
    commit.still_at(spark, location, read + 1)
    return read + 1


def _as_in(table: DataFrame, rows: DataFrame, columns: list[str]) -> DataFrame:
    """``rows``' columns cast to the table's types, as a MERGE's insert casts them."""
    types = {f.name.lower(): f.dataType for f in table.schema.fields}
    return rows.select(*(F.col(_q(c)).cast(types[c.lower()]).alias(c) if c.lower() in types else F.col(_q(c))
                         for c in columns))


def table_at(spark: SparkSession, location: str, version: int) -> DataFrame:
    """A zone's own target as of ``version``, for every frame it caches. Pinned, the zone's steps
    agree on one snapshot; and after each write Delta re-plans every cached frame that reads the
    table's latest version (Spark's recacheByPlan: a Delta scan planned again, 0.3-1 s a frame),
    which a frame reading a fixed version is not."""
    return spark.read.format("delta").option("versionAsOf", version).load(location)


def _q(column: str) -> str:
    return f"`{column}`"


def merge_condition(keys: list[str]) -> str:
    # Null-safe: a null key matches itself, so re-runs do not insert it again and again.
    return " AND ".join(f"t.{_q(k)} <=> s.{_q(k)}" for k in keys)


def value_columns(columns: list[str], keys: list[str]) -> list[str]:
    """Columns whose change makes an update; audit columns (ingestion time, file) do not."""
    return [c for c in columns if c not in keys and c not in AUDIT_COLUMNS]


def _create(spark: SparkSession, w: Write) -> WriteMetrics:
    # The change feed is what lets the zones downstream process only what changed.
    writer = w.staged.write.format("delta").mode("errorifexists").option("delta.enableChangeDataFeed", "true")
    if w.partition_by:
        writer = writer.partitionBy(*w.partition_by)
    writer.save(w.location)
    return WriteMetrics(inserted=w.staged_rows, version=0, created=True, exact=storable(w.staged.schema))


def ensure_change_feed(spark: SparkSession, location: str) -> None:
    """Turn the change data feed on for a table created without it (one metadata commit, once)."""
    key = "delta.enableChangeDataFeed"
    rows = spark.sql(f"SHOW TBLPROPERTIES delta.`{location}` ('{key}')").collect()
    if not rows or str(rows[0]["value"]).lower() != "true":
        spark.sql(f"ALTER TABLE delta.`{location}` SET TBLPROPERTIES ('{key}' = 'true')")


def _merge(target, ops: DataFrame, w: Write, updates: bool, deletes: bool):
    """The MERGE over ``target``, for ``commit.merge`` to execute."""
    columns = {_q(c): f"s.{_q(c)}" for c in w.staged.columns}
    merge = target.alias("t").merge(ops.alias("s"), merge_condition(w.keys))
    if deletes:
        merge = merge.whenMatchedDelete(condition=f"s.{OP} = 'delete'")
    if updates and value_columns(w.staged.columns, w.keys):
        # Every matched upsert row did change. With keys only, a match is the same row: no matched
        # update lets Delta take its cheaper insert-only path.
        merge = merge.whenMatchedUpdate(condition=f"s.{OP} = 'upsert'", set=columns)
    return merge.whenNotMatchedInsert(condition=f"s.{OP} = 'upsert'", values=columns)


def _same(left: str, right: str, columns: list[str]):
    return reduce(lambda a, b: a & b, [F.col(f"{left}.{_q(c)}").eqNullSafe(F.col(f"{right}.{_q(c)}")) for c in columns])


def _new_or_changed(staged: DataFrame, current: DataFrame, keys: list[str], compare: bool) -> DataFrame:
    """Staged rows with no identical row in the target (audit columns aside); by key alone when
    the mode never updates."""
    compared = [c for c in staged.columns if c not in AUDIT_COLUMNS] if compare else keys
    # The target's rows with a staged key first: a semi join that broadcasts the (small) staged
    # keys and scans the target once, instead of shuffling the whole target for the anti join.
    candidates = current.alias("t").join(staged.select(*keys).alias("s"), _same("t", "s", keys), "left_semi")
    fresh = staged.alias("s").join(candidates.alias("t"), _same("s", "t", compared or keys), "left_anti")
    if not compare or set(compared) <= set(keys):
        # Compared by key alone (every compared column is a key): no row left has a key the table
        # holds, and a second scan of the table to flag known keys would find none.
        return fresh.withColumn(KNOWN, F.lit(False))
    known = candidates.select(*keys).distinct().withColumn(KNOWN, F.lit(True))
    return (fresh.alias("s").join(known.alias("k"), _same("s", "k", keys), "left")
            .select("s.*", F.coalesce(F.col(f"k.{KNOWN}"), F.lit(False)).alias(KNOWN)))


def _departed(w: Write, current: DataFrame) -> DataFrame:
    """Keys of the target, within the write's scope, that the staged rows no longer hold."""
    candidates = current if w.scope is None else within(current, w.scope, w.scope_keys)
    gone = candidates.select(*w.keys).alias("t").join(w.staged.alias("s"), _same("t", "s", w.keys), "left_anti")
    return gone


def _with_missing_columns(current: DataFrame, staged: DataFrame) -> DataFrame:
    """The target as it will be once the staged rows' new columns are added: null in every row.
    (An upstream table that gained a column brings it to a zone that passes its columns through,
    in an incremental run too; comparing against the table as it is would name a missing column.)"""
    have = {c.lower() for c in current.columns}
    new = {f.name: F.lit(None).cast(f.dataType) for f in staged.schema.fields if f.name.lower() not in have}
    return current.withColumns(new) if new else current


def add_new_columns(spark: SparkSession, location: str, staged: DataFrame, current: DataFrame) -> bool:
    """Columns a zone's YAML (or its upstream table) added reach the table before the MERGE names
    them, and even when no row changes: a rebuild would have them."""
    have = {c.lower() for c in current.columns}
    new = [f for f in staged.schema.fields if f.name.lower() not in have]
    if new:
        spec = ", ".join(f"{_q(f.name)} {f.dataType.simpleString()}" for f in new)
        spark.sql(f"ALTER TABLE delta.`{location}` ADD COLUMNS ({spec})")
    return bool(new)
