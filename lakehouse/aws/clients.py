"""boto3 clients for one environment; endpoint_url points them at a stand-in (moto) in tests."""
from __future__ import annotations

from functools import lru_cache
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from lakehouse.config.models import AwsSettings


@lru_cache(maxsize=None)
def client(service: str, region: str, endpoint_url: str | None):
    import boto3

    return boto3.client(service, region_name=region, endpoint_url=endpoint_url)


def aws_client(service: str, settings: AwsSettings):
    return client(service, settings.region, settings.endpoint_url)


def split_s3(uri: str) -> tuple[str, str]:
    """'s3://bucket/a/b' -> ('bucket', 'a/b'); s3a:// too."""
    rest = uri.split("://", 1)[1]
    bucket, _, key = rest.partition("/")
    return bucket, key
