"""Delta tables in the Glue Data Catalog through the Glue API, with their real columns.

Spark's own CREATE TABLE on Glue leaves one `col array<string>` column for a Delta table, which
Athena cannot query; the Glue API is given table_type DELTA, the location and the Delta schema.
"""
from __future__ import annotations

from typing import TYPE_CHECKING, Any

from lakehouse.aws.clients import aws_client

if TYPE_CHECKING:
    from pyspark.sql.types import StructType

    from lakehouse.config.models import Environment


def table_input(table: str, location: str, schema: StructType, description: str) -> dict[str, Any]:
    return {
        "Name": table,
        "Description": description,
        "TableType": "EXTERNAL_TABLE",
        "Parameters": {"table_type": "DELTA", "classification": "delta", "EXTERNAL": "TRUE"},
        "StorageDescriptor": {
            "Location": "s3://" + location.split("://", 1)[1] if "://" in location else location,
            "Columns": [{"Name": f.name, "Type": f.dataType.simpleString()} for f in schema.fields],
            "InputFormat": "org.apache.hadoop.mapred.SequenceFileInputFormat",
            "OutputFormat": "org.apache.hadoop.hive.ql.io.HiveSequenceFileOutputFormat",
            "SerdeInfo": {"SerializationLibrary": "org.apache.hadoop.hive.serde2.lazy.LazySimpleSerDe"},
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
    sd = current.get("StorageDescriptor", {})
    same = (sd.get("Columns") == wanted["StorageDescriptor"]["Columns"]
            and sd.get("Location") == wanted["StorageDescriptor"]["Location"]
            and current.get("Parameters", {}).get("table_type") == "DELTA")
    if same:
        return "unchanged"
    glue.update_table(DatabaseName=env.database, TableInput=wanted)
    return "updated"
