"""``<table>_quarantine``: every row kept out of a table, with why, in one place a person can query.

Malformed landing lines (raw text), rows that broke a quarantine expectation and rows missing a
merge key (as JSON) all land here, appended with the run and zone. A bad line that comes back in
a later run is kept once.
"""
from __future__ import annotations

from typing import TYPE_CHECKING

from pyspark.sql import functions as F

from lakehouse import catalog
from lakehouse.project import quarantine_table
from lakehouse.quality.gate import FAILED
from lakehouse.zone.sources import AUDIT_COLUMNS, SOURCE_FILE
from lakehouse.zone.targets import Append, Write

if TYPE_CHECKING:
    from pyspark.sql import DataFrame, SparkSession

    from lakehouse.config.models import Environment, Zone

MALFORMED = "malformed: not valid JSON, or a value of the wrong type"
KEYS = ["zone", "source_file", "raw", "failed_expectations"]


def table_name(zone: Zone) -> str:
    return quarantine_table(zone)


def location(env: Environment, zone: Zone) -> str:
    return env.table_path(zone.layer, quarantine_table(zone))


def malformed_rows(bad: DataFrame) -> DataFrame:
    return bad.select(F.array(F.lit(MALFORMED)).alias("failed_expectations"), "raw", "source_file")


def failed_rows(failed: DataFrame) -> DataFrame:
    """The original row as JSON (audit columns aside), with the expectations it broke."""
    columns = [c for c in failed.columns if c not in (FAILED, *AUDIT_COLUMNS)]
    source_file = F.col(SOURCE_FILE) if SOURCE_FILE in failed.columns else F.lit(None).cast("string")
    return failed.select(F.col(FAILED).alias("failed_expectations"),
                         F.to_json(F.struct(*columns)).alias("raw"), source_file.alias("source_file"))


def keep(spark: SparkSession, env: Environment, zone: Zone, rows: DataFrame, run_id: str, at: str,
         count: int) -> None:
    """Append ``rows`` (``count`` of them, known already from the run's own figures)."""
    if not count:
        return
    rows = rows.select(F.lit(run_id).alias("run_id"), F.lit(zone.name).alias("zone"),
                       "failed_expectations", "raw", "source_file",
                       F.lit(at).cast("timestamp").alias("quarantined_at"))
    written = Append().write(spark, Write(location(env, zone), rows, KEYS, [], count))
    if written.created:
        catalog.register(spark, env, table_name(zone), location(env, zone),
                         f"Rows of {zone.target.table} kept out by the gate")
