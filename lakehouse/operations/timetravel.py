"""A table's Delta history, and restoring it to an earlier version.

``history`` reads the Delta log with delta-rs on a local lake (no JVM), with Spark on S3.
``restore`` is Delta's RESTORE. It is planned first (from which version to which, rows now and
then) and applied only when asked; the restored version is noted in the run ledger, so the zone
keeps it (it is not rebuilt from its inputs on the next run) and the zones downstream read the
change from the change feed on their next run. Subjects erased since the restored version are
deleted again at once: a restore never brings an erasure back. ``run --full-refresh`` rebuilds from the inputs,
undoing a restore of a landing table unless the files it should not hold are gone too.
"""
from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime, timezone
from typing import TYPE_CHECKING, Any

from lakehouse import erasures, ledger
from lakehouse.errors import LakehouseError, first_line
from lakehouse.operations.erase import purge
from lakehouse.storage import delta_rs, delta_version

if TYPE_CHECKING:
    from pyspark.sql import SparkSession

    from lakehouse.project import Project


class TimeTravelError(LakehouseError):
    exit_code = 2


@dataclass
class RestorePlan:
    table: str
    location: str
    current: int
    target: int
    rows_now: int | None = None
    rows_then: int | None = None
    metrics: dict[str, Any] = field(default_factory=dict)  # Delta's, once applied
    version: int | None = None                              # the version the restore committed
    erased_again: int = 0                                   # rows of erased subjects the old version held


def locate(project: Project, table: str) -> str:
    locations = project.table_locations()
    if table not in locations:
        raise TimeTravelError(f"no table {table!r} in {project.config_dir}; known: {', '.join(sorted(locations))}")
    return locations[table]


def history(project: Project, table: str, limit: int = 20, spark: SparkSession | None = None) -> list[dict]:
    """Newest first: version, timestamp (UTC), operation, its parameters and metrics."""
    location = locate(project, table)
    rust = delta_rs(project.env.lake_root)
    if rust is not None:
        try:
            entries = rust.DeltaTable(location).history(limit)
        except rust.exceptions.TableNotFoundError:
            raise TimeTravelError(f"{table} has not been built yet (no Delta table at {location})") from None
        return [{"version": e.get("version"),
                 "timestamp": datetime.fromtimestamp(e["timestamp"] / 1000, timezone.utc).isoformat(timespec="seconds"),
                 "operation": e.get("operation"), "parameters": e.get("operationParameters") or {},
                 "metrics": e.get("operationMetrics") or {}} for e in entries]
    if delta_version(spark, location) is None:
        raise TimeTravelError(f"{table} has not been built yet (no Delta table at {location})")
    from delta.tables import DeltaTable

    rows = DeltaTable.forPath(spark, location).history(limit).collect()
    return [{"version": r["version"], "timestamp": r["timestamp"].replace(tzinfo=timezone.utc).isoformat(timespec="seconds"),
             "operation": r["operation"], "parameters": dict(r["operationParameters"] or {}),
             "metrics": dict(r["operationMetrics"] or {})} for r in rows]


def plan_restore(project: Project, table: str, version: int | None = None, timestamp: str | None = None,
                 spark: SparkSession | None = None) -> RestorePlan:
    if (version is None) == (timestamp is None):
        raise TimeTravelError("give exactly one of --version N or --timestamp T")
    entries = history(project, table, limit=10_000, spark=spark)
    current = entries[0]["version"]
    if timestamp is not None:
        moment = _moment(timestamp)
        earlier = [e for e in entries if datetime.fromisoformat(e["timestamp"]) <= moment]
        if not earlier:
            raise TimeTravelError(f"{table} has no version at or before {timestamp}; its first is at "
                                  f"{entries[-1]['timestamp']} (lakehouse history {table})")
        version = earlier[0]["version"]
    if not 0 <= version < current:
        raise TimeTravelError(f"{table} is at version {current}; restore to one of 0..{current - 1} "
                              f"(lakehouse history {table})")
    plan = RestorePlan(table, locate(project, table), current, version)
    plan.rows_now, plan.rows_then = _rows(project, plan, spark, current), _rows(project, plan, spark, version)
    return plan


def restore(spark: SparkSession, project: Project, plan: RestorePlan) -> RestorePlan:
    from delta.tables import DeltaTable

    states = ledger.load_states(spark, project.env)
    try:
        metrics = DeltaTable.forPath(spark, plan.location).restoreToVersion(plan.target).first()
    except Exception as exc:  # noqa: BLE001 - files vacuumed since: say so, not a JVM trace
        raise TimeTravelError(f"cannot restore {plan.table} to version {plan.target}: {first_line(exc)[:300]} "
                              "(its files may have been vacuumed by lakehouse maintain)") from None
    plan.metrics = metrics.asDict() if metrics is not None else {}
    # An earlier version may hold subjects erased since: they stay erased.
    subjects = erasures.load(spark, project)
    if subjects is not None and subjects.digests:
        plan.erased_again = purge(spark, plan.location, subjects) or 0
    plan.version = delta_version(spark, plan.location)
    producer = project.graph.producer.get(plan.table)
    if producer is not None:
        ledger.record_maintenance(spark, project.env, "restore",
                                  [(project.graph.zones[producer], plan.current, plan.version, 0)], states)
    return plan


def _rows(project: Project, plan: RestorePlan, spark: SparkSession | None, version: int) -> int | None:
    rust = delta_rs(project.env.lake_root)
    try:
        if rust is not None:
            return rust.DeltaTable(plan.location, version=version).to_pyarrow_dataset().count_rows()
        return spark.read.format("delta").option("versionAsOf", version).load(plan.location).count()
    except Exception:  # noqa: BLE001 - a version whose files are gone: the plan says unknown
        return None


def _moment(text: str) -> datetime:
    try:
        moment = datetime.fromisoformat(text.replace("Z", "+00:00"))
    except ValueError:
        raise TimeTravelError(f"--timestamp {text!r} is not an ISO time, e.g. 2026-11-30T08:00:00Z") from None
    return moment if moment.tzinfo else moment.replace(tzinfo=timezone.utc)
