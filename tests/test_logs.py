from __future__ import annotations

import base64
import io
import json
import logging
import urllib.parse

import pytest
from fastapi.testclient import TestClient

from orchestrator.logs import REDACTED, JSONFormatter, Redactor, bind, log_context

SECRET = "s3cr3t-value/with+chars="


@pytest.mark.parametrize(
    "form",
    [
        SECRET,
        urllib.parse.quote(SECRET, safe=""),
        base64.b64encode(SECRET.encode()).decode().rstrip("="),
        SECRET.encode().hex(),
    ],
)
def test_known_secrets_are_redacted_in_every_obvious_encoding(form: str) -> None:
    assert Redactor([SECRET])(f"value={form};") == f"value={REDACTED};"


@pytest.mark.parametrize(
    ("text", "kept"),
    [
        (
            "PATCH /webhooks/123/aW50ZXJhY3Rpb246MTIzOnRva2VuLXZhbHVlLWhlcmU/messages/@original",
            "/webhooks/123/",
        ),
        ("Authorization: Bot MTIzNDU2Nzg5MDEyMzQ1Njc4.GhIjKl.abcdefghijklmnopqrstuv", "Bot "),
        ("Authorization: Bearer ghp_abcdefghijklmnopqrstuvwxyz0123456789", "Bearer "),
        ("github_pat_11ABCDEFG0abcdefghijklmnopqrstuvwxyz leaked", "github_pat_"),
    ],
)
def test_token_shapes_are_redacted(text: str, kept: str) -> None:
    out = Redactor()(text)
    assert REDACTED in out
    assert kept in out


def test_short_values_are_not_treated_as_secrets() -> None:
    assert Redactor(["abc"])("abc abc") == "abc abc"


def test_lines_are_json_with_context_and_extras() -> None:
    stream = io.StringIO()
    handler = logging.StreamHandler(stream)
    handler.setFormatter(JSONFormatter())
    logger = logging.getLogger("test.logs")
    logger.addHandler(handler)
    logger.setLevel(logging.INFO)
    logger.propagate = False
    with log_context(request_id="r1", interaction_id=None):
        bind(delivery_id="d1")
        logger.info("hello %s", "there", extra={"status": 202})
    logger.info("outside")
    first, second = (json.loads(line) for line in stream.getvalue().splitlines())
    assert first["msg"] == "hello there"
    assert first["request_id"] == "r1"
    assert first["delivery_id"] == "d1"
    assert first["status"] == 202
    assert "interaction_id" not in first
    assert "request_id" not in second


def test_responses_carry_the_request_id(client: TestClient) -> None:
    assert (
        client.get("/healthz", headers={"x-request-id": "abc-1"}).headers["x-request-id"] == "abc-1"
    )
    assert len(client.get("/healthz").headers["x-request-id"]) == 16
