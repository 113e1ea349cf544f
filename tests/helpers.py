"""Small helpers the Spark tests share."""
from __future__ import annotations

import shutil
from pathlib import Path

from lakehouse.config.loader import Project


def count(spark, project: Project, table: str) -> int:
    return spark.table(f"{project.env.database}.{table}").count()


def num_files(spark, project: Project, table: str) -> int:
    return spark.sql(f"DESCRIBE DETAIL {project.env.database}.{table}").first()["numFiles"]


def copy_lake(source: Path, target: Path) -> Path:
    """A lake's Delta tables (not its metastore), so a test can change them without side effects."""
    shutil.copytree(source, target, ignore=shutil.ignore_patterns("_metastore", "_catalog", "_warehouse"))
    return target


def edit(path: Path, old: str, new: str) -> None:
    text = path.read_text()
    assert old in text, f"{old!r} not in {path}: the test's edit no longer applies"
    path.write_text(text.replace(old, new))
