"""Execute a plan: the selected zones in dependency order, in the process's one Spark session.

The engine knows nothing of the CLI or of Glue; both call ``run_pipeline`` and render its result.
"""
from __future__ import annotations

import time
import uuid
from dataclasses import dataclass, field
from datetime import datetime, timezone
from typing import TYPE_CHECKING, Callable

from lakehouse.plan.graph import ZoneGraph
from lakehouse.quality.gate import QualityGate
from lakehouse.reports.summary import ReportFolder
from lakehouse.runtime.session import get_session
from lakehouse.zone.runner import ZoneResult, ZoneRunner

if TYPE_CHECKING:
    from pyspark.sql import SparkSession

    from lakehouse.config.loader import Project


@dataclass
class RunResult:
    run_id: str
    pipeline: str
    zones: list[ZoneResult] = field(default_factory=list)
    seconds: float = 0.0
    data_docs: str | None = None      # the Data Docs index.html
    summary_path: str | None = None   # the run's JSON summary

    @property
    def ok(self) -> bool:
        return all(z.status == "ok" for z in self.zones)

    def zone(self, name: str) -> ZoneResult:
        return next(z for z in self.zones if z.zone == name)


def new_run_id() -> str:
    return datetime.now(timezone.utc).strftime("%Y%m%dT%H%M%SZ") + "-" + uuid.uuid4().hex[:6]


def run_pipeline(project: Project, pipeline: str, *, spark: SparkSession | None = None, run_id: str | None = None,
                 on_start: Callable[[str], None] | None = None,
                 on_done: Callable[[ZoneResult], None] | None = None) -> RunResult:
    graph = ZoneGraph.build(project)
    selected = graph.select(pipeline)  # ConfigError before Spark starts if the name is unknown
    spark = spark or get_session(project.env)
    started_at = datetime.now(timezone.utc).isoformat(timespec="seconds")
    result = RunResult(run_id or new_run_id(), pipeline)
    reports = ReportFolder(project.env.reports_root)
    gate = QualityGate(str(reports.local), result.run_id)
    runner = ZoneRunner(spark, project, graph, gate, result.run_id, started_at)
    blocked: dict[str, str] = {}  # zone -> the failed zone upstream of it
    start = time.perf_counter()
    for name in selected:
        if on_start:
            on_start(name)
        if name in blocked:
            zone = graph.zones[name]
            outcome = ZoneResult(name, zone.target.table, zone.layer, status="skipped",
                                 message=f"skipped: upstream zone {blocked[name]} failed")
        else:
            outcome = runner.run(name)
            if outcome.status == "failed":
                blocked.update({d: name for d in graph.downstream(name) if d not in blocked})
        result.zones.append(outcome)
        if on_done:
            on_done(outcome)
    result.data_docs = reports.docs_location(gate.build_docs())
    result.seconds = round(time.perf_counter() - start, 2)
    result.summary_path = reports.save(result)
    return result
