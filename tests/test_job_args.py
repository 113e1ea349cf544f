"""The Glue job script's arguments: Glue-style parsing, and a clear exit 2 before Spark on bad input."""
from __future__ import annotations

import importlib.util
import subprocess
import sys
from pathlib import Path

import pytest

from tests.conftest import ROOT, STEDI_CONFIGS

JOB_SCRIPT = ROOT / "pipelines" / "lakehouse_job.py"


@pytest.fixture(scope="module")
def job():
    spec = importlib.util.spec_from_file_location("lakehouse_job_under_test", JOB_SCRIPT)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


@pytest.fixture
def no_spark(monkeypatch):
    """Fail the test if anything tries to start Spark or run zones."""
    import lakehouse.engine
    import lakehouse.runtime.session

    def refuse(*args, **kwargs):
        raise AssertionError("Spark must not start here")

    monkeypatch.setattr(lakehouse.engine, "get_session", refuse)
    monkeypatch.setattr(lakehouse.runtime.session, "get_session", refuse)


def test_glue_style_argv(job):
    argv = ["--JOB_NAME", "j", "--pipeline", "customer_trusted", "--TempDir", "s3://b/t",
            "--job-bookmark-option", "job-bookmark-disable"]
    assert job.resolve_options(argv) == {
        "JOB_NAME": "j", "pipeline": "customer_trusted",
        "env": "local", "config-uri": str(STEDI_CONFIGS),
    }


def test_default_config_dir_is_the_checkouts_stedi_configs(job):
    config_dir = Path(job.resolve_options(["--JOB_NAME", "j", "--pipeline", "all"])["config-uri"])
    assert config_dir.is_absolute()
    assert (config_dir / "zones" / "customer_trusted.yml").is_file()


def test_key_equals_value_form(job):
    argv = ["--JOB_NAME=j", "--pipeline=customer_trusted,customer_curated", "--env=aws",
            "--config-uri=/opt/project/configs", "--TempDir=s3://b/t"]
    assert job.resolve_options(argv) == {
        "JOB_NAME": "j", "pipeline": "customer_trusted,customer_curated",
        "env": "aws", "config-uri": "/opt/project/configs",
    }


def test_value_keeps_later_equals_signs(job):
    assert job.resolve_options(["--JOB_NAME=a=b", "--pipeline", "all"])["JOB_NAME"] == "a=b"


def test_flag_without_value_does_not_swallow_the_next_key(job):
    argv = ["--JOB_NAME", "j", "--enable-metrics", "--pipeline", "trusted", "--enable-glue-datacatalog"]
    options = job.resolve_options(argv)
    assert options["pipeline"] == "trusted"
    assert "enable-metrics" not in options and "enable-glue-datacatalog" not in options


def test_glue_positional_noise_is_ignored(job):
    # Glue puts the script's own name and sometimes bare values among the arguments.
    argv = ["script.py", "--JOB_NAME", "j", "stray", "--pipeline", "all"]
    assert job.resolve_options(argv)["pipeline"] == "all"


@pytest.mark.parametrize("argv, missing", [
    (["--JOB_NAME", "j"], "--pipeline"),
    (["--JOB_NAME", "j", "--pipeline"], "--pipeline"),
    (["--JOB_NAME", "j", "--pipeline", "--env", "local"], "--pipeline"),
    (["--pipeline", "all"], "--JOB_NAME"),
    ([], "--JOB_NAME, --pipeline"),
])
def test_missing_required_argument(job, argv, missing):
    with pytest.raises(job.ArgumentError) as info:
        job.resolve_options(argv)
    assert f"missing required argument(s): {missing} " in str(info.value)
    assert "(e.g. --JOB_NAME stedi --pipeline all)" in str(info.value)


def test_main_without_pipeline_exits_2_before_spark(job, no_spark, capsys):
    assert job.main(["--JOB_NAME", "j"]) == 2
    captured = capsys.readouterr()
    assert captured.err.strip() == ("error: missing required argument(s): --pipeline "
                                    "(e.g. --JOB_NAME stedi --pipeline all)")
    assert captured.out == ""


def test_main_unknown_pipeline_exits_2_before_spark(job, no_spark, capsys):
    assert job.main(["--JOB_NAME", "j", "--pipeline", "nope", "--config-uri", str(STEDI_CONFIGS)]) == 2
    err = capsys.readouterr().err
    assert err.startswith("configuration error:\n")
    assert "--pipeline: nope: is not a zone, table or layer" in err


def test_main_broken_config_exits_2_naming_file_and_key(job, no_spark, config_dir, capsys):
    path = config_dir / "zones" / "customer_trusted.yml"
    path.write_text(path.read_text().replace("filters:", "filtres:"))
    assert job.main(["--JOB_NAME", "j", "--pipeline", "all", "--config-uri", str(config_dir)]) == 2
    assert f"{path}: filtres: unknown key" in capsys.readouterr().err


def test_main_unknown_env_exits_2(job, no_spark, capsys):
    argv = ["--JOB_NAME", "j", "--pipeline", "all", "--env", "prod", "--config-uri", str(STEDI_CONFIGS)]
    assert job.main(argv) == 2
    err = capsys.readouterr().err
    assert "no environment named 'prod'" in err and "use --env with one of: aws, local" in err


@pytest.mark.parametrize("args, expected", [
    (["--JOB_NAME", "j"], "error: missing required argument(s): --pipeline"),
    (["--JOB_NAME", "j", "--pipeline", "nope"], "--pipeline: nope: is not a zone, table or layer"),
], ids=["missing_pipeline", "unknown_pipeline"])
def test_script_exits_2_without_traceback(tmp_path, args, expected):
    # Run from elsewhere: the script finds its package and configs from its own location.
    proc = subprocess.run([sys.executable, str(JOB_SCRIPT), *args], cwd=tmp_path,
                          capture_output=True, text=True, timeout=60)
    assert proc.returncode == 2, proc.stderr
    assert expected in proc.stderr
    assert "--pipeline" in proc.stderr
    assert "Traceback" not in proc.stderr
    assert proc.stdout == ""


GLUE_ARGV = ["--JOB_NAME", "j", "--pipeline", "customer_trusted", "--TempDir", "s3://b/t",
             "--job-bookmark-option", "job-bookmark-disable", "--config-uri", "s3://bucket/code/configs/stedi/"]


def test_options_come_from_glues_own_parser(job, monkeypatch):
    import awsglue.utils

    calls = []
    real = awsglue.utils.getResolvedOptions
    monkeypatch.setattr(awsglue.utils, "getResolvedOptions", lambda args, names: calls.append(names) or real(args, names))
    options = job.resolve_options(GLUE_ARGV)
    assert calls == [["JOB_NAME", "pipeline", "config-uri"]]
    assert options == {"JOB_NAME": "j", "pipeline": "customer_trusted", "env": "local",
                       "config-uri": "s3://bucket/code/configs/stedi/"}


def test_fallback_parser_agrees_with_glues(job):
    from awsglue.utils import getResolvedOptions

    names = ["JOB_NAME", "pipeline", "config-uri"]
    glue = getResolvedOptions(["job", *GLUE_ARGV], names)
    ours = job._resolved_options(["job", *GLUE_ARGV], names)
    assert {k: glue[k.replace("-", "_")] for k in names} == {k: ours[k.replace("-", "_")] for k in names}


def test_full_refresh_takes_true_or_false(job, no_spark, capsys):
    assert job.full_refresh(job.resolve_options(["--JOB_NAME", "j", "--pipeline", "all", "--full-refresh", "true"]))
    assert not job.full_refresh(job.resolve_options(["--JOB_NAME", "j", "--pipeline", "all"]))
    assert job.main(["--JOB_NAME", "j", "--pipeline", "all", "--full-refresh", "yes"]) == 2
    assert "--full-refresh takes true or false" in capsys.readouterr().err


def test_the_state_machines_run_id_reaches_the_engine(job, monkeypatch, capsys):
    """Step Functions passes its execution name as --run-id to every zone's run (lakehouse/aws/deploy.py)."""
    import lakehouse.engine
    import lakehouse.runtime.session
    from lakehouse.errors import LakehouseError

    execution_name = "3f2b8c1e-9a4d-4e0f-b6a2-7c5d1e8f9a0b"
    argv = [*GLUE_ARGV[:4], "--run-id", execution_name, "--config-uri", str(STEDI_CONFIGS)]
    assert job.resolve_options(argv)["run-id"] == execution_name

    seen = {}

    def fake_run(project, pipeline, **kwargs):
        seen.update(kwargs, pipeline=pipeline)
        raise LakehouseError("stop before Spark work")

    monkeypatch.setattr(lakehouse.runtime.session, "get_session", lambda env: object())
    monkeypatch.setattr(lakehouse.engine, "run_pipeline", fake_run)
    assert job.main(argv) != 0
    assert seen["run_id"] == execution_name and seen["pipeline"] == "customer_trusted"
    assert "stop before Spark work" in capsys.readouterr().err


@pytest.mark.parametrize("jars, local", [("provided", False), ("maven", True)])
def test_glue_sizes_its_own_session_and_a_laptop_against_s3_gets_the_local_defaults(monkeypatch, jars, local):
    """On Glue (jars and metastore provided) the session keeps Glue's master, cores and shuffle
    sizes; off Glue this process starts the JVM, which without the local defaults ran 200 tasks per
    shuffle on a 2-core machine (the S3 test's job: 98 s, 44 s with them)."""
    from lakehouse.project import load_project
    from lakehouse.runtime.session import LOCAL_DEFAULTS, session_conf

    monkeypatch.setenv("LAKEHOUSE_DELTA_JARS", jars)
    monkeypatch.setenv("LAKEHOUSE_METASTORE", "provided" if jars == "provided" else "none")
    conf = session_conf(load_project(STEDI_CONFIGS, "aws", with_suites=False).env)
    assert conf["spark.sql.extensions"] == "io.delta.sql.DeltaSparkSessionExtension"
    if local:
        assert {k: conf[k] for k in LOCAL_DEFAULTS} == LOCAL_DEFAULTS
        assert conf["spark.hadoop.fs.s3.impl"] == "org.apache.hadoop.fs.s3a.S3AFileSystem"
    else:
        assert not set(LOCAL_DEFAULTS) & set(conf), "Glue's own settings are left alone"
