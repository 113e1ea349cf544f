"""Committing a zone's changes to its Delta table: as an append when they only add keys, else as
one MERGE, and never on top of a version the changes were not computed against.

A zone computes its changes against the table as of one version ``V``. Every commit made here
carries Delta's transaction identifier (``SetTransaction``: app id ``lakehouse``, version
``V + 1``), which turns Delta's idempotent-write check into a check that the table is still at
``V``:

- a writer that commits while this one runs makes Delta refuse this commit (a concurrent
  transaction: the zone is computed again);
- a writer that committed after ``V`` but before this commit started has recorded ``V + 1`` or
  more, so Delta skips this commit. The commit's own ``userMetadata`` token is then missing from
  the table's history, which is reported as the same conflict.

That is what makes a plain append safe beside other runs. An append costs one Spark job; a MERGE
costs six to ten (finding the touched files, rewriting them), 1-2 s even for a few rows.
"""
from __future__ import annotations

import threading
import uuid
from dataclasses import dataclass
from typing import TYPE_CHECKING

from pyspark.sql import functions as F

if TYPE_CHECKING:
    from pyspark.sql import DataFrame, SparkSession

APP_ID = "lakehouse"
_TXN = ("spark.databricks.delta.write.txnAppId", "spark.databricks.delta.write.txnVersion",
        "spark.databricks.delta.commitInfo.userMetadata")
_SEARCHED = 20  # newest commits searched for this one's token: others that landed right after it
_threads = threading.local()


class ConcurrentWriteSkipped(Exception):
    """Another run committed to the table after this zone read it: the zone is computed again."""


@dataclass(frozen=True)
class Committed:
    version: int
    metrics: dict[str, str]


def _dml_session(spark: SparkSession) -> SparkSession:
    """A session of this thread's own for MERGEs: Delta takes a MERGE's transaction identifier from
    session settings, which zones running side by side in one session must not share."""
    pair = getattr(_threads, "pair", None)
    if pair is None or pair[0] is not spark:
        pair = _threads.pair = (spark, spark.newSession())
    return pair[1]


def append(rows: DataFrame, location: str, read_version: int) -> Committed:
    token = _token()
    (rows.write.format("delta").mode("append").option("txnAppId", APP_ID)
     .option("txnVersion", read_version + 1).option("userMetadata", token).save(location))
    return _committed(rows.sparkSession, location, token)


def merge(spark: SparkSession, location: str, read_version: int, build) -> Committed:
    """``build(target)``: the MERGE over ``target`` (a DeltaTable), not yet executed."""
    from delta.tables import DeltaTable

    session, token = _dml_session(spark), _token()
    for key, value in zip(_TXN, (APP_ID, str(read_version + 1), token)):
        session.conf.set(key, value)
    try:
        build(DeltaTable.forPath(session, location)).execute()
    finally:
        for key in _TXN:
            session.conf.unset(key)
    return _committed(spark, location, token)


def _token() -> str:
    return f"{APP_ID}:{uuid.uuid4().hex}"


def _committed(spark: SparkSession, location: str, token: str) -> Committed:
    from delta.tables import DeltaTable

    found = (DeltaTable.forPath(spark, location).history(_SEARCHED).where(F.col("userMetadata") == token)
             .select("version", "operationMetrics").first())
    if found is None:
        raise ConcurrentWriteSkipped(f"Concurrent write: {location} moved on since this zone read it")
    return Committed(int(found["version"]), dict(found["operationMetrics"] or {}))
