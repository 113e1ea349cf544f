"""`lakehouse deploy --env aws`: make AWS match the YAML, and touch nothing that already does.

One generic Glue job runs any zone with --pipeline. The zones' order lives in a Step Functions
state machine: Glue workflow triggers can only wait on a job *name*, and every zone runs the same
job, so a trigger could not tell customer_trusted's run from step_trainer_trusted's.
"""
from __future__ import annotations

import json
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

from lakehouse.aws.artifacts import Artifact, build_wheel, collect
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
    action: str      # create | update | upload | unchanged
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


def job_definition(project: Project, wheel_name: str, max_parallel: int) -> dict[str, Any]:
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
            "--additional-python-modules": f"{GX_REQUIREMENT},{code_uri(s, 'dist', wheel_name)}",
            "--enable-glue-datacatalog": "true",
            "--pipeline": "all",
            "--env": project.env.name,
            "--config-uri": code_uri(s, "configs", project.config_dir.name) + "/",
        },
    }


def state_machine(project: Project) -> tuple[dict[str, Any], int]:
    """Zones by dependency level: a level's zones run in parallel, levels one after another.
    Returns the definition and the widest level (how many job runs may overlap)."""
    s = require_aws(project)
    graph = project.graph
    level: dict[str, int] = {}
    for name in graph.order:
        level[name] = 1 + max((level[u] for u in graph.depends_on[name]), default=-1)
    levels = [[n for n in graph.order if level[n] == i] for i in range(max(level.values()) + 1)]

    def task(zone: str) -> dict[str, Any]:
        return {"Type": "Task", "Resource": "arn:aws:states:::glue:startJobRun.sync",
                "Parameters": {"JobName": s.job_name, "Arguments": {"--pipeline": zone}}}

    states: dict[str, Any] = {}
    for i, zones in enumerate(levels):
        name = f"level {i}: " + ", ".join(zones)
        state = task(zones[0]) if len(zones) == 1 else {
            "Type": "Parallel", "Branches": [{"StartAt": z, "States": {z: {**task(z), "End": True}}} for z in zones]}
        states[name] = state
    names = list(states)
    for current, following in zip(names, names[1:] + [None]):
        if following:
            states[current]["Next"] = following
        else:
            states[current]["End"] = True
    return {"Comment": f"Run the {project.config_dir.name} zones in dependency order", "StartAt": names[0],
            "States": states}, max(len(z) for z in levels)


def plan_and_apply(project: Project, dry_run: bool = False, build_dir: Path | None = None) -> DeployPlan:
    s = require_aws(project)
    plan = DeployPlan()
    wheel = build_wheel(build_dir or Path("build") / "wheel")
    artifacts = collect(project.config_dir, project.suites_dir, wheel, s.code_prefix)
    s3, glue, sfn = aws_client("s3", s), aws_client("glue", s), aws_client("stepfunctions", s)

    for artifact in artifacts:
        plan.steps.append(_upload(s3, s.bucket, artifact, dry_run))

    definition, width = state_machine(project)
    plan.steps.append(_job(glue, s.job_name, job_definition(project, wheel.name, width), dry_run))
    plan.steps.append(_database(glue, project.env.database, dry_run))
    plan.steps.append(_state_machine(sfn, f"{s.job_name}-zones", definition, s.state_machine_role_arn, dry_run))
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


def _state_machine(sfn, name: str, definition: dict[str, Any], role_arn: str, dry_run: bool) -> Step:
    text = json.dumps(definition, indent=2, sort_keys=True)
    existing = next((m for page in sfn.get_paginator("list_state_machines").paginate()
                     for m in page["stateMachines"] if m["name"] == name), None)
    if existing is None:
        if not dry_run:
            sfn.create_state_machine(name=name, definition=text, roleArn=role_arn)
        return Step("state machine", name, "create", "runs the zones in dependency order")
    current = sfn.describe_state_machine(stateMachineArn=existing["stateMachineArn"])
    if json.loads(current["definition"]) == definition and current["roleArn"] == role_arn:
        return Step("state machine", name, "unchanged")
    if not dry_run:
        sfn.update_state_machine(stateMachineArn=existing["stateMachineArn"], definition=text, roleArn=role_arn)
    return Step("state machine", name, "update")
