"""Run summaries on disk: the zones one Step Functions execution runs as separate job runs share
its run id, and each keeps its own summary and log, which `report --run` puts back together."""
from __future__ import annotations

import json

from click.testing import CliRunner

from lakehouse.cli import cli
from lakehouse.reports.summary import read_summary, write_summary
from lakehouse.results import FAILED, OK, RunResult, ZoneResult
from tests.conftest import STEDI_CONFIGS


def _part(pipeline: str, zone: str, status: str, start: str, end: str) -> RunResult:
    result = RunResult("exec-1", pipeline)
    result.zones.append(ZoneResult(zone, zone, "trusted", status=status, started_at=start, ended_at=end,
                                   seconds=1.0))
    result.seconds = 1.0
    return result


def test_parallel_job_runs_of_one_execution_keep_their_summaries_and_report_reads_them_as_one(tmp_path,
                                                                                              monkeypatch):
    reports = tmp_path / "reports"
    parts = [_part("step_trainer_trusted", "step_trainer_trusted", FAILED, "2026-11-30T08:00:05+00:00",
                   "2026-11-30T08:00:20+00:00"),
             _part("customer_curated", "customer_curated", OK, "2026-11-30T08:00:01+00:00",
                   "2026-11-30T08:00:09+00:00")]
    paths = [write_summary(p, str(reports)) for p in parts]
    assert len(set(paths)) == 2, "neither overwrote the other"
    assert sorted(p.name for p in (reports / "runs").iterdir()) == \
        ["exec-1.customer_curated.json", "exec-1.step_trainer_trusted.json"]

    run = read_summary(str(reports), "exec-1")
    assert [z["zone"] for z in run["zones"]] == ["customer_curated", "step_trainer_trusted"], "in start order"
    assert run["ok"] is False and run["seconds"] == 19.0 and run["run_id"] == "exec-1"
    assert read_summary(str(reports))["zones"][0]["zone"] == "customer_curated", "latest.json: the last written"

    monkeypatch.setenv("STEDI_REPORTS_ROOT", str(reports))
    monkeypatch.setenv("COLUMNS", "250")
    shown = CliRunner().invoke(cli, ["--config-dir", str(STEDI_CONFIGS), "report", "--run", "exec-1", "--json"])
    assert shown.exit_code == 0, shown.output
    assert {z["zone"] for z in json.loads(shown.stdout)["zones"]} == {"customer_curated", "step_trainer_trusted"}
    missing = CliRunner().invoke(cli, ["--config-dir", str(STEDI_CONFIGS), "report", "--run", "exec-2"])
    assert missing.exit_code == 2 and "exec-1.customer_curated" in missing.stderr
