"""SigV4 signing (`orchestrator.aws.sigv4`) against AWS's published test suite and botocore.

moto does not check signatures, so these carry the signer's correctness: the suite's
vectors (docs.aws.amazon.com/general/latest/gr/signature-v4-test-suite.html, credential
AKIDEXAMPLE, 2015-08-30T12:36:00Z, us-east-1, service `service`) and, for the requests
we actually send and the awkward ones, byte-for-byte equality with `botocore.auth.SigV4Auth`.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta, timezone
from typing import Any
from unittest import mock
from urllib.parse import quote, urlencode

import pytest
from botocore.auth import SigV4Auth
from botocore.awsrequest import AWSRequest
from botocore.credentials import Credentials as BotoCredentials

from orchestrator.aws.sigv4 import (
    Credentials,
    canonical_path,
    canonical_query,
    host_header,
    sign,
    signing_key,
)

SUITE = Credentials("AKIDEXAMPLE", "wJalrXUtnFEMI/K7MDENG+bPxRfiCYEXAMPLEKEY")
SUITE_TIME = datetime(2015, 8, 30, 12, 36, tzinfo=UTC)
SUITE_HOST = "https://example.amazonaws.com"


def signature(headers: dict[str, str]) -> str:
    return headers["Authorization"].rpartition("Signature=")[2]


@pytest.mark.parametrize(
    ("name", "method", "url", "headers", "expected"),
    [
        (
            "get-vanilla",
            "GET",
            "/",
            {},
            "5fa00fa31553b73ebf1942676e86291e8372ff2a2260956d9b8aae1d763fbf31",
        ),
        (
            "post-vanilla",
            "POST",
            "/",
            {},
            "5da7c1a2acd57cee7505fc6676e4e544621c30862966e37dddb68e92efbe5d6b",
        ),
        (
            "get-vanilla-query-order-key-case",
            "GET",
            "/?Param2=value2&Param1=value1",
            {},
            "b97d918cfa904a5beff61c982a1b6f458b799221646efd99d3219ec94cdf2500",
        ),
        (
            "get-vanilla-utf8-query",
            "GET",
            "/?%E1%88%B4=bar",
            {},
            "2cdec8eed098649ff3a119c94853b13c643bcf08f8b0a1d91e12c9027818dd04",
        ),
        (
            "get-header-key-duplicate",  # three values of one header, comma-joined
            "GET",
            "/",
            {"My-Header1": "value2,value2,value1"},
            "c9d5ea9f3f72853aea855b47ea873832890dbdd183b4468f858259531a5138ea",
        ),
        (
            "get-header-value-trim",
            "GET",
            "/",
            {"My-Header1": " value1", "My-Header2": ' "a   b   c"'},
            "acc3ed3afb60bb290fc8d2dd0098b9911fcaa05412b367055dee359757a9c736",
        ),
    ],
)
def test_aws_published_suite(
    name: str, method: str, url: str, headers: dict[str, str], expected: str
) -> None:
    signed = sign(method, SUITE_HOST + url, headers, b"", SUITE, "us-east-1", "service", SUITE_TIME)
    assert signed["X-Amz-Date"] == "20150830T123600Z"
    assert signature(signed) == expected, name
    assert signed["Authorization"].startswith(
        "AWS4-HMAC-SHA256 Credential=AKIDEXAMPLE/20150830/us-east-1/service/aws4_request, "
    )


def test_the_suites_signing_key() -> None:
    """The derived key the suite's documentation prints for its date, region and service."""
    key = signing_key(SUITE.secret_key, "20150830", "us-east-1", "iam")
    assert key.hex() == "c4afb1cc5771d871763a393e44b703571b55cc28424d1a5e86da6ed3c154a4b9"


# --- equal to botocore, request by request --------------------------------------------------

NOW = datetime(2026, 11, 3, 23, 59, 58, tzinfo=UTC)
KEYS = Credentials("AKIAIOSFODNN7EXAMPLE", "wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY")
TEMPORARY = Credentials(
    "ASIAIOSFODNN7EXAMPLE", "je7MtGbClwBF/2Zp9Utk/h3yCo8nvbEXAMPLEKEY", "IQoJb3JpZ2luX2VjE//token=="
)
ALIAS_ARN = "arn:aws:lambda:eu-west-1:123456789012:function:orchestrator-prod:live"
DDB = "https://dynamodb.eu-west-1.amazonaws.com"
JSON_1_0 = {"Content-Type": "application/x-amz-json-1.0"}

CASES: list[tuple[str, dict[str, Any]]] = [
    (
        "dynamodb put item",
        dict(
            method="POST",
            base=DDB + "/",
            headers={**JSON_1_0, "X-Amz-Target": "DynamoDB_20120810.PutItem"},
            body=b'{"TableName":"orchestrator","Item":{"pk":{"S":"job"}}}',
            service="dynamodb",
        ),
    ),
    (
        "session token",
        dict(
            method="POST",
            base=DDB + "/",
            headers={**JSON_1_0, "X-Amz-Target": "DynamoDB_20120810.GetItem"},
            body=b"{}",
            service="dynamodb",
            credentials=TEMPORARY,
        ),
    ),
    (
        "empty body",
        dict(method="GET", base=DDB + "/", headers={}, body=b"", service="dynamodb"),
    ),
    (
        "lambda invoke of an alias ARN (colons in the path)",
        dict(
            method="POST",
            base="https://lambda.eu-west-1.amazonaws.com/2015-03-31/functions/"
            + quote(ALIAS_ARN, safe="-_.~")
            + "/invocations",
            headers={"X-Amz-Invocation-Type": "Event"},
            body=b'{"orchestrator_job":{"id":"x"}}',
            service="lambda",
            credentials=TEMPORARY,
        ),
    ),
    (
        "query string with reserved characters",
        dict(
            method="GET",
            base="https://ssm.eu-west-1.amazonaws.com/",
            params=[
                ("Name", "/orchestrator/prod/discord token"),
                ("b", "1+1=2&3"),
                ("a", "~tilde_-."),
                ("a", "*star!"),
                ("empty", ""),
                ("ünï", "çödé ✓"),
            ],
            headers={},
            body=b"",
            service="ssm",
        ),
    ),
    (
        "path with spaces, unicode and dot segments",
        dict(
            method="PUT",
            base="https://example.amazonaws.com/a/./b%20c/../ünï cödé//d/",
            headers={"X-Amz-Meta-Note": "  spaced   out  value "},
            body="héllo ✓".encode(),
            service="execute-api",
        ),
    ),
    (
        "a local endpoint on a port (moto)",
        dict(
            method="POST",
            base="http://127.0.0.1:5000/",
            headers={**JSON_1_0, "X-Amz-Target": "DynamoDB_20120810.Query"},
            body=b'{"Limit":1}',
            service="dynamodb",
        ),
    ),
    (
        "the default port is not part of the host",
        dict(method="GET", base="https://EXAMPLE.amazonaws.com:443/", headers={}, body=b""),
    ),
    (
        "an IPv6 endpoint",
        dict(method="GET", base="http://[::1]:8000/", headers={}, body=b""),
    ),
]


def botocore_signed(
    method: str,
    url: str,
    params: list[tuple[str, str]],
    headers: dict[str, str],
    body: bytes,
    credentials: Credentials,
    region: str,
    service: str,
    now: datetime,
) -> dict[str, str]:
    request = AWSRequest(method=method, url=url, data=body, params=params, headers=dict(headers))
    boto = BotoCredentials(credentials.access_key, credentials.secret_key, credentials.token)
    naive = now.astimezone(UTC).replace(tzinfo=None)
    with mock.patch("botocore.auth.get_current_datetime", return_value=naive):
        SigV4Auth(boto, service, region).add_auth(request)
    return dict(request.headers.items())


@pytest.mark.parametrize(("name", "case"), CASES, ids=[name for name, _ in CASES])
def test_equal_to_botocore(name: str, case: dict[str, Any]) -> None:
    credentials = case.get("credentials", KEYS)
    service = case.get("service", "service")
    params = case.get("params", [])
    url = case["base"]
    if params:
        url += "?" + urlencode(params, quote_via=quote, safe="-_.~")
    ours = sign(
        case["method"], url, case["headers"], case["body"], credentials, "eu-west-1", service, NOW
    )
    theirs = botocore_signed(
        case["method"],
        case["base"],
        params,
        case["headers"],
        case["body"],
        credentials,
        "eu-west-1",
        service,
        NOW,
    )
    assert ours["Authorization"] == theirs["Authorization"], name
    assert ours["X-Amz-Date"] == theirs["X-Amz-Date"]
    assert ours.get("X-Amz-Security-Token") == theirs.get("X-Amz-Security-Token")
    assert ("X-Amz-Security-Token" in ours) == (credentials.token is not None)


def test_what_changes_the_signature() -> None:
    """Each input is signed: change any one and the signature changes."""
    base: dict[str, Any] = dict(
        method="POST",
        url=DDB + "/",
        headers={**JSON_1_0, "X-Amz-Target": "DynamoDB_20120810.PutItem"},
        body=b"{}",
        credentials=TEMPORARY,
        region="eu-west-1",
        service="dynamodb",
        now=NOW,
    )
    reference = signature(sign(**base))
    variants: dict[str, Any] = {
        "method": "PUT",
        "url": DDB + "/other",
        "headers": {**JSON_1_0, "X-Amz-Target": "DynamoDB_20120810.DeleteItem"},
        "body": b"{ }",
        "credentials": Credentials(TEMPORARY.access_key, TEMPORARY.secret_key, "other-token"),
        "region": "eu-west-2",
        "service": "lambda",
        "now": NOW + timedelta(seconds=1),
    }
    for field, value in variants.items():
        assert signature(sign(**{**base, field: value})) != reference, field


def test_headers_handed_in_are_kept_and_stale_auth_replaced() -> None:
    signed = sign(
        "POST",
        DDB + "/",
        {"authorization": "stale", "x-amz-date": "19700101T000000Z", "X-Custom": "kept"},
        b"",
        KEYS,
        "eu-west-1",
        "dynamodb",
        NOW,
    )
    assert signed["X-Custom"] == "kept"
    assert "authorization" not in signed and "x-amz-date" not in signed
    assert signed["X-Amz-Date"] == "20261103T235958Z"
    assert "SignedHeaders=host;x-amz-date;x-custom," in signed["Authorization"]


def test_user_agent_and_hop_by_hop_headers_are_not_signed() -> None:
    signed = sign(
        "GET",
        DDB + "/",
        {"User-Agent": "orchestrator", "Connection": "keep-alive", "X-Amzn-Trace-Id": "Root=1"},
        b"",
        KEYS,
        "eu-west-1",
        "dynamodb",
        NOW,
    )
    assert "SignedHeaders=host;x-amz-date," in signed["Authorization"]


def test_times_in_other_zones_are_signed_as_utc() -> None:
    elsewhere = NOW.astimezone(timezone(timedelta(hours=-5)))
    naive = NOW.replace(tzinfo=None)
    args = ("GET", DDB + "/", {}, b"", KEYS, "eu-west-1", "dynamodb")
    assert sign(*args, elsewhere) == sign(*args, NOW) == sign(*args, naive)


@pytest.mark.parametrize(
    ("path", "expected"),
    [
        ("", "/"),
        ("/", "/"),
        ("/a/./b/../c", "/a/c"),
        ("//a//b/", "/a/b/"),
        ("/../..", "/"),
        ("/functions/arn%3Aaws/invocations", "/functions/arn%253Aaws/invocations"),
        ("/a b", "/a%20b"),
    ],
)
def test_canonical_path(path: str, expected: str) -> None:
    assert canonical_path(path) == expected


@pytest.mark.parametrize(
    ("query", "expected"),
    [
        ("", ""),
        ("b=2&a=1", "a=1&b=2"),
        ("flag", "flag="),
        ("a=2&a=1", "a=1&a=2"),
        ("q=a%20b", "q=a%20b"),
        ("q=a+b", "q=a%2Bb"),  # a literal plus: SigV4 has no form encoding
        ("k=%7e", "k=~"),
    ],
)
def test_canonical_query(query: str, expected: str) -> None:
    assert canonical_query(query) == expected


@pytest.mark.parametrize(
    ("url", "expected"),
    [
        ("https://Example.COM/", "example.com"),
        ("https://example.com:443/", "example.com"),
        ("http://example.com:80/", "example.com"),
        ("http://127.0.0.1:5000/", "127.0.0.1:5000"),
        ("https://example.com:80/", "example.com:80"),
        ("http://[::1]:8000/x", "[::1]:8000"),
    ],
)
def test_host_header(url: str, expected: str) -> None:
    assert host_header(url) == expected


def test_credentials_never_show_their_secrets() -> None:
    shown = repr(TEMPORARY) + str(TEMPORARY)
    assert TEMPORARY.secret_key not in shown and "IQoJ" not in shown
    assert TEMPORARY.access_key in shown
