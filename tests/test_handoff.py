"""A zone reading a table that a zone of the same run just promoted gets the promoted rows from
memory (``zone.handoff``), only where the table at the version read holds exactly those rows.

The oracle is the same run with the handoff refused: every table must come out the same, row for
row, and the tests check the handoff did serve the reads (a test of a shortcut never taken could
not fail)."""
from __future__ import annotations

import shutil

import pytest

from lakehouse.engine import run_pipeline
from lakehouse.quality.gate import QualityGate
from lakehouse.zone.handoff import Handoff, materialize, release
from tests.conftest import STEDI_CONFIGS, project_for, run_all
from tests.helpers import TABLES, copy_lake, differences, rows_of

TRUSTED_AND_CURATED = {"customer_trusted", "accelerometer_trusted", "customer_curated", "step_trainer_trusted"}


def persistent_rdds(spark) -> int:
    """RDDs holding blocks, but for Delta's own (the table states it caches, named so): a checkpoint
    the run leaves behind would be one."""
    rdds = spark.sparkContext._jsc.getPersistentRDDs().values()
    return sum(1 for rdd in rdds if not str(rdd.name() or "").startswith("Delta"))


def schemas(spark, project) -> dict:
    return {t: [(f.name, f.dataType.simpleString()) for f in rows_of(spark, project, t).schema.fields] for t in TABLES}


def _watch(monkeypatch):
    """Tables each run served from memory, and those offered."""
    served, offered = [], []
    take, offer = Handoff.take, Handoff.offer

    def spy_take(self, location, version):
        frame = take(self, location, version)
        if frame is not None:
            served.append(location.rstrip("/").rsplit("/", 1)[-1])
        return frame

    def spy_offer(self, zone, location, version, frame, holds):
        kept = offer(self, zone, location, version, frame, holds)
        if kept:
            offered.append(location.rstrip("/").rsplit("/", 1)[-1])
        return kept

    monkeypatch.setattr(Handoff, "take", spy_take)
    monkeypatch.setattr(Handoff, "offer", spy_offer)
    return served, offered


def test_a_first_run_reads_what_its_upstream_promoted_and_builds_what_delta_reads_would(
        spark, sample, tmp_path, monkeypatch):
    landing = tmp_path / "landing"
    shutil.copytree(sample[0], landing, ignore=shutil.ignore_patterns("manifest.json"))
    before = persistent_rdds(spark)
    served, offered = _watch(monkeypatch)
    handed = project_for(STEDI_CONFIGS, landing, tmp_path / "handed" / "lake")
    run_all(spark, handed)
    # Every table read downstream was created or rebuilt by this run: all served from memory.
    assert TRUSTED_AND_CURATED | {"customer_landing", "accelerometer_landing", "step_trainer_landing"} <= set(served)
    assert "machine_learning_curated" not in offered  # nothing in the run reads it: not kept
    assert persistent_rdds(spark) == before  # every checkpoint released by the run's end

    monkeypatch.setattr(Handoff, "take", lambda self, location, version: None)
    plain = project_for(STEDI_CONFIGS, landing, tmp_path / "plain" / "lake")
    run_all(spark, plain)
    assert differences(spark, handed, plain) == {} and schemas(spark, handed) == schemas(spark, plain)
    assert persistent_rdds(spark) == before


def test_a_table_holding_more_than_the_promoted_rows_is_read_from_delta(spark, first_delivery, tmp_path,
                                                                        monkeypatch):
    """Landing keeps what landed, so a full refresh's landing table is more than its batch; a mirror
    whose table has a column the zone's rows lack (kept, with its values) is more than them too.
    Oracle: the same full refresh on a copy of the lake, the handoff refused."""
    def lake(name):
        root = tmp_path / name
        shutil.copytree(first_delivery / "landing", root / "landing")
        copy_lake(first_delivery / "lake", root / "lake")
        project = project_for(STEDI_CONFIGS, root / "landing", root / "lake")
        location = project.env.table_path("trusted", "customer_trusted")
        spark.sql(f"ALTER TABLE delta.`{location}` ADD COLUMNS (segment string)")
        spark.sql(f"UPDATE delta.`{location}` SET segment = 'research'")
        return project

    project, plain = lake("handed"), lake("plain")
    served, offered = _watch(monkeypatch)
    result = run_pipeline(project, "all", spark=spark, full_refresh=True)
    assert result.ok, [z.message for z in result.zones if not z.ok]
    assert not {"customer_landing", "accelerometer_landing", "step_trainer_landing", "customer_trusted"} & set(offered)
    assert {"accelerometer_trusted", "customer_curated"} <= set(served)  # rebuilt mirrors still are
    # customer_curated takes every column of customer_trusted: read from Delta, it has the segment.
    curated = rows_of(spark, project, "customer_curated")
    assert curated.count() > 0 and curated.where("segment IS DISTINCT FROM 'research'").count() == 0

    monkeypatch.setattr(Handoff, "take", lambda self, location, version: None)
    assert run_pipeline(plain, "all", spark=spark, full_refresh=True).ok
    assert differences(spark, project, plain) == {} and schemas(spark, project) == schemas(spark, plain)


def test_only_a_write_that_leaves_exactly_the_rows_hands_them_on(spark, tmp_path):
    """A mirror compares no audit column, so a row differing only there keeps the table's; and a
    Delta read leaves a column of the null type out."""
    from pyspark.sql import functions as F

    from lakehouse.zone.targets import Mirror, Write

    rows = spark.createDataFrame([("a", 1), ("b", 2)], "k string, v int")

    def write(name, staged, new=True):
        location = str(tmp_path / name)
        if not new:
            Mirror().write(spark, Write(location, staged, ["k"], [], 2))
        return Mirror().write(spark, Write(location, staged, ["k"], [], 2)).exact

    assert write("created", rows) and write("rebuilt", rows, new=False)
    assert not write("audited", rows.withColumn("_ingested_at", F.current_timestamp()), new=False)
    assert not write("void", rows.withColumn("note", F.lit(None)))


def test_an_offer_serves_its_version_only_and_is_released_when_its_readers_end(spark):
    before = persistent_rdds(spark)
    handoff = Handoff({"up": {"down", "other"}})
    frame = materialize(spark.range(5))
    assert persistent_rdds(spark) == before + 1
    assert not handoff.offer("down", "/lake/t", 3, frame, [frame])  # no zone reads this one's table
    assert handoff.offer("up", "/lake/t", 3, frame, [frame])
    assert handoff.take("/lake/t", 3) is frame
    assert handoff.take("/lake/t", 4) is None  # another run wrote since: Delta's answer
    assert handoff.take("/lake/u", 3) is None
    handoff.finished("down")
    assert handoff.take("/lake/t", 3) is frame and persistent_rdds(spark) == before + 1
    handoff.finished("other")
    assert handoff.take("/lake/t", 3) is None and persistent_rdds(spark) == before


@pytest.mark.parametrize("where", ["read downstream", "validated"])
def test_rows_spark_lost_from_memory_are_computed_again_from_the_tables(spark, sample, first_run, tmp_path,
                                                                        monkeypatch, caplog, where):
    """An executor that dies takes its blocks along; a cache would be recomputed, a checkpoint not:
    the zone that meets the loss runs again, and the run reads Delta from then on. Met by a zone
    reading what another handed on, or by the quality gate (GX catches Spark's error itself)."""
    landing = tmp_path / "landing"
    shutil.copytree(sample[0], landing, ignore=shutil.ignore_patterns("manifest.json"))
    lost = []
    if where == "read downstream":
        take = Handoff.take

        def losing(self, location, version):
            frame = take(self, location, version)
            if frame is not None and not lost:  # the first frame served: its blocks gone, as with their executor
                lost.append(location)
                release(frame)
            return frame

        monkeypatch.setattr(Handoff, "take", losing)
    else:
        check = QualityGate.check

        def losing(self, zone, suite, staged, staged_rows, judged=None):
            if suite is not None and not lost:
                lost.append(zone)
                release(staged)
            return check(self, zone, suite, staged, staged_rows, judged)

        monkeypatch.setattr(QualityGate, "check", losing)
    project = project_for(STEDI_CONFIGS, landing, tmp_path / "lake")
    with caplog.at_level("WARNING", logger="lakehouse.zone"):
        run_all(spark, project)
    assert lost and "Spark lost rows held in memory" in caplog.text
    oracle = project_for(STEDI_CONFIGS, first_run[0] / "landing", first_run[0] / "lake")
    assert differences(spark, project, oracle) == {}
