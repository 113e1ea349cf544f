"""A delivery whose keys lie past every file's range is appended without comparing it with the
table (zone/keyranges.py); one that overlaps takes the long way. The oracle is a rebuild."""
from __future__ import annotations

import random

import deltalake
import pytest

from lakehouse.results import OK
from lakehouse.storage import commit_info
from lakehouse.zone import changes, runner
from lakehouse.zone.keyranges import Range, beyond_table, equated_columns
from lakehouse.zone.targets import TargetMode
from tests import deliveries
from tests.conftest import STEDI_CONFIGS, project_for, run_all
from tests.helpers import differences, rows_of


def _competed(monkeypatch) -> list[str]:
    """The landing zones whose new rows competed with the table's current rows of their keys."""
    seen: list[str] = []
    original = runner._with_current_rows
    monkeypatch.setattr(runner, "_with_current_rows", lambda rows, current, keys: seen.append(
        "step_trainer_landing" if "sensorReadingTime" in keys else "other") or original(rows, current, keys))
    return seen


def _compared(monkeypatch) -> list[str]:
    """The tables a write compared its rows with (TargetMode.changes), by folder name."""
    seen: list[str] = []
    original = TargetMode.changes
    monkeypatch.setattr(TargetMode, "changes", lambda self, w, current: seen.append(
        w.location.rstrip("/").rsplit("/", 1)[1]) or original(self, w, current))
    return seen


def _met(monkeypatch) -> list[tuple[str, bool]]:
    """Each join range check of an incremental zone: (source table folder, whether no source row
    can meet the joined table's changes)."""
    seen: list[tuple[str, bool]] = []
    original = changes.cannot_meet

    def spy(source, changed, pairs, rust, location, version):
        answer = original(source, changed, pairs, rust, location, version)
        seen.append((location.rstrip("/").rsplit("/", 1)[1], answer))
        return answer
    monkeypatch.setattr(changes, "cannot_meet", spy)
    return seen


def test_readings_past_every_stored_time_are_appended_without_comparing_and_equal_a_rebuild(
        spark, landing, project, monkeypatch, tmp_path):
    compared, competed, met = _compared(monkeypatch), _competed(monkeypatch), _met(monkeypatch)
    acc_before = rows_of(spark, project, "accelerometer_landing").count()
    done = deliveries.new_readings(landing, random.Random(3), again=0)
    result = run_all(spark, project)
    acc = result.zone("accelerometer_landing")
    assert (acc.inserted, acc.updated, acc.rows_staged) == (done["new"], 0, done["new"])
    assert rows_of(spark, project, "accelerometer_landing").count() == acc_before + done["new"]
    assert "accelerometer_landing" not in compared and "step_trainer_landing" not in compared
    assert competed == [], "new step readings: no stored reading of their keys to compete with"
    location = project.env.table_path("landing", "accelerometer_landing")
    assert commit_info(spark, location, acc.version)["operation"] == "WRITE", "an append, not a MERGE"
    # The new phone readings share their times with the new step readings: the join is run.
    assert ("step_trainer_trusted", False) in met and ("step_trainer_trusted", True) not in met

    # The same files again under new names: their keys are in the tables now, so the step
    # readings compete with the stored ones and both are compared; every reading is stored once.
    compared.clear()
    for source in ("accelerometer", "step_trainer"):
        newest = sorted((landing / source / "landing").glob("*.json"))[-1]
        deliveries._next_file(newest.parent, source).write_text(newest.read_text())
    result = run_all(spark, project)
    again, steps = result.zone("accelerometer_landing"), result.zone("step_trainer_landing")
    assert "accelerometer_landing" in compared and "step_trainer_landing" in compared
    assert competed == ["step_trainer_landing"]
    assert (again.rows_read, again.inserted, again.updated) == (done["new"], 0, 0)
    assert (steps.rows_read, steps.inserted, steps.updated) == (done["new"] // 3, 0, 0)
    # Both deliveries, every table (the appended readings reached the zones downstream through
    # the change feed): as a rebuild from the same files.
    fresh = project_for(STEDI_CONFIGS, landing, tmp_path / "rebuild" / "lake")
    run_all(spark, fresh)
    assert differences(spark, project, fresh) == {}


def test_phone_readings_later_than_every_step_reading_meet_none_until_the_step_readings_come(
        spark, landing, project, monkeypatch, tmp_path):
    met = _met(monkeypatch)
    ml_before = rows_of(spark, project, "machine_learning_curated").count()
    done = deliveries.new_readings(landing, random.Random(5), again=0, steps=False)
    result = run_all(spark, project)
    ml = result.zone("machine_learning_curated")
    assert result.zone("accelerometer_trusted").inserted == done["new"]
    assert ("step_trainer_trusted", True) in met, "no step reading can share their times: no join run"
    assert (ml.status, ml.inserted, ml.deleted) == (OK, 0, 0)
    assert rows_of(spark, project, "machine_learning_curated").count() == ml_before

    # The step readings of those times arrive a run later: they find the phone readings stored.
    deliveries._write(landing / "step_trainer" / "landing", "step_trainer", done["steps"])
    result = run_all(spark, project)
    assert result.zone("machine_learning_curated").inserted > 0
    fresh = project_for(STEDI_CONFIGS, landing, tmp_path / "rebuild" / "lake")
    run_all(spark, fresh)
    assert differences(spark, project, fresh) == {}


@pytest.mark.parametrize("on, pairs", [
    ("st.sensorReadingTime = acc.timestamp AND st.owner = acc.user",
     [("sensorReadingTime", "timestamp"), ("owner", "user")]),
    ("acc.timestamp=st.sensorReadingTime and `st`.`t` = `acc`.`u`", [("sensorReadingTime", "timestamp"), ("t", "u")]),
    ("st.a = acc.b AND st.c > acc.d AND st.e <=> acc.f", [("a", "b")]),  # only plain equalities
    ("st.a = acc.b OR st.c = acc.d", []),              # not a conjunction: no pair holds for every row
    ("(st.a = acc.b) AND st.c = acc.d", []),
    ("st.a = acc.b AND st.kind = 'AND st.c = acc.d'", []),
    ("st.a = other.b AND st.c = st.d", []),            # no column of the joined table
])
def test_a_join_condition_gives_the_columns_it_equates(on, pairs):
    assert equated_columns(on, "st", "acc") == pairs


@pytest.fixture
def small_table(spark, tmp_path) -> str:
    """Two files: k 1..5 with j 2 or null, and k 10..12 with j never null."""
    location = str(tmp_path / "t")
    spark.createDataFrame([(1, None), (5, 2)], "k bigint, j bigint").coalesce(1).write.format("delta").save(location)
    spark.createDataFrame([(10, 7), (12, 8)], "k bigint, j bigint").coalesce(1).write.format("delta") \
        .mode("append").save(location)
    return location


@pytest.mark.parametrize("ranges, beyond", [
    ({"k": Range(13, 20, False)}, True),                       # past both files
    ({"k": Range(6, 9, False)}, True),                         # between them
    ({"k": Range(5, 9, False)}, False),                        # 5 is in the first file's range
    ({"k": Range(11, 11, False)}, False),
    ({"j": Range(3, 6, False)}, True),
    ({"j": Range(3, 6, True)}, False),                         # a null may meet the first file's null
    ({"k": Range(None, None, True)}, True),                    # only nulls, and k never is
    ({"k": Range(1, 12, False), "j": Range(3, 6, False)}, True),  # k overlaps both, j neither
    ({}, False),                                               # no integer key: cannot tell
])
def test_a_batch_is_beyond_the_table_only_when_every_file_excludes_it(small_table, ranges, beyond):
    assert beyond_table(deltalake, small_table, 1, ranges) is beyond


def test_a_file_without_statistics_excludes_nothing(spark, small_table):
    spark.sql(f"ALTER TABLE delta.`{small_table}` ADD COLUMNS (n bigint)")  # older files: no stats for n
    assert beyond_table(deltalake, small_table, 2, {"n": Range(1, 1, False)}) is False
    assert beyond_table(deltalake, small_table, 0, {"k": Range(6, 6, False)}) is True  # as of version 0


def test_a_log_delta_rs_cannot_read_means_compare_as_before(small_table):
    assert beyond_table(deltalake, small_table, 99, {"k": Range(13, 20, False)}) is False  # no such version
