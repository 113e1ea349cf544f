"""Commands about zones and their runs: validate, plan, run, report, history, generate-sample."""
from __future__ import annotations

import sys
from pathlib import Path

import click
from rich.markup import escape
from rich.table import Table

from lakehouse.cli.shell import cli, echo_json, err, out, project_of, spark_unless_local
from lakehouse.errors import ConfigError, Problem


@cli.command()
@click.option("--fast", is_flag=True, help="Skip the column check, which starts Spark (no data is read).")
@click.pass_context
def validate(ctx: click.Context, fast: bool) -> None:
    """Check every zone and env file, and every column the zones name; exit 2 with each problem's
    file and key."""
    from lakehouse.config.loader import load_environment
    from lakehouse.engine import check_kinds

    project = project_of(ctx)
    check_kinds(project)
    others = sorted(p.stem for p in (project.config_dir / "env").glob("*.yml") if p.stem != project.env.name)
    problems = []
    for name in others:  # every target's file, not only the one in use
        try:
            load_environment(project.config_dir, name)
        except ConfigError as exc:
            problems.extend(exc.problems)
    if problems:
        raise ConfigError(problems)
    unchecked: list[str] = []
    if not fast:
        from lakehouse.runtime.session import get_session
        from lakehouse.zone.columns import check_columns

        problems, unchecked = check_columns(project, get_session(project.env))
        if problems:
            raise ConfigError(problems)
    out.print(f"[green]ok[/]: {len(project.zones)} zones in {project.config_dir}, "
              f"envs {', '.join(sorted([project.env.name, *others]))}"
              + ("" if fast else ", every column found"))
    for zone in unchecked:
        out.print(f"columns not checked: {zone}")
    unguarded = [name for name, zone in project.zones.items() if zone.unguarded]
    if unguarded:
        out.print(f"zones without a suite on purpose (only their merge keys are checked): {', '.join(unguarded)}")


@cli.command()
@click.option("--pipeline", default="all", show_default=True, help="all, a layer, a zone or table, or a comma list.")
@click.option("--json", "as_json", is_flag=True, help="Machine-readable output on stdout, for scripts.")
@click.pass_context
def plan(ctx: click.Context, pipeline: str, as_json: bool) -> None:
    """Show the run order and each zone's dependencies."""
    from lakehouse.plan.lineage import scope_of
    from lakehouse.plan.uniqueness import unique_by_construction

    project = project_of(ctx, with_suites=False)
    graph = project.graph
    table = Table(title=f"plan for --pipeline {pipeline}")
    columns = ("#", "zone", "layer", "reads", "writes", "merge keys", "mode", "dedupe", "a change recomputes")
    for column in columns:
        table.add_column(column)
    rows = []
    for i, name in enumerate(graph.select(pipeline), 1):
        zone = graph.zones[name]
        reads = ", ".join(zone.upstream) or (f"files: {zone.source.path}" if zone.source.path else zone.source.kind)
        scope = scope_of(zone)
        if zone.source and zone.source.path:
            recomputes = "new or changed files"
        else:
            recomputes = f"rows with the changed {scope.describe()}" if scope else "the whole table"
        dedupe = "not needed" if unique_by_construction(zone, graph) else "by keys"
        rows.append([str(i), name, zone.layer, reads, f"{project.env.database}.{zone.target.table}",
                     ", ".join(zone.target.merge_keys), zone.target_mode, dedupe, recomputes])
        table.add_row(*rows[-1])
    if as_json:
        keys = ("order", "zone", "layer", "reads", "writes", "merge_keys", "mode", "dedupe", "recomputes")
        echo_json([{**dict(zip(keys, row)), "order": int(row[0]), "merge_keys": graph.zones[row[1]].target.merge_keys,
                     "depends_on": graph.depends_on[row[1]]} for row in rows])
    else:
        out.print(table)


@cli.command()
@click.option("--pipeline", required=True, help="all, a layer, a zone or table, or a comma list.")
@click.option("--full-refresh", is_flag=True,
              help="Re-read every landing file and recompute every zone in full, ignoring the ledger.")
@click.option("--json", "as_json", is_flag=True, help="Machine-readable output on stdout, for scripts.")
@click.pass_context
def run(ctx: click.Context, pipeline: str, full_refresh: bool, as_json: bool) -> None:
    """Run zones in dependency order, each doing only the work its changed inputs require."""
    from lakehouse.engine import check_pipeline, run_pipeline
    from lakehouse.project import with_suites_of
    from lakehouse.reports.render import summary_table
    from lakehouse.runtime.session import start_session

    project = project_of(ctx, with_suites=False)
    check_pipeline(project, pipeline)  # an unknown name, kind or mode exits 2 before Spark starts
    progress = err if as_json else out  # with --json, stdout holds the JSON alone
    with progress.status("starting Spark...") as status:
        session = start_session(project.env)
        project = with_suites_of(project)  # GX imports while the JVM boots
        result = run_pipeline(project, pipeline, spark=session.result(), full_refresh=full_refresh,
                              on_start=lambda z: status.update(f"running {z}..."),
                              on_done=lambda r: progress.print(f"  {r.status:>10}  {r.zone}  "
                                                               f"{r.mode}{' ' if r.mode else ''}({r.seconds}s)"))
    if as_json:
        from lakehouse.reports.summary import to_dict

        echo_json(to_dict(result))
        sys.exit(0 if result.ok else 1)
    out.print(summary_table(result))
    out.print(f"report: {result.summary_path}" + (f"\ndata docs: {result.data_docs}" if result.data_docs else ""))
    for zone in result.zones:
        if not zone.ok:
            err.print(f"[red]{zone.zone}[/]: {escape(zone.message)}", highlight=False)
    if not result.ok:
        sys.exit(1)


@cli.command()
@click.option("--run", "run_id", default=None, help="A run id; default the latest run.")
@click.option("--json", "as_json", is_flag=True, help="Machine-readable output on stdout, for scripts.")
@click.pass_context
def report(ctx: click.Context, run_id: str | None, as_json: bool) -> None:
    """Print a run's summary and expectation results, and where its Data Docs are."""
    from lakehouse.reports.render import expectations_table, summary_table
    from lakehouse.reports.summary import read_summary

    project = project_of(ctx, with_suites=False)
    run = read_summary(project.env.reports_root, run_id)
    if as_json:
        echo_json(run)
        return
    out.print(summary_table(run))
    out.print(expectations_table(run))
    for zone in run["zones"]:
        if zone["status"] in ("failed", "skipped"):
            out.print(f"[red]{zone['zone']}[/]: {escape(zone['message'])}", highlight=False)
    out.print(f"data docs: {run['data_docs'] or 'none (no suite ran)'}")


@cli.command()
@click.argument("table", required=False)
@click.option("--zone", default=None, help="Only this zone's rows of the ledger.")
@click.option("--limit", default=40, show_default=True, help="The newest rows first.")
@click.option("--json", "as_json", is_flag=True, help="Machine-readable output on stdout, for scripts.")
@click.pass_context
def history(ctx: click.Context, table: str | None, zone: str | None, limit: int, as_json: bool) -> None:
    """The run ledger (one row per zone per run), or with TABLE that table's Delta history; newest first."""
    from lakehouse.ledger import read
    from lakehouse.reports.render import delta_history_table, ledger_table

    project = project_of(ctx, with_suites=False)
    if table is not None:
        from lakehouse.operations.timetravel import history as delta_history

        entries = delta_history(project, table, limit, spark_unless_local(project))
        echo_json(entries) if as_json else out.print(delta_history_table(table, entries))
        return
    if zone is not None and zone not in project.zones:
        raise ConfigError([Problem("--zone", zone, "is not a zone", "use one of: " + ", ".join(sorted(project.zones)))])
    rows = read(spark_unless_local(project), project.env, zone, limit)
    if as_json:
        echo_json(rows)
    elif not rows:
        out.print("no runs recorded yet: lakehouse run --pipeline all")
    else:
        out.print(ledger_table(rows))


@cli.command("generate-sample")
@click.option("--scale", default=1.0, show_default=True, type=float, help="1 is about the real data's size.")
@click.option("--out", "out_dir", default="data/sample/stedi", show_default=True, type=click.Path(path_type=Path))
@click.option("--seed", default=7, show_default=True, type=int)
def generate_sample(scale: float, out_dir: Path, seed: int) -> None:
    """Write deterministic STEDI-shaped landing JSON (with its quirks) to OUT."""
    from lakehouse.sample.generator import generate

    if scale <= 0:
        raise click.BadParameter("must be greater than 0", param_hint="--scale")
    manifest = generate(out_dir, scale=scale, seed=seed)
    counts = manifest.to_dict()["counts"]
    out.print(f"wrote {out_dir}: " + ", ".join(f"{k.removesuffix('_landing')} {counts[k]:,}"
                                               for k in ("customer_landing", "accelerometer_landing", "step_trainer_landing")))
