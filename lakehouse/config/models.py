"""Typed models of the YAML a user writes. Unknown keys are errors, never ignored."""
from __future__ import annotations

import re
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator

IDENTIFIER = re.compile(r"^[A-Za-z_][A-Za-z0-9_]*$")

# Spark SQL types a landing schema may use. Checked here so a typo fails before Spark starts.
_PRIMITIVE_TYPES = {
    "string", "boolean", "byte", "tinyint", "short", "smallint", "int", "integer", "long",
    "bigint", "float", "double", "date", "timestamp", "timestamp_ntz", "binary",
}
_DECIMAL = re.compile(r"^decimal\(\s*\d+\s*,\s*\d+\s*\)$")


class KeyedError(ValueError):
    """A model-level problem that belongs to one key, so the message can name that key."""

    def __init__(self, key: str, message: str):
        super().__init__(message)
        self.key, self.message = tuple(key.split(".")), message


def _identifier(value: str, what: str) -> str:
    if not IDENTIFIER.match(value):
        raise ValueError(f"{what} {value!r} must be letters, digits and underscores, not starting with a digit")
    return value


class Model(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True, populate_by_name=True)


class Source(Model):
    """Where a zone's rows come from: landing files (path + schema), an upstream table, or a
    source kind registered by name (``kind`` plus its ``options``)."""

    kind: str | None = Field(None, description="files | table, inferred from path/table; or a registered kind")
    path: str | None = Field(None, description="landing folder, relative to the env's landing_root")
    format: Literal["json", "csv", "parquet"] = "json"
    schema_: dict[str, str] | None = Field(None, alias="schema")
    table: str | None = Field(None, description="an upstream table produced by another zone")
    alias: str | None = None
    options: dict[str, Any] = Field(default_factory=dict, description="settings of a registered kind")

    @model_validator(mode="after")
    def _one_kind(self) -> Source:
        if self.kind not in (None, "files", "table"):
            return self  # a registered kind checks its own options
        if bool(self.path) == bool(self.table):
            raise ValueError("give either 'path' (with 'schema') for landing files or 'table' for an upstream table")
        if self.path and not self.schema_:
            raise ValueError("a landing source needs 'schema': a mapping of column to Spark type, e.g. {email: string}")
        if self.table and self.schema_:
            raise ValueError("'schema' is only for landing files; an upstream table has its own schema")
        return self

    @field_validator("schema_")
    @classmethod
    def _types(cls, schema: dict[str, str] | None) -> dict[str, str] | None:
        for column, spark_type in (schema or {}).items():
            t = str(spark_type).strip().lower()
            if t not in _PRIMITIVE_TYPES and not _DECIMAL.match(t):
                raise ValueError(
                    f"column {column!r} has unknown type {spark_type!r}; "
                    f"use one of {', '.join(sorted(_PRIMITIVE_TYPES))} or decimal(p,s)"
                )
        return schema

    @field_validator("table", "alias")
    @classmethod
    def _names(cls, value: str | None) -> str | None:
        return None if value is None else _identifier(value, "name")

    @property
    def name(self) -> str:
        """The name the source's columns are qualified with in join conditions."""
        return self.alias or self.table or "source"


class Join(Model):
    table: str
    alias: str | None = None
    type: Literal["inner", "left", "semi", "anti"] = "inner"
    on: str = Field(description="Spark SQL condition over the source alias and this join's alias")
    columns: list[str] = Field(default_factory=list, description="SQL expressions kept from the joined table")

    @field_validator("table", "alias")
    @classmethod
    def _names(cls, value: str | None) -> str | None:
        return None if value is None else _identifier(value, "name")

    @model_validator(mode="after")
    def _semi_keeps_nothing(self) -> Join:
        if self.type in ("semi", "anti") and self.columns:
            raise KeyedError("columns", f"a {self.type} join keeps no columns of the joined table; "
                                        "remove 'columns' or use type inner/left")
        return self

    @property
    def name(self) -> str:
        return self.alias or self.table


class Columns(Model):
    """Applied in this order: derive, select, rename, drop."""

    derive: dict[str, str] = Field(default_factory=dict, description="new column -> SQL expression")
    select: list[str] | None = Field(None, description="SQL expressions to keep; default all")
    rename: dict[str, str] = Field(default_factory=dict, description="old name -> new name")
    drop: list[str] = Field(default_factory=list)


class SqlTransform(Model):
    """A whole transform as one query over upstream tables, each visible as a view by its name."""

    uses: list[str] = Field(min_length=1)
    query: str = Field(min_length=1)


class Dedupe(Model):
    keys: list[str] | None = Field(None, description="default: the target's merge keys")
    order_by: list[str] = Field(default_factory=list, description="SQL sort expressions; the first row per key wins")


class Quality(Model):
    """Which expectation suite guards the zone, and per-zone changes to its actions."""

    suite: str | None = Field(None, description="file expectations/<suite>.json; default: the target table")
    actions: dict[str, Literal["warn", "quarantine", "fail"]] = Field(
        default_factory=dict, description="expectation name -> action, overriding the suite's meta.action")
    max_quarantined_fraction: float | None = Field(None, ge=0, le=1,
                                                   description="more quarantined rows than this fails the zone")


class Target(Model):
    table: str
    mode: str | None = Field(None, description="upsert | mirror | append; default upsert on landing, else mirror")
    merge_keys: list[str] = Field(min_length=1)
    partition_by: list[str] = Field(default_factory=list)
    description: str = ""

    @field_validator("table")
    @classmethod
    def _name(cls, value: str) -> str:
        return _identifier(value, "table name")


class Zone(Model):
    name: str
    layer: Literal["landing", "trusted", "curated"]
    description: str = ""
    source: Source | None = None
    filters: list[str] = Field(default_factory=list)
    joins: list[Join] = Field(default_factory=list)
    columns: Columns | None = None
    sql: SqlTransform | None = None
    dedupe: Dedupe | None = None
    # A suite name, per-zone changes, or false: no suite on purpose (only the merge keys are checked).
    expectations: Literal[False] | str | Quality | None = None
    target: Target

    @field_validator("name")
    @classmethod
    def _name(cls, value: str) -> str:
        return _identifier(value, "zone name")

    @model_validator(mode="after")
    def _shape(self) -> Zone:
        if self.dedupe and self.dedupe.keys and not set(self.dedupe.keys) <= set(self.target.merge_keys):
            raise KeyedError("dedupe.keys", "must be some of target.merge_keys, or MERGE would meet duplicate keys")
        if self.sql is not None:
            extra = [k for k in ("source", "filters", "joins", "columns") if getattr(self, k)]
            if extra:
                raise KeyedError(extra[0], "a 'sql' zone takes its rows from the query: "
                                           f"drop {', '.join(extra)} or drop sql")
            if self.layer == "landing":
                raise ValueError("a landing zone reads files: give 'source' with 'path' and 'schema', not 'sql'")
            return self
        if self.source is None:
            raise ValueError("give 'source' (landing files or an upstream table) or a 'sql' query")
        if self.source.kind not in (None, "files", "table"):
            return self
        if self.layer == "landing" and not self.source.path:
            raise KeyedError("source.path", "a landing zone reads files: give source.path and source.schema")
        if self.layer != "landing" and self.source.path:
            raise KeyedError("source.path", f"a {self.layer} zone reads upstream tables: give source.table, not source.path")
        return self

    @property
    def upstream(self) -> list[str]:
        """Tables this zone reads, in the order it names them."""
        if self.sql is not None:
            return list(self.sql.uses)
        names = [self.source.table] if self.source and self.source.table else []
        return names + [j.table for j in self.joins]

    @property
    def target_mode(self) -> str:
        return self.target.mode or ("upsert" if self.layer == "landing" else "mirror")

    @property
    def unguarded(self) -> bool:
        """The YAML says this zone has no suite on purpose."""
        return self.expectations is False

    @property
    def quality(self) -> Quality:
        if self.expectations is False:
            return Quality()
        if isinstance(self.expectations, str):
            return Quality(suite=self.expectations)
        return self.expectations or Quality()

    @property
    def dedupe_keys(self) -> list[str]:
        return list(self.dedupe.keys) if self.dedupe and self.dedupe.keys else list(self.target.merge_keys)


class Erasure(Model):
    """Whose rows ``lakehouse erase`` removes: rows whose subject column equals the given key."""

    # A column of any of these names, in any table, holds a data subject's key (compared trimmed
    # and lower-cased); a table with none of them holds nothing erase can find.
    subject_columns: list[str] = Field(min_length=1)

    @field_validator("subject_columns")
    @classmethod
    def _names(cls, value: list[str]) -> list[str]:
        return [_identifier(c, "column") for c in value]


class Maintenance(Model):
    """What ``lakehouse maintain`` keeps: files a table no longer uses are removed after this long."""

    # Delta refuses VACUUM below a table's delta.deletedFileRetentionDuration (7 days unless set);
    # maintain sets that property to this value, so the check stays on and agrees with the YAML.
    retention_days: float = Field(7, ge=0)


class ProjectSettings(Model):
    """``project.yml`` beside ``zones/`` and ``env/``: what every zone of the project shares."""

    # configs/<project>/project.yml -> the repository's expectations/; the job keeps that layout.
    expectations: str = Field("../../expectations", description="folder of the GX suites, relative to project.yml")
    erasure: Erasure | None = None
    maintenance: Maintenance = Maintenance()


class AwsSettings(Model):
    """Where and how the generic Glue job is deployed (env/aws.yml)."""

    region: str = "us-east-1"
    bucket: str
    code_prefix: str = "code"
    job_name: str
    role_arn: str
    glue_version: Literal["5.1"] = "5.1"
    worker_type: Literal["G.025X", "G.1X", "G.2X", "G.4X", "G.8X"] = "G.1X"
    number_of_workers: int = Field(2, ge=2)
    timeout_minutes: int = Field(60, ge=1)
    state_machine_role_arn: str = Field(description="role Step Functions uses to start the job runs")
    endpoint_url: str | None = Field(None, description="an S3/Glue stand-in (moto) for tests; empty on AWS")
    wheelhouse: str | None = Field(None, description="a local folder of wheels (GX and its dependencies) "
                                   "the job installs from S3 with pip --no-index: a job in a VPC with no internet")
    schedule: str | None = Field(None, description="an EventBridge Scheduler expression that starts the state "
                                 "machine, e.g. cron(0 3 * * ? *) or rate(6 hours); empty: no schedule")
    schedule_timezone: str = "UTC"
    scheduler_role_arn: str | None = Field(None, description="role EventBridge Scheduler uses to start the state machine")

    @field_validator("endpoint_url", "wheelhouse", "schedule", "scheduler_role_arn")
    @classmethod
    def _empty(cls, value: str | None) -> str | None:
        return value or None

    @field_validator("schedule")
    @classmethod
    def _expression(cls, value: str | None) -> str | None:
        if value is not None and not re.match(r"^(cron|rate|at)\(.+\)$", value.strip()):
            raise ValueError(f"{value!r} is not a schedule expression: write cron(0 3 * * ? *), rate(6 hours) "
                             "or at(2026-12-01T03:00:00)")
        return value

    @model_validator(mode="after")
    def _schedule_needs_a_role(self) -> AwsSettings:
        if self.schedule and not self.scheduler_role_arn:
            raise KeyedError("scheduler_role_arn", "a schedule needs the role EventBridge Scheduler starts the "
                             "state machine with (states:StartExecution on it)")
        return self


class Environment(Model):
    """Logical roots for one target (local, aws): the same zone YAML runs on either."""

    name: str = "local"
    landing_root: str
    lake_root: str
    database: str
    reports_root: str
    delta_jars: Literal["maven", "provided"] = Field("maven", description="provided on AWS Glue (--datalake-formats delta)")
    metastore: Literal["memory", "provided", "none"] = Field(
        "memory", description="memory: each process names the tables from the config; provided: Glue's catalog")
    catalog: Literal["spark", "glue"] = Field("spark", description="glue: tables registered through the Glue API")
    aws: AwsSettings | None = None
    spark_conf: dict[str, str] = Field(default_factory=dict)
    # Zones whose inputs are ready run side by side in the one Spark session: while one waits on
    # its quality gate or a Delta commit (driver work), the other keeps the executors busy.
    parallel_zones: int = Field(1, ge=1, description="zones run at once in one process; 1 runs them one by one")

    @field_validator("database")
    @classmethod
    def _db(cls, value: str) -> str:
        return _identifier(value, "database")

    def table_path(self, layer: str, table: str) -> str:
        return f"{self.lake_root.rstrip('/')}/{layer}/{table}"

    def landing_path(self, path: str) -> str:
        return f"{self.landing_root.rstrip('/')}/{path.strip('/')}"
