"""Discord's failures: what each exception says, and error bodies read without trusting them."""

from __future__ import annotations

from typing import Any

import pytest

from orchestrator.discord.errors import (
    DiscordConfigError,
    DiscordError,
    DiscordHTTPError,
    DiscordUnavailable,
    RateLimited,
    error_body,
    parse_error,
)

ROUTE = "PATCH /webhooks/{webhook_id}/{webhook_token}/messages/@original"


@pytest.mark.parametrize(
    ("body", "expected"),
    [
        (b'{"code": 10008}', {"code": 10008}),
        (b"{}", {}),
        (b"<html>Forbidden</html>", None),
        (b"{", None),
        (b"", None),
        (b"[1, 2]", None),
        (b"null", None),
        (b'"text"', None),
        (b"\xff\xfe", None),
    ],
)
def test_error_body(body: bytes, expected: dict[str, Any] | None) -> None:
    assert error_body(body) == expected


@pytest.mark.parametrize(
    ("body", "code", "message"),
    [
        (b'{"code": 10008, "message": "Unknown Message"}', 10008, "Unknown Message"),
        (b'{"code": true, "message": ""}', 0, "HTTP 400"),
        (b'{"code": "x", "message": 5}', 0, "HTTP 400"),
        (b"null", 0, "HTTP 400 without a Discord error body"),
        (b"<html>Forbidden</html>", 0, "HTTP 400 without a Discord error body"),
        (b'{"message": "' + b"m" * 1000 + b'"}', 0, "m" * 299 + "…"),
        (
            b'{"code": 50035, "message": "Invalid Form Body", "errors": {"embeds": {"0": {"color":'
            b' {"_errors": [{"code": "NUMBER_TYPE_MAX", "message": "Too big."}]}}}}}',
            50035,
            "Invalid Form Body (embeds.0.color: Too big.)",
        ),
        (
            b'{"code": 50035, "message": "Invalid Form Body", "errors": {"_errors":'
            b' [{"message": "Bad."}, {"message": 3}], "content": {"_errors": "odd"}}}',
            50035,
            "Invalid Form Body ((body): Bad.)",
        ),
    ],
    ids=["plain", "bool-code", "wrong-types", "null", "html", "long", "nested", "top-level"],
)
def test_parse_error(body: bytes, code: int, message: str) -> None:
    assert parse_error(400, body)[:2] == (code, message)


def test_parse_error_keeps_the_raw_errors_and_lists_at_most_five() -> None:
    errors = {f"f{n}": {"_errors": [{"message": "Required."}]} for n in range(7)}
    body = b'{"code": 50035, "message": "Invalid Form Body", "errors": '
    body += repr(errors).replace("'", '"').encode() + b"}"
    code, message, raw = parse_error(400, body)
    assert (code, raw) == (50035, errors)
    assert message.count("Required.") == 5 and "f4: Required." in message


@pytest.mark.parametrize(
    ("error", "text"),
    [
        (
            DiscordHTTPError(404, 10015, "Unknown Webhook", route=ROUTE),
            f"{ROUTE}: HTTP 404, Discord code 10015: Unknown Webhook",
        ),
        (DiscordHTTPError(400, 0, "HTTP 400"), "HTTP 400, Discord code 0: HTTP 400"),
        (RateLimited(ROUTE, 2.5), f"{ROUTE}: rate limited, retry after 2.500s"),
        (
            RateLimited(ROUTE, 0.25, is_global=True, scope="global"),
            f"{ROUTE}: global rate limit, retry after 0.250s",
        ),
        (
            DiscordUnavailable(ROUTE, 4, "HTTP 503", 503),
            f"{ROUTE}: Discord unavailable after 4 attempt(s): HTTP 503",
        ),
    ],
)
def test_messages_name_the_route_template(error: DiscordError, text: str) -> None:
    assert str(error) == text


def test_who_is_to_blame() -> None:
    """User-facing failure messages name Discord, except when our configuration is at fault."""
    assert DiscordHTTPError(400, 0, "x").upstream == "Discord"
    assert RateLimited("r", 1.0).upstream == "Discord"
    assert DiscordUnavailable("r", 1, "x").upstream == "Discord"
    assert DiscordConfigError("no token").upstream is None
