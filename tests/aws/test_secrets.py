"""Secrets by parameter name, against moto's SSM in server mode over HTTP."""

from __future__ import annotations

import subprocess
import sys
from collections.abc import Iterator
from typing import Any

import pytest

from orchestrator.aws import secrets
from orchestrator.aws.clients import client as aws_client
from orchestrator.aws.secrets import (
    SecretParamError,
    apply_secret_params,
    fetch_parameters,
    resolve_secret_params,
    secret_param_names,
)
from tests.support.moto_server import MotoServer, moto_server  # noqa: F401

VALUES = {
    "/orchestrator/prod/discord-bot-token": "bot-token-s3cr3t",
    "/orchestrator/prod/discord-public-key": "ab" * 32,
    "/orchestrator/prod/discord-application-id": "123456789012345678",
    "/orchestrator/prod/github-token": "ghp_not-a-real-token",
    "/orchestrator/prod/github-webhook-secret": "hook-one,hook-two",
}
ENVIRON = {
    "DISCORD_BOT_TOKEN_PARAM": "/orchestrator/prod/discord-bot-token",
    "DISCORD_PUBLIC_KEY_PARAM": "/orchestrator/prod/discord-public-key",
    "DISCORD_APPLICATION_ID_PARAM": "/orchestrator/prod/discord-application-id",
    "GITHUB_TOKEN_PARAM": "/orchestrator/prod/github-token",
    "GITHUB_WEBHOOK_SECRET_PARAM": "/orchestrator/prod/github-webhook-secret",
    "ORCHESTRATOR_STORE": "dynamodb",  # unrelated variables are ignored
}


class CountingSSM:
    """The real client, counting `get_parameters` calls (what the cache must save)."""

    def __init__(self, real: Any) -> None:
        self.real = real
        self.calls: list[list[str]] = []

    def get_parameters(self, **kwargs: Any) -> Any:
        assert kwargs["WithDecryption"] is True
        self.calls.append(list(kwargs["Names"]))
        return self.real.get_parameters(**kwargs)


@pytest.fixture
def moto(request: pytest.FixtureRequest) -> Iterator[MotoServer]:
    server: MotoServer = request.getfixturevalue("moto_server")
    server.reset()  # a clean parameter store per test
    secrets.clear_cache()
    yield server
    secrets.clear_cache()


@pytest.fixture
def ssm(moto: MotoServer) -> Iterator[CountingSSM]:
    # moto builds its SSM backend on first use, slowly: a patient client, and no retries
    # that would turn a slow first PutParameter into ParameterAlreadyExists.
    real = aws_client("ssm", endpoint_url=moto.url, read_timeout=60, max_attempts=1)
    for name, value in VALUES.items():
        real.put_parameter(Name=name, Value=value, Type="SecureString")
    yield CountingSSM(real)
    real.close()


def test_names_come_from_param_variables() -> None:
    assert secret_param_names({**ENVIRON, "GITHUB_APP_PRIVATE_KEY_PARAM": "  "}) == {
        "DISCORD_PUBLIC_KEY": "/orchestrator/prod/discord-public-key",
        "DISCORD_APPLICATION_ID": "/orchestrator/prod/discord-application-id",
        "DISCORD_BOT_TOKEN": "/orchestrator/prod/discord-bot-token",
        "GITHUB_TOKEN": "/orchestrator/prod/github-token",
        "GITHUB_WEBHOOK_SECRET": "/orchestrator/prod/github-webhook-secret",
    }


def test_resolves_all_in_one_call_then_from_cache(ssm: CountingSSM) -> None:
    resolved = resolve_secret_params(ENVIRON, client=ssm)  # type: ignore[arg-type]
    assert resolved == {
        "DISCORD_BOT_TOKEN": "bot-token-s3cr3t",
        "DISCORD_PUBLIC_KEY": "ab" * 32,
        "DISCORD_APPLICATION_ID": "123456789012345678",
        "GITHUB_TOKEN": "ghp_not-a-real-token",
        "GITHUB_WEBHOOK_SECRET": "hook-one,hook-two",
    }
    assert len(ssm.calls) == 1
    assert sorted(ssm.calls[0]) == sorted(VALUES)
    # Warm container: no further SSM traffic, whoever asks.
    assert resolve_secret_params(ENVIRON, client=ssm) == resolved  # type: ignore[arg-type]
    assert resolve_secret_params(ENVIRON, endpoint_url="http://127.0.0.1:9") == resolved
    assert len(ssm.calls) == 1


def test_only_uncached_names_are_fetched(ssm: CountingSSM, moto: MotoServer) -> None:
    resolve_secret_params({"GITHUB_TOKEN_PARAM": "/orchestrator/prod/github-token"}, client=ssm)  # type: ignore[arg-type]
    ssm.real.put_parameter(
        Name="/orchestrator/prod/github-app-key", Value="-----BEGIN KEY-----", Type="SecureString"
    )
    environ = {
        "GITHUB_TOKEN_PARAM": "/orchestrator/prod/github-token",
        "GITHUB_APP_PRIVATE_KEY_PARAM": "/orchestrator/prod/github-app-key",
    }
    assert resolve_secret_params(environ, client=ssm) == {  # type: ignore[arg-type]
        "GITHUB_TOKEN": "ghp_not-a-real-token",
        "GITHUB_APP_PRIVATE_KEY": "-----BEGIN KEY-----",
    }
    assert ssm.calls == [
        ["/orchestrator/prod/github-token"],
        ["/orchestrator/prod/github-app-key"],
    ]


def test_nothing_configured_makes_no_call() -> None:
    class Refuses:
        def get_parameters(self, **kwargs: Any) -> Any:
            raise AssertionError("no parameter was configured")

    assert resolve_secret_params({"DISCORD_BOT_TOKEN": "plain"}, client=Refuses()) == {}  # type: ignore[arg-type]


def test_a_missing_parameter_names_variable_and_parameter_not_values(ssm: CountingSSM) -> None:
    environ = {**ENVIRON, "GITHUB_TOKEN_PARAM": "/orchestrator/prod/nope"}
    with pytest.raises(SecretParamError) as raised:
        resolve_secret_params(environ, client=ssm)  # type: ignore[arg-type]
    message = str(raised.value)
    assert "GITHUB_TOKEN_PARAM=/orchestrator/prod/nope" in message
    assert raised.value.problems == [
        "GITHUB_TOKEN_PARAM=/orchestrator/prod/nope: parameter not found (or not readable)"
    ]
    for value in VALUES.values():
        assert value not in message
    assert len(ssm.calls) == 1
    # Nothing half-resolved is cached: fixing the name costs one more call, for that name only.
    fixed = resolve_secret_params(ENVIRON, client=ssm)  # type: ignore[arg-type]
    assert fixed["GITHUB_TOKEN"] == "ghp_not-a-real-token"
    assert len(ssm.calls) == 2


def test_an_unreachable_ssm_names_every_variable() -> None:
    from tests.support.servers import free_port

    environ = {
        "DISCORD_BOT_TOKEN_PARAM": "/orchestrator/prod/discord-bot-token",
        "GITHUB_TOKEN_PARAM": "/orchestrator/prod/github-token",
    }
    secrets.clear_cache()
    ssm = aws_client(
        "ssm", endpoint_url=f"http://127.0.0.1:{free_port()}", region="eu-west-1", max_attempts=1
    )
    with pytest.raises(SecretParamError) as raised:
        resolve_secret_params(environ, client=ssm)
    assert raised.value.problems == [
        "DISCORD_BOT_TOKEN_PARAM=/orchestrator/prod/discord-bot-token: EndpointConnectionError",
        "GITHUB_TOKEN_PARAM=/orchestrator/prod/github-token: EndpointConnectionError",
    ]
    ssm.close()


def test_more_than_ten_names_are_batched(ssm: CountingSSM) -> None:
    names = [f"/orchestrator/test/p{n:02d}" for n in range(12)]
    for name in names:
        ssm.real.put_parameter(Name=name, Value=f"v-{name[-3:]}", Type="SecureString")
    values, failed = fetch_parameters([*names, names[0]], ssm)  # type: ignore[arg-type]
    assert failed == {}
    assert values == {name: f"v-{name[-3:]}" for name in names}
    assert [len(call) for call in ssm.calls] == [10, 2]


def test_parameters_by_arn_and_version(ssm: CountingSSM) -> None:
    arn = "arn:aws:ssm:eu-west-1:123456789012:parameter/orchestrator/prod/github-token"
    asked = [arn, "/orchestrator/prod/discord-bot-token:1"]
    values, failed = fetch_parameters(asked, ssm)  # type: ignore[arg-type]
    assert failed == {}
    assert values == {
        arn: "ghp_not-a-real-token",
        "/orchestrator/prod/discord-bot-token:1": "bot-token-s3cr3t",
    }


def test_secrets_manager_through_the_ssm_reference(moto: MotoServer, ssm: CountingSSM) -> None:
    import boto3

    manager = boto3.session.Session().client("secretsmanager", endpoint_url=moto.url)
    manager.create_secret(Name="orchestrator/github-token", SecretString="ghp_from_manager")
    manager.close()
    environ = {"GITHUB_TOKEN_PARAM": "/aws/reference/secretsmanager/orchestrator/github-token"}
    assert resolve_secret_params(environ, endpoint_url=moto.url) == {
        "GITHUB_TOKEN": "ghp_from_manager"
    }


def test_apply_writes_the_environment(ssm: CountingSSM) -> None:
    environ = {**ENVIRON, "DISCORD_BOT_TOKEN": "stale"}
    assert apply_secret_params(environ, client=ssm) == [  # type: ignore[arg-type]
        "DISCORD_APPLICATION_ID",
        "DISCORD_BOT_TOKEN",
        "DISCORD_PUBLIC_KEY",
        "GITHUB_TOKEN",
        "GITHUB_WEBHOOK_SECRET",
    ]
    assert environ["DISCORD_BOT_TOKEN"] == "bot-token-s3cr3t"
    assert environ["GITHUB_WEBHOOK_SECRET"] == "hook-one,hook-two"


def test_importing_does_not_import_boto3() -> None:
    code = (
        "import sys, orchestrator.aws.secrets; "
        "sys.exit('boto3' in sys.modules or 'botocore' in sys.modules)"
    )
    assert subprocess.run([sys.executable, "-c", code], timeout=60).returncode == 0
