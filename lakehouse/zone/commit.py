"""Committing a zone's changes to its Delta table: as an append when they only add keys, else as
one MERGE, and never on top of a version the changes were not computed against.

A zone computes its changes against the table as of one version ``V``, and a commit lands only
on ``V``:

- just before committing, the table's newest version must still be ``V`` (a file listing), or
  the zone is computed again;
- the commit carries Delta's transaction identifier (``SetTransaction``: app id ``lakehouse``,
  version ``V + 1``), so another run that commits while this one does makes Delta refuse it, and
  one that got its ``V + 1`` in first makes Delta skip it: its ``userMetadata`` token is then
  in none of the commits since ``V``. Both are reported as the same conflict.

That is what makes a plain append safe beside other runs. An append costs one Spark job; a MERGE
costs six to ten (finding the touched files, rewriting them), 1-2 s even for a few rows.
"""
from __future__ import annotations

import threading
import uuid
from dataclasses import dataclass
from typing import TYPE_CHECKING

from pyspark.sql import functions as F

from lakehouse.storage import commit_info, delta_version

if TYPE_CHECKING:
    from pyspark.sql import Column, DataFrame, SparkSession

APP_ID = "lakehouse"
_TXN = ("spark.databricks.delta.write.txnAppId", "spark.databricks.delta.write.txnVersion",
        "spark.databricks.delta.commitInfo.userMetadata")
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
    still_at(rows.sparkSession, location, read_version)
    (rows.write.format("delta").mode("append").option("txnAppId", APP_ID)
     .option("txnVersion", read_version + 1).option("userMetadata", token).save(location))
    return _committed(rows.sparkSession, location, token, read_version)


def merge(spark: SparkSession, location: str, read_version: int, build) -> Committed:
    """``build(target)``: the MERGE over ``target`` (a DeltaTable), not yet executed."""
    return _dml(spark, location, read_version, lambda target: build(target).execute())


def delete(spark: SparkSession, location: str, read_version: int, condition: Column) -> Committed:
    """Deletes the rows meeting ``condition``; the commit's metrics count them (numDeletedRows)."""
    return _dml(spark, location, read_version, lambda target: target.delete(condition))


def _dml(spark: SparkSession, location: str, read_version: int, act) -> Committed:
    from delta.tables import DeltaTable

    session, token = _dml_session(spark), _token()
    still_at(spark, location, read_version)
    for key, value in zip(_TXN, (APP_ID, str(read_version + 1), token)):
        session.conf.set(key, value)
    try:
        act(DeltaTable.forPath(session, location))
    finally:
        for key in _TXN:
            session.conf.unset(key)
    return _committed(spark, location, token, read_version)


def still_at(spark: SparkSession, location: str, version: int) -> None:
    """Commits without the transaction identifier (OPTIMIZE, ALTER TABLE, erase, restore) leave
    it behind the table's version: one since the zone read the table must be seen here."""
    if delta_version(spark, location) != version:
        raise _moved(location)


def _moved(location: str) -> ConcurrentWriteSkipped:
    return ConcurrentWriteSkipped(f"Concurrent write: {location} moved on since this zone read it")


def _token() -> str:
    return f"{APP_ID}:{uuid.uuid4().hex}"


def _committed(spark: SparkSession, location: str, token: str, read_version: int) -> Committed:
    """This writer's commit among those since the read, known by its token; its metrics as Delta
    wrote them in the commit file."""
    newest = delta_version(spark, location) or 0
    for version in range(read_version + 1, newest + 1):
        info = commit_info(spark, location, version)
        if info is not None and info.get("userMetadata") == token:
            return Committed(version, dict(info.get("operationMetrics") or {}))
    # Not among the files: ask Delta's own log store once (on S3 a commit's file can land after
    # the commit itself, and is repaired by the next reader) before calling the write skipped.
    from delta.tables import DeltaTable

    found = (DeltaTable.forPath(spark, location).history(max(1, newest - read_version))
             .where(F.col("userMetadata") == token).select("version", "operationMetrics").first())
    if found is None:
        raise _moved(location)
    return Committed(int(found["version"]), dict(found["operationMetrics"] or {}))
