"""The run ledger: a Delta table in the lake with one row per zone per run.

It is the engine's memory. Whether a zone is up to date, which upstream versions an incremental
run starts from and which landing files were already ingested all come from here, so the lake
carries its own state: copy or restore the lake and its history comes along. It is registered in
the catalog like the zones' tables, so anyone can query it (``lakehouse history`` shows it).

Rows are appended once per run, at its end: a run that dies first loses only its bookkeeping, and
the next run redoes that work, which the targets absorb (every write is an idempotent MERGE).
"""
from __future__ import annotations

import json
from dataclasses import dataclass, field
from datetime import datetime, timezone
from typing import TYPE_CHECKING, Any

from lakehouse.results import FULL, INCREMENTAL, OK, UP_TO_DATE, FileEntry, ZoneResult

if TYPE_CHECKING:
    from pyspark.sql import DataFrame, SparkSession

    from lakehouse.config.models import Environment

TABLE = "lakehouse_runs"
SCHEMA = (
    "run_id string, pipeline string, zone string, table string, status string, mode string, "
    "started_at timestamp, ended_at timestamp, fingerprint string, input_versions map<string,bigint>, "
    "input_files array<struct<path:string,size:bigint,modified:bigint>>, output_version bigint, "
    "rows_read bigint, malformed bigint, quarantined bigint, promoted bigint, inserted bigint, "
    "updated bigint, deleted bigint, seconds double, expectations string, error string"
)


@dataclass(frozen=True)
class ZoneState:
    """What the last successful run of a zone saw and left, as the ledger recorded it."""

    run_id: str
    fingerprint: str
    input_versions: dict[str, int]
    output_version: int | None
    files: dict[str, FileEntry] = field(default_factory=dict)  # every landing file ingested so far


def location(env: Environment) -> str:
    return f"{env.lake_root.rstrip('/')}/_ledger/runs"


def load_states(spark: SparkSession, env: Environment) -> dict[str, ZoneState]:
    """Each zone's last successful state: one small read per run, not per zone."""
    from lakehouse.storage import delta_version

    where = location(env)
    if delta_version(spark, where) is None:
        return {}
    rows = (spark.read.format("delta").load(where)
            .where(f"status IN ('{OK}', '{UP_TO_DATE}')")
            .select("zone", "run_id", "fingerprint", "input_versions", "input_files", "output_version", "ended_at",
                    "mode")
            .collect())
    states: dict[str, ZoneState] = {}
    files: dict[str, dict[str, FileEntry]] = {}
    for row in sorted(rows, key=lambda r: (r["ended_at"], r["run_id"])):
        seen = files.setdefault(row["zone"], {})
        for f in row["input_files"] or []:
            seen[f["path"]] = FileEntry(f["path"], f["size"], f["modified"])
        states[row["zone"]] = ZoneState(row["run_id"], row["fingerprint"], dict(row["input_versions"] or {}),
                                        row["output_version"], seen)
    return states


def record(spark: SparkSession, env: Environment, run_id: str, pipeline: str, zones: list[ZoneResult]) -> None:
    """Append this run's rows in one commit (blind appends never conflict with another run's)."""
    if not zones:
        return
    rows = [_row(run_id, pipeline, z) for z in zones]
    (spark.createDataFrame(rows, SCHEMA).coalesce(1).write.format("delta").mode("append")
     .option("mergeSchema", "true").save(location(env)))


def read(spark: SparkSession, env: Environment, zone: str | None = None, limit: int = 50) -> list[dict[str, Any]]:
    from lakehouse.storage import delta_version

    if delta_version(spark, location(env)) is None:
        return []
    df: DataFrame = spark.read.format("delta").load(location(env))
    if zone:
        df = df.where(df.zone == zone)
    rows = df.orderBy(df.started_at.desc(), df.run_id.desc(), df.zone).limit(limit).collect()
    return [r.asDict(recursive=True) for r in rows]


def _ts(text: str):
    return datetime.fromisoformat(text) if text else datetime.now(timezone.utc)


def _row(run_id: str, pipeline: str, z: ZoneResult) -> tuple:
    did_work = z.mode in (FULL, INCREMENTAL) and z.status == OK
    return (
        run_id, pipeline, z.zone, z.table, z.status, z.mode or None, _ts(z.started_at), _ts(z.ended_at),
        z.fingerprint or None, {k: int(v) for k, v in z.input_versions.items()},
        [(f.path, f.size, f.modified) for f in z.input_files] if did_work else [],
        z.version, z.rows_read, z.malformed, z.quarantined, z.promoted, z.inserted, z.updated, z.deleted,
        float(z.seconds), json.dumps([e.to_dict() for e in z.expectations], default=str), z.message or None,
    )
