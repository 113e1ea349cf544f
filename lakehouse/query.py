"""Looking at results: a table's rows, or any SQL over the catalog database."""
from __future__ import annotations

from typing import TYPE_CHECKING

from rich.table import Table

from lakehouse.errors import LakehouseError, first_line

if TYPE_CHECKING:
    from pyspark.sql import DataFrame
    from rich.console import Console

    from lakehouse.config.loader import Project


class QueryError(LakehouseError):
    exit_code = 2


def _session(project: Project):
    from lakehouse.runtime.session import get_session

    from lakehouse import catalog
    from lakehouse.engine import table_locations

    spark = get_session(project.env)
    catalog.attach(spark, project.env, table_locations(project))
    if spark.catalog.databaseExists(project.env.database):
        spark.catalog.setCurrentDatabase(project.env.database)  # unqualified names in `sql` find the tables
    return spark


def _render(df: DataFrame, limit: int, title: str) -> Table:
    table = Table(title=title)
    for column in df.columns:
        table.add_column(column)
    for row in df.limit(limit).collect():
        table.add_row(*("NULL" if v is None else str(v) for v in row))
    return table


def show_table(project: Project, name: str, limit: int, console: Console) -> None:
    spark = _session(project)
    db = project.env.database
    if not spark.catalog.tableExists(f"{db}.{name}"):
        known = [t.name for t in spark.catalog.listTables(db)] if spark.catalog.databaseExists(db) else []
        raise QueryError(f"no table {db}.{name}; known tables: {', '.join(sorted(known)) or 'none yet (run a pipeline first)'}")
    from pyspark.errors import PySparkException

    try:
        df = spark.table(f"`{db}`.`{name}`")
        console.print(_render(df, limit, f"{db}.{name}: {df.count():,} rows (first {limit})"))
    except PySparkException as exc:
        raise QueryError(f"cannot read {db}.{name}: {first_line(exc)}") from None


def run_sql(project: Project, query: str, limit: int, console: Console) -> None:
    from pyspark.errors import PySparkException

    spark = _session(project)
    try:
        df = spark.sql(query)
        console.print(_render(df, limit, query))
    except PySparkException as exc:
        raise QueryError(f"query failed: {first_line(exc)}") from None


def table_counts(project: Project) -> list[tuple[str, str, int | None]]:

    spark = _session(project)
    graph = project.graph
    rows = []
    for name in graph.order:
        zone = graph.zones[name]
        full = f"{project.env.database}.{zone.target.table}"
        count = spark.table(full).count() if spark.catalog.tableExists(full) else None
        rows.append((zone.target.table, zone.layer, count))
    return rows
