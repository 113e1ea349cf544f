"""A zone whose merge keys change in its YAML: its table is keyed anew, as a rebuild would key it.

The rows a table holds were deduplicated by the keys of the YAML that wrote them. Under fewer keys
several of them share one key, and a MERGE, which matches every one of them, would keep them all.
"""
from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest
from pyspark.sql import functions as F

from lakehouse.engine import run_pipeline
from lakehouse.zone.rekey import NewKeyColumns, delete_rows, rekey, unkeyed
from tests import deliveries
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


def test_a_key_added_with_its_column_keys_a_landing_table_anew_from_its_files_as_a_rebuild_does(
        spark, first_delivery, config_dir, tmp_path):
    landing = Path(shutil.copytree(first_delivery / "landing", tmp_path / "landing"))
    lake = copy_lake(first_delivery / "lake", tmp_path / "lake")
    # One customer from a file whose name Spark writes into _source_file as a URI ("new%20one.json").
    someone = dict(next(iter(deliveries.customers(landing).values())), email="Someone.New@example.com")
    (landing / "customer" / "landing" / "new one.json").write_text(json.dumps(someone) + "\n")
    run_all(spark, project_for(STEDI_CONFIGS, landing, lake), "customer_landing")
    zone = config_dir / "zones" / "customer_landing.yml"
    edit(zone, "dedupe:", "columns:\n  derive:\n    email_key: lower(email)\ndedupe:")
    edit(zone, "merge_keys: [email]", "merge_keys: [email_key]")
    project = project_for(config_dir, landing, lake)
    stored = rows_of(spark, project, "customer_landing").count()

    # Its suite does not know the new column yet: the gate stops the zone, and nothing is deleted.
    failed = run_pipeline(project, "customer_landing", spark=spark).zone("customer_landing")
    assert failed.status == "failed" and "columns are the landing schema" in failed.message
    assert rows_of(spark, project, "customer_landing").count() == stored

    edit(config_dir.parent.parent / "expectations" / "customer_landing.json",
         '"shareWithFriendsAsOfDate",', '"shareWithFriendsAsOfDate", "email_key",')
    project = project_for(config_dir, landing, lake)  # (a project reads its suites once)
    result = run_all(spark, project, "customer_landing")

    # Every stored row came from a file read again: replaced by its row under the new key, not
    # kept beside it with a null one.
    z = result.zone("customer_landing")
    assert (z.deleted, z.inserted, z.updated) == (stored, stored, 0)
    oracle = project_for(config_dir, landing, tmp_path / "fresh" / "lake")
    run_all(spark, oracle, "customer_landing")
    assert differences(spark, project, oracle, ["customer_landing"]) == {}
    assert run_all(spark, project, "customer_landing").zone("customer_landing").status == "up to date"


def test_keys_naming_a_column_the_table_lacks_yet(spark, tmp_path):
    location = str(tmp_path / "readings")
    spark.createDataFrame([("a", 1, "in/f1.json"), ("a", 1, "in/f1.json"), ("b", 2, "in/f2.json")],
                          "user string, timestamp bigint, _source_file string").write.format("delta").save(location)
    assert rekey(spark, location, ["user", "day"], None, []) == 0  # no stored row holds the key
    assert unkeyed(spark, location, ["user", "day"], True, None) is None  # the mirror's MERGE deletes them
    assert unkeyed(spark, location, ["user", "timestamp"], False, None) is None  # keys it has
    with pytest.raises(NewKeyColumns, match="day"):  # no files to rebuild its rows from
        unkeyed(spark, location, ["user", "day"], False, None)
    assert delete_rows(spark, location, unkeyed(spark, location, ["user", "day"], False, ["f1.json"])) == 2
    assert [r.user for r in spark.read.format("delta").load(location).collect()] == ["b"]
