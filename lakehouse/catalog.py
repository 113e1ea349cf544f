"""Registering Delta tables in the catalog database so SQL users find them by name.

Locally the catalog is Spark's in-memory one, filled from the configuration: every table's
location is known, so each process registers what exists when it needs names. Nothing is shared
between processes, so any number of them can read while a run writes. On Glue it is the Glue
Data Catalog, written through its API.
"""
from __future__ import annotations

from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from pyspark.sql import SparkSession

    from lakehouse.config.models import Environment


def ensure_database(spark: SparkSession, env: Environment) -> None:
    if env.catalog == "glue":
        from lakehouse.aws import glue_catalog

        glue_catalog.ensure_database(env)
        return
    location = f"{env.lake_root.rstrip('/')}/_catalog/{env.database}.db"
    spark.sql(f"CREATE DATABASE IF NOT EXISTS `{env.database}` LOCATION '{location}'")


# (database, table) -> location this process named in its in-memory catalog. That catalog is the
# process's own, so an entry it still holds points where this process put it: a zone's every
# commit then costs a catalog lookup, not a DESCRIBE DETAIL (which loads the Delta snapshot).
_named: dict[tuple[str, str], str] = {}


def register(spark: SparkSession, env: Environment, table: str, location: str, description: str = "") -> None:
    """External table over the Delta location; re-pointed if it moved (another lake root)."""
    if env.catalog == "glue":
        from lakehouse.aws import glue_catalog

        schema = spark.read.format("delta").load(location).schema
        glue_catalog.register(env, table, location, schema, description)
        return
    name, own = f"`{env.database}`.`{table}`", env.metastore == "memory"
    if spark.catalog.tableExists(f"{env.database}.{table}"):
        if own and _named.get((env.database, table)) == location:
            return
        current = spark.sql(f"DESCRIBE DETAIL {name}").first()["location"]
        if current.rstrip("/").removeprefix("file:") == location.rstrip("/").removeprefix("file:"):
            if own:
                _named[(env.database, table)] = location
            return
        spark.sql(f"DROP TABLE {name}")  # external: drops the entry, never the data
    comment = description.replace("'", "\\'")
    spark.sql(f"CREATE TABLE {name} USING DELTA LOCATION '{location}'" + (f" COMMENT '{comment}'" if comment else ""))
    if own:
        _named[(env.database, table)] = location


def attach(spark: SparkSession, env: Environment, tables: dict[str, str]) -> None:
    """Name every existing table of ``tables`` (name -> location) in this process's catalog.

    Only for the in-memory catalog: a persistent one (Glue, a shared metastore) already has them.
    """
    from lakehouse.storage import delta_version

    if env.catalog == "glue" or env.metastore != "memory":
        return
    ensure_database(spark, env)
    # listTables lists temporary views too (a sql zone's inputs): they must not hide a table.
    known = {t.name for t in spark.catalog.listTables(env.database) if not t.isTemporary}
    for table, location in tables.items():
        if table not in known and delta_version(spark, location) is not None:
            spark.sql(f"CREATE TABLE `{env.database}`.`{table}` USING DELTA LOCATION '{location}'")
            _named[(env.database, table)] = location
