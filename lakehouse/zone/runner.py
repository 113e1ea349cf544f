"""Run one zone: read -> transform -> validate -> promote, and say what happened."""
from __future__ import annotations

import time
from contextlib import contextmanager
from dataclasses import dataclass, field
from functools import partial
from typing import TYPE_CHECKING

from pyspark.errors import PySparkException
from pyspark.sql import functions as F
from pyspark.sql.utils import AnalysisException

from lakehouse import catalog
from lakehouse.errors import ZoneFailed, first_line
from lakehouse.zone.promote import append_new, promote
from lakehouse.quality.gate import FAILED, ExpectationOutcome, QualityGate
from lakehouse.zone.read import AUDIT_COLUMNS, CORRUPT, SOURCE_FILE, read_landing, read_table
from lakehouse.zone.transform import dedupe, default_order, transform
from lakehouse.zone.validate import check_promotable

if TYPE_CHECKING:
    from pyspark.sql import SparkSession

    from lakehouse.config.loader import Project
    from lakehouse.plan.graph import ZoneGraph


@dataclass
class ZoneResult:
    zone: str
    table: str
    layer: str
    status: str = "pending"     # ok | failed | skipped
    rows_read: int = 0
    malformed: int = 0          # landing lines that did not fit the schema: in <table>_quarantine
    deduplicated: int | None = None  # landing rows folded into another with the same key
    rows_staged: int = 0
    quarantined: int = 0        # staged rows kept out by a quarantine expectation: in <table>_quarantine
    promoted: int = 0           # staged rows that passed the gate and went to MERGE
    suite: str | None = None
    expectations: list[ExpectationOutcome] = field(default_factory=list)
    inserted: int = 0
    updated: int = 0
    files_added: int = 0
    version: int | None = None
    seconds: float = 0.0
    message: str = ""
    timings: dict[str, float] = field(default_factory=dict)


class ZoneRunner:
    """Executes zones of one project in one Spark session."""

    def __init__(self, spark: SparkSession, project: Project, graph: ZoneGraph, gate: QualityGate,
                 run_id: str, started_at: str):
        self.spark, self.project, self.graph, self.gate = spark, project, graph, gate
        self.run_id, self.started_at = run_id, started_at
        self.env = project.env

    def location(self, table: str) -> str:
        zone = self.graph.zones[self.graph.producer[table]]
        return self.env.table_path(zone.layer, table)

    def run(self, name: str) -> ZoneResult:
        zone = self.graph.zones[name]
        result = ZoneResult(name, zone.target.table, zone.layer)
        start = time.perf_counter()
        try:
            self._run(name, result)
            result.status = "ok"
        except ZoneFailed as exc:
            result.status, result.message = "failed", str(exc)
        except (AnalysisException, PySparkException) as exc:
            # Bad SQL in the YAML surfaces here, against the real columns: name the zone's file.
            result.status = "failed"
            result.message = str(ZoneFailed(name, self.project.file_of(name),
                                            f"Spark rejected the zone: {first_line(exc)}"))
        except Exception as exc:  # a failed Spark job, storage or AWS: the run goes on and reports it
            result.status = "failed"
            result.message = str(ZoneFailed(name, self.project.file_of(name),
                                            f"{type(exc).__name__}: {first_line(exc)}"))
        finally:
            result.seconds = round(time.perf_counter() - start, 2)
        return result

    def _run(self, name: str, result: ZoneResult) -> None:
        cached: list = []  # released however the zone ends
        try:
            self._stages(name, result, cached)
        finally:
            for frame in cached:
                frame.unpersist()

    def _stages(self, name: str, result: ZoneResult, cached: list) -> None:
        zone, file = self.graph.zones[name], self.project.file_of(name)
        clock = partial(_timed, result.timings)
        landing = None
        with clock("read"):
            if zone.layer == "landing":
                landing = read_landing(self.spark, self.env, zone, file, self.started_at)
                cached.append(landing.parsed)
                source = landing.good
            elif zone.source is not None:
                source = self._table(zone, file, zone.source.table)
            else:
                source = None

        with clock("transform"):
            shaped = transform(self.spark, zone, source, lambda t: self._table(zone, file, t))
            order_by = (zone.dedupe.order_by if zone.dedupe and zone.dedupe.order_by
                        else default_order(shaped.columns, zone.dedupe_keys))
            check_promotable(zone, shaped, file)
            staged = dedupe(shaped, zone.dedupe_keys, order_by).cache()
            cached.append(staged)
            result.rows_staged = staged.count()  # computes the transform once, into the cache

        with clock("read"):  # counting what was read is read's bookkeeping, not validation
            if landing is not None:
                counts = landing.parsed.agg(F.count("*").alias("n"), F.count(CORRUPT).alias("bad")).first()
                result.rows_read, result.malformed = counts["n"], counts["bad"]
                result.deduplicated = result.rows_read - result.malformed - result.rows_staged
            elif source is not None:
                result.rows_read = source.count()  # answered from Delta's file statistics
            else:
                result.rows_read = result.rows_staged

        with clock("validate"):
            gate = self.gate.check(name, self.project.suites.get(name), staged, result.rows_staged)
            result.suite, result.expectations = gate.suite, gate.results
            result.quarantined = gate.quarantined_rows
        if gate.failure:
            raise ZoneFailed(name, file, f"{gate.failure}; nothing promoted, {zone.target.table} left as it was")

        with clock("promote"):
            catalog.ensure_database(self.spark, self.env)
            if result.malformed:
                self._quarantine(zone, _malformed_rows(landing.bad))
            if gate.quarantined is not None:
                self._quarantine(zone, _failed_rows(gate.quarantined))
            location = self.location(zone.target.table)
            result.promoted = result.rows_staged - result.quarantined
            written = promote(self.spark, gate.passed, location, zone.target.merge_keys, zone.target.partition_by,
                              result.promoted)
            catalog.register(self.spark, self.env, zone.target.table, location, zone.target.description)
            result.inserted, result.updated = written.inserted, written.updated
            result.files_added, result.version = written.files_added, written.version

    def _table(self, zone, file: str, table: str):
        return read_table(self.spark, self.location(table), zone, file, table, self.graph.producer[table])

    def _quarantine(self, zone, rows) -> None:
        table = f"{zone.target.table}_quarantine"
        location = self.env.table_path(zone.layer, table)
        rows = rows.select(F.lit(self.run_id).alias("run_id"), F.lit(zone.name).alias("zone"),
                           "failed_expectations", "raw", "source_file",
                           F.lit(self.started_at).cast("timestamp").alias("quarantined_at"))
        append_new(self.spark, rows, location, ["zone", "source_file", "raw", "failed_expectations"])
        catalog.register(self.spark, self.env, table, location, f"Rows of {zone.target.table} kept out by the gate")


MALFORMED = "malformed: not valid JSON, or a value of the wrong type"


def _malformed_rows(bad):
    return bad.select(F.array(F.lit(MALFORMED)).alias("failed_expectations"), "raw", "source_file")


def _failed_rows(failed):
    """The original row as JSON (audit columns aside), with the expectations it broke."""
    columns = [c for c in failed.columns if c not in (FAILED, *AUDIT_COLUMNS)]
    source_file = F.col(SOURCE_FILE) if SOURCE_FILE in failed.columns else F.lit(None).cast("string")
    return failed.select(F.col(FAILED).alias("failed_expectations"),
                         F.to_json(F.struct(*columns)).alias("raw"), source_file.alias("source_file"))


@contextmanager
def _timed(into: dict[str, float], step: str):
    """Adds the step's wall seconds to ``into``, so the summary shows where a zone's time went."""
    start = time.perf_counter()
    try:
        yield
    finally:
        into[step] = round(into.get(step, 0.0) + time.perf_counter() - start, 3)
