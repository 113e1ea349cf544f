"""``lakehouse maintain``: compact small files (OPTIMIZE) and remove unused ones (VACUUM).

The retention comes from project.yml. Delta refuses to VACUUM files younger than a table's
``delta.deletedFileRetentionDuration``; maintain sets that property to the YAML's value, so the
check stays on and the YAML is the one place the retention is decided. Time travel and the
change feed reach back only as far as the files kept.
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from lakehouse import ledger
from lakehouse.project import quarantine_table
from lakehouse.storage import data_files, delta_version, jvm_stdout_quiet

if TYPE_CHECKING:
    from pyspark.sql import SparkSession

    from lakehouse.project import Project

RETENTION = "delta.deletedFileRetentionDuration"


@dataclass
class Maintained:
    table: str
    files_compacted: int = 0   # small files OPTIMIZE rewrote
    files_written: int = 0     # the files it wrote instead
    files_removed: int = 0     # unused files VACUUM deleted


def maintain(spark: SparkSession, project: Project, pipeline: str = "all") -> list[Maintained]:
    env, graph = project.env, project.graph
    hours = project.settings.maintenance.retention_days * 24
    states = ledger.load_states(spark, env)
    tables: list[tuple[str, str, Any]] = []  # (name, location, the zone whose target it is)
    for name in graph.select(pipeline):
        zone = graph.zones[name]
        tables.append((zone.target.table, env.table_path(zone.layer, zone.target.table), zone))
        tables.append((quarantine_table(zone), env.table_path(zone.layer, quarantine_table(zone)), None))
    if pipeline == "all":  # the ledger and the erasure list too
        named = {t for t, _, _ in tables}
        tables += [(t, location, None) for t, location in project.table_locations().items() if t not in named]
    done, changed = [], []
    # VACUUM lists a table in this many tasks (default 10,000: minutes per small table on 2 cores).
    listing = "spark.sql.sources.parallelPartitionDiscovery.parallelism"
    saved = spark.conf.get(listing)
    spark.conf.set(listing, str(max(8, 2 * spark.sparkContext.defaultParallelism)))
    try:
        for table, location, zone in tables:
            before = delta_version(spark, location)
            if before is None:
                continue
            done.append(_compact_and_vacuum(spark, table, location, hours))
            if zone is not None:
                changed.append((zone, before, delta_version(spark, location), 0))
    finally:
        spark.conf.set(listing, saved)
    ledger.record_maintenance(spark, env, "maintain", changed, states)
    return done


def _compact_and_vacuum(spark: SparkSession, table: str, location: str, hours: float) -> Maintained:
    from delta.tables import DeltaTable

    _set_retention(spark, location, hours)
    compacted = spark.sql(f"OPTIMIZE delta.`{location}`").first()["metrics"]
    before = data_files(spark, location)
    with jvm_stdout_quiet(spark):
        DeltaTable.forPath(spark, location).vacuum(hours)
    removed = before - data_files(spark, location)
    return Maintained(table, int(compacted["numFilesRemoved"]), int(compacted["numFilesAdded"]), removed)


def _set_retention(spark: SparkSession, location: str, hours: float) -> None:
    wanted = f"interval {hours:g} hours"
    properties = spark.sql(f"DESCRIBE DETAIL delta.`{location}`").first()["properties"] or {}
    if properties.get(RETENTION) != wanted:
        spark.sql(f"ALTER TABLE delta.`{location}` SET TBLPROPERTIES ('{RETENTION}' = '{wanted}')")
