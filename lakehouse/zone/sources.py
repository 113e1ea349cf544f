"""Source kinds: where a zone's rows come from, each one small class behind a registry.

A kind answers two questions. ``inputs``: what would it read now (file listings, upstream Delta
versions), found without a Spark job, so the engine can skip a zone whose inputs did not change.
``read``: the zone's source rows for this run, all of them (full) or only those its changed
inputs touch (incremental); the runner then applies the YAML's joins, filters and columns. Adding a kind is a subclass with a ``name`` and ``@register``; a zone names it
with ``source.kind`` (inferred for files, tables and SQL).
"""
from __future__ import annotations

from typing import TYPE_CHECKING, Any, Callable, ClassVar

from pyspark.sql import functions as F
from pyspark.sql.utils import AnalysisException

from lakehouse.errors import ZoneFailed, first_line
from lakehouse.plan.uniqueness import new_source_keys_stay_new, unique_by_construction
from lakehouse.results import FULL, INCREMENTAL
from lakehouse.storage import list_files, only_inserts
from lakehouse.zone.changes import absent, affected_scope, scope_values, semi_join_scope
from lakehouse.zone.context import Batch, Inputs
from lakehouse.zone.transform import query

if TYPE_CHECKING:
    from pyspark.sql import DataFrame, DataFrameReader, SparkSession

    from lakehouse.zone.context import ZoneContext

CORRUPT = "_corrupt_record"
ERASED = "_erased"  # a line of a data subject erased on request: counted, then left out of everything
SOURCE_FILE = "_source_file"
INGESTED_AT = "_ingested_at"
AUDIT_COLUMNS = (SOURCE_FILE, INGESTED_AT)
CODE_PATHS_FROM = 8 << 20  # bytes of landing files (about 100k accelerometer lines)

SOURCE_KINDS: dict[str, type[SourceKind]] = {}


def register(cls: type[SourceKind]) -> type[SourceKind]:
    SOURCE_KINDS[cls.name] = cls
    return cls


class SourceKind:
    name: ClassVar[str]

    def inputs(self, ctx: ZoneContext) -> Inputs | None:
        """What the zone would read now; None when the kind cannot tell (the zone always runs)."""
        return None

    def read(self, ctx: ZoneContext, inputs: Inputs | None, incremental: bool) -> Batch:
        raise NotImplementedError

    def empty(self, spark: SparkSession, zone: Any, table: Callable[[str], DataFrame]) -> DataFrame | None:
        """The source rows' shape, with no rows, for checking the YAML's column names before any
        data is read (``table`` gives an upstream table's shape); None when the kind cannot tell."""
        return None


@register
class TableSource(SourceKind):
    """An upstream table (which the YAML's joins, filters and columns then shape).

    Incremental: the upstream tables' change feeds since the versions the ledger recorded give the
    scope values (see ``plan.lineage``) whose rows may differ; only source rows with those values
    are recomputed, and the target mode replaces exactly that scope of the table.
    """

    name = "table"

    def inputs(self, ctx: ZoneContext) -> Inputs:
        return Inputs(versions={t: ctx.tables.version(t) for t in ctx.zone.upstream})

    def read(self, ctx: ZoneContext, inputs: Inputs | None, incremental: bool) -> Batch:
        zone, tables = ctx.zone, ctx.tables
        if incremental and ctx.scope is not None:
            since = ctx.state.input_versions
            changed = {t: since[t] for t, v in inputs.versions.items() if since.get(t) != v}
            new_keys, rows = _only_new_keys(ctx, changed), None
            gains = not new_keys and _only_gains(ctx, changed)
            try:
                if new_keys:
                    # The source only gained rows, one per key it lacked: the rows its change feed
                    # added are exactly its rows in scope, with no scan of the source.
                    rows = tables.added(zone.source.table, changed[zone.source.table])
                if rows is not None:
                    rows = ctx.cache(rows)
                    scope, nothing = scope_values(rows, ctx.scope), rows.isEmpty()
                else:
                    scope = ctx.cache(affected_scope(ctx, changed))
                    nothing = scope.isEmpty()
                    if gains and not nothing:  # a value the table holds already keeps its row as it is
                        scope = ctx.cache(absent(scope, tables.own(ctx.state.output_version), ctx.scope.keys))
                        nothing = scope.isEmpty()
            except AnalysisException as exc:
                # No change feed for that range (a table from before it was on, or vacuumed):
                # the full result is always right, only slower.
                ctx.notes.append(f"ran in full: no change feed ({first_line(exc)[:160]})")
            else:
                if nothing:
                    return Batch(None, INCREMENTAL, scope=scope)
                if rows is None:
                    rows = semi_join_scope(tables.read(zone.source.table), scope, ctx.scope)
                return Batch(rows, INCREMENTAL, scope=scope, new_keys=new_keys or gains)
        source = tables.read(zone.source.table)
        return Batch(source, FULL, source=source)

    def empty(self, spark, zone, table):
        return table(zone.source.table)


def _only_new_keys(ctx: ZoneContext, changed: dict[str, int]) -> bool:
    """Every row the zone stages adds a key its table lacks: only its source table changed, by
    adding rows alone (its commits say so), and a key new to the source is new to the table
    (``plan.uniqueness``). The zone then need not compare with its table."""
    source = ctx.zone.source.table
    if set(changed) != {source} or ctx.state.restored or not new_source_keys_stay_new(ctx.zone, ctx.tables.graph):
        return False  # (a restored table may hold keys its source has dropped since)
    since, now = changed[source], ctx.tables.version(source)
    return now > since and only_inserts(ctx.spark, ctx.tables.location(source), since, now)


def _only_gains(ctx: ZoneContext, changed: dict[str, int]) -> bool:
    """The zone's result only gained rows, each with a key its table lacks: its source did not
    change, and only tables it semi-joins changed, by adding rows alone (their commits say so). A
    row's match can then only appear, so a source row that made a row still makes the same one;
    with one source row per scope value (``plan.uniqueness``), only the scope values the table
    lacks need computing, and each adds its keys. Customers who had no readings and now have some:
    not every customer with a new reading."""
    zone, tables = ctx.zone, ctx.tables
    if not changed or zone.source.table in changed or ctx.state.restored or zone.target_mode != "mirror":
        return False  # (a restored or upsert table may hold rows the result no longer makes)
    if ctx.suite is not None and ctx.suite.judges_shares:
        return False  # rows the gate kept out before come back each time: in a smaller batch, a larger share
    if any(j.table in changed and j.type != "semi" for j in zone.joins) or \
            not unique_by_construction(zone, tables.graph):
        return False
    return all(tables.version(t) > since and only_inserts(ctx.spark, tables.location(t), since, tables.version(t))
               for t, since in changed.items())


@register
class SqlSource(SourceKind):
    """A query over upstream tables, each visible by its name. Recomputed in full whenever one of
    them changed: a query can aggregate or window over any rows, so no change has a narrower scope."""

    name = "sql"

    def inputs(self, ctx: ZoneContext) -> Inputs:
        return Inputs(versions={t: ctx.tables.version(t) for t in ctx.zone.upstream})

    def read(self, ctx: ZoneContext, inputs: Inputs | None, incremental: bool) -> Batch:
        return Batch(query(ctx.spark, ctx.zone, ctx.tables.read), FULL)

    def empty(self, spark, zone, table):
        return query(spark, zone, table)


@register
class FilesSource(SourceKind):
    """Landing files with a declared schema. Incremental: only files the ledger has not seen, or
    whose size or modification time changed; their rows compete with the target's current rows."""

    name = "files"

    def inputs(self, ctx: ZoneContext) -> Inputs:
        zone = ctx.zone
        location = ctx.env.landing_path(zone.source.path)
        files = list_files(ctx.spark, location)
        if not files:
            state = "not found" if files is None else "holds no files"
            raise ZoneFailed(zone.name, ctx.file, f"cannot read landing files at {location}: the folder {state}. "
                             "Check source.path in the zone and landing_root in the env file "
                             "(lakehouse generate-sample writes sample data to data/sample/stedi)")
        # Known by name within the folder: a lake keeps its state when the landing root moves.
        seen = {_name(f.path): (f.size, f.modified) for f in ctx.state.files.values()} if ctx.state else {}
        return Inputs(files=files, new_files=[f for f in files if seen.get(_name(f.path)) != (f.size, f.modified)])

    def read(self, ctx: ZoneContext, inputs: Inputs | None, incremental: bool) -> Batch:
        zone = ctx.zone
        files = inputs.new_files if incremental else inputs.files
        if not files:
            return Batch(None, INCREMENTAL)
        fmt = FORMATS[zone.source.format]
        ddl = _ddl(zone)
        reader = ctx.spark.read.schema(ddl if fmt.corrupt is None else f"{ddl}, {CORRUPT} string")
        parsed = (fmt.load(reader, [f.path for f in files])
                  .withColumn(SOURCE_FILE, F.col("_metadata.file_path"))
                  .withColumn(INGESTED_AT, F.lit(ctx.started_at).cast("timestamp")))
        if fmt.corrupt is None:
            parsed = parsed.withColumn(CORRUPT, F.lit(None).cast("string"))
        suppression = ctx.suppression
        if suppression is not None and suppression.digests:
            typed = suppression.row_matches(parsed)
            parsed = parsed.withColumn(ERASED, F.when(F.col(CORRUPT).isNotNull(), suppression.raw_matches(
                F.col(CORRUPT))).otherwise(F.lit(False) if typed is None else typed))
        # A large batch is deduplicated only where its keys repeat (transform.dedupe_repeated), and
        # carries its one path per file through the dedupe as a number; a delivery's few lines sort
        # in milliseconds, and either's own Spark job costs more. Neither when the YAML shapes the
        # rows: its joins make them costly to read again, and its columns could make the path anything.
        large = sum(f.size for f in files) >= CODE_PATHS_FROM and zone.columns is None and not zone.joins
        # Spark refuses queries on raw JSON that touch only the corrupt-record column: computed
        # first. A large batch into the block store, as a zone's staged rows are: when none of its
        # keys repeats, its good lines are what the zone stages, with no second copy.
        parsed = ctx.materialize(parsed) if large else ctx.cache(parsed)
        kept = parsed.where(~F.col(ERASED)).drop(ERASED) if ERASED in parsed.columns else parsed
        good = kept.where(F.col(CORRUPT).isNull()).drop(CORRUPT)
        bad = kept.where(F.col(CORRUPT).isNotNull()).select(
            F.col(CORRUPT).alias("raw"), F.col(SOURCE_FILE).alias("source_file"))
        return Batch(good, INCREMENTAL if incremental else FULL, parsed=parsed, malformed=bad, files=files,
                     compete=incremental, coded=(SOURCE_FILE,) if large else (), held=large)

    def empty(self, spark, zone, table):
        return spark.createDataFrame([], f"{_ddl(zone)}, {SOURCE_FILE} string, {INGESTED_AT} timestamp")


def _ddl(zone: Any) -> str:
    return ", ".join(f"`{c}` {t}" for c, t in zone.source.schema_.items())


def _name(path: str) -> str:
    return path.rstrip("/").rsplit("/", 1)[-1]


def stored_names(spark: SparkSession, paths: list[str]) -> list[str]:
    """The files' names as their rows' ``_source_file`` ends: Spark writes a file's path there as
    a URI ("a%20b.json" for "a b.json")."""
    uri = spark._jvm.org.apache.hadoop.fs.Path
    return [_name(uri(path).toUri().toString()) for path in paths]


class FileFormat:
    corrupt: ClassVar[str | None] = CORRUPT  # the column unparsable lines land in; None: the format has none

    def load(self, reader: DataFrameReader, paths: list[str]) -> DataFrame:
        raise NotImplementedError


class JsonFormat(FileFormat):
    def load(self, reader, paths):
        return reader.option("mode", "PERMISSIVE").option("columnNameOfCorruptRecord", CORRUPT).json(paths)


class CsvFormat(FileFormat):
    def load(self, reader, paths):
        return (reader.option("header", "true").option("mode", "PERMISSIVE")
                .option("columnNameOfCorruptRecord", CORRUPT).csv(paths))


class ParquetFormat(FileFormat):
    corrupt = None  # typed already: a file that does not fit the schema fails the read

    def load(self, reader, paths):
        return reader.parquet(*paths)


FORMATS: dict[str, FileFormat] = {"json": JsonFormat(), "csv": CsvFormat(), "parquet": ParquetFormat()}


def kind_of(zone: Any) -> str:
    """The zone's source kind: as named in the YAML, else files, a table or SQL."""
    if zone.sql is not None:
        return "sql"
    if zone.source.kind:
        return zone.source.kind
    return "files" if zone.source.path else "table"
