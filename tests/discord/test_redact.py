"""Interaction tokens stay out of log lines and rate-limit keys."""

from __future__ import annotations

import logging

import pytest

from orchestrator.discord.redact import (
    RedactWebhookTokens,
    install_httpx_redaction,
    redact,
    token_digest,
)

BASE = "https://discord.test/api/v10"
APP = "100000000000000001"
TOKEN = "aW50ZXJhY3Rpb24tdG9rZW4tU0VDUkVULTQy"  # a recognisable fake


def test_redact_hides_tokens_in_webhook_urls() -> None:
    url = f'PATCH {BASE}/webhooks/{APP}/{TOKEN}/messages/@original "HTTP/1.1 200 OK"'
    assert redact(url) == (
        f'PATCH {BASE}/webhooks/{APP}/{{webhook_token}}/messages/@original "HTTP/1.1 200 OK"'
    )
    assert redact(f"{BASE}/webhooks/{APP}/{TOKEN}?wait=true").endswith("{webhook_token}?wait=true")


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        (f"/webhooks/{APP}/{TOKEN}", f"/webhooks/{APP}/{{webhook_token}}"),
        (f"/webhooks/{APP}/{TOKEN}/messages/9", f"/webhooks/{APP}/{{webhook_token}}/messages/9"),
        (f"'/webhooks/{APP}/{TOKEN}'", f"'/webhooks/{APP}/{{webhook_token}}'"),
        (f'"/webhooks/{APP}/{TOKEN}"', f'"/webhooks/{APP}/{{webhook_token}}"'),
        (
            f"/webhooks/1/{TOKEN} then /webhooks/2/{TOKEN}x",
            "/webhooks/1/{webhook_token} then /webhooks/2/{webhook_token}",
        ),
        ("/webhooks/{webhook_id}/{webhook_token}", "/webhooks/{webhook_id}/{webhook_token}"),
        (f"/webhooks/{APP}", f"/webhooks/{APP}"),  # no token segment: nothing to hide
        (f"/channels/42/messages?token={TOKEN}", f"/channels/42/messages?token={TOKEN}"),
        ("", ""),
    ],
    ids=[
        "bare",
        "suffix",
        "single-quoted",
        "double-quoted",
        "twice",
        "template",
        "no-token",
        "other-route",
        "empty",
    ],
)
def test_redact_table(text: str, expected: str) -> None:
    assert redact(text) == expected


def test_token_digest_is_short_stable_and_tells_tokens_apart() -> None:
    digest = token_digest(TOKEN)
    assert digest == token_digest(TOKEN) and len(digest) == 16
    assert TOKEN not in digest
    assert token_digest(TOKEN + "x") != digest


def _record(msg: str, *args: object) -> logging.LogRecord:
    return logging.LogRecord("httpx", logging.INFO, __file__, 1, msg, args, None)


def test_filter_rewrites_records_that_carry_a_token_and_leaves_the_others() -> None:
    record = _record('HTTP Request: %s %s "%s"', "PATCH", f"{BASE}/webhooks/{APP}/{TOKEN}", "200")
    assert RedactWebhookTokens().filter(record) is True
    assert (
        record.getMessage() == f'HTTP Request: PATCH {BASE}/webhooks/{APP}/{{webhook_token}} "200"'
    )
    assert TOKEN not in repr(vars(record))
    plain = _record("HTTP Request: %s %s", "GET", f"{BASE}/users/@me")
    assert RedactWebhookTokens().filter(plain) is True
    assert (plain.msg, plain.args) == ("HTTP Request: %s %s", ("GET", f"{BASE}/users/@me"))


def test_install_adds_the_filter_to_httpx_once() -> None:
    logger = logging.getLogger("httpx")
    install_httpx_redaction()
    install_httpx_redaction()
    assert sum(isinstance(f, RedactWebhookTokens) for f in logger.filters) == 1
