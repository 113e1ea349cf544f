"""The least-privilege policy the Glue job's role needs: this project's prefixes, database, logs."""
from __future__ import annotations

from typing import TYPE_CHECKING, Any

from lakehouse.aws.clients import split_s3

if TYPE_CHECKING:
    from lakehouse.project import Project


def job_policy(project: Project) -> dict[str, Any]:
    env, s = project.env, project.env.aws
    account = s.role_arn.split(":")[4] or "*"
    prefixes = sorted({split_s3(root)[1].strip("/") for root in (env.landing_root, env.lake_root, env.reports_root)}
                      | {s.code_prefix.strip("/")})
    read_only = {s.code_prefix.strip("/"), split_s3(env.landing_root)[1].strip("/")}
    writable = [p for p in prefixes if p not in read_only]
    catalog = f"arn:aws:glue:{s.region}:{account}"
    return {"Version": "2012-10-17", "Statement": [
        {"Sid": "ListProjectPrefixes", "Effect": "Allow", "Action": "s3:ListBucket",
         "Resource": f"arn:aws:s3:::{s.bucket}",
         "Condition": {"StringLike": {"s3:prefix": [f"{p}/*" for p in prefixes] + prefixes}}},
        {"Sid": "ReadCodeAndLanding", "Effect": "Allow", "Action": "s3:GetObject",
         "Resource": [f"arn:aws:s3:::{s.bucket}/{p}/*" for p in sorted(read_only)]},
        {"Sid": "WriteLakeAndReports", "Effect": "Allow",
         "Action": ["s3:GetObject", "s3:PutObject", "s3:DeleteObject"],
         "Resource": [f"arn:aws:s3:::{s.bucket}/{p}/*" for p in writable]},
        {"Sid": "ProjectDatabaseTables", "Effect": "Allow",
         "Action": ["glue:GetDatabase", "glue:GetTable", "glue:GetTables", "glue:CreateTable", "glue:UpdateTable",
                    "glue:GetPartitions"],
         "Resource": [f"{catalog}:catalog", f"{catalog}:database/{env.database}",
                      f"{catalog}:table/{env.database}/*"]},
        {"Sid": "JobLogs", "Effect": "Allow",
         "Action": ["logs:CreateLogGroup", "logs:CreateLogStream", "logs:PutLogEvents"],
         "Resource": f"arn:aws:logs:{s.region}:{account}:log-group:/aws-glue/*"},
    ]}
