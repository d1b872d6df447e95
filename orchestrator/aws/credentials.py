"""Which credentials, region and endpoint an AWS request uses, read where boto3 reads them.

On Lambda the runtime puts the function role's temporary credentials in the environment
(`AWS_ACCESS_KEY_ID`, `AWS_SECRET_ACCESS_KEY`, `AWS_SESSION_TOKEN`) and the region in
`AWS_REGION`: reading those costs nothing, so they are read on every request and never
cached (a container restored from a SnapStart snapshot, or one whose credentials Lambda
rotated, signs with what its environment says now).

Anywhere else (a developer's `~/.aws` profile, SSO, a container credentials endpoint,
which is also what Lambda offers SnapStart functions instead of the variables) the
credentials come from botocore's own provider chain, imported only then: it refreshes
temporary credentials before they expire, and `reset()` forgets it, so a restored
snapshot resolves its own.

Endpoints follow boto3's configuration too: `AWS_ENDPOINT_URL_<SERVICE>` (say
`AWS_ENDPOINT_URL_DYNAMODB`), then `AWS_ENDPOINT_URL` (moto or DynamoDB Local in tests
and development), then the service's regional endpoint. They are the operator's own
configuration, never user input, so they are not put through the outbound address policy.
"""

from __future__ import annotations

import os
import threading
from collections.abc import Mapping
from typing import Any

from orchestrator.aws.sigv4 import Credentials

_lock = threading.Lock()
_chain: Any = None  # botocore's credential provider, resolved on first use off the environment


class NotConfigured(RuntimeError):
    """No credentials, or no region: an AWS request cannot even be signed. The message names
    what is missing, never a secret."""


def current(environ: Mapping[str, str] | None = None) -> Credentials:
    """The credentials to sign the next request with."""
    env = os.environ if environ is None else environ
    key, secret = env.get("AWS_ACCESS_KEY_ID"), env.get("AWS_SECRET_ACCESS_KEY")
    if key and secret:
        return Credentials(key, secret, env.get("AWS_SESSION_TOKEN") or None)
    return _from_chain()


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
    """Forget botocore's provider: the next request resolves credentials afresh (SnapStart:
    a restored clone must not sign with the initialising container's)."""
    global _chain
    with _lock:
        _chain = None
