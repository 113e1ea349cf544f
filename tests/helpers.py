"""Small helpers the Spark tests share."""
from __future__ import annotations

import json
import shutil
from pathlib import Path

from lakehouse.project import Project


def table(spark, project: Project, name: str):
    """A table by its catalog name, as a later `lakehouse sql` would see it."""
    from lakehouse import catalog

    catalog.attach(spark, project.env, project.table_locations())
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


def cached_frames(spark) -> int:
    """DataFrames in Spark's cache for this session. A frame a run caches and leaves behind leaks
    memory, and Delta plans it again after every write to a table it reads."""
    manager = spark._jsparkSession.sharedState().cacheManager()
    field = manager.getClass().getDeclaredField("cachedData")  # private in Spark 3.5; no count method
    field.setAccessible(True)
    return field.get(manager).size()


def versions(spark, project: Project, tables=TABLES) -> dict[str, int]:
    from lakehouse.storage import delta_version

    return {t: delta_version(spark, project.env.table_path(_layer(project, t), t)) for t in tables}


# --- landing files read in plain Python: an oracle that shares no code with the engine ---------

_INTEGRAL = {"tinyint": 2 ** 7, "smallint": 2 ** 15, "int": 2 ** 31, "integer": 2 ** 31, "bigint": 2 ** 63,
             "long": 2 ** 63}


def zone_yaml(config_dir: Path, zone: str) -> dict:
    """A zone's YAML as written (not as the engine parsed it)."""
    import yaml

    return yaml.safe_load((Path(config_dir) / "zones" / f"{zone}.yml").read_text())


def _fits(value, spark_type: str) -> bool:
    """Whether Spark's JSON reader takes ``value`` for a column of ``spark_type``."""
    if value is None or spark_type == "string":  # a string column takes any JSON value, as its text
        return True
    if spark_type in _INTEGRAL:
        bound = _INTEGRAL[spark_type]
        return isinstance(value, int) and not isinstance(value, bool) and -bound <= value < bound
    if spark_type in ("double", "float"):
        return isinstance(value, (int, float)) and not isinstance(value, bool)
    if spark_type == "boolean":
        return isinstance(value, bool)
    raise ValueError(f"the test oracle does not model Spark type {spark_type!r}")


def landing_lines(folder: Path, schema: dict[str, str]) -> dict[str, list]:
    """Every file of a landing folder (as Spark lists it: no leading '.' or '_') read line by line.

    ``lines``: (file name, text) of each non-blank line (blank lines are no record);
    ``malformed``: those that are not a JSON object or hold a value of the wrong type for
    ``schema``; ``rows``: the others, parsed, each with its file name under ``"_file"``.
    """
    out: dict[str, list] = {"lines": [], "malformed": [], "rows": []}
    for path in sorted(p for p in Path(folder).iterdir() if p.is_file() and not p.name.startswith((".", "_"))):
        for text in path.read_text().split("\n"):
            text = text.rstrip("\r")
            if not text.strip():
                continue
            out["lines"].append((path.name, text))
            try:
                record = json.loads(text)
            except json.JSONDecodeError:
                record = None
            if isinstance(record, list):
                raise ValueError(f"{path}: a JSON array line; the test oracle does not model arrays")
            if isinstance(record, dict) and all(_fits(record.get(c), t) for c, t in schema.items()):
                out["rows"].append({**record, "_file": path.name})
            else:
                out["malformed"].append((path.name, text))
    return out


def distinct_keys(rows: list[dict], keys: list[str]) -> tuple[set, int]:
    """The distinct key values of rows with every key present, and how many rows lack one
    (those are never folded together)."""
    keyed = [tuple(r.get(k) for k in keys) for r in rows]
    return {k for k in keyed if None not in k}, sum(1 for k in keyed if None in k)
