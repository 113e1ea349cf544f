"""A zone whose merge keys change in its YAML: its table is keyed anew, as a rebuild would key it.

The rows a table holds were deduplicated by the keys of the YAML that wrote them. Under fewer keys
several of them share one key, and a MERGE, which matches every one of them, would keep them all.
"""
from __future__ import annotations

import shutil
from pathlib import Path

from pyspark.sql import functions as F

from lakehouse.zone.rekey import rekey
from tests.conftest import STEDI_CONFIGS, project_for, run_all
from tests.helpers import copy_lake, differences, edit, rows_of

WHOLE, FEWER = "merge_keys: [user, timestamp, x, y, z]", "merge_keys: [user, timestamp]"


def test_fewer_merge_keys_leave_one_row_per_key_as_a_rebuild_does(spark, first_delivery, config_dir, tmp_path):
    landing = Path(shutil.copytree(first_delivery / "landing", tmp_path / "landing"))
    for zone in ("accelerometer_landing", "accelerometer_trusted"):  # upsert (landing) and mirror
        edit(config_dir / "zones" / f"{zone}.yml", WHOLE, FEWER)
    project = project_for(config_dir, landing, copy_lake(first_delivery / "lake", tmp_path / "lake"))
    before = {t: rows_of(spark, project, t).count() for t in ("accelerometer_landing", "accelerometer_trusted")}

    result = run_all(spark, project)

    for table, rows in before.items():
        keys = rows_of(spark, project, table).groupBy("user", "timestamp").count()
        assert keys.where(F.col("count") > 1).count() == 0, f"{table}: one row per (user, timestamp)"
        assert keys.count() < rows, f"{table}: the sample has readings sharing (user, timestamp)"
        assert result.zone(table).deleted == rows - keys.count(), f"{table}: the surplus rows are reported deleted"
    oracle = project_for(config_dir, landing, tmp_path / "fresh" / "lake")
    run_all(spark, oracle)
    assert differences(spark, project, oracle) == {}


def test_a_table_the_ledger_has_no_run_of_is_checked_and_keyed_anew(spark, first_delivery, tmp_path):
    """As a table written by other means than a run holds it, or before the engine keyed tables anew."""
    landing = Path(shutil.copytree(first_delivery / "landing", tmp_path / "landing"))
    lake = copy_lake(first_delivery / "lake", tmp_path / "lake")
    shutil.rmtree(lake / "_ledger")
    project = project_for(STEDI_CONFIGS, landing, lake)
    location = project.env.table_path("trusted", "accelerometer_trusted")
    spark.read.format("delta").load(location).limit(5).write.format("delta").mode("append").save(location)

    result = run_all(spark, project)

    assert result.zone("accelerometer_trusted").deleted == 5
    as_first_run = project_for(STEDI_CONFIGS, landing, first_delivery / "lake")
    assert differences(spark, project, as_first_run) == {}


def test_keys_naming_a_column_the_table_lacks_yet_leave_it_as_it_is(spark, tmp_path):
    location = str(tmp_path / "readings")
    spark.createDataFrame([("a", 1), ("a", 1)], "user string, timestamp bigint").write.format("delta").save(location)
    assert rekey(spark, location, ["user", "day"], None, []) == 0
    assert rekey(spark, location, ["user"], None, []) == 1
    assert spark.read.format("delta").load(location).count() == 1
