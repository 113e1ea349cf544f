"""The ``lakehouse`` command: a thin shell over config, plan, engine and operations.

Each module registers its commands on the one group; importing this package assembles it.
"""
from lakehouse.cli import aws, lake, pipeline  # noqa: F401 - each registers its commands
from lakehouse.cli.shell import cli, main

__all__ = ["cli", "main", "aws", "lake", "pipeline"]
