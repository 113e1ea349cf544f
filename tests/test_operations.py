"""erase, maintain, history and restore on a built lake.

The oracles are built apart from the engine: the landing files with the erased customer's lines
taken out in plain Python and run from scratch, every table searched as text for the address,
and for restore the zones downstream rebuilt in full from the restored table.
"""
from __future__ import annotations

import hashlib
import json
import random
import shutil
from pathlib import Path

import pytest
from click.testing import CliRunner
from pyspark.sql import functions as F

from lakehouse import ledger
from lakehouse.cli import cli
from lakehouse.operations.maintain import maintain
from lakehouse.results import FULL, INCREMENTAL, UP_TO_DATE
from lakehouse.storage import delta_version
from tests import deliveries
from tests.conftest import STEDI_CONFIGS, copy_project, project_for, run_all
from tests.helpers import TABLES, copy_lake, differences, edit, rows_of

DOWNSTREAM_OF_CUSTOMER_TRUSTED = ["accelerometer_trusted", "customer_curated", "step_trainer_trusted",
                                  "machine_learning_curated"]


def _cli(monkeypatch, project, config_dir: Path, *args: str):
    env = project.env
    for key, value in (("STEDI_LANDING_ROOT", env.landing_root), ("STEDI_LAKE_ROOT", env.lake_root),
                       ("STEDI_REPORTS_ROOT", env.reports_root), ("STEDI_DATABASE", env.database),
                       ("COLUMNS", "250")):
        monkeypatch.setenv(key, value)
    return CliRunner().invoke(cli, ["--config-dir", str(config_dir), *args])


def _mentions(spark, project, text: str) -> dict[str, int]:
    """Rows of every table the project keeps (quarantines, ledger and erasures included) whose
    values, as JSON text, contain ``text`` in any case."""
    found = {}
    for name, location in project.table_locations().items():
        if delta_version(spark, location) is None:
            continue
        df = spark.read.format("delta").load(location)
        found[name] = df.where(F.lower(F.to_json(F.struct(*df.columns))).contains(text.lower())).count()
    return found


def _without(landing: Path, text: str, into: Path) -> tuple[Path, dict[str, int]]:
    """The landing files with every line mentioning ``text`` removed, in plain Python; the lines
    removed per source folder."""
    removed: dict[str, int] = {}
    for path in sorted(landing.rglob("*.json")):
        lines = path.read_text().splitlines(keepends=True)
        kept = [line for line in lines if text.lower() not in line.lower()]
        removed[path.parent.parent.name] = removed.get(path.parent.parent.name, 0) + len(lines) - len(kept)
        target = into / path.relative_to(landing)
        target.parent.mkdir(parents=True, exist_ok=True)
        target.write_text("".join(kept))
    return into, removed


@pytest.fixture
def setup(first_delivery, tmp_path):
    """A private project (its project.yml editable), landing files and lake, copied from the first delivery."""
    config_dir = copy_project(tmp_path / "project")
    landing = Path(shutil.copytree(first_delivery / "landing", tmp_path / "landing"))
    return config_dir, landing, project_for(config_dir, landing, copy_lake(first_delivery / "lake", tmp_path / "lake"))


def test_an_erased_customer_leaves_every_table_and_never_comes_back(spark, setup, tmp_path, monkeypatch):
    config_dir, landing, project = setup
    edit(config_dir / "project.yml", "retention_days: 7", "retention_days: 0")  # for maintain, at the end
    project = project_for(config_dir, landing, Path(project.env.lake_root))
    email = rows_of(spark, project, "customer_curated").orderBy("email").first()["email"]
    # One of their lines that does not parse: the quarantine holds it as raw text.
    (landing / "customer" / "landing" / "customer-9999999999999.json").write_text(
        f'{{"customerName": "Someone", "email": "{email}", "phone": \n')
    assert run_all(spark, project, "customer_landing").zone("customer_landing").malformed == 1
    before = {t: n for t, n in _mentions(spark, project, email).items() if n}
    assert {"customer_landing", "customer_landing_quarantine", "accelerometer_landing", "customer_trusted",
            "accelerometer_trusted", "customer_curated"} <= before.keys()

    erased = _cli(monkeypatch, project, config_dir, "erase", "--email", f"  {email.upper()} ", "--json")
    assert erased.exit_code == 0, erased.output
    report = json.loads(erased.stdout)
    assert report["subject_sha256"] == hashlib.sha256(email.lower().encode()).hexdigest()
    assert {t: n for t, n in report["deleted"].items() if n} == before, "each table's count, as searched apart"
    assert set(report["updated_by_next_run"]) == {"step_trainer_trusted", "machine_learning_curated"}
    assert not any(_mentions(spark, project, email).values()), "no table holds the address, the erasures neither"

    # The next run takes the derived rows out; it equals a run over files that never held them.
    result = run_all(spark, project)
    assert {z.mode for z in result.zones if z.status != UP_TO_DATE} <= {INCREMENTAL}, "erase kept the ledger true"
    oracle_landing, removed = _without(landing, email, tmp_path / "oracle" / "landing")
    oracle = project_for(STEDI_CONFIGS, oracle_landing, tmp_path / "oracle" / "lake")
    run_all(spark, oracle)
    assert differences(spark, project, oracle) == {}
    assert not any(_mentions(spark, project, email).values())

    # Over the old files, which still hold the address: the lines are counted and left out.
    refreshed = run_all(spark, project, full_refresh=True)
    assert {z.mode for z in refreshed.zones} == {FULL}
    assert refreshed.zone("accelerometer_landing").erased == removed["accelerometer"] > 0
    assert refreshed.zone("customer_landing").erased == removed["customer"] >= 2  # their record(s), the bad line
    assert [(z.inserted, z.updated, z.deleted) for z in refreshed.zones] == [(0, 0, 0)] * len(TABLES)
    assert not any(_mentions(spark, project, email).values())

    # maintain (retention 0 here) removes the files that held the rows: no old version shows them.
    landing_table = project.env.table_path("landing", "customer_landing")
    assert spark.read.format("delta").option("versionAsOf", 0).load(landing_table) \
        .where(F.lower("email") == email.lower()).count() == 1
    done = {m.table: m for m in maintain(spark, project, "customer_landing")}
    assert done["customer_landing"].files_removed > 0 and done["customer_landing_quarantine"].files_removed > 0
    with pytest.raises(Exception, match="(?i)not exist|not found|cannot be found"):
        spark.read.format("delta").option("versionAsOf", 0).load(landing_table).where(F.col("email") != "").count()
    assert run_all(spark, project, "customer_landing").zone("customer_landing").status == UP_TO_DATE


def test_history_and_restore_and_downstream_follows(spark, setup, first_delivery, monkeypatch):
    config_dir, landing, project = setup
    done = deliveries.withdraw(landing, random.Random(5))
    assert done is not None
    run_all(spark, project)
    assert rows_of(spark, project, "customer_curated").where(F.col("email") == done["email"]).count() == 0
    location = project.env.table_path("trusted", "customer_trusted")
    version_0 = spark.read.format("delta").option("versionAsOf", 0).load(location)

    shown = _cli(monkeypatch, project, config_dir, "history", "customer_trusted", "--json")
    assert shown.exit_code == 0, shown.output
    entries = json.loads(shown.stdout)
    assert [e["version"] for e in entries] == [1, 0] and entries[0]["operation"] == "MERGE"
    assert int(entries[0]["metrics"]["numTargetRowsDeleted"]) == 1, "the withdrawn customer"

    asked = _cli(monkeypatch, project, config_dir, "restore", "customer_trusted", "--version", "0")
    assert asked.exit_code == 0 and "nothing changed" in asked.stdout, asked.output
    assert delta_version(spark, location) == 1, "without --yes nothing changes"
    restored = _cli(monkeypatch, project, config_dir, "restore", "customer_trusted", "--version", "0", "--yes")
    assert restored.exit_code == 0, restored.output
    now = spark.read.format("delta").load(location)
    assert now.exceptAll(version_0).count() == 0 and version_0.exceptAll(now).count() == 0

    result = run_all(spark, project)
    assert result.zone("customer_trusted").status == UP_TO_DATE, "a restored table is kept, not rebuilt"
    states = ledger.load_states(spark, project.env)
    assert states["customer_trusted"].restored and not states["customer_landing"].restored, \
        "a restored table may hold keys its source dropped: new source keys are compared with it again"
    assert {result.zone(z).mode for z in DOWNSTREAM_OF_CUSTOMER_TRUSTED} == {INCREMENTAL}
    # The oracle: the first delivery's lake, whose zones downstream read this very customer_trusted
    # (version 0) and landing tables the withdrawal left as they were.
    first = project_for(STEDI_CONFIGS, first_delivery / "landing", first_delivery / "lake")
    assert differences(spark, project, first, DOWNSTREAM_OF_CUSTOMER_TRUSTED) == {}
    assert rows_of(spark, project, "customer_curated").where(F.col("email") == done["email"]).count() == 1, \
        "the restore brought the customer back downstream too"


@pytest.mark.parametrize("args, expected", [
    (["restore", "customer_trusted"], "give exactly one of --version N or --timestamp T"),
    (["restore", "nope", "--version", "0"], "no table 'nope'"),
    (["history", "nope"], "known: accelerometer_landing"),
    (["maintain", "--pipeline", "nope"], "is not a zone, table or layer"),
], ids=["restore-without-target", "restore-unknown", "history-unknown", "maintain-unknown"])
def test_operations_refuse_mistakes_before_spark(config_dir, tmp_path, monkeypatch, args, expected):
    monkeypatch.setenv("STEDI_LAKE_ROOT", str(tmp_path / "lake"))
    result = CliRunner().invoke(cli, ["--config-dir", str(config_dir), *args])
    assert result.exit_code == 2, result.output
    assert expected in result.stderr and "Traceback" not in result.output


def test_erase_needs_subject_columns_and_a_key(config_dir, tmp_path, monkeypatch):
    monkeypatch.setenv("STEDI_LAKE_ROOT", str(tmp_path / "lake"))
    edit(config_dir / "project.yml", "erasure:\n  subject_columns: [email, user]\n", "")
    result = CliRunner().invoke(cli, ["--config-dir", str(config_dir), "erase", "--email", "a@b.c"])
    assert result.exit_code == 2 and "names no subject columns" in result.stderr, result.output
    assert not (tmp_path / "lake").exists(), "nothing written"


def test_a_negative_retention_is_a_config_error(config_dir):
    edit(config_dir / "project.yml", "retention_days: 7", "retention_days: -1")
    result = CliRunner().invoke(cli, ["--config-dir", str(config_dir), "validate", "--fast"])
    assert result.exit_code == 2
    assert "project.yml: maintenance.retention_days" in result.stderr and "greater than or equal to 0" in result.stderr
