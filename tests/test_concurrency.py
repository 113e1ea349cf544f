"""Two `lakehouse run` processes started at once on one lake end as one run would, and other
processes can query the catalog while they write."""
from __future__ import annotations

import os
import subprocess
import sys
import time
from pathlib import Path

from lakehouse import ledger
from tests.conftest import ROOT, STEDI_CONFIGS, project_for
from tests.helpers import rows_of

LAKEHOUSE = str(Path(sys.executable).with_name("lakehouse"))
# The landing zones: the races (the same tables, the ledger, GX's reports) are all there, at a
# third of the time of every zone twice on 2 cores.
PIPELINE = "landing"
WRITTEN = ["customer_landing", "accelerometer_landing", "step_trainer_landing"]


def _finished(process: subprocess.Popen) -> subprocess.CompletedProcess:
    out, err = process.communicate(timeout=300)
    return subprocess.CompletedProcess(process.args, process.returncode, out, err)


def test_two_runs_at_once_equal_one_run(spark, sample, tmp_path):
    landing = sample[0]
    lake = tmp_path / "shared" / "lake"
    env = {**os.environ, "STEDI_LANDING_ROOT": str(landing), "STEDI_LAKE_ROOT": str(lake),
           "STEDI_REPORTS_ROOT": str(tmp_path / "shared" / "reports"), "COLUMNS": "200"}
    runs = [subprocess.Popen([LAKEHOUSE, "run", "--pipeline", PIPELINE], cwd=ROOT, env=env, stdout=subprocess.PIPE,
                             stderr=subprocess.STDOUT, text=True) for _ in range(2)]
    # While they write: as soon as the first table is committed, ask for it by name from a third
    # process (the catalog is each process's own, named from the config: nothing to lock).
    first = lake / "landing" / "accelerometer_landing" / "_delta_log" / "00000000000000000000.json"
    deadline = time.monotonic() + 300
    while not first.exists() and time.monotonic() < deadline and all(p.poll() is None for p in runs):
        time.sleep(0.2)
    assert first.exists(), "no table was committed"
    # Both asked at once, while the runs write (each process names the tables from the config).
    writing = sum(p.poll() is None for p in runs)
    asking = [subprocess.Popen([LAKEHOUSE, *command], cwd=ROOT, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                               text=True) for command in (["sql", "SELECT count(*) AS n FROM stedi.accelerometer_landing"],
                                                          ["counts"])]
    query, counts = (_finished(p) for p in asking)
    outputs = [p.communicate(timeout=600)[0] for p in runs]
    for p, text in zip(runs, outputs):
        assert p.returncode == 0, text
        assert "Traceback" not in text and "\tat org.apache" not in text, text
    for asked in (query, counts):
        assert asked.returncode == 0, asked.stderr
        assert "Traceback" not in asked.stderr + asked.stdout and "\tat " not in asked.stderr + asked.stdout
    assert f"│ {sample[1]['counts']['accelerometer_landing']} │" in query.stdout, query.stdout
    assert writing > 0, "the queries started after both runs: this test no longer shows reading while writing"

    shared = project_for(STEDI_CONFIGS, landing, lake)
    # The generator's manifest counts each table apart from the engine: one run's result.
    assert {t: rows_of(spark, shared, t).count() for t in WRITTEN} == {t: sample[1]["counts"][t] for t in WRITTEN}
    duplicated = {t for t in WRITTEN if rows_of(spark, shared, t).count() != rows_of(spark, shared, t).distinct().count()}
    assert duplicated == set(), "no row written twice"
    runs_recorded = spark.read.format("delta").load(ledger.location(shared.env)).select("run_id").distinct().count()
    assert runs_recorded == 2, "each process keeps its own ledger rows"
