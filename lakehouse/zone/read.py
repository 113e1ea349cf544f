"""Reading a zone's input: landing JSON with a typed schema, or upstream Delta tables."""
from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING

from pyspark.sql import functions as F
from pyspark.sql.utils import AnalysisException

from lakehouse.errors import ZoneFailed, first_line

if TYPE_CHECKING:
    from pyspark.sql import DataFrame, SparkSession

    from lakehouse.config.models import Environment, Zone

CORRUPT = "_corrupt_record"
SOURCE_FILE = "_source_file"
INGESTED_AT = "_ingested_at"
AUDIT_COLUMNS = (SOURCE_FILE, INGESTED_AT)


@dataclass
class LandingRead:
    """Parsed landing rows split into rows that fit the schema and lines that do not."""

    parsed: DataFrame   # cached: every line, good and bad
    good: DataFrame     # schema columns + audit columns
    bad: DataFrame      # raw line, source file: for the quarantine table


def read_landing(spark: SparkSession, env: Environment, zone: Zone, file: str, ingested_at) -> LandingRead:
    source = zone.source
    ddl = ", ".join(f"`{c}` {t}" for c, t in source.schema_.items())
    location = env.landing_path(source.path)
    try:
        parsed = (
            spark.read.schema(f"{ddl}, {CORRUPT} string")
            .option("mode", "PERMISSIVE")
            .option("columnNameOfCorruptRecord", CORRUPT)
            .json(location)
            .withColumn(SOURCE_FILE, F.col("_metadata.file_path"))
            .withColumn(INGESTED_AT, F.lit(ingested_at).cast("timestamp"))
        )
    except AnalysisException as exc:
        raise ZoneFailed(zone.name, file, f"cannot read landing files at {location}: {first_line(exc)}. "
                         "Check source.path in the zone and landing_root in the env file "
                         "(lakehouse generate-sample writes sample data to data/sample/stedi)") from None
    # Spark refuses queries on raw JSON that touch only the corrupt-record column: cache first.
    parsed = parsed.cache()
    good = parsed.where(F.col(CORRUPT).isNull()).drop(CORRUPT)
    bad = parsed.where(F.col(CORRUPT).isNotNull()).select(
        F.col(CORRUPT).alias("raw"), F.col(SOURCE_FILE).alias("source_file"))
    return LandingRead(parsed, good, bad)


def read_table(spark: SparkSession, location: str, zone: Zone, file: str, table: str, producer: str) -> DataFrame:
    from delta.tables import DeltaTable

    if not DeltaTable.isDeltaTable(spark, location):
        raise ZoneFailed(zone.name, file, f"upstream table {table!r} has not been built yet (no Delta table at "
                         f"{location}); run its zone first: lakehouse run --pipeline {producer}")
    return spark.read.format("delta").load(location)
