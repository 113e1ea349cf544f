"""Incremental runs equal a full rebuild from the same files, whatever was delivered.

The oracle for every check is a from-scratch run over the same landing files in a fresh lake, so
an incremental run that keeps a withdrawn customer, loses a row or duplicates one fails here.
"""
from __future__ import annotations

import dataclasses
import random
from types import SimpleNamespace

import pytest
from pyspark.sql import functions as F

from lakehouse.project import load_project
from lakehouse.results import INCREMENTAL, UP_TO_DATE
from lakehouse.zone import sources
from lakehouse.zone.context import Tables
from lakehouse.zone.targets import TargetMode
from tests import deliveries
from tests.conftest import STEDI_CONFIGS, project_for, run_all
from tests.helpers import TABLES, cached_frames, differences, rows_of, versions


def _run(spark, project, pipeline: str = "all", **kwargs):
    return run_all(spark, project, pipeline, **kwargs)


def _rebuild(spark, landing, tmp_path, name):
    fresh = project_for(STEDI_CONFIGS, landing, tmp_path / name / "lake")
    _run(spark, fresh)
    return fresh


def test_random_deliveries_incremental_equals_full_rebuild(spark, landing, project, tmp_path):
    rng = random.Random(3)
    # A customer withdraws and another consents, in a drawn order; a third delivery, drawn, lands
    # with the withdrawal (each run costs seconds of the suite's budget).
    steps = [deliveries.withdraw, deliveries.consent]
    rng.shuffle(steps)
    extra = rng.choice([deliveries.update_customer, deliveries.new_readings, deliveries.redeliver])
    held = cached_frames(spark)
    for i, step in enumerate(steps):
        done = step(landing, rng)
        assert done is not None, f"{step.__name__}: the sample has no customer to do it to"
        if done["kind"] == "withdraw":
            extra(landing, rng)
        result = _run(spark, project)
        assert {z.mode for z in result.zones if z.status != UP_TO_DATE} <= {INCREMENTAL}, \
            "a delivery is processed incrementally"
        # Incremental zones judged on their whole table once left GX's cached copy behind, which
        # every later write to the table planned again.
        assert cached_frames(spark) == held, "a run frees every frame it cached"
        if i == len(steps) - 1:  # one rebuild at the end: each rebuild is a full run of the suite's budget
            # The rebuild takes the large batches' dedupe (only keys that repeat, the path coded),
            # the deliveries the small ones': each is the other's oracle (a file delivered twice repeats keys).
            with pytest.MonkeyPatch.context() as patch:
                patch.setattr(sources, "CODE_PATHS_FROM", 0)
                oracle = _rebuild(spark, landing, tmp_path, "full")
            assert differences(spark, project, oracle) == {}, f"after {[s.__name__ for s in steps]} + {extra.__name__}"
        if done["kind"] == "withdraw":
            _assert_withdrawn(spark, project, done)
            assert {z.zone for z in result.zones if z.deleted} >= {
                "customer_trusted", "accelerometer_trusted", "customer_curated"}
        if done["kind"] == "consent":  # their readings had landed before: the join brings them in
            assert rows_of(spark, project, "accelerometer_trusted").where(f"user = '{done['email']}'").count() \
                == result.zone("accelerometer_trusted").inserted > 0
    # (--full-refresh over a changed lake is checked in test_operations: it finds nothing to change.)


def _assert_withdrawn(spark, project, done):
    email, serial = done["email"], done["serialNumber"]
    for table, column, value in [("customer_trusted", "email", email), ("customer_curated", "email", email),
                                 ("accelerometer_trusted", "user", email),
                                 ("step_trainer_trusted", "serialNumber", serial),
                                 ("machine_learning_curated", "serialNumber", serial)]:
        assert rows_of(spark, project, table).where(f"{column} = '{value}'").count() == 0, table


def test_unchanged_inputs_are_up_to_date_and_commit_nothing(spark, landing, project):
    before = versions(spark, project)
    again = _run(spark, project)
    assert [z.status for z in again.zones] == [UP_TO_DATE] * len(TABLES)
    assert versions(spark, project) == before, "an up-to-date zone commits nothing"
    assert all(z.timings.keys() == {"read"} for z in again.zones), "no stage past the input check ran"


def test_new_readings_are_read_once_from_new_files_and_appended_downstream_without_comparing(spark, landing, project, monkeypatch,
                                                                                            tmp_path):
    # A consenting customer with no readings yet, who then sends some: they join customer_curated.
    newcomer = deliveries.new_customer(landing, random.Random(2))
    _run(spark, project)
    assert rows_of(spark, project, "customer_trusted").where(F.col("email") == newcomer["email"]).count() == 1
    before = rows_of(spark, project, "accelerometer_landing").count()
    done = deliveries.new_readings(landing, random.Random(1), newcomer=(newcomer["email"], newcomer["serialNumber"]))
    result = _run(spark, project, pipeline="landing")  # what landing read is the point here
    acc = result.zone("accelerometer_landing")
    assert [f.path.rsplit("/", 1)[1] for f in acc.input_files] == \
        [sorted((landing / "accelerometer" / "landing").glob("*.json"))[-1].name]
    assert acc.rows_read == done["new"] + done["again"]
    assert (acc.inserted, acc.updated) == (done["new"], 0)
    assert rows_of(spark, project, "accelerometer_landing").count() == before + done["new"]
    assert result.zone("customer_landing").status == UP_TO_DATE

    # Landing only added rows, and accelerometer_trusted keeps one row per landing key: its new
    # rows are new keys, appended without comparing them with its table.
    trusted = rows_of(spark, project, "accelerometer_trusted").count()
    curated = rows_of(spark, project, "customer_curated").count()
    compared = []
    original = TargetMode.changes
    monkeypatch.setattr(TargetMode, "changes", lambda self, w, current: compared.append(w.location) or
                        original(self, w, current))
    reads, read = [], Tables.read
    monkeypatch.setattr(Tables, "read", lambda self, table: reads.append((self.zone.name, table)) or read(self, table))
    result = _run(spark, project)
    acc = result.zone("accelerometer_trusted")
    assert (acc.inserted, acc.updated, acc.deleted) == (done["new"], 0, 0), "every new reading is a consenting customer's"
    assert rows_of(spark, project, "accelerometer_trusted").count() == trusted + done["new"]
    assert not [c for c in compared if c.rstrip("/").endswith("/accelerometer_trusted")]
    assert ("accelerometer_trusted", "accelerometer_landing") not in reads, \
        "its new rows are what landing's change feed added: landing is not scanned for them"

    # customer_curated's source did not change and its semi-joined readings only gained rows: it
    # computes only the customers it lacked and appends them, without comparing.
    assert ("customer_curated", "customer_trusted") in reads, "its source did not gain the rows: read as before"
    assert not [c for c in compared if c.rstrip("/").endswith("/customer_curated")]
    cur = result.zone("customer_curated")
    assert (cur.rows_staged, cur.inserted, cur.updated, cur.deleted) == \
        (rows_of(spark, project, "customer_curated").count() - curated,) * 2 + (0, 0)
    assert cur.inserted >= 1
    # The oracle, apart from the engine: consenting customers with at least one trusted reading.
    table = rows_of(spark, project, "customer_curated")
    expected = (rows_of(spark, project, "customer_trusted")
                .join(rows_of(spark, project, "accelerometer_trusted").select("user"),
                      F.col("email") == F.col("user"), "left_semi").select(*table.columns))
    assert table.exceptAll(expected).count() == expected.exceptAll(table).count() == 0
    assert table.where(F.col("email") == newcomer["email"]).count() == 1
    # And every table, downstream ones too, equals a rebuild from the same files.
    assert differences(spark, project, _rebuild(spark, landing, tmp_path, "full")) == {}


@pytest.mark.parametrize("zone, case, takes", [
    ("customer_curated", "its semi-joined readings only gained rows", True),
    ("customer_curated", "its source changed too", False),
    ("customer_curated", "its semi-joined readings lost rows", False),
    ("customer_curated", "its table was restored", False),
    ("customer_curated", "its suite judges shares", False),
    ("machine_learning_curated", "the readings it inner-joins only gained rows", False),
])
def test_a_zone_appends_only_what_it_lacks_when_semi_joined_tables_only_gained_rows(zone, case, takes, monkeypatch):
    project = load_project(STEDI_CONFIGS)
    suite = project.suites.get(zone)
    if "shares" in case:
        suite = dataclasses.replace(suite, max_quarantined_fraction=0.01)
    # What the commits say is storage.only_inserts' to answer (test_commit); here, what follows from it.
    monkeypatch.setattr(sources, "only_inserts", lambda spark, location, after, upto: "lost" not in case)
    changed = {"accelerometer_trusted": 3, **({"customer_trusted": 2} if "source" in case else {})}
    tables = SimpleNamespace(graph=project.graph, version=lambda table: 7, location=lambda table: f"/lake/{table}")
    ctx = SimpleNamespace(zone=project.zones[zone], tables=tables, spark=None, suite=suite,
                          state=SimpleNamespace(restored="restored" in case))
    assert sources._only_gains(ctx, changed) is takes


def test_history_shows_the_ledger_for_people_and_scripts(spark, landing, project, monkeypatch):
    import json

    from click.testing import CliRunner

    from lakehouse.cli import cli

    _run(spark, project)  # up to date: a second run in the copied ledger
    env = project.env
    for key, value in (("STEDI_LANDING_ROOT", str(landing)), ("STEDI_LAKE_ROOT", env.lake_root),
                       ("STEDI_DATABASE", env.database), ("STEDI_REPORTS_ROOT", env.reports_root)):
        monkeypatch.setenv(key, value)
    shown = CliRunner().invoke(cli, ["--config-dir", str(STEDI_CONFIGS), "history", "--zone", "customer_trusted",
                                     "--json"])
    assert shown.exit_code == 0, shown.output
    rows = json.loads(shown.output)
    assert [(r["zone"], r["status"], r["mode"]) for r in rows] == [
        ("customer_trusted", "up to date", None), ("customer_trusted", "ok", "full")]
    assert rows[1]["inserted"] == rows_of(spark, project, "customer_trusted").count()
    assert rows[0]["input_versions"] == rows[1]["input_versions"] == {"customer_landing": 0}

    table = CliRunner().invoke(cli, ["--config-dir", str(STEDI_CONFIGS), "history"])
    assert table.exit_code == 0 and "machine_learning_curated" in table.output and "up to date" in table.output
    by_sql = CliRunner().invoke(cli, ["--config-dir", str(STEDI_CONFIGS), "sql",
                                      "SELECT count(*) AS n FROM lakehouse_runs WHERE status = 'up to date'"])
    assert by_sql.exit_code == 0 and "│ 8 " in by_sql.output, by_sql.output  # the ledger is a table like the others
    wrong = CliRunner().invoke(cli, ["--config-dir", str(STEDI_CONFIGS), "history", "--zone", "nope"])
    assert wrong.exit_code == 2 and "--zone: nope: is not a zone" in wrong.output
