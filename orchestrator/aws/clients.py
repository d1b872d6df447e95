"""boto3 clients for the AWS backends, built from one shared session.

Why a shared session: building a client from a fresh `boto3.session.Session`
re-reads botocore's endpoint and service data (about 0.1 s each time, on a
cold start that also builds DynamoDB, Lambda and SSM clients); a session that
has built one client builds the next in a few milliseconds. Sessions are not
thread-safe, so client creation holds a lock; the clients themselves are.

boto3 is imported here, lazily: the Lambda runtime provides it, the artifact
does not ship it, and nothing on the local SQLite path may import it.
"""

from __future__ import annotations

import threading
from typing import TYPE_CHECKING, Any, Literal, overload

if TYPE_CHECKING:
    from boto3.session import Session
    from mypy_boto3_dynamodb import DynamoDBClient
    from mypy_boto3_lambda import LambdaClient
    from mypy_boto3_ssm import SSMClient

_lock = threading.Lock()
_session: Session | None = None


@overload
def client(
    service: Literal["dynamodb"],
    *,
    endpoint_url: str | None = ...,
    region: str | None = ...,
    connect_timeout: float = ...,
    read_timeout: float = ...,
    max_attempts: int = ...,
) -> DynamoDBClient: ...


@overload
def client(
    service: Literal["lambda"],
    *,
    endpoint_url: str | None = ...,
    region: str | None = ...,
    connect_timeout: float = ...,
    read_timeout: float = ...,
    max_attempts: int = ...,
) -> LambdaClient: ...


@overload
def client(
    service: Literal["ssm"],
    *,
    endpoint_url: str | None = ...,
    region: str | None = ...,
    connect_timeout: float = ...,
    read_timeout: float = ...,
    max_attempts: int = ...,
) -> SSMClient: ...


def client(
    service: Literal["dynamodb", "lambda", "ssm"],
    *,
    endpoint_url: str | None = None,
    region: str | None = None,
    connect_timeout: float = 1.0,
    read_timeout: float = 3.0,
    max_attempts: int = 2,
) -> Any:
    """A client with short timeouts; `max_attempts` counts the first try (1 = no retries).

    Endpoint and region default to the environment (`AWS_ENDPOINT_URL`,
    `AWS_ENDPOINT_URL_<SERVICE>`, `AWS_REGION`), as everywhere in boto3.
    """
    import boto3
    from botocore.config import Config

    global _session
    config = Config(
        connect_timeout=connect_timeout,
        read_timeout=read_timeout,
        retries={"mode": "standard", "total_max_attempts": max_attempts},
        max_pool_connections=16,
    )
    with _lock:
        if _session is None:
            _session = boto3.session.Session()
        return _session.client(
            service, endpoint_url=endpoint_url, region_name=region, config=config
        )
