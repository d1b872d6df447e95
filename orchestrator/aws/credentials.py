"""Which credentials, region and endpoint an AWS request uses, read where boto3 reads them.

On Lambda the runtime puts the function role's temporary credentials in the environment
(`AWS_ACCESS_KEY_ID`, `AWS_SECRET_ACCESS_KEY`, `AWS_SESSION_TOKEN`) and the region in
`AWS_REGION`: reading those costs nothing, so they are read on every request and never
cached (a container restored from a SnapStart snapshot, or one whose credentials Lambda
rotated, signs with what its environment says now).

A function with SnapStart on gets no such variables: Lambda offers it a container
credentials endpoint instead (`AWS_CONTAINER_CREDENTIALS_FULL_URI`, on loopback, with
`AWS_CONTAINER_AUTHORIZATION_TOKEN`; the SDKs' "container credential provider"). That one is
read here too, one GET, its answer kept until five minutes before it expires and dropped by
`reset()` (the SnapStart hooks call it), so a restored clone fetches its own.

Anywhere else (a developer's `~/.aws` profile, SSO, ECS, EC2) the credentials come from
botocore's own provider chain, imported only then: it refreshes temporary credentials
before they expire, and `reset()` forgets it too.

Endpoints follow boto3's configuration too: `AWS_ENDPOINT_URL_<SERVICE>` (say
`AWS_ENDPOINT_URL_DYNAMODB`), then `AWS_ENDPOINT_URL` (moto or DynamoDB Local in tests
and development), then the service's regional endpoint. They are the operator's own
configuration, never user input, so they are not put through the outbound address policy.
"""

from __future__ import annotations

import json
import os
import threading
import time
from collections.abc import Mapping
from datetime import datetime
from typing import Any
from urllib.parse import urlsplit

from orchestrator.aws.sigv4 import Credentials

CONTAINER_URI = "AWS_CONTAINER_CREDENTIALS_FULL_URI"
CONTAINER_TOKEN = "AWS_CONTAINER_AUTHORIZATION_TOKEN"  # noqa: S105 - a variable's name
CONTAINER_TOKEN_FILE = "AWS_CONTAINER_AUTHORIZATION_TOKEN_FILE"  # noqa: S105 - likewise
REFRESH_BEFORE = 300.0  # seconds before expiry that container credentials are fetched again
_LOOPBACK = frozenset({"127.0.0.1", "localhost", "::1"})

_lock = threading.Lock()
_chain: Any = None  # botocore's credential provider, resolved on first use off the environment
_container: tuple[Credentials, float] | None = None  # and their expiry (epoch seconds)


class NotConfigured(RuntimeError):
    """No credentials, or no region: an AWS request cannot even be signed. The message names
    what is missing, never a secret."""


def current(environ: Mapping[str, str] | None = None) -> Credentials:
    """The credentials to sign the next request with."""
    env = os.environ if environ is None else environ
    key, secret = env.get("AWS_ACCESS_KEY_ID"), env.get("AWS_SECRET_ACCESS_KEY")
    if key and secret:
        return Credentials(key, secret, env.get("AWS_SESSION_TOKEN") or None)
    uri = env.get(CONTAINER_URI)
    if uri and _container_endpoint(uri):
        return _from_container(uri, env)
    return _from_chain()


def _container_endpoint(uri: str) -> bool:
    """Ours to fetch: https, or plain http to loopback only (Lambda's is `127.0.0.1`), the
    rule botocore applies; anything else is left to botocore's chain."""
    parts = urlsplit(uri)
    return parts.scheme == "https" or (parts.scheme == "http" and parts.hostname in _LOOPBACK)


def _from_container(uri: str, env: Mapping[str, str], now: float | None = None) -> Credentials:
    """The container endpoint's credentials, fetched when none are kept or they expire soon."""
    global _container
    at = time.time() if now is None else now
    with _lock:
        if _container is not None and _container[1] - REFRESH_BEFORE > at:
            return _container[0]
        fetched = _fetch_container(uri, env)
        _container = fetched
    return fetched[0]


def _fetch_container(uri: str, env: Mapping[str, str]) -> tuple[Credentials, float]:
    import httpx

    from orchestrator.http import new_blocking_client

    token = env.get(CONTAINER_TOKEN)
    token_file = env.get(CONTAINER_TOKEN_FILE)
    if not token and token_file:
        try:
            with open(token_file, encoding="utf-8") as file:
                token = file.read().strip()
        except OSError as exc:
            reason = f"container credentials: {type(exc).__name__} on the token file"
            raise NotConfigured(reason) from exc
    headers = {"Authorization": token} if token else {}
    try:
        with new_blocking_client(timeout=2.0, connect_timeout=1.0) as http:
            answer = http.get(uri, headers=headers)
    except httpx.HTTPError as exc:
        raise NotConfigured(f"container credentials: {type(exc).__name__}") from exc
    if answer.status_code != 200:
        raise NotConfigured(f"container credentials: HTTP {answer.status_code}")
    try:
        data = json.loads(answer.content)
        found = Credentials(data["AccessKeyId"], data["SecretAccessKey"], data.get("Token"))
        expiry = data.get("Expiration")
        expires = datetime.fromisoformat(expiry).timestamp() if expiry else time.time() + 600
    except (ValueError, KeyError, TypeError) as exc:
        raise NotConfigured("container credentials: an answer without credentials") from exc
    return found, expires


def _from_chain() -> Credentials:
    """botocore's chain (profiles, SSO, container and instance credentials), imported lazily."""
    global _chain
    with _lock:
        chain = _chain
        if chain is None:
            import botocore.exceptions
            import botocore.session

            try:
                chain = botocore.session.get_session().get_credentials()
            except botocore.exceptions.BotoCoreError as exc:
                raise NotConfigured(f"no AWS credentials ({type(exc).__name__})") from exc
            if chain is None:
                raise NotConfigured("no AWS credentials")
            _chain = chain
    frozen = chain.get_frozen_credentials()  # refreshed first if they are about to expire
    return Credentials(frozen.access_key, frozen.secret_key, frozen.token or None)


def region(explicit: str | None = None, environ: Mapping[str, str] | None = None) -> str:
    """`explicit`, else `AWS_REGION` (Lambda's), `AWS_DEFAULT_REGION`, else the profile's."""
    env = os.environ if environ is None else environ
    found = explicit or env.get("AWS_REGION") or env.get("AWS_DEFAULT_REGION")
    if not found:
        import botocore.session

        found = botocore.session.get_session().get_config_variable("region")
    if not found:
        raise NotConfigured("no AWS region: set AWS_REGION")
    return str(found)


def endpoint(
    service: str,
    region_name: str,
    explicit: str | None = None,
    environ: Mapping[str, str] | None = None,
) -> str:
    """The base URL for `service` (`dynamodb`, `lambda`), as boto3 would choose it."""
    if explicit:
        return explicit.rstrip("/")
    env = os.environ if environ is None else environ
    if env.get("AWS_IGNORE_CONFIGURED_ENDPOINT_URLS", "").lower() != "true":
        configured = env.get(f"AWS_ENDPOINT_URL_{service.upper()}") or env.get("AWS_ENDPOINT_URL")
        if configured:
            return configured.rstrip("/")
    suffix = "amazonaws.com.cn" if region_name.startswith("cn-") else "amazonaws.com"
    return f"https://{service}.{region_name}.{suffix}"


def reset() -> None:
    """Forget botocore's provider and the container credentials: the next request resolves
    credentials afresh (SnapStart: a restored clone must not sign with the initialising
    container's)."""
    global _chain, _container
    with _lock:
        _chain = None
        _container = None
