"""Execute a plan: the selected zones in dependency order, in the process's one Spark session.

The engine knows nothing of the CLI or of Glue; both call ``run_pipeline`` and render its result.
Each run reads the ledger once (what every zone last saw), runs the zones, and appends one ledger
row per zone: the next run starts from there.
"""
from __future__ import annotations

import logging
import time
import uuid
from concurrent.futures import FIRST_COMPLETED, ThreadPoolExecutor, wait
from datetime import datetime, timezone
from typing import TYPE_CHECKING, Callable

from lakehouse import catalog, erasures, ledger
from lakehouse.errors import ConfigError, Problem
from lakehouse.quality.gate import QualityGate
from lakehouse.reports.summary import ReportFolder
from lakehouse.results import SKIPPED, RunResult, ZoneResult
from lakehouse.runtime.session import get_session
from lakehouse.zone.handoff import Handoff
from lakehouse.zone.runner import ZoneRunner
from lakehouse.zone.sources import SOURCE_KINDS, kind_of
from lakehouse.zone.targets import TARGET_MODES

log = logging.getLogger("lakehouse")

if TYPE_CHECKING:
    from pyspark.sql import SparkSession

    from lakehouse.plan.graph import ZoneGraph
    from lakehouse.project import Project


def new_run_id() -> str:
    return datetime.now(timezone.utc).strftime("%Y%m%dT%H%M%SZ") + "-" + uuid.uuid4().hex[:6]


def check_kinds(project: Project) -> None:
    """Every source kind and target mode a zone names is registered (before Spark starts)."""
    problems = []
    for name, zone in project.zones.items():
        if kind_of(zone) not in SOURCE_KINDS:
            problems.append(Problem(project.file_of(name), "source.kind", f"unknown source kind {kind_of(zone)!r}",
                                    f"use one of: {', '.join(sorted(SOURCE_KINDS))}"))
        if zone.target_mode not in TARGET_MODES:
            problems.append(Problem(project.file_of(name), "target.mode", f"unknown target mode {zone.target_mode!r}",
                                    f"use one of: {', '.join(sorted(TARGET_MODES))}"))
    if problems:
        raise ConfigError(problems)


def check_pipeline(project: Project, pipeline: str) -> list[str]:
    """The zones ``pipeline`` selects, in run order, once its name and every kind and mode are
    known (ConfigError otherwise): what a caller checks before it starts Spark."""
    selected = project.graph.select(pipeline)
    check_kinds(project)
    return selected


def run_pipeline(project: Project, pipeline: str, *, spark: SparkSession | None = None, run_id: str | None = None,
                 full_refresh: bool = False,
                 on_start: Callable[[str], None] | None = None,
                 on_done: Callable[[ZoneResult], None] | None = None) -> RunResult:
    graph = project.graph
    selected = check_pipeline(project, pipeline)  # for any caller that did not check already
    spark = spark or get_session(project.env)
    env = project.env
    started_at = datetime.now(timezone.utc).isoformat(timespec="seconds")
    result = RunResult(run_id or new_run_id(), pipeline, full_refresh=full_refresh)
    reports = ReportFolder(env.reports_root)
    log_file = _log_to(reports.log_path(result.run_id, pipeline))
    log.info("run %s: --pipeline %s (%s)%s", result.run_id, pipeline, ", ".join(selected),
             ", full refresh" if full_refresh else "")
    gate = QualityGate(str(reports.local), result.run_id)
    catalog.ensure_database(spark, env)
    # A full refresh ignores these as starting points, but still needs each zone's last fingerprint:
    # a zone whose configuration changed keys its table anew (zone/rekey.py).
    states = ledger.load_states(spark, env)
    # Zone -> the zones of this run that read its table: what it promoted stays in memory for them.
    handoff = Handoff({name: {d for d in selected if name in graph.depends_on[d]} for name in selected})
    runner = ZoneRunner(spark, project, graph, gate, result.run_id, started_at, states, full_refresh,
                        erasures.load(spark, project), handoff)
    start = time.perf_counter()
    done: dict[str, ZoneResult] = {}

    def ended(outcome: ZoneResult) -> None:
        handoff.finished(outcome.zone)  # run, failed or skipped: it reads nothing more
        if on_done:
            on_done(outcome)

    try:
        _execute(selected, graph, runner, env.parallel_zones, done, on_start, ended)
    except BaseException:
        log.exception("run %s stopped", result.run_id)
        result.zones.extend(done[name] for name in selected if name in done)
        try:  # keep what the zones did, but never hide why the run stopped
            ledger.record(spark, env, result.run_id, pipeline, result.zones)
        except Exception:  # noqa: BLE001, S110
            pass
        _stop_logging(log_file)
        raise
    finally:
        handoff.close()
    result.zones.extend(done[name] for name in selected)  # the summary keeps the run order
    ledger.record(spark, env, result.run_id, pipeline, result.zones)
    if env.catalog == "glue":
        catalog.register(spark, env, ledger.TABLE, ledger.location(env), "One row per zone per run")
    result.data_docs = reports.docs_location(gate.build_docs())
    result.seconds = round(time.perf_counter() - start, 2)
    log.info("run %s: %s in %ss", result.run_id, "ok" if result.ok else "failed", result.seconds)
    _stop_logging(log_file)  # before save: on S3 the log is uploaded with the summary
    result.summary_path = reports.save(result)
    return result


def _execute(selected: list[str], graph: ZoneGraph, runner: ZoneRunner, workers: int, results: dict[str, ZoneResult],
             on_start: Callable[[str], None] | None, on_done: Callable[[ZoneResult], None] | None) -> None:
    """Each zone as soon as the zones it reads are done, up to ``workers`` at once. Among the
    zones ready, the one heading the longest chain downstream goes first (it is what the run's end
    waits for), then run order; one worker is the plain run order. A failed zone's downstream is
    skipped. Callbacks run on this thread, in the order zones start and end; ``results`` fills as
    they end."""
    blocked: dict[str, str] = {}  # zone -> the failed zone upstream of it
    needs = {name: [d for d in graph.depends_on[name] if d in selected] for name in selected}
    chain: dict[str, int] = {}  # zone -> zones on its longest path to the end, itself included
    for name in reversed(selected):
        chain[name] = 1 + max((chain[d] for d in selected if name in needs[d]), default=0)
    if workers > 1:
        selected = sorted(selected, key=lambda n: -chain[n])  # stable: run order among equals
    waiting, running = list(selected), {}

    def finish(outcome: ZoneResult) -> None:
        results[outcome.zone] = outcome
        if not outcome.ok and outcome.status != SKIPPED:
            blocked.update({d: outcome.zone for d in graph.downstream(outcome.zone) if d not in blocked})
        log.info("%s: %s%s in %ss%s", outcome.zone, outcome.status, f" ({outcome.mode})" if outcome.mode else "",
                 outcome.seconds, f": {outcome.message}" if outcome.message else "")
        if on_done:
            on_done(outcome)

    pool = ThreadPoolExecutor(max_workers=workers, thread_name_prefix="zone")
    try:
        while waiting or running:
            for name in [n for n in waiting if all(d in results for d in needs[n])]:
                if len(running) >= workers:
                    break
                waiting.remove(name)
                if on_start:
                    on_start(name)
                if name in blocked:
                    zone = graph.zones[name]
                    finish(ZoneResult(name, zone.target.table, zone.layer, status=SKIPPED,
                                      message=f"skipped: upstream zone {blocked[name]} failed"))
                else:
                    running[pool.submit(runner.run, name)] = name
            if running:
                finished, _ = wait(running, return_when=FIRST_COMPLETED)
                for future in finished:
                    del running[future]
                    finish(future.result())
    finally:
        pool.shutdown(wait=True, cancel_futures=True)


def _log_to(path) -> logging.Handler:
    """The ``lakehouse`` logger at INFO into the run's log file, for this run only. Whoever runs the
    engine may add its own handlers (the Glue job: stderr, which CloudWatch keeps)."""
    handler = logging.FileHandler(path, encoding="utf-8")
    handler.setFormatter(logging.Formatter("%(asctime)s %(levelname)s %(name)s: %(message)s"))
    log.addHandler(handler)
    if log.level == logging.NOTSET or log.level > logging.INFO:
        log.setLevel(logging.INFO)
    return handler


def _stop_logging(handler: logging.Handler) -> None:
    log.removeHandler(handler)
    handler.close()
