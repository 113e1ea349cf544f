"""The ``lakehouse`` command: a thin shell over config, plan and engine."""
from __future__ import annotations

import sys
from pathlib import Path

import click
from rich.console import Console
from rich.markup import escape
from rich.table import Table

from lakehouse.project import Project, load_project
from lakehouse.errors import ConfigError, LakehouseError, Problem, first_line

# Piped (CI, Glue's logs, | less), rich would cut tables to 80 columns: give them room instead.
out = Console(soft_wrap=True, width=None if sys.stdout.isatty() else 250)
err = Console(stderr=True, soft_wrap=True)

DEFAULT_CONFIG_DIR = "configs/stedi"


class _Group(click.Group):
    """Turns the user's mistakes into a message and an exit code, never a traceback."""

    def invoke(self, ctx):
        try:
            return super().invoke(ctx)
        except ConfigError as exc:
            err.print(f"[bold red]configuration error[/] ({len(exc.problems)} problem(s)):", highlight=False)
            for problem in exc.problems:
                err.print(f"  {problem}", highlight=False, markup=False)
            sys.exit(exc.exit_code)
        except LakehouseError as exc:
            err.print(f"[bold red]error:[/] {escape(str(exc))}", highlight=False)
            sys.exit(exc.exit_code)
        except Exception as exc:
            # Spark that cannot start (no Java) or AWS that says no: a message, not a traceback.
            source = type(exc).__module__.split(".")[0]
            if source not in ("pyspark", "py4j", "botocore", "boto3"):
                raise
            err.print(f"[bold red]{source} error:[/] {escape(first_line(exc))}", highlight=False)
            sys.exit(1)


@click.group(cls=_Group)
@click.option("--config-dir", default=DEFAULT_CONFIG_DIR, show_default=True, type=click.Path(path_type=Path),
              help="Project folder holding zones/ and env/.")
@click.option("--env", "env_name", default="local", show_default=True, help="Environment file in env/.")
@click.pass_context
def cli(ctx: click.Context, config_dir: Path, env_name: str) -> None:
    """YAML-driven Delta Lake lakehouse: validate, plan and run zones."""
    ctx.obj = {"config_dir": config_dir, "env": env_name}


def _echo_json(data) -> None:
    """Plain JSON on stdout (no rich markup or wrapping), for scripts and CI."""
    import json

    click.echo(json.dumps(data, indent=2, default=str))


def _project(ctx: click.Context, with_suites: bool = True) -> Project:
    return load_project(ctx.obj["config_dir"], ctx.obj["env"], with_suites=with_suites)


@cli.command()
@click.option("--fast", is_flag=True, help="Skip the column check, which starts Spark (no data is read).")
@click.pass_context
def validate(ctx: click.Context, fast: bool) -> None:
    """Check every zone and env file, and every column the zones name; exit 2 with each problem's
    file and key."""
    from lakehouse.config.loader import load_environment
    from lakehouse.engine import check_kinds

    project = _project(ctx)
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

    project = _project(ctx, with_suites=False)
    graph = project.graph
    table = Table(title=f"plan for --pipeline {pipeline}")
    columns = ("#", "zone", "layer", "reads", "writes", "merge keys", "mode", "a change recomputes")
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
        rows.append([str(i), name, zone.layer, reads, f"{project.env.database}.{zone.target.table}",
                     ", ".join(zone.target.merge_keys), zone.target_mode, recomputes])
        table.add_row(*rows[-1])
    if as_json:
        keys = ("order", "zone", "layer", "reads", "writes", "merge_keys", "mode", "recomputes")
        _echo_json([{**dict(zip(keys, row)), "order": int(row[0]), "merge_keys": graph.zones[row[1]].target.merge_keys,
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
    from lakehouse.engine import run_pipeline
    from lakehouse.reports.render import summary_table

    project = _project(ctx)
    progress = err if as_json else out  # with --json, stdout holds the JSON alone
    with progress.status("starting Spark...") as status:
        result = run_pipeline(project, pipeline, full_refresh=full_refresh,
                              on_start=lambda z: status.update(f"running {z}..."),
                              on_done=lambda r: progress.print(f"  {r.status:>10}  {r.zone}  "
                                                               f"{r.mode}{' ' if r.mode else ''}({r.seconds}s)"))
    if as_json:
        from lakehouse.reports.summary import to_dict

        _echo_json(to_dict(result))
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

    project = _project(ctx, with_suites=False)
    run = read_summary(project.env.reports_root, run_id)
    if as_json:
        _echo_json(run)
        return
    out.print(summary_table(run))
    out.print(expectations_table(run))
    for zone in run["zones"]:
        if zone["status"] in ("failed", "skipped"):
            out.print(f"[red]{zone['zone']}[/]: {escape(zone['message'])}", highlight=False)
    out.print(f"data docs: {run['data_docs'] or 'none (no suite ran)'}")


@cli.command()
@click.option("--zone", default=None, help="Only this zone's rows.")
@click.option("--limit", default=40, show_default=True, help="The newest rows first.")
@click.option("--json", "as_json", is_flag=True, help="The ledger rows as JSON, for scripts.")
@click.pass_context
def history(ctx: click.Context, zone: str | None, limit: int, as_json: bool) -> None:
    """The run ledger: one row per zone per run, newest first."""
    from lakehouse.ledger import read
    from lakehouse.reports.render import ledger_table
    from lakehouse.runtime.session import get_session

    project = _project(ctx, with_suites=False)
    if zone is not None and zone not in project.zones:
        raise ConfigError([Problem("--zone", zone, "is not a zone", "use one of: " + ", ".join(sorted(project.zones)))])
    from lakehouse.ledger import uses_rust

    rows = read(None if uses_rust(project.env) else get_session(project.env), project.env, zone, limit)
    if as_json:
        _echo_json(rows)
    elif not rows:
        out.print("no runs recorded yet: lakehouse run --pipeline all")
    else:
        out.print(ledger_table(rows))


@cli.command()
@click.argument("table")
@click.option("--limit", default=20, show_default=True)
@click.pass_context
def show(ctx: click.Context, table: str, limit: int) -> None:
    """Print the first rows of a table and its row count."""
    from lakehouse.query import show_table

    show_table(_project(ctx, with_suites=False), table, limit, out)


@cli.command()
@click.argument("query")
@click.option("--limit", default=50, show_default=True)
@click.pass_context
def sql(ctx: click.Context, query: str, limit: int) -> None:
    """Run a Spark SQL query against the catalog database (e.g. SELECT count(*) FROM stedi.customer_trusted)."""
    from lakehouse.query import run_sql

    run_sql(_project(ctx, with_suites=False), query, limit, out)


@cli.command()
@click.option("--json", "as_json", is_flag=True, help="Machine-readable output on stdout, for scripts.")
@click.pass_context
def counts(ctx: click.Context, as_json: bool) -> None:
    """Row count of every zone's table, in run order."""
    from lakehouse.query import table_counts

    project = _project(ctx, with_suites=False)
    table = Table(title=f"tables in {project.env.database}")
    table.add_column("table")
    table.add_column("layer")
    table.add_column("rows", justify="right")
    counted = table_counts(project)
    if as_json:
        _echo_json([{"table": name, "layer": layer, "rows": rows} for name, layer, rows in counted])
        return
    for name, layer, rows in counted:
        table.add_row(name, layer, "not built" if rows is None else f"{rows:,}")
    out.print(table)


@cli.command()
@click.option("--dry-run", is_flag=True, help="Print what would change; change nothing.")
@click.pass_context
def deploy(ctx: click.Context, dry_run: bool) -> None:
    """Upload code, configs and suites, and create or update the Glue job, database and state machine."""
    from lakehouse.aws.deploy import plan_and_apply

    project = _project(ctx)
    with out.status("building the wheel and reading AWS..."):
        plan = plan_and_apply(project, dry_run=dry_run)
    table = Table(title="deploy plan (dry run: nothing changed)" if dry_run else "deployed")
    for column in ("resource", "name", "action", "detail"):
        table.add_column(column)
    for step in plan.steps:
        style = "dim" if step.action == "unchanged" else "bold"
        table.add_row(step.resource, step.name, f"[{style}]{step.action}[/]", escape(step.detail))
    out.print(table)
    if not plan.changed:
        out.print("unchanged: AWS already matches the configuration")


@cli.command("iam-policy")
@click.pass_context
def iam_policy(ctx: click.Context) -> None:
    """Print the least-privilege IAM policy the Glue job's role needs (JSON)."""
    import json

    from lakehouse.aws.deploy import require_aws
    from lakehouse.aws.iam import job_policy

    project = _project(ctx, with_suites=False)
    require_aws(project)
    click.echo(json.dumps(job_policy(project), indent=2))


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


def main() -> None:
    cli(prog_name="lakehouse")


if __name__ == "__main__":
    main()
