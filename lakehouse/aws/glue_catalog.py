"""Delta tables in the Glue Data Catalog through the Glue API, with their real columns.

Spark's own CREATE TABLE on Glue leaves one `col array<string>` column for a Delta table, which
Athena cannot query; the Glue API is given table_type DELTA, the location and the Delta schema.
Athena reads table_type and Location; Spark (Glue's, EMR's, a laptop's against the catalog) reads
spark.sql.sources.provider and the SerDe's `path`, and without them sees a Hive table it cannot scan.
"""
from __future__ import annotations

from typing import TYPE_CHECKING, Any

from lakehouse.aws.clients import aws_client

if TYPE_CHECKING:
    from pyspark.sql.types import StructType

    from lakehouse.config.models import Environment


PARAMETERS = {"table_type": "DELTA", "classification": "delta", "EXTERNAL": "TRUE",
              "spark.sql.sources.provider": "delta"}


def table_input(table: str, location: str, schema: StructType, description: str) -> dict[str, Any]:
    # s3a:// is how Spark reaches S3 off Glue; the catalog must name the object store for Athena.
    location = "s3://" + location.split("://", 1)[1] if "://" in location else location
    return {
        "Name": table,
        "Description": description,
        "TableType": "EXTERNAL_TABLE",
        "Parameters": dict(PARAMETERS),
        "StorageDescriptor": {
            "Location": location,
            "Columns": [{"Name": f.name, "Type": f.dataType.simpleString()} for f in schema.fields],
            "InputFormat": "org.apache.hadoop.mapred.SequenceFileInputFormat",
            "OutputFormat": "org.apache.hadoop.hive.ql.io.HiveSequenceFileOutputFormat",
            "SerdeInfo": {"SerializationLibrary": "org.apache.hadoop.hive.serde2.lazy.LazySimpleSerDe",
                          "Parameters": {"path": location}},
        },
    }


def ensure_database(env: Environment) -> None:
    glue = aws_client("glue", env.aws)
    try:
        glue.get_database(Name=env.database)
    except glue.exceptions.EntityNotFoundException:
        glue.create_database(DatabaseInput={"Name": env.database})


def register(env: Environment, table: str, location: str, schema: StructType, description: str) -> str:
    """Create the table, or update it when its columns or location changed; say which."""
    glue = aws_client("glue", env.aws)
    wanted = table_input(table, location, schema, description)
    try:
        current = glue.get_table(DatabaseName=env.database, Name=table)["Table"]
    except glue.exceptions.EntityNotFoundException:
        glue.create_table(DatabaseName=env.database, TableInput=wanted)
        return "created"
    sd, want_sd = current.get("StorageDescriptor", {}), wanted["StorageDescriptor"]
    parameters = current.get("Parameters", {})
    # entries registered before Spark's keys were added are brought up to date here
    same = (sd.get("Columns") == want_sd["Columns"] and sd.get("Location") == want_sd["Location"]
            and sd.get("SerdeInfo", {}).get("Parameters", {}).get("path") == want_sd["Location"]
            and all(parameters.get(k) == v for k, v in PARAMETERS.items()))
    if same:
        return "unchanged"
    glue.update_table(DatabaseName=env.database, TableInput=wanted)
    return "updated"
