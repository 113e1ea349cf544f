"""Landing folders as they really arrive: a partitioned table, a new key in the JSON, a file of
nothing but bad lines, a file that is not JSON at all.

One run of the landing zones (and of a small zone that passes step_trainer_landing's columns
through) over a private copy of the tiny sample with those files added. Each check counts the
lines itself, in plain Python (``tests.helpers.landing_lines``), or takes the generator's manifest,
never the engine's own counters; the schema change is also compared with a fresh build.
"""
from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest

from lakehouse.engine import run_pipeline
from lakehouse.results import FULL, INCREMENTAL
from tests.conftest import copy_project, project_for
from tests.helpers import copy_lake, count, distinct_keys, edit, landing_lines, table, zone_yaml

PARTITION = "serialNumber"

# A customer file in which no line is a record: cut off, prose, a wrongly typed value.
ONLY_BAD_FILE = "customer-1700000000000.json"
ONLY_BAD_LINES = [
    '{"customerName": "Cut Off", "email": "Cut.Off@te',
    "customer export failed, see the log",
    '{"customerName": "Wrong Type", "email": "Wrong.Type@test.com", "registrationDate": "yesterday"}',
]

# Files that are not JSON in the accelerometer folder: a note someone dropped there, and a CSV.
NOT_JSON = {
    "notes.txt": "Delivery of 2022-06-18.\n\nReadings resent after the outage, see ticket 42.\n",
    "readings.csv": "user,timestamp,x,y,z\nSarah.Ahmed@test.com,1655562004338,0.0,1.0,1.0\n",
}

# New step trainer readings that carry a key the zone does not declare (yet).
NEW_KEY, NEW_KEY_TYPE = "firmware", "string"
EVOLVED_FILE = "step_trainer-1700000000000.json"
# A zone downstream that passes the landing's columns through (as step_trainer_trusted does).
PASS_THROUGH = """
name: step_trainer_readings
layer: trusted
source: {table: step_trainer_landing}
columns: {drop: [_source_file, _ingested_at]}
expectations: false  # a test zone: only its merge keys are checked
target: {table: step_trainer_readings, merge_keys: [serialNumber, sensorReadingTime]}
"""


def _step_rows(landing: Path) -> list[dict]:
    """Three new readings (two with firmware), and an old reading delivered again with firmware."""
    first = json.loads((sorted((landing / "step_trainer" / "landing").glob("*.json"))[0]).open().readline())
    serial, start = first["serialNumber"], 1655600000000
    return [
        {"sensorReadingTime": start, "serialNumber": serial, "distanceFromObject": 201, NEW_KEY: "2.1.0"},
        {"sensorReadingTime": start + 1000, "serialNumber": serial, "distanceFromObject": 202, NEW_KEY: "2.1.1"},
        {"sensorReadingTime": start + 2000, "serialNumber": serial, "distanceFromObject": 203},
        {**first, NEW_KEY: "1.9.0"},
    ]


@pytest.fixture(scope="module")
def edges(spark, sample, tmp_path_factory):
    root = tmp_path_factory.mktemp("edges")
    landing = Path(shutil.copytree(sample[0], root / "landing", ignore=shutil.ignore_patterns("manifest.json")))
    (landing / "customer" / "landing" / ONLY_BAD_FILE).write_text("".join(f"{line}\n" for line in ONLY_BAD_LINES))
    for name, text in NOT_JSON.items():
        (landing / "accelerometer" / "landing" / name).write_text(text)
    step_rows = _step_rows(landing)
    (landing / "step_trainer" / "landing" / EVOLVED_FILE).write_text("".join(json.dumps(r) + "\n" for r in step_rows))

    configs = copy_project(root)
    edit(configs / "zones" / "step_trainer_landing.yml", "  merge_keys: [serialNumber, sensorReadingTime]\n",
         f"  merge_keys: [serialNumber, sensorReadingTime]\n  partition_by: [{PARTITION}]\n")
    (configs / "zones" / "step_trainer_readings.yml").write_text(PASS_THROUGH)
    project = project_for(configs, landing, root / "lake")
    result = run_pipeline(project, "landing,step_trainer_readings", spark=spark)
    assert result.ok, [z.message for z in result.zones]
    return {"root": root, "landing": landing, "configs": configs, "project": project, "result": result,
            "manifest": sample[1], "step_rows": step_rows}


def _source(edges, zone: str) -> dict[str, list]:
    spec = zone_yaml(edges["configs"], zone)["source"]
    return landing_lines(edges["landing"] / spec["path"], spec["schema"])


def _quarantined(spark, project, table_name: str, file_name: str) -> list:
    rows = table(spark, project, f"{table_name}_quarantine").collect()
    return [r for r in rows if r.source_file.rsplit("/", 1)[-1] == file_name]


def _expected_step_keys(edges) -> set:
    src = _source(edges, "step_trainer_landing")
    keys, keyless = distinct_keys(src["rows"], ["serialNumber", "sensorReadingTime"])
    assert keyless == 0
    return keys


# --- target.partition_by ------------------------------------------------------------------------

def test_partition_by_lays_the_table_out_by_that_column_and_keeps_every_row(edges):
    from deltalake import DeltaTable

    project, manifest = edges["project"], edges["manifest"]
    keys = _expected_step_keys(edges)
    assert len(keys) == manifest["counts"]["step_trainer_landing"] + 3  # the fourth reading had landed before
    delta = DeltaTable(project.env.table_path("landing", "step_trainer_landing"))  # delta-rs: no Spark
    assert delta.metadata().partition_columns == [PARTITION]
    assert delta.file_uris() and all(f"/{PARTITION}=" in uri for uri in delta.file_uris())
    data = delta.to_pyarrow_table()
    assert data.num_rows == len(keys)
    assert set(zip(data.column("serialNumber").to_pylist(), data.column("sensorReadingTime").to_pylist())) == keys
    # unpartitioned tables stay so
    assert DeltaTable(project.env.table_path("landing", "customer_landing")).metadata().partition_columns == []


# --- a file of only malformed lines ------------------------------------------------------------

def test_a_file_of_only_malformed_lines_is_counted_and_kept_line_by_line(spark, edges):
    project, manifest = edges["project"], edges["manifest"]
    zone = edges["result"].zone("customer_landing")
    src = _source(edges, "customer_landing")
    assert [text for name, text in src["malformed"] if name == ONLY_BAD_FILE] == ONLY_BAD_LINES  # the oracle agrees
    assert zone.status == "ok"
    assert zone.malformed == len(src["malformed"]) == manifest["malformed"]["customer"] + len(ONLY_BAD_LINES)
    assert zone.rows_read == len(src["lines"])
    kept = _quarantined(spark, project, "customer_landing", ONLY_BAD_FILE)
    assert sorted(r.raw for r in kept) == sorted(ONLY_BAD_LINES), "each line kept once, with its raw text"
    assert all(r.failed_expectations[0].startswith("malformed") and r.run_id == edges["result"].run_id for r in kept)
    assert count(spark, project, "customer_landing") == manifest["counts"]["customer_landing"]
    assert table(spark, project, "customer_landing").where(f"_source_file LIKE '%{ONLY_BAD_FILE}'").count() == 0


# --- files that are not JSON -------------------------------------------------------------------

def test_files_that_are_not_json_are_quarantined_line_by_line_not_lost(spark, edges):
    project, manifest = edges["project"], edges["manifest"]
    zone = edges["result"].zone("accelerometer_landing")
    src = _source(edges, "accelerometer_landing")
    assert zone.status == "ok"
    foreign = 0
    for name, text in NOT_JSON.items():
        lines = [line for line in text.split("\n") if line.strip()]  # a blank line is no record
        foreign += len(lines)
        assert sorted(t for n, t in src["malformed"] if n == name) == sorted(lines)  # the oracle agrees
        kept = _quarantined(spark, project, "accelerometer_landing", name)
        assert sorted(r.raw for r in kept) == sorted(lines), name
        assert all(r.failed_expectations[0].startswith("malformed") for r in kept)
    assert zone.malformed == len(src["malformed"]) == manifest["malformed"]["accelerometer"] + foreign
    assert zone.rows_read == len(src["lines"])
    assert count(spark, project, "accelerometer_landing") == manifest["counts"]["accelerometer_landing"]


# --- schema evolution: a new key in the landing JSON -------------------------------------------

def _rows_by_name(spark, project, layer: str, name: str):
    df = spark.read.format("delta").load(project.env.table_path(layer, name)).drop("_source_file", "_ingested_at")
    return df.select(*sorted(df.columns))


def test_a_new_json_key_is_ignored_until_declared_then_fills_the_new_column(spark, edges, tmp_path):
    from deltalake import DeltaTable

    project, step_rows = edges["project"], edges["step_rows"]
    keys = _expected_step_keys(edges)
    with_key = {(r["serialNumber"], r["sensorReadingTime"]): r[NEW_KEY] for r in step_rows if NEW_KEY in r}

    # Undeclared: the rows load (not malformed), the table keeps its declared columns.
    first = edges["result"].zone("step_trainer_landing")
    assert first.malformed == edges["manifest"]["malformed"]["step_trainer"]
    assert table(spark, project, "step_trainer_landing").columns == \
        ["sensorReadingTime", "serialNumber", "distanceFromObject", "_source_file", "_ingested_at"]

    # Declared in the zone (and its suite): the zone's fingerprint changes and it recomputes; the
    # zone downstream, unchanged, runs incrementally on the landing table's change feed.
    shutil.copytree(edges["root"] / "configs", tmp_path / "configs")
    shutil.copytree(edges["root"] / "expectations", tmp_path / "expectations")
    configs = tmp_path / "configs" / "stedi"
    edit(configs / "zones" / "step_trainer_landing.yml", "    distanceFromObject: int\n",
         f"    distanceFromObject: int\n    {NEW_KEY}: {NEW_KEY_TYPE}\n")
    edit(tmp_path / "expectations" / "step_trainer_landing.json", '"distanceFromObject",\n',
         f'"distanceFromObject",\n          "{NEW_KEY}",\n')
    evolved = project_for(configs, edges["landing"], copy_lake(Path(project.env.lake_root), tmp_path / "lake"))
    result = run_pipeline(evolved, "step_trainer_landing,step_trainer_readings", spark=spark)
    assert result.ok, [z.message for z in result.zones]
    landing, downstream = result.zone("step_trainer_landing"), result.zone("step_trainer_readings")
    assert (landing.mode, downstream.mode) == (FULL, INCREMENTAL)
    for zone in (landing, downstream):  # the rows that carry the key gain its value; nothing else moves
        assert (zone.inserted, zone.updated, zone.deleted) == (0, len(with_key), 0), zone.zone

    for name in ("step_trainer_landing", "step_trainer_readings"):
        df = table(spark, evolved, name)
        assert NEW_KEY in df.columns and df.count() == len(keys), name
        got = {(r.serialNumber, r.sensorReadingTime): r[NEW_KEY] for r in df.where(f"{NEW_KEY} IS NOT NULL").collect()}
        assert got == with_key, name
    delta = DeltaTable(evolved.env.table_path("landing", "step_trainer_landing"))
    assert delta.metadata().partition_columns == [PARTITION], "the MERGE keeps the partitioning"

    # The same tables as a fresh build from the same files with the new schema.
    fresh = project_for(configs, edges["landing"], tmp_path / "fresh" / "lake")
    assert run_pipeline(fresh, "step_trainer_landing,step_trainer_readings", spark=spark).ok
    for layer, name in (("landing", "step_trainer_landing"), ("trusted", "step_trainer_readings")):
        a, b = _rows_by_name(spark, evolved, layer, name), _rows_by_name(spark, fresh, layer, name)
        assert a.columns == b.columns, name
        assert (a.count(), a.exceptAll(b).count(), b.exceptAll(a).count()) == (len(keys), 0, 0), name

    # A column declared that no file carries: no row changes anywhere, and the zone downstream has
    # nothing in its scope, yet both tables gain the column (all null), as a rebuild would have it.
    edit(configs / "zones" / "step_trainer_landing.yml", f"    {NEW_KEY}: {NEW_KEY_TYPE}\n",
         f"    {NEW_KEY}: {NEW_KEY_TYPE}\n    never_sent: string\n")
    edit(tmp_path / "expectations" / "step_trainer_landing.json", f'"{NEW_KEY}",\n', f'"{NEW_KEY}",\n "never_sent",\n')
    before = {name: _rows_by_name(spark, evolved, layer, name).columns
              for layer, name in (("landing", "step_trainer_landing"), ("trusted", "step_trainer_readings"))}
    later = project_for(configs, edges["landing"], Path(evolved.env.lake_root))
    result = run_pipeline(later, "step_trainer_landing,step_trainer_readings", spark=spark)
    assert result.ok, [z.message for z in result.zones]
    downstream = result.zone("step_trainer_readings")
    assert (downstream.mode, downstream.inserted, downstream.updated, downstream.deleted) == (INCREMENTAL, 0, 0, 0)
    for layer, name in (("landing", "step_trainer_landing"), ("trusted", "step_trainer_readings")):
        df = _rows_by_name(spark, later, layer, name)
        assert df.columns == sorted([*before[name], "never_sent"]), name
        assert df.where("never_sent IS NOT NULL").count() == 0 and df.count() == len(keys), name
    again = run_pipeline(later, "step_trainer_landing,step_trainer_readings", spark=spark)
    assert [z.status for z in again.zones] == ["up to date"] * 2, "the added column is recorded, not redone"


# --- every line counted, whatever the zone keeps -------------------------------------------------

THINGS = """
name: {name}
layer: landing
source: {{path: things/landing, schema: {{id: bigint, label: string}}}}
{filters}expectations: false
target: {{table: {name}, merge_keys: [id]}}
"""
THINGS_FILES = {  # a name Spark spells escaped in file paths, and files with and without bad lines
    "things 1.json": '{"id": 1, "label": "one"}\nnot a record\n{"id": 2, "label": "two"}\n{"id": 1, "label": "one"}\n',
    "things-2.json": '{"id": 3, "label": "three"}\n',
    "things-3.json": '{"id": "four", "label": "wrong type"}\n{"id": 5, "label": "five"}\n',
}


def test_every_line_is_counted_and_bad_lines_kept_whether_rows_are_staged_or_none(spark, tmp_path):
    """A zone's filter may keep no row (Spark's optimiser then drops the read from the staging
    query altogether): its lines are still counted and its bad lines kept, as a zone that stages
    rows does. One file's name has a space, which Spark spells %20 in file paths."""
    folder = tmp_path / "landing" / "things" / "landing"
    folder.mkdir(parents=True)
    for name, text in THINGS_FILES.items():
        (folder / name).write_text(text)
    configs = copy_project(tmp_path)
    (configs / "zones" / "things_landing.yml").write_text(THINGS.format(name="things_landing", filters=""))
    (configs / "zones" / "things_none.yml").write_text(
        THINGS.format(name="things_none", filters='filters: ["1 = 0"]\n'))
    project = project_for(configs, tmp_path / "landing", tmp_path / "lake")
    src = landing_lines(folder, {"id": "bigint", "label": "string"})
    assert len(src["malformed"]) == 2 and len(src["lines"]) == 7  # the oracle agrees with the files

    result = run_pipeline(project, "things_landing,things_none", spark=spark)
    assert result.ok, [z.message for z in result.zones]
    for name, staged in (("things_landing", 4), ("things_none", 0)):  # ids 1, 2, 3, 5 once each
        zone = result.zone(name)
        assert (zone.rows_read, zone.malformed, zone.rows_staged) == (len(src["lines"]), 2, staged), name
        kept = table(spark, project, f"{name}_quarantine").collect()
        assert sorted((r.raw, r.source_file.rsplit("/", 1)[-1].replace("%20", " ")) for r in kept) == \
            sorted((t, n) for n, t in src["malformed"]), name
    assert count(spark, project, "things_landing") == 4
