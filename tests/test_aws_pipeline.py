"""The STEDI pipeline with landing and lake on moto's S3 through s3a, started as Glue starts it.

One Glue-style job process runs a zone of each kind (a separate JVM: the shared test session has
no s3a): landing files, a filtered table and a join, with the tables in the Glue catalog; then a
second one runs a single zone with Glue's own arguments mixed in. Every zone through moto took a
fifth of the suite's time; the other zones differ only in their YAML, which the local tests run.
"""
from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import boto3
import pytest

from lakehouse.aws.deploy import plan_and_apply
from lakehouse.project import load_project
from tests.conftest import ROOT

PIPELINE = "customer_landing,accelerometer_landing,customer_trusted,accelerometer_trusted"

JOB = ROOT / "pipelines" / "lakehouse_job.py"


def _upload_landing(s3, bucket: str, source: Path) -> None:
    for path in sorted(source.rglob("*.json")):
        if path.name != "manifest.json":
            s3.upload_file(str(path), bucket, f"landing/{path.relative_to(source).as_posix()}")


@pytest.fixture(scope="module")
def aws_run(moto_endpoint, sample, tmp_path_factory):
    base = tmp_path_factory.mktemp("aws")
    from tests.conftest import copy_project

    config_dir = copy_project(base)
    bucket = "stedi-s3a"
    env = {**os.environ, "AWS_ENDPOINT_URL": moto_endpoint, "STEDI_BUCKET": bucket, "STEDI_DATABASE": "stedi_s3a",
           "STEDI_JOB_NAME": "stedi-s3a", "LAKEHOUSE_DELTA_JARS": "maven", "LAKEHOUSE_METASTORE": "none",
           "COLUMNS": "200"}
    s3 = boto3.client("s3", endpoint_url=moto_endpoint, region_name="us-east-1")
    s3.create_bucket(Bucket=bucket)
    # The generated sample, even where the real data is present: what this test shows is the S3
    # path (s3a, the Glue catalog, argument handling), and tests/test_real_data.py holds the real
    # data's counts; through moto the real data took 4.5 minutes of the suite's 15.
    _upload_landing(s3, bucket, sample[0])
    expected = {t: sample[1]["counts"][t] for t in PIPELINE.split(",")}

    saved = {k: os.environ.get(k) for k in env if k not in os.environ or os.environ[k] != env[k]}
    os.environ.update(env)
    try:
        plan_and_apply(load_project(config_dir, "aws"), build_dir=base / "build")  # uploads configs and suites
    finally:
        for key, value in saved.items():
            os.environ.pop(key) if value is None else os.environ.__setitem__(key, value)

    def job(*argv: str):
        return subprocess.run([sys.executable, str(JOB), *argv], env=env, capture_output=True, text=True,
                              timeout=900, cwd=base)

    config_uri = f"s3://{bucket}/code/configs/stedi/"
    first = job("--JOB_NAME", "stedi-s3a", "--pipeline", PIPELINE, "--env", "aws", "--config-uri", config_uri,
                "--run-id", "s3a-first")
    return {"first": first, "job": job, "config_uri": config_uri, "bucket": bucket, "expected": expected,
            "endpoint": moto_endpoint}


def test_zones_run_on_s3_with_the_expected_counts(aws_run):
    first = aws_run["first"]
    assert first.returncode == 0, first.stderr[-3000:]
    s3 = boto3.client("s3", endpoint_url=aws_run["endpoint"], region_name="us-east-1")
    key = f"reports/runs/s3a-first.{PIPELINE.replace(',', '-')}.json"
    summary = json.loads(s3.get_object(Bucket=aws_run["bucket"], Key=key)["Body"].read())
    assert {z["table"]: z["inserted"] for z in summary["zones"]} == aws_run["expected"]
    assert all(z["status"] == "ok" for z in summary["zones"])
    keys = [o["Key"] for o in s3.list_objects_v2(Bucket=aws_run["bucket"], Prefix="lake/trusted/customer_trusted/")
            ["Contents"]]
    assert any("_delta_log/00000000000000000000.json" in k for k in keys)
    assert s3.head_object(Bucket=aws_run["bucket"], Key="reports/latest.json")
    assert s3.head_object(Bucket=aws_run["bucket"], Key="reports/data_docs/index.html")


def test_tables_are_in_the_glue_catalog_with_their_real_columns(aws_run):
    glue = boto3.client("glue", endpoint_url=aws_run["endpoint"], region_name="us-east-1")
    for table in aws_run["expected"]:
        entry = glue.get_table(DatabaseName="stedi_s3a", Name=table)["Table"]
        assert entry["Parameters"]["table_type"] == "DELTA"
        location = entry["StorageDescriptor"]["Location"]
        assert location.startswith(f"s3://{aws_run['bucket']}/lake/") and location.endswith(f"/{table}")
        columns = {c["Name"]: c["Type"] for c in entry["StorageDescriptor"]["Columns"]}
        assert columns != {"col": "array<string>"}
    acc = glue.get_table(DatabaseName="stedi_s3a", Name="accelerometer_trusted")["Table"]
    assert {c["Name"]: c["Type"] for c in acc["StorageDescriptor"]["Columns"]} == {
        "user": "string", "timestamp": "bigint", "x": "double", "y": "double", "z": "double"}


def test_glue_style_argv_runs_one_zone(aws_run):
    again = aws_run["job"]("--JOB_NAME", "j", "--pipeline", "customer_trusted", "--TempDir", "s3://b/t",
                           "--job-bookmark-option", "job-bookmark-disable", "--env", "aws",
                           "--config-uri", aws_run["config_uri"], "--run-id", "s3a-second")
    assert again.returncode == 0, again.stderr[-3000:]
    s3 = boto3.client("s3", endpoint_url=aws_run["endpoint"], region_name="us-east-1")
    summary = json.loads(s3.get_object(Bucket=aws_run["bucket"], Key="reports/runs/s3a-second.customer_trusted.json")["Body"].read())
    # The ledger on S3 knows customer_trusted's inputs have not changed since the first run.
    assert [(z["zone"], z["status"], z["inserted"], z["updated"]) for z in summary["zones"]] == \
        [("customer_trusted", "up to date", 0, 0)]


def test_report_reads_the_run_back_from_s3(aws_run, monkeypatch):
    from click.testing import CliRunner

    from lakehouse.cli import cli

    for key, value in (("AWS_ENDPOINT_URL", aws_run["endpoint"]), ("STEDI_BUCKET", aws_run["bucket"]),
                       ("COLUMNS", "200")):
        monkeypatch.setenv(key, value)
    shown = CliRunner().invoke(cli, ["--config-dir", str(ROOT / "configs" / "stedi"), "--env", "aws", "report",
                                     "--run", "s3a-first"])
    assert shown.exit_code == 0, shown.output + shown.stderr
    assert "accelerometer_trusted" in shown.output and f"s3://{aws_run['bucket']}/reports/data_docs" in shown.output
