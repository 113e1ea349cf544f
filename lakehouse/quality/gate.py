"""Run a zone's suite on its staged rows and decide what may be promoted.

GX validates the staged DataFrame (computed once, see ``zone.handoff``); for a row-level
expectation it also reports the Spark SQL condition that picks its unexpected rows
(``unexpected_index_query``), so quarantining uses GX's own definition of a failing row, in one
extra pass over the staged rows whatever the suite's size.
"""
from __future__ import annotations

import ast
import threading
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING

from pyspark.sql import functions as F

from lakehouse.errors import RowsLost, first_line, lost_rows
from lakehouse.quality.suites import SuiteSpec, import_gx
from lakehouse.results import ExpectationOutcome

if TYPE_CHECKING:
    from pyspark.sql import DataFrame

FAILED = "_failed_expectations"
RESULT_FORMAT = {"result_format": "SUMMARY", "return_unexpected_index_query": True, "partial_unexpected_count": 0}


@dataclass
class GateOutcome:
    passed: DataFrame
    quarantined: DataFrame | None = None   # failing rows with FAILED: the names of what they broke
    quarantined_rows: int = 0
    results: list[ExpectationOutcome] = field(default_factory=list)
    failure: str = ""                      # why nothing may be promoted; empty when promotable
    suite: str | None = None


class QualityGate:
    """Validates in a GX context of this process's own; results and Data Docs under the reports root.

    Suites, data sources, validation definitions and checkpoints live in memory only: GX checks
    that each one equals its saved copy before it runs, so keeping them in a file context on a
    shared reports root made two runs at once fail each other ("has changed since it has last been
    saved"). Only what Data Docs renders is on disk: the validation results, one file per run and
    zone, which concurrent runs never share, in the folders a file context would use."""

    RESULTS = Path("gx") / "uncommitted" / "validations"
    DOCS = Path("gx") / "uncommitted" / "data_docs" / "local_site"
    # The index links this many of the newest validations (older pages stay in the folder): GX
    # opens every result it links, so an index of the whole history would grow every run's cost.
    INDEX_LIMIT = 250

    def __init__(self, reports_root: str, run_id: str):
        self.root, self.run_id = Path(reports_root), run_id
        self._context = None
        self._source = None  # GX's Spark data source: one per run, an asset per zone
        self.validated: list = []  # this run's validation results (GX identifiers), for Data Docs
        # Zones run side by side, but a GX context is not made for threads: one validation at a
        # time (the other zones' Spark work goes on meanwhile).
        self._lock = threading.Lock()

    @property
    def context(self):
        if self._context is None:
            gx = import_gx()
            from great_expectations.data_context.types.base import (
                DataContextConfig, InMemoryStoreBackendDefaults, ProgressBarsConfig)

            defaults = InMemoryStoreBackendDefaults()
            on_disk = {"class_name": "TupleFilesystemStoreBackend", "base_directory": str(self.root / self.RESULTS)}
            defaults.stores[defaults.validation_results_store_name]["store_backend"] = on_disk
            defaults.data_docs_sites = {"local_site": {
                "class_name": "SiteBuilder", "show_how_to_buttons": False,
                "store_backend": {"class_name": "TupleFilesystemStoreBackend",
                                  "base_directory": str(self.root / self.DOCS)},
                "site_index_builder": {"class_name": "DefaultSiteIndexBuilder",
                                       "validation_results_limit": self.INDEX_LIMIT}}}
            config = DataContextConfig(store_backend_defaults=defaults, analytics_enabled=False,
                                       progress_bars=ProgressBarsConfig(globally=False))
            self._context = gx.get_context(project_config=config, mode="ephemeral")
        return self._context

    def check(self, zone: str, suite: SuiteSpec | None, staged: DataFrame, staged_rows: int,
              judged: DataFrame | None = None) -> GateOutcome:
        """Validate ``judged`` (default: the staged rows) and split ``staged`` by the verdicts.

        An incremental zone stages only part of its table; when the suite judges the whole table
        (row counts, uniqueness), ``judged`` is the table as it would be after promotion, so the
        verdicts are those a full rebuild would get."""
        if suite is None:
            return GateOutcome(staged)
        with self._lock:
            results = self._validate(zone, suite, staged if judged is None else judged)
        outcome = GateOutcome(staged, results=results, suite=suite.name)
        conditions: dict[str, str] = {}
        failures: list[str] = []
        for r, spec in zip(results, suite.expectations):
            if r.success and (spec.action != "quarantine" or not r.unexpected_count):
                continue  # passed (within `mostly`); a passing quarantine still keeps its failing rows out
            if r.error:
                r.taken = "failed"
                failures.append(f"{r.name} could not be evaluated ({r.error})")
            elif spec.action == "warn":
                r.taken = "reported"
            elif spec.action == "fail" or (spec.action == "quarantine" and not r.success and spec.mostly):
                r.taken = "failed"
                failures.append(f"{r.name}: {r.unexpected_count or 0} unexpected" if r.unexpected_count is not None
                                else f"{r.name}: observed {r.observed_value}")
            else:  # quarantine
                condition = r.condition
                if not condition:
                    r.taken = "failed"
                    failures.append(f"{r.name}: GX gives no row condition to quarantine by; use action fail or warn")
                else:
                    r.taken, conditions[r.name] = "quarantined", condition
        if failures:
            outcome.failure = "expectations failed: " + "; ".join(failures)
            return outcome
        if conditions:
            tagged = staged.withColumn(FAILED, F.filter(
                F.array(*(F.when(F.expr(c), F.lit(n)) for n, c in conditions.items())), lambda x: x.isNotNull()))
            outcome.quarantined = tagged.where(F.size(FAILED) > 0)
            outcome.passed = tagged.where(F.size(FAILED) == 0).drop(FAILED)
            outcome.quarantined_rows = outcome.quarantined.count()
            limit = suite.max_quarantined_fraction
            if limit is not None and staged_rows and outcome.quarantined_rows / staged_rows > limit:
                outcome.failure = (f"{outcome.quarantined_rows} of {staged_rows} rows would be quarantined, "
                                   f"more than max_quarantined_fraction {limit}")
        return outcome

    def _validate(self, zone: str, suite: SuiteSpec, staged: DataFrame) -> list[ExpectationOutcome]:
        gx = import_gx()
        from great_expectations.core.run_identifier import RunIdentifier

        ctx = self.context
        if self._source is None:
            # persist=False: the zone computes what GX validates once itself, and releases it when done;
            # GX's own persist() outlived the zone and was planned again after every write.
            self._source = ctx.data_sources.add_or_update_spark(name="lakehouse", persist=False)
        source = self._source
        asset = next((a for a in source.assets if a.name == zone), None) or source.add_dataframe_asset(name=zone)
        batch = next((b for b in asset.batch_definitions if b.name == "staged"), None) or \
            asset.add_batch_definition_whole_dataframe("staged")
        gx_suite = ctx.suites.add_or_update(gx.ExpectationSuite(**suite.gx_json()))
        definition = ctx.validation_definitions.add_or_update(
            gx.ValidationDefinition(name=zone, data=batch, suite=gx_suite))
        checkpoint = ctx.checkpoints.add_or_update(
            gx.Checkpoint(name=zone, validation_definitions=[definition], result_format=RESULT_FORMAT))
        run = checkpoint.run(batch_parameters={"dataframe": staged},
                             run_id=RunIdentifier(run_name=f"{self.run_id}-{zone}"))
        self.validated.extend(run.run_results)
        by_name = {r.expectation_config.meta.get("name"): r for r in next(iter(run.run_results.values())).results}
        return [_outcome(spec, by_name.get(spec.name)) for spec in suite.expectations]

    def build_docs(self) -> str | None:
        """Render this run's validations and their suites into the Data Docs kept under the reports
        root (the pages of earlier runs are there already), and the index; the index's path."""
        if not self.validated:
            return None
        suites = {key.expectation_suite_identifier for key in self.validated}
        self.context.build_data_docs(resource_identifiers=[*self.validated, *suites])
        urls = self.context.get_docs_sites_urls()
        return urls[0]["site_url"].removeprefix("file://") if urls else None


def _outcome(spec, result) -> ExpectationOutcome:
    if result is None:
        return ExpectationOutcome(spec.name, spec.type, spec.action, False, error="GX returned no result")
    raised = _raised(result.exception_info)
    data = result.result or {}
    outcome = ExpectationOutcome(spec.name, spec.type, spec.action, bool(result.success),
                                 data.get("unexpected_count"), data.get("unexpected_percent"),
                                 data.get("observed_value"))
    if raised is not None and lost_rows(raised):  # GX caught Spark's error: the runner must see it
        raise RowsLost(f"{spec.name}: {first_line(Exception(raised))[:300]}")
    if raised is not None:
        outcome.success = False
        outcome.error = first_line(Exception(raised))[:300]
    elif spec.row_level:
        outcome.condition = _condition(data.get("unexpected_index_query"))
    return outcome


def _raised(info) -> str | None:
    """The message of the error GX caught, if any: the expectation's own, or (a metric that failed
    to compute) the first of its metrics', which GX keys by metric."""
    if not isinstance(info, dict):
        return None
    if "raised_exception" in info:
        return str(info.get("exception_message") or "") if info.get("raised_exception") else None
    for metric in info.values():
        if getattr(metric, "raised_exception", False):
            return str(metric.exception_message or "")
    return None


def _condition(query: str | None) -> str:
    """'df.filter(F.expr("<sql>"))' -> '<sql>', if it is a condition Spark can evaluate per row."""
    if not query:
        return ""
    try:
        call = ast.parse(query, mode="eval").body
        sql = call.args[0].args[0].value
    except (SyntaxError, AttributeError, IndexError):
        return ""
    # Window-based conditions (uniqueness) render as display strings Spark cannot parse back.
    return "" if " OVER (" in sql else sql
