"""Erasure on request: a data subject's rows leave every table, and never come back.

The request is kept in ``lakehouse_erasures`` (see ``lakehouse.erasures``) as a SHA-256 of the
normalised key, never the key. It is written before anything is deleted, so a run that
starts meanwhile already leaves the subject's landing lines out; landing zones keep doing so on
every later run, ``--full-refresh`` over the old files included. Deleted rows stay in the
tables' old Delta files (and change feed) until ``lakehouse maintain`` vacuums them after the
retention in project.yml.
"""
from __future__ import annotations

from dataclasses import dataclass, field
from typing import TYPE_CHECKING

from pyspark.sql import functions as F

from lakehouse import erasures, ledger
from lakehouse.errors import LakehouseError
from lakehouse.project import quarantine_table
from lakehouse.storage import delta_version
from lakehouse.zone.suppression import Suppression, digest, normalise

if TYPE_CHECKING:
    from pyspark.sql import SparkSession

    from lakehouse.project import Project

class ErasureNotConfigured(LakehouseError):
    exit_code = 2


@dataclass
class ErasureResult:
    subject_sha256: str
    deleted: dict[str, int] = field(default_factory=dict)      # table -> rows deleted
    unsearchable: list[str] = field(default_factory=list)      # tables with no subject column
    follow: list[str] = field(default_factory=list)            # derived tables the next run updates


def require_erasure(project: Project, key: str) -> None:
    """Refuse before any Spark starts: no subject columns declared, or nothing to match."""
    if project.settings.erasure is None:
        raise ErasureNotConfigured(
            f"{project.project_file} names no subject columns; add 'erasure: {{subject_columns: [email]}}' "
            "with the columns that hold a data subject's key")
    if not normalise(key):
        raise ErasureNotConfigured("the key to erase is empty")


def erase(spark: SparkSession, project: Project, key: str) -> ErasureResult:
    require_erasure(project, key)
    settings = project.settings.erasure
    env, graph = project.env, project.graph
    result = ErasureResult(digest(key))
    subject = Suppression(tuple(settings.subject_columns), frozenset({result.subject_sha256}))
    erasures.record(spark, project.env, result.subject_sha256)  # first: a run starting now already leaves them out

    states = ledger.load_states(spark, env)
    changed = []
    for name in graph.order:
        zone = graph.zones[name]
        for table, location in ((zone.target.table, env.table_path(zone.layer, zone.target.table)),
                                (quarantine_table(zone), env.table_path(zone.layer, quarantine_table(zone)))):
            before = delta_version(spark, location)
            if before is None:
                continue
            deleted = purge(spark, location, subject)
            if deleted is None:
                result.unsearchable.append(table)
                continue
            result.deleted[table] = deleted
            if table == zone.target.table:
                changed.append((zone, before, delta_version(spark, location), deleted))
    ledger.record_maintenance(spark, env, "erase", changed, states)
    emptied = {graph.producer.get(t) for t, n in result.deleted.items() if n}
    result.follow = [graph.zones[d].target.table for d in sorted({d for z in emptied if z for d in graph.downstream(z)})
                     if graph.zones[d].target.table in result.unsearchable]
    return result


def purge(spark: SparkSession, location: str, subjects: Suppression) -> int | None:
    """Delete the subjects' rows from the Delta table at ``location``: by subject column, or in a
    quarantine by its raw text. The rows deleted; None when the table has neither."""
    from delta.tables import DeltaTable

    df = spark.read.format("delta").load(location)
    condition = subjects.row_matches(df)
    if condition is None and "raw" in df.columns:
        condition = subjects.raw_matches(F.col("raw"))
    if condition is None:
        return None
    n = df.where(condition).count()
    if n:  # no empty commit: downstream zones would wake for nothing
        DeltaTable.forPath(spark, location).delete(condition)
    return n
