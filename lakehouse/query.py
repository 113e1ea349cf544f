"""Looking at results: a table's rows, row counts, or any SQL over the catalog database.

On a local lake, ``counts`` and ``show`` read the Delta tables with delta-rs: the same tables,
answered in a fraction of a second with no JVM. ``sql`` stays Spark SQL, the zones' dialect.
"""
from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING

from rich.table import Table

from lakehouse.errors import LakehouseError, first_line
from lakehouse.storage import delta_rs

if TYPE_CHECKING:
    from rich.console import Console

    from lakehouse.project import Project


class QueryError(LakehouseError):
    exit_code = 2


def _session(project: Project):
    from lakehouse.runtime.session import get_session

    from lakehouse import catalog

    spark = get_session(project.env)
    catalog.attach(spark, project.env, project.table_locations())
    if spark.catalog.databaseExists(project.env.database):
        spark.catalog.setCurrentDatabase(project.env.database)  # unqualified names in `sql` find the tables
    return spark


def _render(columns: list[str], rows, title: str) -> Table:
    table = Table(title=title)
    for column in columns:
        table.add_column(column)
    for row in rows:
        table.add_row(*("NULL" if v is None else str(v) for v in row))
    return table


def _local_tables(project: Project):
    """(delta-rs, name -> location of the tables built so far), or None where Spark must answer."""
    rust = delta_rs(project.env.lake_root)
    if rust is None:
        return None
    built = {n: p for n, p in project.table_locations().items() if (Path(p) / "_delta_log").is_dir()}
    return rust, built


def show_table(project: Project, name: str, limit: int, console: Console) -> None:
    local = _local_tables(project)
    if local is not None:
        rust, built = local
        if name not in built:
            raise QueryError(f"no table {project.env.database}.{name}; known tables: "
                             f"{', '.join(sorted(built)) or 'none yet (run a pipeline first)'}")
        dataset = rust.DeltaTable(built[name]).to_pyarrow_dataset()
        head = dataset.head(limit)
        rows = [tuple(row.values()) for row in head.to_pylist()]
        console.print(_render(head.column_names, rows, f"{project.env.database}.{name}: "
                                                       f"{dataset.count_rows():,} rows (first {limit})"))
        return
    spark = _session(project)
    db = project.env.database
    if not spark.catalog.tableExists(f"{db}.{name}"):
        known = [t.name for t in spark.catalog.listTables(db)] if spark.catalog.databaseExists(db) else []
        raise QueryError(f"no table {db}.{name}; known tables: {', '.join(sorted(known)) or 'none yet (run a pipeline first)'}")
    from pyspark.errors import PySparkException

    try:
        df = spark.table(f"`{db}`.`{name}`")
        console.print(_render(df.columns, df.limit(limit).collect(), f"{db}.{name}: {df.count():,} rows (first {limit})"))
    except PySparkException as exc:
        raise QueryError(f"cannot read {db}.{name}: {first_line(exc)}") from None


def run_sql(project: Project, query: str, limit: int, console: Console) -> None:
    from pyspark.errors import PySparkException

    spark = _session(project)
    try:
        df = spark.sql(query)
        console.print(_render(df.columns, df.limit(limit).collect(), query))
    except PySparkException as exc:
        raise QueryError(f"query failed: {first_line(exc)}") from None


def table_counts(project: Project) -> list[tuple[str, str, int | None]]:
    local = _local_tables(project)
    if local is not None:
        rust, built = local
        return [(z.target.table, z.layer, rust.DeltaTable(built[z.target.table]).to_pyarrow_dataset().count_rows()
                 if z.target.table in built else None)
                for z in (project.graph.zones[n] for n in project.graph.order)]
    spark = _session(project)
    graph = project.graph
    rows = []
    for name in graph.order:
        zone = graph.zones[name]
        full = f"{project.env.database}.{zone.target.table}"
        count = spark.table(full).count() if spark.catalog.tableExists(full) else None
        rows.append((zone.target.table, zone.layer, count))
    return rows
