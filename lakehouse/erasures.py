"""``lakehouse_erasures``: the data subjects erased on request, as SHA-256 digests of their key.

A Delta table beside the run ledger, appended by ``lakehouse erase`` and read once per run, so
landing zones leave those subjects' lines out of every later run (``--full-refresh`` included).
"""
from __future__ import annotations

from datetime import datetime, timezone
from pathlib import Path
from typing import TYPE_CHECKING

from lakehouse import catalog
from lakehouse.project import ERASURES_TABLE, erasures_location
from lakehouse.storage import delta_rs, delta_version
from lakehouse.zone.suppression import Suppression

if TYPE_CHECKING:
    from pyspark.sql import SparkSession

    from lakehouse.config.models import Environment
    from lakehouse.project import Project

SCHEMA = "subject_sha256 string, requested_at timestamp"


def load(spark: SparkSession | None, project: Project) -> Suppression | None:
    """The subjects erased so far, for landing to leave out; None when the project erases nothing."""
    settings = project.settings.erasure
    if settings is None:
        return None
    location = erasures_location(project.env)
    rust = delta_rs(project.env.lake_root)
    digests: set[str] = set()
    if rust is not None:
        if (Path(location) / "_delta_log").is_dir():
            digests = set(rust.DeltaTable(location).to_pyarrow_table(columns=["subject_sha256"])
                          .column("subject_sha256").to_pylist())
    elif delta_version(spark, location) is not None:
        digests = {r[0] for r in spark.read.format("delta").load(location).select("subject_sha256")
                   .distinct().collect()}
    return Suppression(tuple(settings.subject_columns), frozenset(digests))


def record(spark: SparkSession, env: Environment, subject_sha256: str) -> None:
    """Append one request: the digest, never the key."""
    location = erasures_location(env)
    row = [(subject_sha256, datetime.now(timezone.utc))]
    spark.createDataFrame(row, SCHEMA).coalesce(1).write.format("delta").mode("append").save(location)
    catalog.ensure_database(spark, env)
    catalog.register(spark, env, ERASURES_TABLE, location, "Erasure requests, as SHA-256 of the key")
