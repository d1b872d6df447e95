"""Secrets by name on Lambda: the environment holds SSM parameter names, never values.

`DISCORD_BOT_TOKEN_PARAM=/orchestrator/prod/discord-bot-token` means "the
value of DISCORD_BOT_TOKEN is that SecureString parameter". Why: a Lambda's
environment is readable by anyone who may read the function's configuration,
shows up in the console and in CloudFormation, and changing a secret there
means a redeploy. Parameter names are not secret; the values stay in SSM,
encrypted, readable only with the function's role.

Why one `GetParameters` call, cached per container: it is a network round
trip on the cold-start path, so all names go in one request (up to ten per
request, the API's cap) and a warm container never asks again. A rotated
secret is therefore picked up by new containers, i.e. after the next deploy
or scale-out, which is what rotation of these tokens needs.

SSM Parameter Store only, on purpose: SecureString parameters cost nothing,
one call fetches them all, and SAM/CloudFormation can grant `ssm:GetParameters`
on a path. Secrets Manager secrets are reachable through the same call: the
parameter name `/aws/reference/secretsmanager/<secret id>` resolves to the
secret's value (the role then also needs `secretsmanager:GetSecretValue`), so
there is no separate `*_SECRET_ID` variant.
"""

from __future__ import annotations

import os
import threading
from collections.abc import Iterable, Mapping, MutableMapping, Sequence
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from mypy_boto3_ssm import SSMClient

# Variables that may be given by parameter name, in the README's order.
SECRET_VARIABLES = (
    "DISCORD_PUBLIC_KEY",
    "DISCORD_APPLICATION_ID",
    "DISCORD_BOT_TOKEN",
    "GITHUB_TOKEN",
    "GITHUB_WEBHOOK_SECRET",
    "GITHUB_APP_PRIVATE_KEY",
)
PARAM_SUFFIX = "_PARAM"
GET_PARAMETERS_MAX_NAMES = 10
_SECRETS_MANAGER_PREFIX = "/aws/reference/secretsmanager/"

_cache: dict[str, str] = {}  # parameter name -> value, for the life of the container
_cache_lock = threading.Lock()


class SecretParamError(RuntimeError):
    """Parameters could not be read. Names variables and parameter names, never a value."""

    def __init__(self, problems: list[str]) -> None:
        self.problems = problems
        super().__init__(
            "could not read secrets from SSM:\n" + "\n".join(f"  - {p}" for p in problems)
        )


def secret_param_names(environ: Mapping[str, str]) -> dict[str, str]:
    """`{VARIABLE: parameter name}` for every `<VARIABLE>_PARAM` that is set and non-empty."""
    names = {}
    for variable in SECRET_VARIABLES:
        name = environ.get(variable + PARAM_SUFFIX, "").strip()
        if name:
            names[variable] = name
    return names


def fetch_parameters(names: Sequence[str], ssm: SSMClient) -> tuple[dict[str, str], dict[str, str]]:
    """Decrypted values by requested name, and a reason for each name that failed.

    One `GetParameters` call per ten names. Each answer is matched back to the
    name that was asked for, which may have been an ARN, carry a `:version` or
    `:label` selector, or be a Secrets Manager reference.
    """
    from botocore.exceptions import BotoCoreError, ClientError

    values: dict[str, str] = {}
    failed: dict[str, str] = {}
    unique = list(dict.fromkeys(names))
    for start in range(0, len(unique), GET_PARAMETERS_MAX_NAMES):
        batch = unique[start : start + GET_PARAMETERS_MAX_NAMES]
        try:
            response = ssm.get_parameters(Names=batch, WithDecryption=True)
        except ClientError as exc:
            code = exc.response.get("Error", {}).get("Code", "error")
            failed.update(dict.fromkeys(batch, code))
            continue
        except BotoCoreError as exc:  # unreachable endpoint, no credentials, timeouts
            failed.update(dict.fromkeys(batch, type(exc).__name__))
            continue
        exact: dict[str, str] = {}
        loose: dict[str, str] = {}
        for parameter in response.get("Parameters", []):
            value = parameter.get("Value")
            if value is None:
                continue
            name = parameter.get("Name", "")
            exact[name + parameter.get("Selector", "")] = value
            exact[parameter.get("ARN", "")] = value
            loose[_base_name(name)] = value
        invalid = set(response.get("InvalidParameters", []))
        for name in batch:
            value = exact.get(name, loose.get(_base_name(name)))
            if value is None or name in invalid:
                failed[name] = "parameter not found (or not readable)"
            else:
                values[name] = value
    return values, failed


def _base_name(name: str) -> str:
    """The parameter a request or answer names, without ARN, selector or reference prefix.

    Colons cannot occur in parameter or secret names, so after the ARN part
    a colon can only start a selector.
    """
    if name.startswith("arn:"):
        name = name.split(":", 5)[-1].removeprefix("parameter")
    head, slash, last = name.rpartition("/")
    name = head + slash + last.partition(":")[0]
    return name.removeprefix(_SECRETS_MANAGER_PREFIX).lstrip("/")


def resolve_secret_params(
    environ: Mapping[str, str],
    *,
    client: SSMClient | None = None,
    endpoint_url: str | None = None,
) -> dict[str, str]:
    """`{VARIABLE: value}` for every variable configured by parameter name.

    Values are read once per container: names already cached cost nothing,
    the rest are fetched together. Raises `SecretParamError` naming every
    variable that could not be resolved, with its parameter name.
    """
    wanted = secret_param_names(environ)
    if not wanted:
        return {}
    with _cache_lock:
        missing = [name for name in dict.fromkeys(wanted.values()) if name not in _cache]
        if missing:
            ssm = client or _ssm_client(endpoint_url)
            try:
                values, failed = fetch_parameters(missing, ssm)
            finally:
                if client is None:
                    ssm.close()
            if failed:
                raise SecretParamError(
                    [
                        f"{variable}{PARAM_SUFFIX}={name}: {failed[name]}"
                        for variable, name in wanted.items()
                        if name in failed
                    ]
                )
            _cache.update(values)
        return {variable: _cache[name] for variable, name in wanted.items()}


def apply_secret_params(
    environ: MutableMapping[str, str] | None = None,
    *,
    client: SSMClient | None = None,
    endpoint_url: str | None = None,
) -> list[str]:
    """Resolve and write the values into `environ` (default `os.environ`) before Settings load.

    A `<VARIABLE>_PARAM` wins over a plain `<VARIABLE>`: the indirection is the
    explicit choice. Returns the variables set (names only, safe to log).
    """
    target = os.environ if environ is None else environ
    resolved = resolve_secret_params(target, client=client, endpoint_url=endpoint_url)
    target.update(resolved)
    return sorted(resolved)


def clear_cache(names: Iterable[str] | None = None) -> None:
    """Forget cached values (all, or some parameter names): tests, and forced re-reads."""
    with _cache_lock:
        if names is None:
            _cache.clear()
        else:
            for name in names:
                _cache.pop(name, None)


def _ssm_client(endpoint_url: str | None) -> SSMClient:
    from orchestrator.aws.clients import client

    # A cold start waits on this: short timeouts, a couple of retries for throttling.
    return client(
        "ssm", endpoint_url=endpoint_url, connect_timeout=1.0, read_timeout=3.0, max_attempts=3
    )
