"""Where the thin AWS client's credentials, region and endpoint come from
(`orchestrator.aws.credentials`): the environment first, read afresh every time; Lambda's
container credentials endpoint (SnapStart functions) with its answer kept until shortly
before it expires; botocore's chain only when neither is there."""

from __future__ import annotations

import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

from orchestrator.aws import credentials
from orchestrator.aws.credentials import NotConfigured
from tests.support.scripted_aws import Reply, ScriptedAWS

AWS_VARIABLES = (
    "AWS_ACCESS_KEY_ID",
    "AWS_SECRET_ACCESS_KEY",
    "AWS_SESSION_TOKEN",
    "AWS_PROFILE",
    "AWS_REGION",
    "AWS_DEFAULT_REGION",
    "AWS_ENDPOINT_URL",
    "AWS_ENDPOINT_URL_DYNAMODB",
    "AWS_IGNORE_CONFIGURED_ENDPOINT_URLS",
    credentials.CONTAINER_URI,
    credentials.CONTAINER_TOKEN,
    credentials.CONTAINER_TOKEN_FILE,
    "AWS_CONTAINER_CREDENTIALS_RELATIVE_URI",
)


@pytest.fixture(autouse=True)
def clean(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> Iterator[None]:
    for name in AWS_VARIABLES:
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("AWS_CONFIG_FILE", str(tmp_path / "config"))
    monkeypatch.setenv("AWS_SHARED_CREDENTIALS_FILE", str(tmp_path / "credentials"))
    monkeypatch.setenv("AWS_EC2_METADATA_DISABLED", "true")
    credentials.reset()
    yield
    credentials.reset()


def container_answer(key: str, expiration: str = "2999-01-01T00:00:00Z") -> Reply:
    return Reply(
        200,
        {
            "AccessKeyId": key,
            "SecretAccessKey": "secret",
            "Token": f"token-of-{key}",
            "Expiration": expiration,
        },
    )


def test_environment_credentials_are_read_every_time(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", "AKIDONE")
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", "s1")
    assert credentials.current() == credentials.Credentials("AKIDONE", "s1", None)
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", "ASIATWO")
    monkeypatch.setenv("AWS_SESSION_TOKEN", "t2")
    assert credentials.current() == credentials.Credentials("ASIATWO", "s1", "t2")


def test_lambdas_container_endpoint_is_asked_once_while_the_answer_lasts(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    with ScriptedAWS(container_answer("ASIACONTAINER"), container_answer("ASIANEXT")) as aws:
        monkeypatch.setenv(credentials.CONTAINER_URI, f"{aws.url}/2018-06-01/credentials")
        monkeypatch.setenv(credentials.CONTAINER_TOKEN, "Bearer lambda-token")
        first = credentials.current()
        second = credentials.current()
        assert (
            first
            == second
            == credentials.Credentials("ASIACONTAINER", "secret", "token-of-ASIACONTAINER")
        )
        assert len(aws.requests) == 1
        [sent] = aws.requests
        assert (sent.method, sent.path) == ("GET", "/2018-06-01/credentials")
        assert sent.header("Authorization") == "Bearer lambda-token"
        credentials.reset()  # what the SnapStart hooks do
        assert credentials.current().access_key == "ASIANEXT"
        assert len(aws.requests) == 2


def test_container_credentials_about_to_expire_are_fetched_again(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    soon = "2026-01-01T00:04:00+00:00"  # 4 minutes after "now": inside the refresh margin
    with ScriptedAWS(container_answer("ASIAOLD", soon), container_answer("ASIANEW")) as aws:
        uri = f"{aws.url}/creds"
        env = {credentials.CONTAINER_URI: uri}
        now = 1767225600.0  # 2026-01-01T00:00:00Z
        assert credentials._from_container(uri, env, now).access_key == "ASIAOLD"
        assert credentials._from_container(uri, env, now).access_key == "ASIANEW"
        assert credentials._from_container(uri, env, now).access_key == "ASIANEW"
    assert len(aws.requests) == 2


def test_the_token_may_come_from_a_file(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    token_file = tmp_path / "token"
    token_file.write_text("from-a-file\n")
    with ScriptedAWS(container_answer("ASIAFILE")) as aws:
        monkeypatch.setenv(credentials.CONTAINER_URI, f"{aws.url}/creds")
        monkeypatch.setenv(credentials.CONTAINER_TOKEN_FILE, str(token_file))
        assert credentials.current().access_key == "ASIAFILE"
    assert aws.requests[0].header("Authorization") == "from-a-file"


@pytest.mark.parametrize(
    ("reply", "reason"),
    [
        (Reply(500), "HTTP 500"),
        (Reply(200, {"Code": "Failure"}), "without credentials"),
        (Reply(200, b"not json"), "without credentials"),
    ],
)
def test_a_failing_container_endpoint_is_not_configured(
    monkeypatch: pytest.MonkeyPatch, reply: Reply, reason: str
) -> None:
    with ScriptedAWS(reply) as aws:
        monkeypatch.setenv(credentials.CONTAINER_URI, f"{aws.url}/creds")
        with pytest.raises(NotConfigured, match=reason):
            credentials.current()


def test_only_loopback_or_https_container_endpoints_are_ours() -> None:
    assert credentials._container_endpoint("http://127.0.0.1:9001/2018-06-01/credentials")
    assert credentials._container_endpoint("http://localhost/creds")
    assert credentials._container_endpoint("https://creds.example/")
    assert not credentials._container_endpoint("http://169.254.170.23/v1/credentials")
    assert not credentials._container_endpoint("http://example.com/creds")


def test_without_any_the_chain_says_so() -> None:
    with pytest.raises(NotConfigured, match="no AWS credentials"):
        credentials.current()


def test_a_profile_is_found_through_botocore(tmp_path: Path) -> None:
    (tmp_path / "credentials").write_text(
        "[default]\naws_access_key_id = AKIDPROFILE\naws_secret_access_key = s\n"
    )
    assert credentials.current().access_key == "AKIDPROFILE"


def test_region(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    with pytest.raises(NotConfigured, match="AWS_REGION"):
        credentials.region()
    (tmp_path / "config").write_text("[default]\nregion = ap-south-1\n")
    assert credentials.region() == "ap-south-1"
    monkeypatch.setenv("AWS_DEFAULT_REGION", "eu-west-2")
    assert credentials.region() == "eu-west-2"
    monkeypatch.setenv("AWS_REGION", "eu-west-1")
    assert credentials.region() == "eu-west-1"
    assert credentials.region("us-east-1") == "us-east-1"


def test_endpoint(monkeypatch: pytest.MonkeyPatch) -> None:
    assert credentials.endpoint("lambda", "eu-west-1") == "https://lambda.eu-west-1.amazonaws.com"
    assert credentials.endpoint("dynamodb", "cn-north-1") == (
        "https://dynamodb.cn-north-1.amazonaws.com.cn"
    )
    monkeypatch.setenv("AWS_ENDPOINT_URL", "http://127.0.0.1:5000/")
    assert credentials.endpoint("lambda", "eu-west-1") == "http://127.0.0.1:5000"
    monkeypatch.setenv("AWS_ENDPOINT_URL_DYNAMODB", "http://127.0.0.1:8000")
    assert credentials.endpoint("dynamodb", "eu-west-1") == "http://127.0.0.1:8000"
    assert credentials.endpoint("lambda", "eu-west-1") == "http://127.0.0.1:5000"
    assert credentials.endpoint("dynamodb", "eu-west-1", "http://x:1") == "http://x:1"
    monkeypatch.setenv("AWS_IGNORE_CONFIGURED_ENDPOINT_URLS", "true")
    assert credentials.endpoint("dynamodb", "eu-west-1") == (
        "https://dynamodb.eu-west-1.amazonaws.com"
    )


def test_environment_credentials_need_no_botocore() -> None:
    code = (
        "import os, sys; os.environ.update(AWS_ACCESS_KEY_ID='a', AWS_SECRET_ACCESS_KEY='b'); "
        "from orchestrator.aws import credentials; credentials.current(); "
        "sys.exit('botocore' in sys.modules)"
    )
    assert subprocess.run([sys.executable, "-c", code], timeout=60).returncode == 0
