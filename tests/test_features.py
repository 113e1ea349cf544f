"""Each zone feature on tiny generated data, checked against an independent computation."""
from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest
from pyspark.sql import functions as F

from lakehouse.engine import run_pipeline
from tests.conftest import STEDI_CONFIGS, copy_project, project_for
from tests.helpers import copy_lake, count, table, versions

TABLES = ["customer_landing", "accelerometer_landing", "step_trainer_landing", "customer_trusted",
          "accelerometer_trusted", "customer_curated", "step_trainer_trusted", "machine_learning_curated"]


@pytest.fixture(scope="module")
def sample_run(first_run, sample, tmp_path_factory):
    """The suite's first run of the sample, its lake copied for this module's tests."""
    root, result = first_run
    lake = copy_lake(root / "lake", tmp_path_factory.mktemp("sample") / "lake")
    shutil.copytree(root / "reports", lake.parent / "reports")  # the run's summary, for `report --run`
    return project_for(STEDI_CONFIGS, root / "landing", lake), lake, result, sample[1]


def test_stedi_counts_match_the_generators_manifest(spark, sample_run):
    project, _, _, manifest = sample_run
    assert {t: count(spark, project, t) for t in TABLES} == {t: manifest["counts"][t] for t in TABLES}


def test_malformed_lines_are_counted_and_quarantined_with_their_file(spark, sample_run):
    project, _, result, manifest = sample_run
    for source, bad in manifest["malformed"].items():
        zone = result.zone(f"{source}_landing")
        assert zone.malformed == bad
        assert zone.rows_read == manifest["counts"][f"{source}_landing"] + bad  # nothing lost
        rows = table(spark, project, f"{source}_landing_quarantine").collect()
        assert len(rows) == bad
        assert all(r["raw"] and f"/{source}/landing/" in r["source_file"] and r["run_id"] == result.run_id
                   for r in rows)
    raws = [r["raw"] for r in table(spark, project, "accelerometer_landing_quarantine").collect()]
    assert any('"x":"abc"' in raw for raw in raws), "a wrongly typed value is malformed, not a null"


def test_landing_keeps_audit_columns(spark, sample_run):
    project = sample_run[0]
    df = table(spark, project, "step_trainer_landing")
    assert {"_source_file", "_ingested_at"} <= set(df.columns)
    assert df.where("_source_file IS NULL OR _ingested_at IS NULL").count() == 0
    assert "_source_file" not in table(spark, project, "step_trainer_trusted").columns


def test_rerun_on_unchanged_input_writes_nothing(spark, sample_run):
    project = sample_run[0]
    before = versions(spark, project)
    again = run_pipeline(project, "all", spark=spark)
    assert [(z.inserted, z.updated, z.files_added) for z in again.zones] == [(0, 0, 0)] * len(TABLES)
    assert versions(spark, project) == before, "no commit at all when nothing changed"


@pytest.fixture
def lab(spark, sample_run, tmp_path):
    """A copy of the sample run's lake and configs, to which a test adds zones by YAML alone."""
    project, lake, _, _ = sample_run
    configs = copy_project(tmp_path)

    def add_zone(text: str, pipeline: str, ok: bool = True):
        (configs / "zones" / f"{pipeline}.yml").write_text(text)
        lab_project = project_for(configs, project.env.landing_root, lab_lake)
        result = run_pipeline(lab_project, pipeline, spark=spark)
        if not ok:
            return lab_project, result, None
        assert result.ok, [z.message for z in result.zones]
        return lab_project, result, table(spark, lab_project, f"{pipeline}")

    lab_lake = copy_lake(lake, tmp_path / "lake")
    return project, add_zone


def _table(spark, project, name):
    return table(spark, project, f"{name}")


def test_anti_join_keeps_customers_without_consent(spark, lab):
    base, add_zone = lab
    _, _, df = add_zone("""
name: customer_no_consent
layer: trusted
source: {table: customer_landing, alias: c}
joins:
  - {table: customer_trusted, alias: t, type: anti, on: c.email = t.email}
columns: {select: [email, serialNumber]}
expectations: false  # a test zone: only its merge keys are checked
target: {table: customer_no_consent, merge_keys: [email]}
""", "customer_no_consent")
    landing = _table(spark, base, "customer_landing").where("shareWithResearchAsOfDate IS NULL")
    assert sorted(r.email for r in df.collect()) == sorted(r.email for r in landing.collect())
    assert df.columns == ["email", "serialNumber"]


def test_left_join_keeps_unmatched_rows_with_nulls(spark, lab):
    base, add_zone = lab
    _, _, df = add_zone("""
name: reading_owner
layer: trusted
source: {table: accelerometer_landing, alias: a}
joins:
  - table: customer_trusted
    alias: c
    type: left
    on: a.user = c.email
    columns: [c.serialNumber AS owner_serial]
columns: {drop: [_source_file, _ingested_at]}
expectations: false  # a test zone: only its merge keys are checked
target: {table: reading_owner, merge_keys: [user, timestamp, x, y, z]}
""", "reading_owner")
    assert df.count() == count(spark, base, "accelerometer_landing")
    assert df.where("owner_serial IS NOT NULL").count() == count(spark, base, "accelerometer_trusted")


def test_derive_select_rename_drop_and_filters(spark, lab):
    base, add_zone = lab
    _, _, df = add_zone("""
name: reading_features
layer: curated
source: {table: accelerometer_trusted}
filters:
  - x > 0
  - y IS NOT NULL
columns:
  derive:
    magnitude: sqrt(x * x + y * y + z * z)
    reading_date: to_date(timestamp_millis(timestamp))
    scratch: x * 2
  select: [user, timestamp, x, y, z, magnitude, reading_date, scratch]
  rename: {user: email}
  drop: [scratch]
expectations: false  # a test zone: only its merge keys are checked
target: {table: reading_features, merge_keys: [email, timestamp, x, y, z]}
""", "reading_features")
    assert df.columns == ["email", "timestamp", "x", "y", "z", "magnitude", "reading_date"]
    expected = _table(spark, base, "accelerometer_trusted").where("x > 0 AND y IS NOT NULL")
    assert df.count() == expected.count() > 0
    row = df.orderBy("email", "timestamp", "x", "z").first()
    assert row.magnitude == pytest.approx((row.x ** 2 + row.y ** 2 + row.z ** 2) ** 0.5)
    assert str(row.reading_date) == str(spark.sql(f"SELECT to_date(timestamp_millis({row.timestamp}L))").first()[0])


def test_dedupe_keeps_the_first_row_by_order_by(spark, lab):
    base, add_zone = lab
    _, result, df = add_zone("""
name: latest_reading
layer: curated
source: {table: accelerometer_trusted}
dedupe:
  keys: [user]
  order_by: [timestamp DESC, x DESC, y DESC, z DESC]
expectations: false  # a test zone: only its merge keys are checked
target: {table: latest_reading, merge_keys: [user]}
""", "latest_reading")
    trusted = _table(spark, base, "accelerometer_trusted")
    latest = trusted.groupBy("user").agg(F.max("timestamp").alias("timestamp"))
    assert sorted((r.user, r.timestamp) for r in df.collect()) == sorted((r.user, r.timestamp) for r in latest.collect())
    assert result.zones[0].rows_read == trusted.count() > df.count()


def test_a_new_sql_zone_needs_only_a_yaml_file(spark, lab):
    base, add_zone = lab
    _, _, df = add_zone("""
name: daily_reading_counts
layer: curated
description: Readings per customer per day.
sql:
  uses: [accelerometer_trusted]
  query: |
    SELECT user, to_date(timestamp_millis(timestamp)) AS day, count(*) AS readings
    FROM accelerometer_trusted
    GROUP BY user, to_date(timestamp_millis(timestamp))
expectations: false  # a test zone: only its merge keys are checked
target: {table: daily_reading_counts, merge_keys: [user, day]}
""", "daily_reading_counts")
    expected = _table(spark, base, "accelerometer_trusted") \
        .groupBy("user", F.to_date(F.timestamp_millis("timestamp")).alias("day")).count()
    assert sorted((r.user, r.day, r.readings) for r in df.collect()) == \
        sorted((r.user, r.day, r["count"]) for r in expected.collect())


def test_bad_sql_fails_the_zone_naming_its_file(spark, lab):
    _, add_zone = lab
    _, result, _ = add_zone("""
name: broken_sql
layer: curated
sql: {uses: [accelerometer_trusted], query: "SELECT no_such_column FROM accelerometer_trusted"}
expectations: false  # a test zone: only its merge keys are checked
target: {table: broken_sql, merge_keys: [no_such_column]}
""", "broken_sql", ok=False)
    zone = result.zone("broken_sql")
    assert zone.status == "failed" and not result.ok
    assert "zones/broken_sql.yml" in zone.message and "Spark rejected the zone" in zone.message
    assert "no_such_column" in zone.message and "\n" not in zone.message  # one line for the terminal
    # The run's log keeps what the terminal does not: each stage, and the whole traceback.
    log = Path(result.summary_path).with_suffix(".log").read_text()
    assert "broken_sql: read" in log and "broken_sql failed: zone broken_sql" in log
    assert "Traceback (most recent call last)" in log and "AnalysisException" in log


def test_changed_landing_file_updates_and_duplicates_collapse(spark, sample, sample_run, tmp_path):
    landing_src, _ = sample
    project, lake, _, _ = sample_run
    landing = tmp_path / "landing"
    shutil.copytree(landing_src, landing)
    customer_file = next((landing / "customer" / "landing").glob("*.json"))
    records = []
    for line in customer_file.read_text().splitlines():
        try:
            records.append(json.loads(line))
        except json.JSONDecodeError:
            pass
    consenting = next(r for r in records if "shareWithResearchAsOfDate" in r)
    changed = {**consenting, "customerName": "Renamed Person", "lastUpdateDate": consenting["lastUpdateDate"] + 5}
    repeated = records[0]  # the same record delivered again in a later file: nothing changes
    (customer_file.parent / "customer-9999999999999.json").write_text(json.dumps(changed) + "\n" + json.dumps(repeated) + "\n")

    changed_project = project_for(STEDI_CONFIGS, landing, copy_lake(lake, tmp_path / "lake"))
    result = run_pipeline(changed_project, "customer_landing,customer_trusted", spark=spark)
    landing_zone, trusted_zone = result.zones
    # Only the new file is read: its repeated record folds into the changed one (same email).
    assert landing_zone.input_files[0].path.endswith("customer-9999999999999.json")
    assert (landing_zone.rows_read, landing_zone.deduplicated) == (2, 1)
    assert (landing_zone.inserted, landing_zone.updated) == (0, 1)
    assert (trusted_zone.inserted, trusted_zone.updated) == (0, 1)
    names = _table(spark, changed_project, "customer_trusted").where(f"email = '{changed['email']}'").collect()
    assert [r.customerName for r in names] == ["Renamed Person"]


def test_running_a_zone_before_its_upstream_says_which_to_run(spark, tmp_path, sample):
    project = project_for(STEDI_CONFIGS, sample[0], tmp_path / "empty_lake")
    result = run_pipeline(project, "trusted", spark=spark)
    first = result.zone("customer_trusted")
    assert first.status == "failed"
    assert "customer_landing" in first.message and "lakehouse run --pipeline customer_landing" in first.message
    assert result.zone("accelerometer_trusted").status == "skipped"


def test_cli_reads_results_from_the_catalog(sample_run, monkeypatch):
    from click.testing import CliRunner

    from lakehouse.cli import cli

    project = sample_run[0]
    monkeypatch.setenv("STEDI_LAKE_ROOT", project.env.lake_root)
    monkeypatch.setenv("STEDI_DATABASE", project.env.database)
    monkeypatch.setenv("COLUMNS", "200")
    args = ["--config-dir", str(STEDI_CONFIGS)]
    runner = CliRunner()

    import lakehouse.runtime.session

    def no_spark(*args, **kwargs):
        raise AssertionError("counts and show read a local lake with delta-rs, without a JVM")

    with monkeypatch.context() as patched:
        patched.setattr(lakehouse.runtime.session, "get_session", no_spark)
        counts = runner.invoke(cli, [*args, "counts"])
        assert counts.exit_code == 0, counts.output
        shown = {line.split("│")[1].strip(): line.split("│")[3].strip()
                 for line in counts.output.splitlines() if line.count("│") == 4}
        assert shown == {t: f"{sample_run[3]['counts'][t]:,}" for t in TABLES}
        show = runner.invoke(cli, [*args, "show", "step_trainer_trusted", "--limit", "2"])
        assert show.exit_code == 0, show.output
        assert f"step_trainer_trusted: {sample_run[3]['counts']['step_trainer_trusted']:,} rows (first 2)" in show.output
        assert sum(1 for line in show.output.splitlines() if "-" in line and line.count("│") == 4) == 2

    sql = runner.invoke(cli, [*args, "sql", f"SELECT count(*) AS n FROM {project.env.database}.customer_curated"])
    assert sql.exit_code == 0 and str(sample_run[3]["counts"]["customer_curated"]) in sql.output

    missing = runner.invoke(cli, [*args, "show", "no_such_table"])
    assert missing.exit_code == 2 and "no table" in missing.stderr and "customer_trusted" in missing.stderr

    bad_sql = runner.invoke(cli, [*args, "sql", "SELEC nonsense"])
    assert bad_sql.exit_code == 2 and "query failed" in bad_sql.stderr and "Traceback" not in bad_sql.stderr


def test_missing_landing_files_fail_the_zone_with_a_hint(spark, tmp_path):
    project = project_for(STEDI_CONFIGS, tmp_path / "no_landing", tmp_path / "lake")
    result = run_pipeline(project, "customer_landing,customer_trusted", spark=spark)
    landing = result.zone("customer_landing")
    assert landing.status == "failed" and "cannot read landing files" in landing.message
    assert "customer/landing" in landing.message and "generate-sample" in landing.message
    assert result.zone("customer_trusted").status == "skipped"


def test_json_output_for_scripts(sample_run, monkeypatch):
    """--json on run, report, counts and history: plain JSON alone on stdout, parsed here."""
    import json

    from click.testing import CliRunner

    from lakehouse.cli import cli

    project, lake, first, manifest = sample_run
    monkeypatch.setenv("STEDI_LAKE_ROOT", project.env.lake_root)
    monkeypatch.setenv("STEDI_DATABASE", project.env.database)
    monkeypatch.setenv("STEDI_REPORTS_ROOT", project.env.reports_root)
    monkeypatch.setenv("STEDI_LANDING_ROOT", project.env.landing_root)
    runner = CliRunner()
    args = ["--config-dir", str(STEDI_CONFIGS)]

    def as_json(*command):
        result = runner.invoke(cli, [*args, *command, "--json"])
        assert result.exit_code == 0, result.output
        return json.loads(result.stdout)

    counted = as_json("counts")
    assert {c["table"]: c["rows"] for c in counted} == {t: manifest["counts"][t] for t in TABLES}
    rerun = as_json("run", "--pipeline", "all")
    assert {z["zone"]: z["status"] for z in rerun["zones"]} == {z.zone: "up to date" for z in first.zones}
    assert as_json("report", "--run", first.run_id)["run_id"] == first.run_id
    assert as_json("report")["run_id"] == rerun["run_id"]  # the latest
    runs = (first.run_id, rerun["run_id"])  # other tests run on this lake too
    ledger = as_json("history", "--limit", "1000")
    assert {(r["run_id"], r["zone"]) for r in ledger if r["run_id"] in runs} == \
        {(run, z.zone) for run in runs for z in first.zones}


def test_a_table_registered_again_at_another_location_is_re_pointed_in_the_same_process(spark, tmp_path):
    """register remembers where this process named each table (a commit then skips DESCRIBE
    DETAIL); a new location must still move the name, and the table then reads the new rows."""
    from lakehouse import catalog
    from lakehouse.config.models import Environment

    env = Environment(name="test", landing_root=str(tmp_path), lake_root=str(tmp_path / "lake"),
                      database="t_repoint", reports_root=str(tmp_path / "reports"))
    catalog.ensure_database(spark, env)
    old, new = str(tmp_path / "old"), str(tmp_path / "new")
    spark.range(2).write.format("delta").save(old)
    spark.range(5).write.format("delta").save(new)
    for location, rows in ((old, 2), (old, 2), (new, 5), (new, 5)):
        catalog.register(spark, env, "numbers", location)
        assert spark.table("t_repoint.numbers").count() == rows, location
