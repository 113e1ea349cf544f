"""Commands that look at or look after the lake: show, sql, counts, erase, maintain, restore."""
from __future__ import annotations

import click
from rich.table import Table

from lakehouse.cli.shell import cli, echo_json, err, out, project_of, spark_unless_local
from lakehouse.project import ERASURES_TABLE as ERASURES


@cli.command()
@click.argument("table")
@click.option("--limit", default=20, show_default=True)
@click.pass_context
def show(ctx: click.Context, table: str, limit: int) -> None:
    """Print the first rows of a table and its row count."""
    from lakehouse.query import show_table

    show_table(project_of(ctx, with_suites=False), table, limit, out)


@cli.command()
@click.argument("query")
@click.option("--limit", default=50, show_default=True)
@click.pass_context
def sql(ctx: click.Context, query: str, limit: int) -> None:
    """Run a Spark SQL query against the catalog database (e.g. SELECT count(*) FROM stedi.customer_trusted)."""
    from lakehouse.query import run_sql

    run_sql(project_of(ctx, with_suites=False), query, limit, out)


@cli.command()
@click.option("--json", "as_json", is_flag=True, help="Machine-readable output on stdout, for scripts.")
@click.pass_context
def counts(ctx: click.Context, as_json: bool) -> None:
    """Row count of every zone's table, in run order."""
    from lakehouse.query import table_counts

    project = project_of(ctx, with_suites=False)
    table = Table(title=f"tables in {project.env.database}")
    table.add_column("table")
    table.add_column("layer")
    table.add_column("rows", justify="right")
    counted = table_counts(project)
    if as_json:
        echo_json([{"table": name, "layer": layer, "rows": rows} for name, layer, rows in counted])
        return
    for name, layer, rows in counted:
        table.add_row(name, layer, "not built" if rows is None else f"{rows:,}")
    out.print(table)


@cli.command()
@click.option("--email", "--key", "key", required=True,
              help="The data subject's key, as held in the project's erasure.subject_columns (any case).")
@click.option("--json", "as_json", is_flag=True, help="Machine-readable output on stdout, for scripts.")
@click.pass_context
def erase(ctx: click.Context, key: str, as_json: bool) -> None:
    """Delete a data subject's rows from every table (quarantines included) and keep them out of
    every later run; the request is recorded as a SHA-256 of the key, never the key."""
    from lakehouse.operations.erase import erase as erase_subject, require_erasure
    from lakehouse.runtime.session import get_session

    project = project_of(ctx, with_suites=False)
    require_erasure(project, key)
    with err.status("erasing..."):
        result = erase_subject(get_session(project.env), project, key)
    if as_json:
        echo_json({"subject_sha256": result.subject_sha256, "deleted": result.deleted,
                   "no_subject_column": result.unsearchable, "updated_by_next_run": result.follow})
        return
    table = Table(title=f"erased subject sha256:{result.subject_sha256[:16]}...")
    table.add_column("table")
    table.add_column("rows deleted", justify="right")
    for name, n in result.deleted.items():
        table.add_row(name, f"{n:,}")
    out.print(table)
    out.print(f"recorded in {ERASURES}: landing leaves this subject out from now on, --full-refresh included")
    if result.unsearchable:
        out.print(f"no subject column in: {', '.join(result.unsearchable)}"
                  + (f"; the next run removes what derived from the erased rows in {', '.join(result.follow)}"
                     if result.follow else ""))
    out.print("old file versions keep the rows until `lakehouse maintain` vacuums them after the retention")


@cli.command()
@click.option("--pipeline", default="all", show_default=True, help="all, a layer, a zone or table, or a comma list.")
@click.option("--json", "as_json", is_flag=True, help="Machine-readable output on stdout, for scripts.")
@click.pass_context
def maintain(ctx: click.Context, pipeline: str, as_json: bool) -> None:
    """Compact small files (OPTIMIZE) and remove files older than project.yml's retention (VACUUM)."""
    from lakehouse.operations.maintain import maintain as maintain_tables
    from lakehouse.runtime.session import get_session

    project = project_of(ctx, with_suites=False)
    project.graph.select(pipeline)  # an unknown name fails before Spark starts
    with err.status("compacting and vacuuming..."):
        done = maintain_tables(get_session(project.env), project, pipeline)
    days = project.settings.maintenance.retention_days
    if as_json:
        echo_json({"retention_days": days, "tables": [vars(m) for m in done]})
        return
    table = Table(title=f"maintained (retention {days:g} days)")
    for column in ("table", "files compacted", "into", "old files removed"):
        table.add_column(column, justify="left" if column == "table" else "right")
    for m in done:
        table.add_row(m.table, str(m.files_compacted), str(m.files_written), str(m.files_removed))
    out.print(table)


@cli.command()
@click.argument("table")
@click.option("--version", type=int, default=None, help="The version to go back to (lakehouse history TABLE).")
@click.option("--timestamp", default=None, help="Or the table as it was at this time, e.g. 2026-11-30T08:00:00Z.")
@click.option("--yes", is_flag=True, help="Do it; without --yes restore only says what it would do.")
@click.pass_context
def restore(ctx: click.Context, table: str, version: int | None, timestamp: str | None, yes: bool) -> None:
    """Restore TABLE to an earlier version; downstream zones take the change on their next run."""
    from lakehouse.operations.timetravel import plan_restore, restore as restore_table
    from lakehouse.runtime.session import get_session

    project = project_of(ctx, with_suites=False)
    spark = spark_unless_local(project)
    plan = plan_restore(project, table, version, timestamp, spark)
    rows = lambda n: "unknown" if n is None else f"{n:,}"  # noqa: E731
    out.print(f"restore {table} from version {plan.current} ({rows(plan.rows_now)} rows) "
              f"to version {plan.target} ({rows(plan.rows_then)} rows)")
    if not yes:
        out.print("nothing changed: add --yes to restore")
        return
    done = restore_table(spark or get_session(project.env), project, plan)
    out.print(f"restored: {table} is now version {done.version}, with the rows of version {plan.target}"
              + (f" less {done.erased_again:,} row(s) of subjects erased since" if done.erased_again else "")
              + "; the zones downstream take the change on their next run")
