"""Run one zone: read -> transform -> validate -> promote, and say what happened.

The runner knows no kind of source or target: the zone's source kind reads (everything, or what
changed since the ledger's last successful run) and its target mode writes. A zone whose inputs
and fingerprint equal that run's is up to date and costs a file listing, no Spark job.
"""
from __future__ import annotations

import logging
import random
import time
from concurrent.futures import Future, ThreadPoolExecutor
from contextlib import contextmanager
from datetime import datetime, timezone
from functools import partial
from typing import TYPE_CHECKING

from pyspark.errors import PySparkException
from pyspark.sql import functions as F
from pyspark.sql.utils import AnalysisException

from lakehouse import catalog
from lakehouse.errors import ZoneFailed, first_line, lost_rows
from lakehouse.plan.fingerprint import fingerprint
from lakehouse.plan.lineage import scope_of
from lakehouse.plan.uniqueness import unique_by_construction
from lakehouse.quality.gate import QualityGate
from lakehouse.results import FAILED, FULL, OK, UP_TO_DATE, ZoneResult
from lakehouse.storage import delta_rs, delta_version
from lakehouse.zone import quarantine
from lakehouse.zone.changes import outside, within
from lakehouse.zone.context import Tables, ZoneContext
from lakehouse.zone.handoff import Handoff, release
from lakehouse.zone.keyranges import count_past_table, past_table
from lakehouse.zone.rekey import NewKeyColumns, delete_rows, rekey, unkeyed
from lakehouse.zone.sources import CORRUPT, ERASED, SOURCE_KINDS, kind_of, stored_names
from lakehouse.zone.targets import TARGET_MODES, Write, add_new_columns, ensure_change_feed, table_at
from lakehouse.zone.transform import dedupe, dedupe_repeated, default_order, shape
from lakehouse.zone.validate import check_promotable

if TYPE_CHECKING:
    from pyspark.sql import Column, DataFrame, SparkSession

    from lakehouse.project import Project
    from lakehouse.ledger import ZoneState
    from lakehouse.plan.graph import ZoneGraph
    from lakehouse.zone.suppression import Suppression

log = logging.getLogger("lakehouse.zone")
ATTEMPTS = 3  # a zone that loses a Delta commit race to another run is recomputed and written again
_CONFLICTS = ("Concurrent", "ProtocolChanged", "MetadataChanged", "FileAlreadyExistsException",
              "DELTA_PATH_EXISTS", "already exists")
_TARGET = "__lakehouse_from_target"


def _now() -> str:
    return datetime.now(timezone.utc).isoformat(timespec="milliseconds")


def is_conflict(exc: BaseException) -> bool:
    text = f"{type(exc).__name__} {str(exc)[:3000]}"
    return any(marker in text for marker in _CONFLICTS)


class ZoneRunner:
    """Executes zones of one project in one Spark session."""

    def __init__(self, spark: SparkSession, project: Project, graph: ZoneGraph, gate: QualityGate,
                 run_id: str, started_at: str, states: dict[str, ZoneState], full_refresh: bool = False,
                 suppression: Suppression | None = None, handoff: Handoff | None = None):
        self.spark, self.project, self.graph, self.gate = spark, project, graph, gate
        self.run_id, self.started_at, self.states, self.full_refresh = run_id, started_at, states, full_refresh
        self.suppression = suppression
        self.handoff = handoff or Handoff({})
        self.env = project.env

    def run(self, name: str) -> ZoneResult:
        zone = self.graph.zones[name]
        start, started_at = time.perf_counter(), _now()
        for attempt in range(1, ATTEMPTS + 1):
            result = ZoneResult(name, zone.target.table, zone.layer, started_at=started_at)
            try:
                self._run(name, result)
                break
            except ZoneFailed as exc:
                result.status, result.message = FAILED, str(exc)
                log.error("%s", exc)
            except Exception as exc:  # noqa: BLE001 - a zone's failure is reported, the run goes on
                if lost_rows(exc) and attempt < ATTEMPTS:
                    # A local checkpoint's blocks are gone (their executor died): unlike a cache's,
                    # Spark cannot compute them again, but the zone can, from the tables.
                    log.warning("%s: Spark lost rows held in memory (an executor gone?), recomputing from the "
                                "tables (attempt %d)", name, attempt)
                    self.handoff.stop()  # the run's other zones read Delta too from now on
                    continue
                if is_conflict(exc) and attempt < ATTEMPTS:
                    log.warning("%s: a concurrent writer won the commit (attempt %d), recomputing", name, attempt)
                    time.sleep(random.uniform(0.5, 2.0) * attempt)  # let the other writer finish its commit
                    continue
                result.status, result.message = FAILED, self._explain(name, exc, attempt)
                # The terminal keeps one line; the log keeps the whole story.
                log.error("%s failed: %s", name, result.message, exc_info=exc)
            break
        result.seconds = round(time.perf_counter() - start, 2)
        result.ended_at = _now()
        return result

    def _explain(self, name: str, exc: Exception, attempt: int) -> str:
        file = self.project.file_of(name)
        if is_conflict(exc):
            text = (f"another run wrote {self.graph.zones[name].target.table} at the same time "
                    f"(Delta conflict, {attempt} attempts); run the zone again")
        elif isinstance(exc, (AnalysisException, PySparkException)):
            # Bad SQL in the YAML surfaces here, against the real columns: name the zone's file.
            text = f"Spark rejected the zone: {first_line(exc)}"
        else:  # a failed Spark job, storage or AWS
            text = f"{type(exc).__name__}: {first_line(exc)}"
        return str(ZoneFailed(name, file, text))

    def _run(self, name: str, result: ZoneResult) -> None:
        zone, file = self.graph.zones[name], self.project.file_of(name)
        tables = Tables(self.spark, self.env, self.graph, zone, file, self.handoff)
        state = None if self.full_refresh else self.states.get(name)
        ctx = ZoneContext(self.spark, self.env, zone, file, tables, state, scope_of(zone), self.started_at,
                          self.suppression, self.project.suites.get(name))
        try:
            self._stages(ctx, result)
        finally:
            for frame in ctx.cached:
                frame.unpersist()
            for frame in ctx.materialized:
                release(frame)
            result.message = "; ".join(ctx.notes)

    def _stages(self, ctx: ZoneContext, result: ZoneResult) -> None:
        zone, file, spark = ctx.zone, ctx.file, ctx.spark
        clock = partial(_timed, result.timings, zone.name)
        suite = ctx.suite
        location = self.env.table_path(zone.layer, zone.target.table)
        result.fingerprint = fingerprint(zone, suite.gx_json() if suite else None)
        kind = SOURCE_KINDS[kind_of(zone)]()
        with clock("read"):
            inputs = kind.inputs(ctx)
            version = delta_version(spark, location)
            state = ctx.state
            fresh = (not self.full_refresh and state is not None and state.fingerprint == result.fingerprint
                     and version is not None and version == state.output_version)
            rekeyed, stale = 0, None
            last = self.states.get(zone.name)  # (in a --full-refresh too)
            if version is not None and (last is None or last.fingerprint != result.fingerprint):
                # Its YAML changed since its last run, or the ledger has none: its keys may be
                # other than those its rows were written under.
                rekeyed, stale = self._key_anew(zone, file, location, inputs)
                version = delta_version(spark, location) if rekeyed else version
            result.deleted = rekeyed
            result.input_versions = dict(inputs.versions) if inputs else {}
            result.version = version
            if fresh and inputs is not None and inputs.versions == state.input_versions and not inputs.new_files:
                result.status = UP_TO_DATE
                return
            batch = kind.read(ctx, inputs, incremental=fresh)
            result.mode, result.input_files = batch.mode, batch.files
            if batch.rows is None:  # its inputs moved, but nothing they changed reaches this zone
                empty = kind.empty(spark, zone, ctx.tables.read)
                if empty is not None and version is not None:
                    _keep_new_columns(spark, location, shape(zone, empty, ctx.tables.read), result)
                result.status = OK
                return

        with clock("transform"):
            rows = shape(zone, batch.rows, ctx.tables.read)
            keys = zone.dedupe_keys
            order_by = zone.dedupe.order_by if zone.dedupe and zone.dedupe.order_by else \
                default_order(rows.columns, keys)
            check_promotable(zone, rows, file)
            mode = TARGET_MODES[zone.target_mode]()
            rust = delta_rs(self.env.lake_root) if batch.mode != FULL and version is not None else None
            competing = batch.compete and order_by and version is not None
            if competing and rust and past_table(rows, keys, rust, location, version):
                competing = False  # no stored row shares a key with these: none to compete with
            if competing:
                rows = _with_current_rows(rows, table_at(spark, location, version), keys)
            # One row per key already (see plan.uniqueness): a dedupe would shuffle and sort for nothing.
            # A large batch of landing lines, held in the block store, is deduplicated where its keys repeat.
            once = dedupe_repeated if batch.held and not competing else dedupe
            staged = rows if unique_by_construction(zone, self.graph) else once(rows, keys, order_by, batch.coded)
            if _TARGET in staged.columns:
                staged = staged.where(~F.col(_TARGET)).drop(_TARGET)
            # A full batch may be handed on (zone.handoff). An incremental one is only part of its
            # table and never is: it stays a cache, whose statistics are measured as it fills.
            if batch.mode != FULL:
                staged = ctx.cache(staged)
            elif not (batch.held and staged is rows):  # (lines held already, none repeated: as they are)
                staged = ctx.materialize(staged)
            if rust and not (batch.new_keys or mode.deletes):
                # Keys past every file's range add rows only: appended with no scan of the table.
                result.rows_staged, batch.new_keys = count_past_table(staged, zone.target.merge_keys, rust,
                                                                      location, version)
            else:
                result.rows_staged = staged.count()

        with clock("read"):  # counting what was read is read's bookkeeping, not validation
            if batch.parsed is not None:
                erased = F.col(ERASED) if ERASED in batch.parsed.columns else F.lit(False)
                counts = batch.parsed.agg(F.count("*").alias("n"), F.count(F.when(~erased, F.col(CORRUPT))).alias("bad"),
                                          F.count(F.when(erased, 1)).alias("erased")).first()
                result.rows_read, result.malformed, result.erased = counts["n"], counts["bad"], counts["erased"]
                result.deduplicated = result.rows_read - result.malformed - result.erased - result.rows_staged
                if result.erased:
                    ctx.notes.append(f"{result.erased} line(s) of erased subjects left out")
            elif batch.source is not None:
                result.rows_read = batch.source.count()  # answered from Delta's file statistics
            else:  # an incremental zone reads the rows in its scope: those it recomputed
                result.rows_read = result.rows_staged

        pending = None
        if batch.mode != FULL and version is not None:
            with clock("promote"):
                # Staged rows identical to the table's, and nothing departed: they passed this
                # suite when they were promoted, so there is nothing to judge or to write.
                if batch.new_keys:  # nothing in the table to compare with (see sources)
                    nothing = not result.rows_staged
                else:
                    current = table_at(spark, location, version)
                    pending = ctx.cache(mode.changes(_write(zone, location, staged, ctx, batch, version), current))
                    nothing = pending.isEmpty()
                if nothing and not result.malformed:
                    _keep_new_columns(spark, location, staged, result)
                    result.status = OK
                    return

        with clock("validate"):
            judged = None
            if batch.scope is not None and suite is not None and suite.judges_whole_table and version is not None:
                current = table_at(spark, location, version)
                # New keys replace none of the table's rows: all of them stay.
                kept = current if batch.new_keys else outside(current, batch.scope, ctx.scope.keys)
                judged = ctx.cache(kept.unionByName(staged, allowMissingColumns=True))
            gate = self.gate.check(zone.name, suite, staged, result.rows_staged, judged)
            result.suite, result.expectations = gate.suite, gate.results
            result.quarantined = gate.quarantined_rows
        if gate.failure:
            raise ZoneFailed(zone.name, file, f"{gate.failure}; nothing promoted, {zone.target.table} left as it was")

        with clock("promote"), ThreadPoolExecutor(1, thread_name_prefix=f"{zone.name}-quarantine") as beside:
            # The rows kept out go to their own table while the promoted ones are written: two
            # commits' fixed costs overlap (10x sample: 0.7 s off the longest zone), and the zone
            # ends only when both are done.
            kept = beside.submit(self._keep_out, ctx, batch, gate, result)
            result.promoted = result.rows_staged - result.quarantined
            if batch.mode == FULL and version is not None:
                ensure_change_feed(spark, location)  # a table from before the feed was on
            if stale is not None:  # rows stored under no key of the YAML, read again now
                rekeyed += delete_rows(spark, location, stale)
            unchanged = gate.passed is staged  # nothing quarantined: the changes found above still hold
            # A full batch depends on the upstream tables alone: compared with the table as it is
            # then (after this zone's own change-feed ALTER). An incremental one on the version read.
            read = None if batch.mode == FULL else version
            try:
                written = mode.write(spark, _write(zone, location, gate.passed, ctx, batch, read, result.promoted),
                                     pending if unchanged else None)
            except BaseException:
                _quietly(kept)  # the write's error is the one to report; the other is logged
                raise
            kept.result()
            if written.created or written.version != version:
                catalog.register(spark, self.env, zone.target.table, location, zone.target.description)
            if batch.mode == FULL and written.exact and self.handoff.offer(
                    zone.name, location, written.version, gate.passed, ctx.materialized):
                ctx.materialized = []  # released by the handoff once the zones reading the table end
            result.inserted, result.updated = written.inserted, written.updated
            result.deleted = written.deleted + rekeyed
            result.files_added, result.version = written.files_added, written.version
        result.status = OK

    def _key_anew(self, zone, file: str, location: str, inputs) -> tuple[int, Column | None]:
        """For a zone whose YAML changed: its table deduplicated by the new keys (the rows removed),
        or which stored rows its write must delete first (a key added with its column; zone.rekey)."""
        spark = self.spark
        relanded = stored_names(spark, [f.path for f in inputs.files]) if inputs is not None and inputs.files else None
        try:
            stale = unkeyed(spark, location, zone.target.merge_keys, TARGET_MODES[zone.target_mode].deletes, relanded)
        except NewKeyColumns as exc:
            raise ZoneFailed(zone.name, file, f"merge_keys: {exc} is new to {zone.target.table}, whose stored rows "
                             "have no value for it, so a MERGE would store each row again; give the table "
                             "target.mode: mirror, or move the rows to a new table (target.table) and drop "
                             "the old one") from None
        if stale is not None:
            return 0, stale
        order = zone.dedupe.order_by if zone.dedupe else None
        return rekey(spark, location, zone.target.merge_keys, order, zone.target.partition_by), None

    def _keep_out(self, ctx: ZoneContext, batch, gate, result: ZoneResult) -> None:
        """Malformed lines and the rows the gate quarantined, into ``<table>_quarantine``."""
        spark, zone = ctx.spark, ctx.zone
        if result.malformed:
            quarantine.keep(spark, self.env, zone, quarantine.malformed_rows(batch.malformed),
                            self.run_id, self.started_at, result.malformed)
        if gate.quarantined is not None and result.quarantined:
            quarantine.keep(spark, self.env, zone, quarantine.failed_rows(gate.quarantined),
                            self.run_id, self.started_at, result.quarantined)


def _quietly(future: Future) -> None:
    try:
        future.result()
    except Exception:  # noqa: BLE001
        log.exception("keeping rows out of the table failed too")


def _write(zone, location: str, rows: DataFrame, ctx: ZoneContext, batch, version: int | None,
           count: int = 0) -> Write:
    scoped = batch.scope is not None
    return Write(location, rows, zone.target.merge_keys, zone.target.partition_by, count,
                 scope=batch.scope if scoped else None, scope_keys=ctx.scope.keys if scoped else None,
                 read_version=version, new_keys=batch.new_keys)


def _keep_new_columns(spark, location: str, rows: DataFrame, result: ZoneResult) -> None:
    """A zone whose rows did not change still gains a column its upstream gained (added as nulls,
    as a rebuild would have it), so its schema equals a full rebuild's. Against the table as it is
    now: another run may have added the column since this zone read it."""
    if add_new_columns(spark, location, rows, spark.read.format("delta").load(location)):
        result.version = delta_version(spark, location)


def _with_current_rows(rows: DataFrame, current: DataFrame, keys: list[str]) -> DataFrame:
    """New landing rows plus the target's current row for each of their keys, flagged: the dedupe
    then picks the winner a full rebuild would, and a current row that wins changes nothing."""
    incumbents = within(current, rows.select(*keys).distinct(), keys)
    return (rows.withColumn(_TARGET, F.lit(False))
            .unionByName(incumbents.withColumn(_TARGET, F.lit(True)), allowMissingColumns=True))


@contextmanager
def _timed(into: dict[str, float], zone: str, step: str):
    """Adds the step's wall seconds to ``into``, so the summary shows where a zone's time went."""
    log.info("%s: %s", zone, step)
    start = time.perf_counter()
    try:
        yield
    finally:
        into[step] = round(into.get(step, 0.0) + time.perf_counter() - start, 3)
