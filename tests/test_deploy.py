"""`lakehouse deploy` and `iam-policy` against moto's S3, Glue and Step Functions (no real AWS)."""
from __future__ import annotations

import json

import boto3
import pytest
from click.testing import CliRunner

from lakehouse.aws.deploy import plan_and_apply
from lakehouse.cli import cli
from lakehouse.project import load_project

_buckets = iter(range(1, 1000))


@pytest.fixture
def aws_env(moto_endpoint, config_dir, monkeypatch, tmp_path):
    bucket = f"stedi-deploy-{next(_buckets)}"
    monkeypatch.setenv("AWS_ENDPOINT_URL", moto_endpoint)
    monkeypatch.setenv("STEDI_BUCKET", bucket)
    monkeypatch.setenv("STEDI_JOB_NAME", f"job-{bucket}")
    monkeypatch.setenv("STEDI_DATABASE", bucket.replace("-", "_"))  # moto's catalog is shared by the tests
    s3 = boto3.client("s3", endpoint_url=moto_endpoint, region_name="us-east-1")
    s3.create_bucket(Bucket=bucket)
    project = load_project(config_dir, "aws")
    return project, bucket, moto_endpoint, tmp_path / "build"


def deploy(project, build, dry_run=False):
    return plan_and_apply(load_project(project.config_dir, "aws"), dry_run=dry_run, build_dir=build)


def test_first_deploy_creates_everything_with_the_exact_job_arguments(aws_env):
    project, bucket, endpoint, build = aws_env
    plan = deploy(project, build)
    actions = {(s.resource, s.action) for s in plan.steps}
    assert ("glue job", "create") in actions and ("glue database", "create") in actions
    assert ("state machine", "create") in actions
    uploads = [s.name for s in plan.steps if s.resource == "s3 object"]
    assert "code/pipelines/lakehouse_job.py" in uploads and "code/expectations/customer_trusted.json" in uploads
    assert "code/configs/stedi/zones/machine_learning_curated.yml" in uploads
    assert any(u.startswith("code/dist/lakehouse-") and u.endswith(".whl") for u in uploads)

    glue = boto3.client("glue", endpoint_url=endpoint, region_name="us-east-1")
    job = glue.get_job(JobName=f"job-{bucket}")["Job"]
    args = job["DefaultArguments"]
    assert job["GlueVersion"] == "5.1" and job["Command"]["ScriptLocation"] == \
        f"s3://{bucket}/code/pipelines/lakehouse_job.py"
    assert args["--datalake-formats"] == "delta" and args["--enable-glue-datacatalog"] == "true"
    assert args["--pipeline"] == "all" and args["--env"] == "aws"
    assert args["--config-uri"] == f"s3://{bucket}/code/configs/stedi/"
    assert "spark.sql.extensions=io.delta.sql.DeltaSparkSessionExtension" in args["--conf"]
    assert "--conf spark.sql.catalog.spark_catalog=org.apache.spark.sql.delta.catalog.DeltaCatalog" in args["--conf"]
    modules = args["--additional-python-modules"].split(",")
    assert modules[0] == "great-expectations==1.24.1" and modules[1].startswith(f"s3://{bucket}/code/dist/lakehouse-")
    assert glue.get_database(Name=project.env.database)["Database"]["Name"] == project.env.database

    sfn = boto3.client("stepfunctions", endpoint_url=endpoint, region_name="us-east-1")
    machine = next(m for m in sfn.list_state_machines()["stateMachines"] if m["name"] == f"job-{bucket}-zones")
    definition = json.loads(sfn.describe_state_machine(stateMachineArn=machine["stateMachineArn"])["definition"])
    levels = _levels(definition, job)
    assert levels[0] == {"accelerometer_landing", "customer_landing", "step_trainer_landing"}
    ran = [z for level in levels for z in level]
    upstream = _upstream_from_yaml(project.config_dir)
    assert sorted(ran) == sorted(upstream), "every zone runs, each once"
    for i, level in enumerate(levels):
        before = set().union(*levels[:i])
        for zone in level:
            assert upstream[zone] <= before, f"{zone} runs before {upstream[zone] - before} finished"
    assert job["ExecutionProperty"]["MaxConcurrentRuns"] >= max(len(level) for level in levels)


RETRIED = {"Glue.ConcurrentRunsExceededException", "Glue.ThrottlingException", "Glue.AWSGlueException"}


def _all_state_names(definition) -> list[str]:
    names = []
    for name, state in definition["States"].items():
        names.append(name)
        for branch in state.get("Branches", []):
            names += _all_state_names(branch)
    return names


def _levels(definition, job) -> list[set[str]]:
    """The zones each state of the chain runs, in order; checks that every task runs the deployed
    job (and waits for it) with --pipeline naming its one zone and the execution's name as --run-id,
    retries with backoff what is worth waiting out, that every state of the chain catches into a Fail
    state carrying the error, that names are short and valid, and that the chain reaches every state."""
    import re

    names = _all_state_names(definition)
    assert len(names) == len(set(names)), "state names are unique across the whole machine"
    assert all(re.fullmatch(r"[A-Za-z0-9_-]{1,80}", n) for n in names), names

    def task_zone(state) -> str:
        assert state["Type"] == "Task" and state["Resource"] == "arn:aws:states:::glue:startJobRun.sync", state
        assert state["Parameters"]["JobName"] == job["Name"], state
        arguments = state["Parameters"]["Arguments"]
        assert arguments["--run-id.$"] == "$$.Execution.Name", arguments
        # --env and --config-uri come from the job's defaults; a state may only repeat them.
        assert all(job["DefaultArguments"].get(k) == v for k, v in arguments.items()
                   if k not in ("--pipeline", "--run-id.$")), arguments
        (retry,) = state["Retry"]
        assert set(retry["ErrorEquals"]) == RETRIED, retry
        assert retry["BackoffRate"] > 1 and retry["MaxAttempts"] >= 3 and retry["IntervalSeconds"] >= 1, retry
        assert not {"States.ALL", "States.TaskFailed"} & set(retry["ErrorEquals"]), "a failed run is not rerun"
        return arguments["--pipeline"]

    fail_states = set()

    def check_catch(state):
        (catch,) = state["Catch"]
        assert catch["ErrorEquals"] == ["States.ALL"], catch
        target = definition["States"][catch["Next"]]
        assert target["Type"] == "Fail", target
        assert target["ErrorPath"] == catch["ResultPath"] + ".Error" and \
            target["CausePath"] == catch["ResultPath"] + ".Cause", (catch, target)
        fail_states.add(catch["Next"])

    levels, seen, name = [], [], definition["StartAt"]
    while name:
        assert name not in seen, f"the chain loops at {name!r}"
        seen.append(name)
        state = definition["States"][name]
        check_catch(state)
        if state["Type"] == "Parallel":
            zones = []
            for branch in state["Branches"]:
                assert list(branch["States"]) == [branch["StartAt"]], branch
                only = branch["States"][branch["StartAt"]]
                assert only.get("End") is True and "Next" not in only, branch
                zones.append(task_zone(only))
        else:
            zones = [task_zone(state)]
        assert len(zones) == len(set(zones)), state
        levels.append(set(zones))
        name = state.get("Next")
        assert name or state.get("End") is True, state
    assert seen + sorted(fail_states) == list(definition["States"]), \
        "every state is on the chain, in order, but the Fail state the chain catches into"
    return levels


def _upstream_from_yaml(config_dir) -> dict[str, set[str]]:
    """Zone -> the zones it reads, from the YAML files as written (not from the engine's graph)."""
    import yaml

    specs = {p.stem: yaml.safe_load(p.read_text()) for p in sorted((config_dir / "zones").glob("*.yml"))}
    producer = {spec["target"]["table"]: name for name, spec in specs.items()}
    upstream = {}
    for name, spec in specs.items():
        tables = {(spec.get("source") or {}).get("table")} | {j["table"] for j in spec.get("joins", [])} \
            | set((spec.get("sql") or {}).get("uses", []))
        upstream[name] = {producer[t] for t in tables if t}
    return upstream


def test_second_deploy_changes_nothing_and_says_unchanged(aws_env, monkeypatch):
    project, _, _, build = aws_env
    deploy(project, build)
    again = deploy(project, build)
    assert not again.changed and {s.action for s in again.steps} == {"unchanged"}
    result = CliRunner().invoke(cli, ["--config-dir", str(project.config_dir), "--env", "aws", "deploy"])
    assert result.exit_code == 0 and "unchanged" in result.output


def test_editing_one_zone_reuploads_only_that_file(aws_env):
    project, _, _, build = aws_env
    deploy(project, build)
    zone = project.config_dir / "zones" / "customer_trusted.yml"
    zone.write_text(zone.read_text().replace("Customers who agreed", "Customers who said yes"))
    plan = deploy(project, build)
    assert [(s.name, s.action) for s in plan.steps if s.action != "unchanged"] == \
        [("code/configs/stedi/zones/customer_trusted.yml", "update")]


def test_dry_run_reports_the_plan_and_changes_nothing(aws_env):
    project, bucket, endpoint, build = aws_env
    plan = deploy(project, build, dry_run=True)
    assert plan.changed and {s.action for s in plan.steps} == {"create"}
    s3 = boto3.client("s3", endpoint_url=endpoint, region_name="us-east-1")
    assert s3.list_objects_v2(Bucket=bucket).get("KeyCount", 0) == 0
    glue = boto3.client("glue", endpoint_url=endpoint, region_name="us-east-1")
    with pytest.raises(glue.exceptions.EntityNotFoundException):
        glue.get_job(JobName=f"job-{bucket}")


class _GlueWithUpdate:
    """moto has no UpdateJob: record the call, then apply it as delete + create on moto."""

    def __init__(self, glue):
        self._glue, self.updates = glue, []

    def __getattr__(self, name):
        return getattr(self._glue, name)

    def update_job(self, JobName, JobUpdate):  # noqa: N803 - boto3's argument names
        self.updates.append((JobName, JobUpdate))
        self._glue.delete_job(JobName=JobName)
        self._glue.create_job(Name=JobName, **JobUpdate)


def test_a_changed_setting_updates_the_job(aws_env, monkeypatch):
    from lakehouse.aws import deploy as deploy_module

    project, bucket, endpoint, build = aws_env
    deploy(project, build)
    real = deploy_module.aws_client
    glue = _GlueWithUpdate(boto3.client("glue", endpoint_url=endpoint, region_name="us-east-1"))
    monkeypatch.setattr(deploy_module, "aws_client", lambda service, s: glue if service == "glue" else real(service, s))
    env_file = project.config_dir / "env" / "aws.yml"
    env_file.write_text(env_file.read_text().replace("number_of_workers: 2", "number_of_workers: 5"))
    plan = deploy(project, build)
    assert [(s.resource, s.name, s.action) for s in plan.steps if s.action != "unchanged"] == \
        [("s3 object", "code/configs/stedi/env/aws.yml", "update"), ("glue job", f"job-{bucket}", "update")]
    assert next(s for s in plan.steps if s.resource == "glue job").detail == "changed: NumberOfWorkers"
    assert [(name, update["NumberOfWorkers"]) for name, update in glue.updates] == [(f"job-{bucket}", 5)]
    assert glue.get_job(JobName=f"job-{bucket}")["Job"]["NumberOfWorkers"] == 5
    assert not deploy(project, build).changed


def test_iam_policy_is_limited_to_the_project(aws_env):
    project, bucket, _, _ = aws_env
    result = CliRunner().invoke(cli, ["--config-dir", str(project.config_dir), "--env", "aws", "iam-policy"])
    assert result.exit_code == 0
    policy = json.loads(result.output)
    resources = [r for st in policy["Statement"] for r in (st["Resource"] if isinstance(st["Resource"], list)
                                                          else [st["Resource"]])]
    assert all("*" not in r.split(":::")[-1].split("/")[0] for r in resources if r.startswith("arn:aws:s3"))
    assert f"arn:aws:s3:::{bucket}/lake/*" in resources and f"arn:aws:s3:::{bucket}/landing/*" in resources
    assert f"arn:aws:glue:us-east-1:123456789012:table/{project.env.database}/*" in resources
    writes = next(st for st in policy["Statement"] if st["Sid"] == "WriteLakeAndReports")["Resource"]
    assert f"arn:aws:s3:::{bucket}/landing/*" not in writes and f"arn:aws:s3:::{bucket}/code/*" not in writes


def test_deploy_needs_the_aws_env(config_dir):
    result = CliRunner().invoke(cli, ["--config-dir", str(config_dir), "deploy"])
    assert result.exit_code == 2 and "no 'aws' section" in result.stderr


def test_the_iam_policy_is_a_valid_policy_document(aws_env):
    project, _, endpoint, _ = aws_env
    from lakehouse.aws.iam import job_policy

    iam = boto3.client("iam", endpoint_url=endpoint, region_name="us-east-1")
    created = iam.create_policy(PolicyName=f"{project.env.aws.job_name}-policy",
                                PolicyDocument=json.dumps(job_policy(project)))
    assert created["Policy"]["Arn"].endswith(f"policy/{project.env.aws.job_name}-policy")


def test_catalog_entry_follows_the_delta_schema(aws_env):
    from pyspark.sql.types import DoubleType, LongType, StringType, StructField, StructType

    from lakehouse.aws.glue_catalog import ensure_database, register

    project, bucket, endpoint, _ = aws_env
    env = project.env
    ensure_database(env)
    location = f"s3://{bucket}/lake/trusted/readings"
    schema = StructType([StructField("user", StringType()), StructField("timestamp", LongType())])
    assert register(env, "readings", location, schema, "readings") == "created"
    assert register(env, "readings", location, schema, "readings") == "unchanged"
    wider = StructType([*schema.fields, StructField("magnitude", DoubleType())])
    assert register(env, "readings", location, wider, "readings") == "updated"
    glue = boto3.client("glue", endpoint_url=endpoint, region_name="us-east-1")
    table = glue.get_table(DatabaseName=env.database, Name="readings")["Table"]
    assert [(c["Name"], c["Type"]) for c in table["StorageDescriptor"]["Columns"]] == \
        [("user", "string"), ("timestamp", "bigint"), ("magnitude", "double")]
    assert table["Parameters"]["table_type"] == "DELTA" and table["StorageDescriptor"]["Location"] == location


def test_catalog_entry_is_readable_by_spark_and_athena(aws_env):
    """Athena needs table_type=DELTA and the location; Spark needs the provider and the SerDe's path.
    An entry registered before the Spark keys existed is brought up to date."""
    from pyspark.sql.types import LongType, StringType, StructField, StructType

    from lakehouse.aws.glue_catalog import ensure_database, register, table_input

    project, bucket, endpoint, _ = aws_env
    env = project.env
    ensure_database(env)
    glue = boto3.client("glue", endpoint_url=endpoint, region_name="us-east-1")
    schema = StructType([StructField("user", StringType()), StructField("timestamp", LongType())])
    location = f"s3://{bucket}/lake/curated/steps"

    old = table_input("steps", location, schema, "steps")
    del old["Parameters"]["spark.sql.sources.provider"], old["StorageDescriptor"]["SerdeInfo"]["Parameters"]
    glue.create_table(DatabaseName=env.database, TableInput=old)
    assert register(env, "steps", f"s3a://{bucket}/lake/curated/steps", schema, "steps") == "updated"
    assert register(env, "steps", location, schema, "steps") == "unchanged"

    table = glue.get_table(DatabaseName=env.database, Name="steps")["Table"]
    assert table["Parameters"]["spark.sql.sources.provider"] == "delta"
    assert table["Parameters"]["table_type"] == "DELTA" and table["TableType"] == "EXTERNAL_TABLE"
    storage = table["StorageDescriptor"]
    assert storage["Location"] == location and storage["SerdeInfo"]["Parameters"] == {"path": location}
    assert [c["Name"] for c in storage["Columns"]] == ["user", "timestamp"]


def _fake_wheel(folder, name):
    import zipfile

    folder.mkdir(parents=True, exist_ok=True)
    with zipfile.ZipFile(folder / name, "w") as wheel:
        wheel.writestr(name.split("-")[0] + "/__init__.py", "")
    return name


def test_a_wheelhouse_is_uploaded_and_the_job_installs_from_it_with_no_index(aws_env, monkeypatch, tmp_path):
    """A job in a VPC with no internet: every module comes from S3 and pip never asks an index."""
    project, bucket, endpoint, build = aws_env
    house = tmp_path / "wheelhouse"
    wheels = [_fake_wheel(house, "great_expectations-1.24.1-py3-none-any.whl"),
              _fake_wheel(house, "marshmallow-3.26.1-py3-none-any.whl")]
    monkeypatch.setenv("STEDI_WHEELHOUSE", str(house))
    plan = deploy(project, build)
    assert {(s.name, s.action) for s in plan.steps} >= {(f"code/wheelhouse/{w}", "create") for w in wheels}
    s3 = boto3.client("s3", endpoint_url=endpoint, region_name="us-east-1")
    stored = {o["Key"] for o in s3.list_objects_v2(Bucket=bucket, Prefix="code/wheelhouse/")["Contents"]}
    assert stored == {f"code/wheelhouse/{w}" for w in wheels}

    glue = boto3.client("glue", endpoint_url=endpoint, region_name="us-east-1")
    args = glue.get_job(JobName=f"job-{bucket}")["Job"]["DefaultArguments"]
    modules = args["--additional-python-modules"].split(",")
    assert modules[:2] == [f"s3://{bucket}/code/wheelhouse/{w}" for w in wheels]
    assert len(modules) == 3 and modules[2].startswith(f"s3://{bucket}/code/dist/lakehouse-")
    assert args["--python-modules-installer-option"] == "--no-index"
    assert not deploy(project, build).changed


def test_a_wheelhouse_without_the_pinned_gx_is_refused(aws_env, monkeypatch, tmp_path):
    from lakehouse.aws.deploy import DeployError

    project, _, _, build = aws_env
    _fake_wheel(tmp_path / "house", "great_expectations-1.0.0-py3-none-any.whl")
    monkeypatch.setenv("STEDI_WHEELHOUSE", str(tmp_path / "house"))
    with pytest.raises(DeployError, match="great_expectations-1.24.1"):
        deploy(project, build, dry_run=True)


def test_a_removed_zone_is_deleted_from_s3_and_the_job_no_longer_sees_it(aws_env):
    from lakehouse.aws.s3 import list_keys

    project, bucket, endpoint, build = aws_env
    deploy(project, build)
    key = "code/configs/stedi/zones/machine_learning_curated.yml"
    s3 = boto3.client("s3", endpoint_url=endpoint, region_name="us-east-1")
    s3.put_object(Bucket=bucket, Key="code/expectations/retired_suite.json", Body=b"{}")
    s3.put_object(Bucket=bucket, Key="code/configs/other_project/zones/kept.yml", Body=b"x: 1")
    (project.config_dir / "zones" / "machine_learning_curated.yml").unlink()

    dry = deploy(project, build, dry_run=True)
    assert {(s.name, s.action) for s in dry.steps if s.action == "delete"} == \
        {(key, "delete"), ("code/expectations/retired_suite.json", "delete")}
    s3.head_object(Bucket=bucket, Key=key)  # the dry run deleted nothing

    plan = deploy(project, build)
    assert sorted(s.name for s in plan.steps if s.action == "delete") == \
        ["code/configs/stedi/zones/machine_learning_curated.yml", "code/expectations/retired_suite.json"]
    with pytest.raises(s3.exceptions.ClientError):
        s3.head_object(Bucket=bucket, Key=key)
    s3.head_object(Bucket=bucket, Key="code/configs/other_project/zones/kept.yml")  # not this project's
    glue = boto3.client("glue", endpoint_url=endpoint, region_name="us-east-1")
    config_uri = glue.get_job(JobName=f"job-{bucket}")["Job"]["DefaultArguments"]["--config-uri"]
    seen = list_keys(config_uri)
    assert seen and not any(k.endswith("/machine_learning_curated.yml") for k in seen)
    assert "code/configs/stedi/zones/customer_trusted.yml" in seen
    assert not deploy(project, build).changed


def test_deploy_prints_each_deletion(aws_env):
    project, _, _, _ = aws_env
    args = ["--config-dir", str(project.config_dir), "--env", "aws", "deploy"]
    assert CliRunner().invoke(cli, args).exit_code == 0
    (project.config_dir / "zones" / "machine_learning_curated.yml").unlink()
    dry = CliRunner().invoke(cli, [*args, "--dry-run"], terminal_width=400)
    assert dry.exit_code == 0 and "machine_learning_curated.yml" in dry.output and "delete" in dry.output
    done = CliRunner().invoke(cli, args, terminal_width=400)
    assert done.exit_code == 0 and "machine_learning_curated.yml" in done.output and "delete" in done.output
    assert "machine_learning_curated.yml" not in CliRunner().invoke(cli, args, terminal_width=400).output


def test_state_names_stay_short_and_valid_whatever_the_zone_name():
    import re

    from lakehouse.aws.deploy import state_name

    long_a, long_b = "z" * 120 + "_a", "z" * 120 + "_b"
    names = [state_name("run_", z) for z in ("customer_trusted", "odd name: x,y", long_a, long_b)]
    assert names[0] == "run_customer_trusted"
    assert all(re.fullmatch(r"[A-Za-z0-9_-]{1,80}", n) for n in names), names
    assert len(set(names)) == 4, "truncated names stay distinct"


def test_a_schedule_from_the_env_file_starts_the_state_machine_and_goes_when_removed(aws_env, monkeypatch):
    project, bucket, endpoint, build = aws_env
    scheduler = boto3.client("scheduler", endpoint_url=endpoint, region_name="us-east-1")
    name = f"job-{bucket}-schedule"
    first = deploy(project, build)
    assert "schedule" not in {s.resource for s in first.steps}, "no schedule unless the env file sets one"

    monkeypatch.setenv("STEDI_SCHEDULE", "cron(0 3 * * ? *)")
    plan = deploy(project, build)
    assert [(s.resource, s.action) for s in plan.steps if s.action != "unchanged"] == [("schedule", "create")]
    made = scheduler.get_schedule(Name=name)
    machine = boto3.client("stepfunctions", endpoint_url=endpoint, region_name="us-east-1").list_state_machines()
    arn = next(m["stateMachineArn"] for m in machine["stateMachines"] if m["name"] == f"job-{bucket}-zones")
    assert (made["ScheduleExpression"], made["ScheduleExpressionTimezone"], made["State"]) == \
        ("cron(0 3 * * ? *)", "UTC", "ENABLED")
    assert made["Target"]["Arn"] == arn and made["Target"]["RoleArn"].endswith(":role/stedi-lakehouse-scheduler")
    assert not deploy(project, build).changed, "a second deploy leaves the schedule as it is"

    monkeypatch.setenv("STEDI_SCHEDULE", "rate(6 hours)")
    assert [(s.resource, s.action) for s in deploy(project, build).steps if s.action != "unchanged"] == \
        [("schedule", "update")]
    assert scheduler.get_schedule(Name=name)["ScheduleExpression"] == "rate(6 hours)"

    monkeypatch.delenv("STEDI_SCHEDULE")
    assert [(s.resource, s.action) for s in deploy(project, build).steps if s.action != "unchanged"] == \
        [("schedule", "delete")]
    with pytest.raises(scheduler.exceptions.ResourceNotFoundException):
        scheduler.get_schedule(Name=name)


def test_a_bad_schedule_names_the_file_and_key(config_dir, monkeypatch):
    monkeypatch.setenv("STEDI_SCHEDULE", "every day")
    expected = "env/aws.yml: aws.schedule: 'every day' is not a schedule expression: write cron(0 3 * * ? *)"
    result = CliRunner().invoke(cli, ["--config-dir", str(config_dir), "--env", "aws", "validate", "--fast"])
    assert result.exit_code == 2 and expected in result.stderr, result.output
