"""The thin AWS client (`orchestrator.aws.api`) against a scripted endpoint on 127.0.0.1:
what goes over the wire is signed as botocore would sign it, and every kind of failure
arrives as the one exception its callers handle."""

from __future__ import annotations

import subprocess
import sys
import zlib
from collections.abc import Iterator
from datetime import UTC, datetime

import pytest

from orchestrator.aws import credentials
from orchestrator.aws.api import AWSError, Client, NotConfigured, Unreachable, parse_error
from orchestrator.aws.sigv4 import Credentials
from tests.support.scripted_aws import (
    Reply,
    ScriptedAWS,
    aws_error,
    botocore_authorization,
    rest_error,
)
from tests.support.servers import free_port

REGION = "eu-west-1"
SECRET = "wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY"


@pytest.fixture(autouse=True)
def aws_env(monkeypatch: pytest.MonkeyPatch, tmp_path: object) -> Iterator[None]:
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", "ASIAEXAMPLE")
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", SECRET)
    monkeypatch.setenv("AWS_SESSION_TOKEN", "session-token")
    monkeypatch.setenv("AWS_REGION", REGION)
    credentials.reset()
    yield
    credentials.reset()


def test_a_json_call_is_signed_as_botocore_signs_it() -> None:
    with ScriptedAWS(Reply(200, {"Item": {"pk": {"S": "job"}}})) as aws:
        client = Client("dynamodb", endpoint_url=aws.url)
        answer = client.json("DynamoDB_20120810", "GetItem", {"TableName": "t", "Key": {}})
        client.close()
    assert answer == {"Item": {"pk": {"S": "job"}}}
    [sent] = aws.requests
    assert (sent.method, sent.path) == ("POST", "/")
    assert sent.header("X-Amz-Target") == "DynamoDB_20120810.GetItem"
    assert sent.header("Content-Type") == "application/x-amz-json-1.0"
    assert sent.header("X-Amz-Security-Token") == "session-token"
    assert sent.body == b'{"TableName":"t","Key":{}}'
    authorization = sent.header("Authorization") or ""
    date = (sent.header("X-Amz-Date") or "")[:8]
    assert f"Credential=ASIAEXAMPLE/{date}/{REGION}/dynamodb/aws4_request" in authorization
    assert botocore_authorization(sent, aws.url, REGION, "dynamodb", SECRET) == authorization
    # A wrong secret would not verify: the comparison above means something.
    assert botocore_authorization(sent, aws.url, REGION, "dynamodb", "other") != authorization


def test_a_path_with_an_arn_arrives_encoded_and_signed() -> None:
    arn = "arn%3Aaws%3Alambda%3Aeu-west-1%3A1%3Afunction%3Af%3Alive"
    path = f"/2015-03-31/functions/{arn}/invocations"
    with ScriptedAWS(Reply(202)) as aws:
        client = Client("lambda", endpoint_url=aws.url)
        response = client.send("POST", path, operation="Invoke", body=b"{}")
        client.close()
    assert response.status == 202 and response.json() == {}
    [sent] = aws.requests
    assert sent.path == path, "the path is sent as given"
    assert botocore_authorization(sent, aws.url, REGION, "lambda", SECRET) == sent.header(
        "Authorization"
    )


@pytest.mark.parametrize(
    ("reply", "code", "status"),
    [
        (aws_error("ConditionalCheckFailedException"), "ConditionalCheckFailedException", 400),
        (rest_error("AccessDeniedException", 403), "AccessDeniedException", 403),
        (Reply(500, b"<html>bad gateway</html>"), "", 500),
        (Reply(503), "", 503),
    ],
)
def test_error_answers_raise_aws_error(reply: Reply, code: str, status: int) -> None:
    with ScriptedAWS(reply) as aws:
        client = Client("dynamodb", endpoint_url=aws.url)
        with pytest.raises(AWSError) as raised:
            client.json("DynamoDB_20120810", "PutItem", {})
        client.close()
    assert (raised.value.code, raised.value.status) == (code, status)
    assert raised.value.reason == (code or f"HTTP {status}")


def test_a_condition_failure_carries_the_old_item() -> None:
    old = {"pk": {"S": "delivery"}, "writer": {"S": "abc"}}
    with ScriptedAWS(aws_error("ConditionalCheckFailedException", Item=old)) as aws:
        client = Client("dynamodb", endpoint_url=aws.url)
        with pytest.raises(AWSError) as raised:
            client.json("DynamoDB_20120810", "PutItem", {})
        client.close()
    assert raised.value.body["Item"] == old


def test_a_refused_connection_is_unreachable() -> None:
    client = Client("dynamodb", endpoint_url=f"http://127.0.0.1:{free_port()}")
    with pytest.raises(Unreachable, match="ConnectError"):
        client.json("DynamoDB_20120810", "GetItem", {})
    client.close()


def test_a_damaged_answer_is_unreachable() -> None:
    """DynamoDB's CRC32 of the body: a mismatch is a transport failure (worth a retry)."""
    body = b'{"Item":{}}'
    good = str(zlib.crc32(body))
    with ScriptedAWS(
        Reply(200, body, {"x-amz-crc32": "12345"}), Reply(200, body, {"x-amz-crc32": good})
    ) as aws:
        client = Client("dynamodb", endpoint_url=aws.url)
        with pytest.raises(Unreachable, match="CRC32Mismatch"):
            client.json("DynamoDB_20120810", "GetItem", {})
        assert client.json("DynamoDB_20120810", "GetItem", {}) == {"Item": {}}
        client.close()


def test_no_region_or_credentials_is_not_configured(
    monkeypatch: pytest.MonkeyPatch, tmp_path: object
) -> None:
    for name in ("AWS_REGION", "AWS_DEFAULT_REGION", "AWS_PROFILE"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("AWS_CONFIG_FILE", "/nonexistent/config")
    with pytest.raises(NotConfigured, match="no AWS region"):
        Client("dynamodb", endpoint_url="http://127.0.0.1:1").json("X", "Y", {})
    for name in ("AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY", "AWS_SESSION_TOKEN"):
        monkeypatch.delenv(name)
    monkeypatch.setenv("AWS_SHARED_CREDENTIALS_FILE", "/nonexistent/credentials")
    monkeypatch.setenv("AWS_EC2_METADATA_DISABLED", "true")
    for name in ("AWS_CONTAINER_CREDENTIALS_FULL_URI", "AWS_CONTAINER_CREDENTIALS_RELATIVE_URI"):
        monkeypatch.delenv(name, raising=False)
    client = Client("dynamodb", endpoint_url="http://127.0.0.1:1", region=REGION)
    with pytest.raises(NotConfigured, match="no AWS credentials"):
        client.json("X", "Y", {})


def test_credentials_are_asked_for_on_every_request() -> None:
    """Nothing is kept between requests: rotated credentials are used at once."""
    keys = iter(["AKIDFIRST", "AKIDSECOND"])
    with ScriptedAWS() as aws:
        client = Client(
            "dynamodb",
            endpoint_url=aws.url,
            credentials=lambda: Credentials(next(keys), SECRET),
            clock=lambda: datetime(2026, 1, 2, 3, 4, 5, tzinfo=UTC),
        )
        client.json("DynamoDB_20120810", "GetItem", {})
        client.json("DynamoDB_20120810", "GetItem", {})
        client.close()
    first, second = (r.header("Authorization") or "" for r in aws.requests)
    assert "Credential=AKIDFIRST/20260102/" in first
    assert "Credential=AKIDSECOND/20260102/" in second
    assert all(r.header("X-Amz-Date") == "20260102T030405Z" for r in aws.requests)


@pytest.mark.parametrize(
    ("status", "headers", "body", "expected"),
    [
        (
            400,
            {},
            b'{"__type":"com.amazonaws.dynamodb.v20120810#ResourceNotFoundException",'
            b'"message":"Requested resource not found"}',
            ("ResourceNotFoundException", "Requested resource not found"),
        ),
        (
            404,
            {"X-Amzn-ErrorType": "ResourceNotFoundException:http://internal.amazon.com/coral/"},
            b'{"Type":"User","Message":"Function not found: arn:aws:lambda:..."}',
            ("ResourceNotFoundException", "Function not found: arn:aws:lambda:..."),
        ),
        (
            400,
            {},
            b'{"__type":"com.amazon.coral.service#UnrecognizedClientException"}',
            ("UnrecognizedClientException", ""),
        ),
        (403, {}, b'{"code":"AccessDeniedException"}', ("AccessDeniedException", "")),
        (500, {}, b"<html>oops</html>", ("", "")),
        (500, {}, b"", ("", "")),
        (400, {}, b"[1, 2]", ("", "")),
    ],
)
def test_parse_error(
    status: int, headers: dict[str, str], body: bytes, expected: tuple[str, str]
) -> None:
    code, message, _ = parse_error(status, headers, body)
    assert (code, message) == expected


def test_importing_the_client_imports_neither_httpx_nor_botocore() -> None:
    code = (
        "import sys, orchestrator.aws.api; "
        "sys.exit(any(m in sys.modules for m in ('httpx', 'botocore', 'boto3')))"
    )
    assert subprocess.run([sys.executable, "-c", code], timeout=60).returncode == 0
