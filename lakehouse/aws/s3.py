"""Moving files between S3 and a local folder: configs down to the job, reports up from it."""
from __future__ import annotations

import json
from pathlib import Path

from lakehouse.aws.clients import client, split_s3


def _s3(region: str | None = None, endpoint_url: str | None = None):
    import os

    return client("s3", region or os.environ.get("AWS_REGION") or os.environ.get("AWS_DEFAULT_REGION", "us-east-1"),
                  endpoint_url or os.environ.get("AWS_ENDPOINT_URL") or None)


def download_prefix(uri: str, target: Path) -> int:
    bucket, prefix = split_s3(uri)
    s3, count = _s3(), 0
    for page in s3.get_paginator("list_objects_v2").paginate(Bucket=bucket, Prefix=prefix):
        for obj in page.get("Contents", []):
            relative = obj["Key"][len(prefix):].lstrip("/")
            if not relative or relative.endswith("/"):
                continue
            path = target / relative
            path.parent.mkdir(parents=True, exist_ok=True)
            s3.download_file(bucket, obj["Key"], str(path))
            count += 1
    return count


def upload_dir(source: Path, uri: str) -> int:
    bucket, prefix = split_s3(uri)
    s3, count = _s3(), 0
    for path in sorted(p for p in source.rglob("*") if p.is_file()):
        key = f"{prefix.rstrip('/')}/{path.relative_to(source).as_posix()}".lstrip("/")
        extra = {"ContentType": "text/html"} if path.suffix == ".html" else {}
        s3.upload_file(str(path), bucket, key, ExtraArgs=extra)
        count += 1
    return count


def upload_file(path: Path, uri: str) -> None:
    bucket, key = split_s3(uri)
    _s3().upload_file(str(path), bucket, key)


def read_json(uri: str):
    bucket, key = split_s3(uri)
    s3 = _s3()
    try:
        body = s3.get_object(Bucket=bucket, Key=key)["Body"].read()
    except s3.exceptions.NoSuchKey:
        return None
    return json.loads(body)


def list_keys(uri: str) -> list[str]:
    bucket, prefix = split_s3(uri)
    s3 = _s3()
    return [o["Key"] for page in s3.get_paginator("list_objects_v2").paginate(Bucket=bucket, Prefix=prefix)
            for o in page.get("Contents", [])]
