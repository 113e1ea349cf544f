"""Promotion writes the rows kept out (``<table>_quarantine``) beside the promoted ones: the two
commits overlap, the zone ends when both have, and a failure of either fails the zone, the
table's own being the one reported."""
from __future__ import annotations

import shutil
import threading

import pytest

from lakehouse.zone import quarantine
from lakehouse.zone.targets import Upsert
from tests.conftest import STEDI_CONFIGS, project_for, run_all
from tests.helpers import table

ZONE = "customer_landing"  # lands malformed lines in the sample: it always has rows to keep out


@pytest.fixture
def landing(sample, tmp_path):
    folder = tmp_path / "landing"
    shutil.copytree(sample[0], folder, ignore=shutil.ignore_patterns("manifest.json"))
    return folder, sample[1]["malformed"]["customer"]


def _project(landing, tmp_path):
    return project_for(STEDI_CONFIGS, landing, tmp_path / "lake")


def test_the_quarantine_and_the_table_are_written_at_the_same_time(spark, landing, tmp_path, monkeypatch):
    # Each write waits for the other to have started: one after the other, the barrier breaks.
    both = threading.Barrier(2, timeout=60)
    keep, write = quarantine.keep, Upsert.write

    def keep_waiting(*args, **kwargs):
        both.wait()
        return keep(*args, **kwargs)

    def write_waiting(self, *args, **kwargs):
        both.wait()
        return write(self, *args, **kwargs)

    monkeypatch.setattr(quarantine, "keep", keep_waiting)
    monkeypatch.setattr(Upsert, "write", write_waiting)
    project = _project(landing[0], tmp_path)
    result = run_all(spark, project, ZONE)
    assert result.zone(ZONE).malformed == landing[1] > 0
    assert table(spark, project, f"{ZONE}_quarantine").count() == landing[1]


def test_a_failed_quarantine_fails_the_zone_and_the_next_run_keeps_the_lines_once(spark, landing, tmp_path,
                                                                                    monkeypatch):
    from lakehouse.engine import run_pipeline

    def broken(*args, **kwargs):
        raise OSError("quarantine storage unavailable")

    monkeypatch.setattr(quarantine, "keep", broken)
    project = _project(landing[0], tmp_path)
    failed = run_pipeline(project, ZONE, spark=spark).zone(ZONE)
    assert failed.status == "failed" and "quarantine storage unavailable" in failed.message
    assert ZONE in failed.message and "Traceback" not in failed.message

    monkeypatch.undo()
    again = run_all(spark, project, ZONE).zone(ZONE)
    # The failed run's files were not recorded as ingested: read again, their bad lines kept now.
    assert again.malformed == landing[1] and again.mode == "full"
    assert table(spark, project, f"{ZONE}_quarantine").count() == landing[1]
    assert table(spark, project, ZONE).count() == again.rows_read - landing[1]


def test_when_both_writes_fail_the_tables_error_is_the_one_reported(spark, landing, tmp_path, monkeypatch):
    from lakehouse.engine import run_pipeline

    def fails(message):
        def raise_(*args, **kwargs):
            raise OSError(message)
        return raise_

    monkeypatch.setattr(quarantine, "keep", fails("the quarantine's error"))
    monkeypatch.setattr(Upsert, "write", fails("the table's error"))
    failed = run_pipeline(_project(landing[0], tmp_path), ZONE, spark=spark).zone(ZONE)
    assert failed.status == "failed"
    assert "the table's error" in failed.message and "the quarantine's error" not in failed.message
