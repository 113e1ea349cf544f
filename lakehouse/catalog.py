"""Registering Delta tables in the catalog database so SQL users find them by name."""
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


def register(spark: SparkSession, env: Environment, table: str, location: str, description: str = "") -> None:
    """External table over the Delta location; re-pointed if it moved (another lake root)."""
    if env.catalog == "glue":
        from lakehouse.aws import glue_catalog

        schema = spark.read.format("delta").load(location).schema
        glue_catalog.register(env, table, location, schema, description)
        return
    name = f"`{env.database}`.`{table}`"
    if spark.catalog.tableExists(f"{env.database}.{table}"):
        current = spark.sql(f"DESCRIBE DETAIL {name}").first()["location"]
        if current.rstrip("/").removeprefix("file:") == location.rstrip("/").removeprefix("file:"):
            return
        spark.sql(f"DROP TABLE {name}")  # external: drops the entry, never the data
    comment = description.replace("'", "\\'")
    spark.sql(f"CREATE TABLE {name} USING DELTA LOCATION '{location}'" + (f" COMMENT '{comment}'" if comment else ""))
