"""Commands for AWS: deploy, iam-policy."""
from __future__ import annotations

import json

import click
from rich.markup import escape
from rich.table import Table

from lakehouse.cli.shell import cli, out, project_of


@cli.command()
@click.option("--dry-run", is_flag=True, help="Print what would change; change nothing.")
@click.pass_context
def deploy(ctx: click.Context, dry_run: bool) -> None:
    """Upload code, configs and suites, and create or update the Glue job, database and state machine."""
    from lakehouse.aws.deploy import plan_and_apply

    project = project_of(ctx)
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
    from lakehouse.aws.deploy import require_aws
    from lakehouse.aws.iam import job_policy

    project = project_of(ctx, with_suites=False)
    require_aws(project)
    click.echo(json.dumps(job_policy(project), indent=2))
