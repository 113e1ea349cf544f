"""What a zone's pieces (source kind, target mode) are handed: the zone, its inputs, its history."""
from __future__ import annotations

from dataclasses import dataclass, field
from typing import TYPE_CHECKING

from pyspark.sql import functions as F

from lakehouse.errors import ZoneFailed
from lakehouse.storage import delta_version
from lakehouse.zone.handoff import materialize

if TYPE_CHECKING:
    from pyspark.sql import DataFrame, SparkSession

    from lakehouse.config.models import Environment, Zone
    from lakehouse.ledger import ZoneState
    from lakehouse.plan.graph import ZoneGraph
    from lakehouse.plan.lineage import Scope
    from lakehouse.quality.suites import SuiteSpec
    from lakehouse.results import FileEntry
    from lakehouse.zone.handoff import Handoff
    from lakehouse.zone.suppression import Suppression


_FEED_COLUMNS = ("_change_type", "_commit_version", "_commit_timestamp")


class Tables:
    """Upstream tables of one zone run, each pinned to the version first seen: every read, and the
    change feed an incremental run reads, agree on the same snapshot even while others write."""

    def __init__(self, spark: SparkSession, env: Environment, graph: ZoneGraph, zone: Zone, file: str,
                 handoff: Handoff | None = None):
        self.spark, self.env, self.graph, self.zone, self.file = spark, env, graph, zone, file
        self.handoff = handoff  # what zones of this run promoted, still in memory
        self.pinned: dict[str, int] = {}

    def location(self, table: str) -> str:
        producer = self.graph.zones[self.graph.producer[table]]
        return self.env.table_path(producer.layer, table)

    def version(self, table: str) -> int:
        if table not in self.pinned:
            version = delta_version(self.spark, self.location(table))
            if version is None:
                raise ZoneFailed(self.zone.name, self.file,
                                 f"upstream table {table!r} has not been built yet (no Delta table at "
                                 f"{self.location(table)}); run its zone first: lakehouse run --pipeline "
                                 f"{self.graph.producer[table]}")
            self.pinned[table] = version
        return self.pinned[table]

    def read(self, table: str) -> DataFrame:
        return self._at(self.location(table), self.version(table))

    def own(self, version: int) -> DataFrame:
        """The zone's own table at ``version``."""
        return self._at(self.env.table_path(self.zone.layer, self.zone.target.table), version)

    def _at(self, location: str, version: int) -> DataFrame:
        kept = self.handoff.take(location, version) if self.handoff is not None else None
        if kept is not None:
            return kept
        return self.spark.read.format("delta").option("versionAsOf", version).load(location)

    def changes(self, table: str, since: int) -> DataFrame:
        """Rows inserted, updated (before and after) or deleted after version ``since``, up to the pin."""
        return self._feed(table, since).drop(*_FEED_COLUMNS)

    def added(self, table: str, since: int) -> DataFrame | None:
        """Rows inserted after version ``since``, up to the pin: the whole change where the commits
        only inserted (``storage.only_inserts``). None when the table has moved on since the pin:
        a change feed read takes its columns from the newest version, which may have more."""
        feed = self._feed(table, since)
        if delta_version(self.spark, self.location(table)) != self.version(table):
            return None
        return feed.where(F.col("_change_type") == "insert").drop(*_FEED_COLUMNS)

    def _feed(self, table: str, since: int) -> DataFrame:
        return (self.spark.read.format("delta").option("readChangeFeed", "true")
                .option("startingVersion", since + 1).option("endingVersion", self.version(table))
                .load(self.location(table)))


@dataclass
class Inputs:
    """What a zone would read now, found without reading data: the run skips a zone whose inputs
    and fingerprint equal its last successful run's."""

    versions: dict[str, int] = field(default_factory=dict)
    files: list[FileEntry] = field(default_factory=list)      # every file there now (landing)
    new_files: list[FileEntry] = field(default_factory=list)  # not ingested yet, or changed since


@dataclass
class Batch:
    """A source kind's answer: the rows to stage this run, and what they speak for."""

    rows: DataFrame | None       # source rows; None: nothing that changed touches the zone
    mode: str                    # full | incremental
    scope: DataFrame | None = None   # incremental: values of the scope's key columns recomputed here;
    #                                  the target's other rows stay as they are. None: the whole table
    source: DataFrame | None = None  # the source rows read, when counting them is cheap (Delta's statistics)
    parsed: DataFrame | None = None  # landing: every line read, good and bad, cached (for the counts)
    malformed: DataFrame | None = None  # lines that did not fit the schema: raw, source_file
    files: list[FileEntry] = field(default_factory=list)  # landing files read
    compete: bool = False        # rows must beat the target's current row of the same key (landing)
    new_keys: bool = False       # every row adds a key the target lacks: nothing to compare it with
    coded: tuple[str, ...] = ()  # columns of few values that the dedupe carries as numbers
    held: bool = False           # rows are a filter over a local checkpoint: staged as they are, if they can be


@dataclass
class ZoneContext:
    spark: SparkSession
    env: Environment
    zone: Zone
    file: str                    # the zone's YAML, for messages
    tables: Tables
    state: ZoneState | None      # the zone's last successful run, from the ledger
    scope: Scope | None          # key columns traced to the source (plan.lineage)
    started_at: str
    suppression: Suppression | None = None  # erased subjects, whose landing lines are left out
    suite: SuiteSpec | None = None  # the zone's expectations
    cached: list = field(default_factory=list)  # frames to unpersist however the zone ends
    materialized: list = field(default_factory=list)  # checkpoints to release, unless handed on
    notes: list[str] = field(default_factory=list)  # said in the zone's result message

    def cache(self, df: DataFrame) -> DataFrame:
        df = df.cache()
        self.cached.append(df)
        return df

    def materialize(self, df: DataFrame) -> DataFrame:
        """``df`` computed once, now (see ``zone.handoff``): what the zone stages."""
        df = materialize(df)
        self.materialized.append(df)
        return df
