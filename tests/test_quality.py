"""The quality gate: suites checked before Spark, then warn / quarantine / fail on staged rows."""
from __future__ import annotations

import json
import re
import shutil
from pathlib import Path

import pytest
from click.testing import CliRunner

from lakehouse.cli import cli
from lakehouse.engine import run_pipeline
from lakehouse.results import INCREMENTAL
from tests import deliveries
from tests.conftest import STEDI_CONFIGS, project_for, run_all
from tests.helpers import copy_lake, count, distinct_keys, landing_lines, table, zone_yaml


def suite_path(config_dir: Path, name: str) -> Path:
    return config_dir.parent.parent / "expectations" / f"{name}.json"


def add_expectation(config_dir: Path, suite: str, expectation: dict) -> None:
    path = suite_path(config_dir, suite)
    data = json.loads(path.read_text())
    data["expectations"].append(expectation)
    path.write_text(json.dumps(data, indent=2))


def validate(config_dir: Path):
    return CliRunner().invoke(cli, ["--config-dir", str(config_dir), "validate", "--fast"])


# --- suites are checked before any Spark work -------------------------------------------------

@pytest.mark.parametrize("expectation, key, says", [
    ({"type": "expect_column_values_to_be_blue", "kwargs": {"column": "x"}},
     "expectations[5] (expect_column_values_to_be_blue)", "GX cannot use this expectation"),
    ({"type": "expect_column_values_to_be_between", "kwargs": {"column": "x", "max_valu": 3}},
     "expectations[5] (expect_column_values_to_be_between)", "max_valu"),
    ({"type": "expect_table_row_count_to_be_between", "kwargs": {"min_value": 1}, "meta": {"action": "quarantine"}},
     "expectations[5].meta.action", "no single row can be quarantined"),
    ({"type": "expect_column_values_to_not_be_null", "kwargs": {"column": "x"}, "meta": {"action": "drop"}},
     "expectations[5].meta.action", "unknown action 'drop'"),
    ({"type": "expect_column_values_to_be_unique", "kwargs": {"column": "x"}, "meta": {"action": "quarantine"}},
     "expectations[5].meta.action", "judges rows together"),
    ({"type": "expect_column_values_to_be_in_set", "kwargs": {"column": "x", "value_set": []},
      "meta": {"action": "quarantine"}}, "expectations[5].kwargs.value_set", "is empty"),
])
def test_a_suite_gx_cannot_use_fails_validation_naming_file_and_expectation(config_dir, expectation, key, says):
    add_expectation(config_dir, "accelerometer_trusted", expectation)
    result = validate(config_dir)
    assert result.exit_code == 2, result.output
    assert f"{suite_path(config_dir, 'accelerometer_trusted')}: {key}:" in result.stderr
    assert says in result.stderr and "Traceback" not in result.stderr


def test_a_zone_naming_a_missing_suite_fails_validation(config_dir):
    zone = config_dir / "zones" / "customer_curated.yml"
    zone.write_text(zone.read_text().replace("target:", "expectations: no_such_suite\ntarget:"))
    result = validate(config_dir)
    assert result.exit_code == 2
    assert f"{zone}: expectations: no suite file" in result.stderr and "customer_curated" in result.stderr


def test_a_zone_overriding_an_unknown_expectation_fails_validation(config_dir):
    zone = config_dir / "zones" / "customer_curated.yml"
    zone.write_text(zone.read_text().replace("target:", "expectations:\n  actions: {email is unique: warn}\ntarget:"))
    result = validate(config_dir)
    assert result.exit_code == 2 and "email is unique" in result.stderr and "one row per email" in result.stderr


# --- the gate on data -------------------------------------------------------------------------

BAD_CUSTOMER = {"customerName": "No Email", "phone": "8015550000", "birthDay": "1990-01-01",
                "serialNumber": "11111111-2222-4333-8444-555555555555", "registrationDate": 1655564376361,
                "lastUpdateDate": 1655564376361, "shareWithResearchAsOfDate": 1655564376361}


@pytest.fixture(scope="module")
def dirty_run(spark, sample, tmp_path_factory):
    """Sample data plus a file of bad rows: a customer without email, a reading out of range."""
    base = tmp_path_factory.mktemp("dirty")
    landing = base / "landing"
    shutil.copytree(sample[0], landing)
    customers = [json.loads(line) for line in next((landing / "customer" / "landing").glob("*.json")).open()
                 if line.startswith("{") and line.rstrip().endswith("}")]
    trusted_email = next(c["email"] for c in customers if "shareWithResearchAsOfDate" in c)
    # Two customers without email: both quarantined, never folded into one by the dedupe on email.
    twin = {**BAD_CUSTOMER, "customerName": "No Email Either", "serialNumber": "31111111-2222-4333-8444-555555555555"}
    # And a customer and a reading delivered again: each folded into the first, stored once.
    (landing / "customer" / "landing" / "customer-9999999999998.json").write_text(
        json.dumps(BAD_CUSTOMER) + "\n" + json.dumps(twin) + "\n" + json.dumps(customers[0]) + "\n")
    reading = {"user": trusted_email, "timestamp": 1655564376000, "x": 99.0, "y": 0.0, "z": 0.0}
    again = json.loads(sorted((landing / "accelerometer" / "landing").glob("*.json"))[0].open().readline())
    (landing / "accelerometer" / "landing" / "accelerometer-9999999999998.json").write_text(
        json.dumps(reading) + "\n" + '{"user": "cut off\n' + json.dumps(again) + "\n")
    project = project_for(copy_project_dir(base), landing, base / "lake")
    result = run_pipeline(project, "all", spark=spark)
    return project, result, sample[1]


def copy_project_dir(base: Path) -> Path:
    from tests.conftest import copy_project

    return copy_project(base)


def _kept_in_run(spark, project, zone, run_id: str) -> list:
    """The rows a zone put in its quarantine table in one run (none if it never quarantined any)."""
    location = Path(project.env.table_path(zone.layer, f"{zone.table}_quarantine"))
    if not (location / "_delta_log").is_dir():
        return []
    return [r for r in spark.read.format("delta").load(str(location)).collect()
            if r.zone == zone.zone and r.run_id == run_id]


def _is_malformed(row) -> bool:
    return row.failed_expectations[0].startswith("malformed")


def test_bad_rows_go_to_quarantine_with_reasons_and_every_line_is_accounted_for(spark, dirty_run):
    project, result, manifest = dirty_run
    assert result.ok, [z.message for z in result.zones]
    customer = result.zone("customer_landing")
    assert customer.quarantined == 2 and customer.malformed == manifest["malformed"]["customer"]
    # Each term counted apart from the engine: lines, bad lines and folded keys from the files in
    # plain Python, quarantined rows from the quarantine table, promoted rows from the target table.
    for zone in result.zones:
        kept = _kept_in_run(spark, project, zone, result.run_id)
        failed = [r for r in kept if not _is_malformed(r)]
        stored = count(spark, project, zone.table)  # a first run into an empty lake: what was promoted
        assert (zone.quarantined, zone.promoted) == (len(failed), stored), zone.zone
        spec = zone_yaml(project.config_dir, zone.zone)
        if zone.layer != "landing":
            assert zone.rows_read == count(spark, project, spec["source"]["table"]), zone.zone
            continue
        assert not spec.get("filters"), "the oracle below does not apply a landing zone's filters"
        source = landing_lines(Path(project.env.landing_root) / spec["source"]["path"], spec["source"]["schema"])
        keys, keyless = distinct_keys(source["rows"], spec["target"]["merge_keys"])
        lines, folded = len(source["lines"]), len(source["rows"]) - len(keys) - keyless
        bad = sorted((r.source_file.rsplit("/", 1)[-1], r.raw) for r in kept if _is_malformed(r))
        assert bad == sorted(source["malformed"]), zone.zone
        assert (zone.rows_read, zone.malformed, zone.deduplicated) == (lines, len(bad), folded), zone.zone
        assert lines == len(bad) + folded + len(failed) + stored, f"{zone.zone}: a line is unaccounted for"
        if zone.zone != "step_trainer_landing":
            assert folded >= 1, "the fixture delivers a record again: the dedupe term is exercised"

    rows = table(spark, project, "customer_landing_quarantine").collect()
    no_email = [r for r in rows if list(r.failed_expectations) == ["email is present"]]
    assert sorted(json.loads(r.raw)["customerName"] for r in no_email) == ["No Email", "No Email Either"]
    assert all(r.source_file.endswith("customer-9999999999998.json") for r in no_email)
    assert sum(1 for r in rows if r.failed_expectations[0].startswith("malformed")) == manifest["malformed"]["customer"]
    assert count(spark, project, "customer_landing") == manifest["counts"]["customer_landing"]


def test_out_of_range_reading_is_quarantined_in_trusted_and_kept_out(spark, dirty_run):
    project, result, manifest = dirty_run
    trusted = result.zone("accelerometer_trusted")
    assert trusted.quarantined == 1
    outcome = {e.name: e for e in trusted.expectations}["x within the sensor's range"]
    assert (outcome.success, outcome.unexpected_count, outcome.taken) == (False, 1, "quarantined")
    assert table(spark, project, "accelerometer_trusted").where("x = 99.0").count() == 0
    assert count(spark, project, "accelerometer_trusted") == manifest["counts"]["accelerometer_trusted"]
    bad = table(spark, project, "accelerometer_trusted_quarantine").collect()
    assert [json.loads(r.raw)["x"] for r in bad] == [99.0]
    # the landing table keeps the reading: landing is what arrived, the gate guards trusted
    assert result.zone("accelerometer_landing").malformed == manifest["malformed"]["accelerometer"] + 1


def test_data_docs_index_lists_every_validated_suite(dirty_run):
    _, result, _ = dirty_run
    html = Path(result.data_docs).read_text()
    for zone in result.zones:
        assert zone.suite and zone.suite in html


def test_data_docs_render_each_run_once_and_the_index_links_the_newest(spark, sample, tmp_path, monkeypatch):
    """Each run renders its own validations only: the pages already there are left as they are, so
    a run's cost does not grow with the reports' history. The index links the newest ones."""
    from lakehouse.quality.gate import QualityGate

    project = project_for(STEDI_CONFIGS, sample[0], tmp_path / "lake")
    site = Path(project.env.reports_root) / QualityGate.DOCS

    def pages():
        return {p: p.stat().st_mtime_ns for p in (site / "validations").rglob("*.html")}

    first = run_all(spark, project, "customer_landing")
    before = pages()
    assert len(before) == 1, before
    second = run_all(spark, project, "customer_landing", full_refresh=True)  # validates again
    after = pages()
    assert {p: after[p] for p in before} == before, "the first run's page was rendered again"
    assert len(after) == 2
    index = (site / "index.html").read_text()
    assert f"{first.run_id}-customer_landing" in index and f"{second.run_id}-customer_landing" in index

    monkeypatch.setattr(QualityGate, "INDEX_LIMIT", 1)
    third = run_all(spark, project, "customer_landing", full_refresh=True)
    index = (site / "index.html").read_text()
    assert f"{third.run_id}-customer_landing" in index and f"{first.run_id}-customer_landing" not in index
    assert len(pages()) == 3, "older pages stay in the folder"


def test_summary_json_and_report_name_every_zone(dirty_run, monkeypatch):
    project, result, _ = dirty_run
    summary = json.loads(Path(result.summary_path).read_text())
    assert summary["run_id"] == result.run_id
    assert [z["zone"] for z in summary["zones"]] == [z.zone for z in result.zones]
    x_range = next(e for z in summary["zones"] if z["zone"] == "accelerometer_trusted"
                   for e in z["expectations"] if e["name"] == "x within the sensor's range")
    assert x_range["taken"] == "quarantined" and x_range["unexpected_count"] == 1

    monkeypatch.setenv("STEDI_REPORTS_ROOT", project.env.reports_root)
    monkeypatch.setenv("COLUMNS", "250")
    args = ["--config-dir", str(project.config_dir), "report"]
    shown = CliRunner().invoke(cli, args)
    assert shown.exit_code == 0, shown.output
    for zone in result.zones:
        assert zone.zone in shown.output
    assert result.data_docs in shown.output and "quarantined" in shown.output
    by_id = CliRunner().invoke(cli, [*args, "--run", result.run_id])
    assert by_id.exit_code == 0 and result.run_id in by_id.output
    missing = CliRunner().invoke(cli, [*args, "--run", "nope"])
    assert missing.exit_code == 2 and "no run report" in missing.stderr and result.run_id in missing.stderr


def _rerun(spark, dirty_run, tmp_path, suite: str, expectation: dict, pipeline: str = "all"):
    project = dirty_run[0]
    configs = copy_project_dir(tmp_path)
    add_expectation(configs, suite, expectation)
    lake = copy_lake(Path(project.env.lake_root), tmp_path / "lake")
    edited = project_for(configs, project.env.landing_root, lake)
    return edited, run_pipeline(edited, pipeline, spark=spark)


def _version(spark, project, table):
    return spark.sql(f"DESCRIBE HISTORY delta.`{project.env.table_path('trusted', table)}` LIMIT 1").first()["version"]


def test_a_broken_fail_expectation_promotes_nothing_and_skips_downstream(spark, dirty_run, tmp_path):
    # New landing data would change customer_trusted, but a fail expectation stops it.
    landing = tmp_path / "landing"
    shutil.copytree(dirty_run[0].env.landing_root, landing)
    (landing / "customer" / "landing" / "customer-9999999999999.json").write_text(json.dumps(
        {**BAD_CUSTOMER, "email": "New.Person@test.com", "serialNumber": "21111111-2222-4333-8444-555555555555"}) + "\n")
    configs = copy_project_dir(tmp_path)
    add_expectation(configs, "customer_trusted", {
        "type": "expect_column_values_to_be_between", "kwargs": {"column": "registrationDate", "max_value": 0},
        "meta": {"name": "registered before 1970", "action": "fail"}})
    lake = copy_lake(Path(dirty_run[0].env.lake_root), tmp_path / "lake")
    project = project_for(configs, landing, lake)
    before = _version(spark, project, "customer_trusted")

    result = run_pipeline(project, "all", spark=spark)
    trusted = result.zone("customer_trusted")
    assert not result.ok and trusted.status == "failed"
    assert "registered before 1970" in trusted.message and "nothing promoted" in trusted.message
    assert _version(spark, project, "customer_trusted") == before
    kept = spark.read.format("delta").load(project.env.table_path("trusted", "customer_trusted"))
    assert kept.count() == dirty_run[2]["counts"]["customer_trusted"]
    downstream = ["accelerometer_trusted", "customer_curated", "step_trainer_trusted", "machine_learning_curated"]
    assert [result.zone(z).status for z in downstream] == ["skipped"] * 4
    assert result.zone("customer_landing").status == "ok"  # upstream of the failure: unaffected


def test_the_cli_exits_non_zero_when_a_zone_fails(dirty_run, tmp_path, monkeypatch):
    project = dirty_run[0]
    configs = copy_project_dir(tmp_path)
    add_expectation(configs, "customer_curated", {
        "type": "expect_table_row_count_to_be_between", "kwargs": {"max_value": 0}, "meta": {"name": "empty"}})
    copy_lake(Path(project.env.lake_root), tmp_path / "lake")
    for key, value in (("STEDI_LANDING_ROOT", project.env.landing_root), ("STEDI_LAKE_ROOT", tmp_path / "lake"),
                       ("STEDI_DATABASE", "cli_fail"), ("STEDI_REPORTS_ROOT", tmp_path / "reports")):
        monkeypatch.setenv(key, str(value))
    result = CliRunner().invoke(cli, ["--config-dir", str(configs), "run", "--pipeline", "customer_curated"])
    assert result.exit_code == 1
    assert "customer_curated" in result.stderr and "empty" in result.stderr and "Traceback" not in result.stderr


def test_a_broken_warn_expectation_is_promoted_and_reported(spark, dirty_run, tmp_path):
    project, result = _rerun(spark, dirty_run, tmp_path, "step_trainer_trusted", {
        "type": "expect_column_values_to_be_between", "kwargs": {"column": "distanceFromObject", "max_value": 0},
        "meta": {"name": "distance is zero", "action": "warn"}}, pipeline="step_trainer_trusted")
    zone = result.zone("step_trainer_trusted")
    assert zone.status == "ok" and zone.quarantined == 0
    warned = {e.name: e for e in zone.expectations}["distance is zero"]
    assert (warned.success, warned.taken) == (False, "reported")
    assert warned.unexpected_count == zone.rows_staged == count(spark, project, "step_trainer_trusted")


def test_mostly_turns_too_many_quarantined_rows_into_a_fail(spark, dirty_run, tmp_path):
    _, result = _rerun(spark, dirty_run, tmp_path, "step_trainer_trusted", {
        "type": "expect_column_values_to_be_between",
        "kwargs": {"column": "distanceFromObject", "max_value": 0, "mostly": 0.9},
        "meta": {"name": "mostly zero", "action": "quarantine"}}, pipeline="step_trainer_trusted")
    zone = result.zone("step_trainer_trusted")
    assert zone.status == "failed" and "mostly zero" in zone.message


def test_max_quarantined_fraction_fails_the_zone(spark, dirty_run, tmp_path):
    project = dirty_run[0]
    configs = copy_project_dir(tmp_path)
    zone_file = configs / "zones" / "accelerometer_trusted.yml"
    zone_file.write_text(zone_file.read_text().replace(
        "target:", "expectations:\n  max_quarantined_fraction: 0.0\ntarget:"))
    lake = copy_lake(Path(project.env.lake_root), tmp_path / "lake")
    edited = project_for(configs, project.env.landing_root, lake)
    result = run_pipeline(edited, "accelerometer_trusted", spark=spark)
    zone = result.zone("accelerometer_trusted")
    assert zone.status == "failed"
    assert re.search(r"1 of \d+ rows would be quarantined, more than max_quarantined_fraction 0.0", zone.message)


def test_gx_runs_with_analytics_off(dirty_run):
    import os

    from lakehouse.quality.gate import QualityGate

    assert os.environ["GX_ANALYTICS_ENABLED"] == "false"  # set before GX is first imported
    gate = QualityGate(dirty_run[0].env.reports_root, "probe")
    assert gate.context.variables.analytics_enabled is False


def test_rerunning_landing_keeps_each_bad_line_once(spark, dirty_run):
    project = dirty_run[0]
    before = table(spark, project, "customer_landing_quarantine").count()
    # A full refresh reads every file again, bad lines included (an incremental run reads no old file).
    again = run_pipeline(project, "customer_landing", spark=spark, full_refresh=True)
    assert again.ok and again.zone("customer_landing").quarantined == 2
    assert table(spark, project, "customer_landing_quarantine").count() == before


def test_a_fail_expectation_within_mostly_passes(spark, dirty_run, tmp_path):
    _, result = _rerun(spark, dirty_run, tmp_path, "step_trainer_trusted", {
        "type": "expect_column_values_to_be_between",
        "kwargs": {"column": "distanceFromObject", "max_value": 0, "mostly": 0.0},
        "meta": {"name": "tolerated", "action": "fail"}}, pipeline="step_trainer_trusted")
    zone = result.zone("step_trainer_trusted")
    tolerated = {e.name: e for e in zone.expectations}["tolerated"]
    assert zone.status == "ok" and tolerated.success and tolerated.unexpected_count == zone.rows_staged
    assert tolerated.taken == "none"


def test_a_trusted_row_quarantined_again_is_kept_once(spark, dirty_run, tmp_path):
    """The out-of-range reading is judged again when its customer changes (an incremental run
    recomputes all of that customer's readings) and on a full refresh: the quarantine keeps it once."""
    project, first, _ = dirty_run
    landing = Path(shutil.copytree(project.env.landing_root, tmp_path / "landing"))  # times kept: known files
    again = project_for(project.config_dir, landing, copy_lake(Path(project.env.lake_root), tmp_path / "lake"))

    def kept():
        rows = table(spark, again, "accelerometer_trusted_quarantine").collect()
        return [(json.loads(r.raw)["user"], json.loads(r.raw)["x"], r.run_id) for r in rows]

    owner = kept()[0][0]
    assert kept() == [(owner, 99.0, first.run_id)]
    record = {**deliveries.customers(landing)[owner], "phone": "8015559999"}
    record["lastUpdateDate"] = record.get("lastUpdateDate", 0) + 1000
    (landing / "customer" / "landing" / "customer-9999999999999.json").write_text(json.dumps(record) + "\n")

    delivered = run_pipeline(again, "customer_landing,customer_trusted,accelerometer_trusted", spark=spark)
    assert delivered.ok, [z.message for z in delivered.zones]
    zone = delivered.zone("accelerometer_trusted")
    assert (zone.mode, zone.quarantined) == (INCREMENTAL, 1), "the reading was judged again"
    assert kept() == [(owner, 99.0, first.run_id)], "kept once, from the run that first quarantined it"

    refreshed = run_pipeline(again, "accelerometer_trusted", spark=spark, full_refresh=True)
    assert refreshed.ok and refreshed.zone("accelerometer_trusted").quarantined == 1
    assert kept() == [(owner, 99.0, first.run_id)]
    assert table(spark, again, "accelerometer_trusted").where("x = 99.0").count() == 0
