"""`lakehouse deploy --env aws`: make AWS match the YAML, and touch nothing that already does.

One generic Glue job runs any zone with --pipeline. The zones' order lives in a Step Functions
state machine: Glue workflow triggers can only wait on a job *name*, and every zone runs the same
job, so a trigger could not tell customer_trusted's run from step_trainer_trusted's.
"""
from __future__ import annotations

import hashlib
import json
import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

from lakehouse.aws.artifacts import Artifact, build_wheel, collect, wheelhouse_wheels
from lakehouse.aws.clients import aws_client
from lakehouse.errors import LakehouseError
from lakehouse.quality.suites import GX_REQUIREMENT

if TYPE_CHECKING:
    from lakehouse.project import Project
    from lakehouse.config.models import AwsSettings


class DeployError(LakehouseError):
    exit_code = 2


@dataclass
class Step:
    resource: str
    name: str
    action: str      # create | update | delete | unchanged
    detail: str = ""


@dataclass
class DeployPlan:
    steps: list[Step] = field(default_factory=list)

    @property
    def changed(self) -> bool:
        return any(s.action != "unchanged" for s in self.steps)


def require_aws(project: Project) -> AwsSettings:
    if project.env.aws is None:
        raise DeployError(f"env {project.env.name!r} has no 'aws' section; deploy with --env aws "
                          f"(see {project.config_dir / 'env' / 'aws.yml'})")
    return project.env.aws


def code_uri(settings: AwsSettings, *parts: str) -> str:
    return "s3://" + "/".join([settings.bucket, settings.code_prefix.strip("/"), *parts])


def python_modules(settings: AwsSettings, wheel_name: str, wheelhouse: list[str]) -> dict[str, str]:
    """What Glue pip-installs at job start. With a wheelhouse, every wheel comes from S3 and pip may
    not reach an index (a VPC with no internet); without one, GX comes from PyPI."""
    ours = code_uri(settings, "dist", wheel_name)
    if not wheelhouse:
        return {"--additional-python-modules": f"{GX_REQUIREMENT},{ours}"}
    gx_version = GX_REQUIREMENT.split("==")[1]
    if not any(name.startswith(f"great_expectations-{gx_version}-") for name in wheelhouse):
        raise DeployError(f"the wheelhouse has no great_expectations-{gx_version}-*.whl ({GX_REQUIREMENT})")
    return {"--additional-python-modules": ",".join([*(code_uri(settings, "wheelhouse", w) for w in wheelhouse),
                                                     ours]),
            "--python-modules-installer-option": "--no-index"}


def job_definition(project: Project, wheel_name: str, max_parallel: int,
                   wheelhouse: list[str] = ()) -> dict[str, Any]:
    s = require_aws(project)
    return {
        "Role": s.role_arn,
        "Command": {"Name": "glueetl", "ScriptLocation": code_uri(s, "pipelines", "lakehouse_job.py"),
                    "PythonVersion": "3"},
        "GlueVersion": s.glue_version,
        "WorkerType": s.worker_type,
        "NumberOfWorkers": s.number_of_workers,
        "Timeout": s.timeout_minutes,
        "ExecutionProperty": {"MaxConcurrentRuns": max(1, max_parallel)},
        "DefaultArguments": {
            "--job-language": "python",
            "--datalake-formats": "delta",
            # Glue takes one --conf; further settings ride in its value as "--conf k=v".
            "--conf": "spark.sql.extensions=io.delta.sql.DeltaSparkSessionExtension "
                      "--conf spark.sql.catalog.spark_catalog=org.apache.spark.sql.delta.catalog.DeltaCatalog",
            **python_modules(s, wheel_name, list(wheelhouse)),
            "--enable-glue-datacatalog": "true",
            "--pipeline": "all",
            "--env": project.env.name,
            "--config-uri": code_uri(s, "configs", project.config_dir.name) + "/",
        },
    }


# Errors worth waiting out: the job's MaxConcurrentRuns or the account's run quota is full, or the
# Glue API throttles (the optimized integration reports that as Glue.AWSGlueException). A failed job
# run (States.TaskFailed) is not retried: a zone failing its checks would only fail again.
RETRY = [{"ErrorEquals": ["Glue.ConcurrentRunsExceededException", "Glue.ThrottlingException",
                          "Glue.AWSGlueException"],
          "IntervalSeconds": 30, "BackoffRate": 2.0, "MaxAttempts": 6, "MaxDelaySeconds": 300,
          "JitterStrategy": "FULL"}]
FAILED = "failed"
STATE_NAME_MAX = 80


def state_name(prefix: str, text: str) -> str:
    """A state name Step Functions accepts: short, no spaces or punctuation, unique per text. The
    prefix keeps zones apart from the other states: a zone called "failed" or "level_1" cannot collide."""
    name = prefix + re.sub(r"[^A-Za-z0-9_-]", "_", text)
    if len(name) <= STATE_NAME_MAX:
        return name
    return name[:STATE_NAME_MAX - 9] + "_" + hashlib.sha256(text.encode()).hexdigest()[:8]


def state_machine(project: Project) -> tuple[dict[str, Any], int]:
    """Zones by dependency level: a level's zones run in parallel, levels one after another. Every job
    run of one execution gets the execution's name as --run-id, so the ledger ties them together.
    Returns the definition and the widest level (how many job runs may overlap)."""
    s = require_aws(project)
    graph = project.graph
    level: dict[str, int] = {}
    for name in graph.order:
        level[name] = 1 + max((level[u] for u in graph.depends_on[name]), default=-1)
    levels = [[n for n in graph.order if level[n] == i] for i in range(max(level.values()) + 1)]

    def task(zone: str) -> dict[str, Any]:
        return {"Type": "Task", "Resource": "arn:aws:states:::glue:startJobRun.sync",
                "Parameters": {"JobName": s.job_name,
                               "Arguments": {"--pipeline": zone, "--run-id.$": "$$.Execution.Name"}},
                "Retry": RETRY}

    # A branch's Catch could only reach a state of its own branch; the Parallel state catches for it.
    catch = [{"ErrorEquals": ["States.ALL"], "ResultPath": "$.error", "Next": FAILED}]
    states: dict[str, Any] = {}
    for i, zones in enumerate(levels, start=1):
        if len(zones) == 1:
            states[state_name("run_", zones[0])] = {**task(zones[0]), "Catch": catch}
            continue
        branches = [{"StartAt": state_name("run_", z), "States": {state_name("run_", z): {**task(z), "End": True}}}
                    for z in zones]
        states[f"level_{i}"] = {"Type": "Parallel", "Branches": branches, "Catch": catch}
    names = list(states)
    for current, following in zip(names, names[1:] + [None]):
        if following:
            states[current]["Next"] = following
        else:
            states[current]["End"] = True
    states[FAILED] = {"Type": "Fail", "ErrorPath": "$.error.Error", "CausePath": "$.error.Cause"}
    return {"Comment": f"Run the {project.config_dir.name} zones in dependency order", "StartAt": names[0],
            "States": states}, max(len(z) for z in levels)


def plan_and_apply(project: Project, dry_run: bool = False, build_dir: Path | None = None) -> DeployPlan:
    s = require_aws(project)
    plan = DeployPlan()
    wheel = build_wheel(build_dir or Path("build") / "wheel")
    wheelhouse = wheelhouse_wheels(s.wheelhouse)
    artifacts = collect(project.config_dir, project.suites_dir, wheel, s.code_prefix, wheelhouse)
    s3, glue, sfn = aws_client("s3", s), aws_client("glue", s), aws_client("stepfunctions", s)

    for artifact in artifacts:
        plan.steps.append(_upload(s3, s.bucket, artifact, dry_run))

    definition, width = state_machine(project)
    job = job_definition(project, wheel.name, width, [w.name for w in wheelhouse])
    plan.steps.append(_job(glue, s.job_name, job, dry_run))
    plan.steps.append(_database(glue, project.env.database, dry_run))
    machine, arn = _state_machine(sfn, f"{s.job_name}-zones", definition, s.state_machine_role_arn, dry_run)
    plan.steps.append(machine)
    step = _schedule(aws_client("scheduler", s), f"{s.job_name}-schedule", s, arn, dry_run)
    if step is not None:
        plan.steps.append(step)
    # last: until the job and state machine point at the new files, a run starting now needs the old
    plan.steps.extend(_prune(s3, s.bucket, managed_prefixes(s, project.config_dir.name),
                             {a.key for a in artifacts}, dry_run))
    return plan


def _upload(s3, bucket: str, artifact: Artifact, dry_run: bool) -> Step:
    from botocore.exceptions import ClientError

    try:
        head = s3.head_object(Bucket=bucket, Key=artifact.key)
        if head.get("Metadata", {}).get("sha256") == artifact.sha256:
            return Step("s3 object", artifact.key, "unchanged")
        action = "update"
    except ClientError as exc:
        if exc.response["Error"]["Code"] not in ("404", "NoSuchKey", "NotFound"):
            raise
        action = "create"
    if not dry_run:
        s3.upload_file(str(artifact.path), bucket, artifact.key, ExtraArgs={"Metadata": {"sha256": artifact.sha256}})
    return Step("s3 object", artifact.key, action, str(artifact.path))


def managed_prefixes(settings: AwsSettings, project: str) -> list[str]:
    """The folders under the code prefix that deploy owns outright: anything there it did not just
    upload is stale (a removed zone would otherwise keep running). Another project's configs are not ours."""
    root = settings.code_prefix.strip("/")
    return [f"{root}/{folder}/" for folder in ("pipelines", "dist", "wheelhouse", "expectations", f"configs/{project}")]


def _prune(s3, bucket: str, prefixes: list[str], keep: set[str], dry_run: bool) -> list[Step]:
    stale = sorted(o["Key"] for prefix in prefixes
                   for page in s3.get_paginator("list_objects_v2").paginate(Bucket=bucket, Prefix=prefix)
                   for o in page.get("Contents", []) if o["Key"] not in keep)
    for start in range(0, 0 if dry_run else len(stale), 1000):  # DeleteObjects takes 1000 keys a call
        done = s3.delete_objects(Bucket=bucket, Delete={"Quiet": True, "Objects": [
            {"Key": key} for key in stale[start:start + 1000]]})
        if done.get("Errors"):
            raise DeployError("could not delete: " + ", ".join(f"{e['Key']} ({e['Code']})" for e in done["Errors"]))
    return [Step("s3 object", key, "delete", "no longer in the project") for key in stale]


def _job(glue, name: str, wanted: dict[str, Any], dry_run: bool) -> Step:
    try:
        current = glue.get_job(JobName=name)["Job"]
    except glue.exceptions.EntityNotFoundException:
        if not dry_run:
            glue.create_job(Name=name, **wanted)
        return Step("glue job", name, "create")
    differs = sorted(k for k, v in wanted.items() if current.get(k) != v)
    if not differs:
        return Step("glue job", name, "unchanged")
    if not dry_run:
        glue.update_job(JobName=name, JobUpdate=wanted)
    return Step("glue job", name, "update", "changed: " + ", ".join(differs))


def _database(glue, name: str, dry_run: bool) -> Step:
    try:
        glue.get_database(Name=name)
        return Step("glue database", name, "unchanged")
    except glue.exceptions.EntityNotFoundException:
        if not dry_run:
            glue.create_database(DatabaseInput={"Name": name, "Description": "Lakehouse tables (Delta)"})
        return Step("glue database", name, "create")


def _state_machine(sfn, name: str, definition: dict[str, Any], role_arn: str,
                   dry_run: bool) -> tuple[Step, str | None]:
    """The step, and the machine's ARN (None in a dry run that would create it)."""
    text = json.dumps(definition, indent=2)  # in chain order, as a reader follows it
    existing = next((m for page in sfn.get_paginator("list_state_machines").paginate()
                     for m in page["stateMachines"] if m["name"] == name), None)
    if existing is None:
        arn = None if dry_run else sfn.create_state_machine(name=name, definition=text, roleArn=role_arn)[
            "stateMachineArn"]
        return Step("state machine", name, "create", "runs the zones in dependency order"), arn
    arn = existing["stateMachineArn"]
    current = sfn.describe_state_machine(stateMachineArn=arn)
    if json.loads(current["definition"]) == definition and current["roleArn"] == role_arn:
        return Step("state machine", name, "unchanged"), arn
    if not dry_run:
        sfn.update_state_machine(stateMachineArn=arn, definition=text, roleArn=role_arn)
    return Step("state machine", name, "update"), arn


def _schedule(scheduler, name: str, s: AwsSettings, machine_arn: str | None, dry_run: bool) -> Step | None:
    """EventBridge Scheduler starting the state machine, as the env file says; removed when it no
    longer says so. Each execution's name is its run id, so a scheduled run is one run too."""
    try:
        current = scheduler.get_schedule(Name=name)
    except scheduler.exceptions.ResourceNotFoundException:
        current = None
    if s.schedule is None:
        if current is None:
            return None
        if not dry_run:
            scheduler.delete_schedule(Name=name)
        return Step("schedule", name, "delete", "no schedule in the env file")
    wanted = {"ScheduleExpression": s.schedule, "ScheduleExpressionTimezone": s.schedule_timezone,
              "FlexibleTimeWindow": {"Mode": "OFF"}, "State": "ENABLED",
              "Target": {"Arn": machine_arn or f"(the {s.job_name}-zones state machine)",
                         "RoleArn": s.scheduler_role_arn, "Input": "{}"}}
    if current is not None and all(current.get(k) == v for k, v in wanted.items() if k != "Target") \
            and {k: current["Target"].get(k) for k in wanted["Target"]} == wanted["Target"]:
        return Step("schedule", name, "unchanged")
    if not dry_run:
        (scheduler.create_schedule if current is None else scheduler.update_schedule)(Name=name, **wanted)
    return Step("schedule", name, "create" if current is None else "update", s.schedule)
