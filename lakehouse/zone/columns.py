"""Every column a zone's YAML names, checked by Spark's analyser before any data is read.

Each zone's steps are applied, one YAML entry at a time, to empty DataFrames shaped like its
source (the declared landing schema, or the upstream zone's checked output), so a misspelt column
in a merge key, filter, join, select, rename or derived expression is reported with its file and
key, and the columns that were there to choose from. Spark starts, but no file or table is read.
Entries that fail are left out and the rest still checked, so one run reports every mistake.
"""
from __future__ import annotations

import re
from typing import TYPE_CHECKING, Callable

from pyspark.sql import functions as F
from pyspark.sql.utils import AnalysisException

from lakehouse.errors import Problem, first_line
from lakehouse.zone.sources import SOURCE_KINDS, kind_of
from lakehouse.zone.transform import join_step, sort_key

if TYPE_CHECKING:
    from pyspark.sql import DataFrame, SparkSession

    from lakehouse.project import Project
    from lakehouse.config.models import Columns, Zone


def check_columns(project: Project, spark: SparkSession) -> tuple[list[Problem], list[str]]:
    """Problems with column names, and the zones that could not be checked (with why)."""
    shapes: dict[str, DataFrame | None] = {}  # table -> its rows' shape, None if unknown
    problems: list[Problem] = []
    unchecked: list[str] = []
    views: set[str] = set()
    try:
        for name in project.graph.order:
            zone = project.zones[name]
            missing = [t for t in zone.upstream if shapes.get(t) is None]
            if missing:
                unchecked.append(f"{name} (reads {', '.join(missing)}, whose columns are not known)")
                shapes[zone.target.table] = None
                continue
            views.update(zone.sql.uses if zone.sql else [])
            check = _ZoneCheck(zone, project.file_of(name), shapes, problems)
            shapes[zone.target.table] = check.run(spark)
            if shapes[zone.target.table] is None and check.why:
                unchecked.append(f"{name} ({check.why})")
    finally:
        for view in views:
            spark.catalog.dropTempView(view)
    return problems, unchecked


class _ZoneCheck:
    def __init__(self, zone: Zone, file: str, shapes: dict[str, DataFrame | None], problems: list[Problem]):
        self.zone, self.file, self.shapes, self.problems = zone, file, shapes, problems
        self.why = ""

    def problem(self, key: str, exc: AnalysisException | str, df: DataFrame) -> None:
        text = exc if isinstance(exc, str) else _reason(exc)
        self.problems.append(Problem(self.file, key, text, f"the columns here are: {', '.join(df.columns)}"))

    def run(self, spark: SparkSession) -> DataFrame | None:
        zone = self.zone
        kind = SOURCE_KINDS[kind_of(zone)]()
        try:
            rows = kind.empty(spark, zone, self.shapes.__getitem__)
        except AnalysisException as exc:
            self.problems.append(Problem(self.file, "sql.query" if zone.sql else "source", _reason(exc),
                                         f"the tables it may read: {_tables(zone, self.shapes)}"))
            return None
        if rows is None:
            self.why = f"source kind {kind.name!r} does not say its columns"
            return None
        alias = zone.source.name if zone.source is not None else "source"
        df = rows.alias(alias)
        for i, join in enumerate(zone.joins):
            df = self.join(df, alias, i, join)
        for i, predicate in enumerate(zone.filters):
            df = self.attempt(f"filters[{i}]", df, lambda d, p=predicate: d.where(F.expr(p)))
        if zone.columns is not None:
            df = self.columns(df, zone.columns)
        self.keys(df)
        return df

    def attempt(self, key: str, df: DataFrame, step: Callable[[DataFrame], DataFrame]) -> DataFrame:
        """The step applied, or ``df`` unchanged with a problem at ``key``."""
        try:
            return step(df)
        except AnalysisException as exc:
            self.problem(key, exc, df)
            return df

    def join(self, df: DataFrame, alias: str, i: int, join) -> DataFrame:
        right = self.shapes[join.table].alias(join.name)
        both = df.crossJoin(right)  # what the condition and the kept columns may name
        qualified = [f"{alias}.{c}" for c in df.columns] + [f"{join.name}.{c}" for c in right.columns]
        on = join.on
        try:
            both.where(F.expr(on))
        except AnalysisException as exc:
            self.problems.append(Problem(self.file, f"joins[{i}].on", _reason(exc),
                                         f"the columns here are: {', '.join(qualified)}"))
            on = "true"
        kept = []
        for k, column in enumerate(join.columns):
            try:
                both.select(F.expr(column))
                kept.append(column)
            except AnalysisException as exc:
                self.problems.append(Problem(self.file, f"joins[{i}].columns[{k}]", _reason(exc),
                                             f"the columns here are: {', '.join(qualified)}"))
        return join_step(df, alias, right, join.model_copy(update={"on": on, "columns": kept}))

    def columns(self, df: DataFrame, columns: Columns) -> DataFrame:
        for name, expr in columns.derive.items():
            df = self.attempt(f"columns.derive.{name}", df, lambda d, n=name, e=expr: d.withColumn(n, F.expr(e)))
        if columns.select is not None:
            good = []
            for i, expr in enumerate(columns.select):
                try:
                    df.selectExpr(expr)
                    good.append(expr)
                except AnalysisException as exc:
                    self.problem(f"columns.select[{i}]", exc, df)
            df = df.selectExpr(*good) if good else df
        for old, new in columns.rename.items():
            if old in df.columns:
                df = df.withColumnRenamed(old, new)
            else:
                self.problem(f"columns.rename.{old}", f"no column {old!r} to rename", df)
        for i, name in enumerate(columns.drop):
            if name in df.columns:
                df = df.drop(name)
            else:
                self.problem(f"columns.drop[{i}]", f"no column {name!r} to drop", df)
        return df

    def keys(self, df: DataFrame) -> None:
        zone = self.zone
        lists = [("target.merge_keys", zone.target.merge_keys), ("target.partition_by", zone.target.partition_by)]
        if zone.dedupe and zone.dedupe.keys:
            lists.append(("dedupe.keys", zone.dedupe.keys))
        for key, names in lists:
            for i, name in enumerate(names):
                if name not in df.columns:
                    self.problem(f"{key}[{i}]", f"no column {name!r} in the zone's rows", df)
        for i, order in enumerate(zone.dedupe.order_by if zone.dedupe else []):
            self.attempt(f"dedupe.order_by[{i}]", df, lambda d, o=order: d.orderBy(sort_key(o)))


def _reason(exc: AnalysisException) -> str:
    """Spark's first line, without its error class and the plan position it appends."""
    text = re.sub(r"^\[[A-Z_.]+\] ", "", first_line(exc))
    return text.split("; line ")[0].rstrip(".;") + "."


def _tables(zone: Zone, shapes: dict[str, DataFrame | None]) -> str:
    return "; ".join(f"{t} ({', '.join(shapes[t].columns)})" for t in zone.upstream)
