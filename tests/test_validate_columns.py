"""`lakehouse validate` names every misspelt column with its file and key, before any data is read."""
from __future__ import annotations

import pytest

from tests.test_config_errors import assert_config_error, edit, invoke, zone_file


@pytest.fixture(autouse=True)
def _session(spark):
    """The column check uses the process's session: make it the tests' one."""


def test_misspelt_merge_key_exits_2_with_file_key_and_columns(config_dir):
    trusted = zone_file(config_dir, "customer_trusted")
    edit(trusted, "merge_keys: [email]", "merge_keys: [emial]")
    text = assert_config_error(invoke("validate", config_dir=config_dir),
                               f"{trusted}: target.merge_keys[0]: no column 'emial' in the zone's rows", problems=1)
    assert "hint: the columns here are: customerName, email, phone" in text
    # The fast check cannot know the columns: it passes, which is why the full check exists.
    assert invoke("validate", "--fast", config_dir=config_dir).exit_code == 0


def test_every_kind_of_column_reference_is_checked(config_dir):
    landing, trusted = zone_file(config_dir, "customer_landing"), zone_file(config_dir, "customer_trusted")
    accelerometer, curated = zone_file(config_dir, "accelerometer_trusted"), zone_file(config_dir, "customer_curated")
    edit(landing, "order_by: [lastUpdateDate DESC", "order_by: [lastUpdate DESC")
    edit(trusted, "shareWithResearchAsOfDate IS NOT NULL", "shareWithResearchAsOfDat IS NOT NULL")
    edit(trusted, "drop: [_source_file, _ingested_at]",
         "derive: {days: 'datediff(now(), regDate)'}\n  rename: {phone: telephone, fax: facsimile}\n"
         "  drop: [_source_file, _ingested]")
    edit(accelerometer, "on: acc.user = c.email", "on: acc.user = c.mail")
    edit(accelerometer, "c.shareWithResearchAsOfDate AS consent_date", "c.shareWith AS consent_date")
    edit(accelerometer, "select: [user, timestamp, x, y, z]", "select: [user, timestamp, x, y, z, upper(usr) AS u]")
    edit(curated, "on: c.email = acc.user", "on: c.email = acc.usr")
    edit(curated, "merge_keys: [email]", "merge_keys: [email]\n  partition_by: [region]")
    text = assert_config_error(invoke("validate", config_dir=config_dir), problems=10)
    expected = [
        (landing, "dedupe.order_by[0]", "`lastUpdate` cannot be resolved"),
        (trusted, "filters[0]", "`shareWithResearchAsOfDat` cannot be resolved"),
        (trusted, "columns.derive.days", "`regDate` cannot be resolved"),
        (trusted, "columns.rename.fax", "no column 'fax' to rename"),
        (trusted, "columns.drop[1]", "no column '_ingested' to drop"),
        (accelerometer, "joins[0].on", "`c`.`mail` cannot be resolved"),
        (accelerometer, "joins[0].columns[0]", "`c`.`shareWith` cannot be resolved"),
        (accelerometer, "columns.select[5]", "`usr` cannot be resolved"),
        (curated, "joins[0].on", "`acc`.`usr` cannot be resolved"),
        (curated, "target.partition_by[0]", "no column 'region' in the zone's rows"),
    ]
    for file, key, says in expected:
        line = next((l for l in text.splitlines() if l.strip().startswith(f"{file}: {key}:")), None)
        assert line is not None and says in line, f"{file}: {key}: {says!r} not in:\n{text}"
    assert "hint: the columns here are: acc.user, acc.timestamp, acc.x, acc.y, acc.z, acc._source_file" in text


def test_sql_zone_with_unknown_column_names_sql_query(config_dir):
    path = config_dir / "zones" / "reading_counts.yml"
    path.write_text("""
name: reading_counts
layer: curated
sql:
  uses: [accelerometer_trusted]
  query: SELECT usr, count(*) AS n FROM accelerometer_trusted GROUP BY usr
expectations: false
target: {table: reading_counts, merge_keys: [usr]}
""")
    text = assert_config_error(invoke("validate", config_dir=config_dir), f"{path}: sql.query:", problems=1)
    assert "`usr` cannot be resolved" in text and "accelerometer_trusted (user, timestamp, x, y, z)" in text


def test_a_clean_validate_prints_nothing_on_stderr(config_dir):
    """As a user runs it: its own JVM, whose start-up says nothing unless something is wrong."""
    import subprocess
    import sys
    from pathlib import Path

    lakehouse = str(Path(sys.executable).with_name("lakehouse"))
    proc = subprocess.run([lakehouse, "--config-dir", str(config_dir), "validate"], capture_output=True, text=True,
                          timeout=300, cwd=config_dir)
    assert proc.returncode == 0, proc.stderr
    assert "every column found" in proc.stdout
    assert proc.stderr == "", "Spark's start-up WARN lines are back"
