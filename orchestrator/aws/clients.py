"""boto3 clients for the AWS backends, built from one shared session.

Why a shared session: building a client from a fresh `boto3.session.Session`
re-reads botocore's endpoint and service data (about 0.1 s each time, on a
cold start that also builds DynamoDB, Lambda and SSM clients); a session that
has built one client builds the next in a few milliseconds. Sessions are not
thread-safe, so client creation holds a lock; the clients themselves are.

boto3 is imported here, lazily: the Lambda runtime provides it, the artifact
does not ship it, and nothing on the local SQLite path may import it.

`reset()` forgets the session (its resolved credentials and settings) for a
container restored from a SnapStart snapshot, but keeps botocore's data loader,
the parsed service models: a session built on it makes its first client in
about 10 ms instead of 60-80 ms, which is the part of a snapshot worth keeping.
"""

from __future__ import annotations

import threading
from typing import TYPE_CHECKING, Any, Literal, overload

if TYPE_CHECKING:
    from boto3.session import Session
    from botocore.loaders import Loader
    from mypy_boto3_dynamodb import DynamoDBClient
    from mypy_boto3_lambda import LambdaClient
    from mypy_boto3_ssm import SSMClient

_lock = threading.Lock()
_session: Session | None = None
_loader: Loader | None = None  # botocore's parsed service data; outlives `reset()`


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
            _session = _new_session()
        return _session.client(
            service, endpoint_url=endpoint_url, region_name=region, config=config
        )


def _new_session() -> Session:
    """A session that reads credentials and settings afresh, on the loader kept so far."""
    import boto3
    import botocore.session

    global _loader
    core = botocore.session.get_session()
    if _loader is None:
        _loader = core.get_component("data_loader")
        return boto3.session.Session(botocore_session=core)
    core.register_component("data_loader", _loader)
    session = boto3.session.Session(botocore_session=core)
    # boto3 appends its own data folder to the loader's search path per session.
    _loader.search_paths[:] = dict.fromkeys(_loader.search_paths)
    return session


def reset() -> None:
    """Forget the shared session: the next client resolves credentials, region and
    endpoints again. Clients already built keep working until their owners drop them.

    For SnapStart (`orchestrator.aws.snapstart`): credentials resolved before the
    snapshot belong to the initialising container, and one session's state must not be
    cloned into every restored one. Never imports boto3.
    """
    global _session
    with _lock:
        _session = None
