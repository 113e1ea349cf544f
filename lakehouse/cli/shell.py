"""The ``lakehouse`` group: turning mistakes into messages, the consoles, and helpers its commands share."""
from __future__ import annotations

import atexit
import gc
import sys
from pathlib import Path

import click
from rich.console import Console
from rich.markup import escape

from lakehouse.project import Project, load_project
from lakehouse.errors import ConfigError, LakehouseError, first_line

# Piped (CI, Glue's logs, | less), rich would cut tables to 80 columns: give them room instead.
out = Console(soft_wrap=True, width=None if sys.stdout.isatty() else 300)
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


def echo_json(data) -> None:
    """Plain JSON on stdout (no rich markup or wrapping), for scripts and CI."""
    import json

    click.echo(json.dumps(data, indent=2, default=str))


def spark_unless_local(project: Project):
    """None where delta-rs reads the lake (a local one): no JVM for a question; else the session."""
    from lakehouse.storage import delta_rs

    if delta_rs(project.env.lake_root) is not None:
        return None
    from lakehouse.runtime.session import get_session

    return get_session(project.env)


def project_of(ctx: click.Context, with_suites: bool = True) -> Project:
    return load_project(ctx.obj["config_dir"], ctx.obj["env"], with_suites=with_suites)


def main() -> None:
    # Run last at exit: Python's final garbage collections would walk every object Great
    # Expectations' imports made (pandas, scipy, altair...), 0.7 s after the work is done. Frozen,
    # they are only freed, as the process ends anyway.
    atexit.register(gc.freeze)
    cli(prog_name="lakehouse")
