"""Small helpers the Spark tests share."""
from __future__ import annotations

import shutil
from pathlib import Path

from lakehouse.config.loader import Project


def table(spark, project: Project, name: str):
    """A table by its catalog name, as a later `lakehouse sql` would see it."""
    from lakehouse import catalog
    from lakehouse.engine import table_locations

    catalog.attach(spark, project.env, table_locations(project))
    return spark.table(f"{project.env.database}.{name}")


def count(spark, project: Project, name: str) -> int:
    return table(spark, project, name).count()


def num_files(spark, project: Project, name: str) -> int:
    location = project.env.table_path(_layer(project, name), name)
    return spark.sql(f"DESCRIBE DETAIL delta.`{location}`").first()["numFiles"]


def copy_lake(source: Path, target: Path) -> Path:
    """A lake's Delta tables (not its metastore), so a test can change them without side effects."""
    shutil.copytree(source, target, ignore=shutil.ignore_patterns("_metastore", "_catalog", "_warehouse"))
    return target


def edit(path: Path, old: str, new: str) -> None:
    text = path.read_text()
    assert old in text, f"{old!r} not in {path}: the test's edit no longer applies"
    path.write_text(text.replace(old, new))


TABLES = ["customer_landing", "accelerometer_landing", "step_trainer_landing", "customer_trusted",
          "accelerometer_trusted", "customer_curated", "step_trainer_trusted", "machine_learning_curated"]


def rows_of(spark, project: Project, table: str):
    """A table's rows as data: audit columns (which file, when ingested) aside."""
    df = spark.read.format("delta").load(project.env.table_path(_layer(project, table), table))
    return df.drop("_source_file", "_ingested_at")


def _layer(project: Project, table: str) -> str:
    return next(z.layer for z in project.zones.values() if z.target.table == table)


def differences(spark, left: Project, right: Project, tables=TABLES) -> dict[str, tuple[int, int]]:
    """Per table that differs: (rows only in left, rows only in right), duplicates counted."""
    out = {}
    for table in tables:
        a, b = rows_of(spark, left, table), rows_of(spark, right, table)
        only_a, only_b = a.exceptAll(b).count(), b.exceptAll(a).count()
        if only_a or only_b:
            out[table] = (only_a, only_b)
    return out


def versions(spark, project: Project, tables=TABLES) -> dict[str, int]:
    from lakehouse.storage import delta_version

    return {t: delta_version(spark, project.env.table_path(_layer(project, t), t)) for t in tables}
