"""The run ledger: a Delta table in the lake with one row per zone per run.

It is the engine's memory. Whether a zone is up to date, which upstream versions an incremental
run starts from and which landing files were already ingested all come from here, so the lake
carries its own state: copy or restore the lake and its history comes along. It is registered in
the catalog like the zones' tables, so anyone can query it (``lakehouse history`` shows it).

Rows are appended once per run, at its end: a run that dies first loses only its bookkeeping, and
the next run redoes that work, which the targets absorb (every write is an idempotent MERGE).

On a local lake the ledger is read and appended with delta-rs (``deltalake``), without the JVM:
a run whose zones are all up to date then never wakes Delta inside Spark, and ``history``
starts no Spark at all. On S3 (Glue) Spark does it, with the job's own credentials and catalog.
"""
from __future__ import annotations

import json
from dataclasses import dataclass, field
from datetime import datetime, timezone
from typing import TYPE_CHECKING, Any

from lakehouse.project import LEDGER_TABLE, ledger_location
from lakehouse.results import FULL, INCREMENTAL, OK, UP_TO_DATE, FileEntry, ZoneResult
from lakehouse.storage import delta_rs

if TYPE_CHECKING:
    from pyspark.sql import SparkSession

    from lakehouse.config.models import Environment

TABLE = LEDGER_TABLE
SCHEMA = (
    "run_id string, pipeline string, zone string, table string, status string, mode string, "
    "started_at timestamp, ended_at timestamp, fingerprint string, input_versions map<string,bigint>, "
    "input_files array<struct<path:string,size:bigint,modified:bigint>>, output_version bigint, "
    "rows_read bigint, malformed bigint, quarantined bigint, promoted bigint, inserted bigint, "
    "updated bigint, deleted bigint, seconds double, expectations string, error string"
)
_STATE_COLUMNS = ["zone", "run_id", "fingerprint", "input_versions", "input_files", "output_version", "ended_at", "mode"]


@dataclass(frozen=True)
class ZoneState:
    """What the last successful run of a zone saw and left, as the ledger recorded it."""

    run_id: str
    fingerprint: str
    input_versions: dict[str, int]
    output_version: int | None
    files: dict[str, FileEntry] = field(default_factory=dict)  # every landing file ingested so far
    restored: bool = False  # restored since its last full run: the table may not equal its inputs' result


def location(env: Environment) -> str:
    return ledger_location(env)


def _rust(env: Environment):
    return delta_rs(env.lake_root)


def _exists(spark_or_none, env: Environment) -> bool:
    from pathlib import Path

    if _rust(env) is not None:
        return (Path(location(env)) / "_delta_log").is_dir()
    from lakehouse.storage import delta_version

    return delta_version(spark_or_none, location(env)) is not None


def _rows(spark: SparkSession | None, env: Environment, columns: list[str] | None,
          statuses: list[str] | None = None, zone: str | None = None) -> list[dict[str, Any]]:
    if not _exists(spark, env):
        return []
    rust = _rust(env)
    if rust is not None:
        filters = [("status", "in", statuses)] if statuses else []
        filters += [("zone", "=", zone)] if zone else []
        table = rust.DeltaTable(location(env)).to_pyarrow_table(columns=columns, filters=filters or None)
        rows = table.to_pylist()
        for row in rows:  # arrow gives a map as (key, value) pairs
            if isinstance(row.get("input_versions"), list):
                row["input_versions"] = dict(row["input_versions"])
        return rows
    df = spark.read.format("delta").load(location(env))
    if statuses:
        df = df.where(df.status.isin(statuses))
    if zone:
        df = df.where(df.zone == zone)
    return [r.asDict(recursive=True) for r in (df.select(*columns) if columns else df).collect()]


def load_states(spark: SparkSession | None, env: Environment) -> dict[str, ZoneState]:
    """Each zone's last successful state: one small read per run, not per zone."""
    rows = _rows(spark, env, _STATE_COLUMNS, [OK, UP_TO_DATE])
    states: dict[str, ZoneState] = {}
    files: dict[str, dict[str, FileEntry]] = {}
    restored: dict[str, bool] = {}
    for row in sorted(rows, key=lambda r: (_aware(r["ended_at"]), r["run_id"])):
        seen = files.setdefault(row["zone"], {})
        for f in row["input_files"] or []:
            seen[f["path"]] = FileEntry(f["path"], f["size"], f["modified"])
        if row["mode"] in ("restore", FULL):
            restored[row["zone"]] = row["mode"] == "restore"
        states[row["zone"]] = ZoneState(row["run_id"], row["fingerprint"], dict(row["input_versions"] or {}),
                                        row["output_version"], seen, restored.get(row["zone"], False))
    return states


def record(spark: SparkSession, env: Environment, run_id: str, pipeline: str, zones: list[ZoneResult]) -> None:
    """Append this run's rows in one commit (blind appends never conflict with another run's)."""
    if not zones:
        return
    rows = [_row(run_id, pipeline, z) for z in zones]
    rust = _rust(env)
    if rust is not None:
        import pyarrow as pa

        names = [part.strip().split(" ", 1)[0] for part in _split(SCHEMA)]
        records = [dict(zip(names, r)) for r in rows]
        for r in records:
            r["input_versions"] = list(r["input_versions"].items())
            r["input_files"] = [dict(zip(("path", "size", "modified"), f)) for f in r["input_files"]]
        table = pa.Table.from_pylist(records, schema=_ARROW())
        rust.write_deltalake(location(env), table, mode="append")
        return
    (spark.createDataFrame(rows, SCHEMA).coalesce(1).write.format("delta").mode("append")
     .option("mergeSchema", "true").save(location(env)))


def read(spark: SparkSession | None, env: Environment, zone: str | None = None, limit: int = 50) -> list[dict]:
    rows = _rows(spark, env, None, zone=zone)
    rows.sort(key=lambda r: (_aware(r["started_at"]), r["run_id"], r["zone"]), reverse=True)
    return rows[:limit]


def _aware(moment: datetime) -> datetime:
    return moment if moment.tzinfo else moment.replace(tzinfo=timezone.utc)


def _split(schema: str) -> list[str]:
    """Top-level 'name type' parts of a DDL string (commas inside <...> belong to the type)."""
    parts, depth, current = [], 0, ""
    for ch in schema:
        depth += ch == "<"
        depth -= ch == ">"
        if ch == "," and depth == 0:
            parts.append(current)
            current = ""
        else:
            current += ch
    return [*parts, current]


def _ARROW():  # noqa: N802 - built on first use: pyarrow is only needed on this path
    import pyarrow as pa

    file = pa.struct([("path", pa.string()), ("size", pa.int64()), ("modified", pa.int64())])
    types = {"string": pa.string(), "timestamp": pa.timestamp("us", tz="UTC"), "bigint": pa.int64(),
             "double": pa.float64(), "map<string,bigint>": pa.map_(pa.string(), pa.int64()),
             "array<struct<path:string,size:bigint,modified:bigint>>": pa.list_(file)}
    return pa.schema([(name, types[kind]) for name, kind in
                      (part.strip().split(" ", 1) for part in _split(SCHEMA))])


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


def record_maintenance(spark: SparkSession, env: Environment, operation: str,
                       changed: list[tuple[Any, int | None, int | None, int]],
                       states: dict[str, ZoneState] | None = None) -> None:
    """Note a version that erase, maintain or restore committed outside a run, so the zone stays up
    to date where it was (its inputs and fingerprint unchanged) and downstream zones read the change
    from the change feed, not by rebuilding. ``changed``: (zone, version before, version after,
    rows deleted).

    A zone that was not up to date before (its last run failed, or another writer moved its table)
    gets no row: its next run recomputes it, as it would have."""
    states = load_states(spark, env) if states is None else states
    at = datetime.now(timezone.utc).isoformat(timespec="milliseconds")
    rows = []
    for zone, before, after, deleted in changed:
        state = states.get(zone.name)
        if state is None or state.output_version != before or after == before:
            continue
        rows.append(ZoneResult(zone.name, zone.target.table, zone.layer, status=OK, mode=operation,
                               input_versions=dict(state.input_versions), fingerprint=state.fingerprint,
                               version=after, deleted=deleted, started_at=at, ended_at=at))
    run_id = f"{operation}-{datetime.now(timezone.utc).strftime('%Y%m%dT%H%M%SZ')}"
    record(spark, env, run_id, operation, rows)
