"""GitHub's error bodies turned into messages, and credentials kept out of them."""

from __future__ import annotations

import pytest

from orchestrator.github.errors import (
    GitHubHTTPError,
    GitHubNotConfigured,
    GitHubRateLimited,
    error_message,
    http_error,
    scrub,
)

TOKEN = "ghp_s3cr3tT0kenValue0123456789"


@pytest.mark.parametrize(
    ("content", "message", "doc"),
    [
        (b'{"message": "Not Found", "documentation_url": "https://d"}', "Not Found", "https://d"),
        (
            b'{"message": "Validation Failed", "errors": [{"field": "ref", "code": "invalid"}]}',
            "Validation Failed (invalid)",
            None,
        ),
        (b'{"message": "Bad", "errors": ["one", {"message": "two"}]}', "Bad (one; two)", None),
        (b"<html>bad gateway</html>", "<html>bad gateway</html>", None),
        (b"", "no message", None),
        (b"[1, 2]", "[1, 2]", None),  # JSON, but not GitHub's shape
    ],
)
def test_error_message(content: bytes, message: str, doc: str | None) -> None:
    assert error_message(content) == (message, doc)


def test_error_message_is_bounded() -> None:
    assert len(error_message(b"x" * 10_000)[0]) == 500


@pytest.mark.parametrize(
    ("text", "authorization", "expected"),
    [
        (f"Bad credentials for {TOKEN}", f"Bearer {TOKEN}", "Bad credentials for [redacted]"),
        (f"{TOKEN}{TOKEN}", f"token {TOKEN}", "[redacted][redacted]"),
        ("Not Found", f"Bearer {TOKEN}", "Not Found"),
        ("short abc", "Bearer abc", "short abc"),  # too short to be a secret; replacing hurts
    ],
)
def test_scrub(text: str, authorization: str, expected: str) -> None:
    assert scrub(text, authorization) == expected


def test_http_error_carries_githubs_words_without_the_credential() -> None:
    error = http_error(
        401,
        f'{{"message": "Bad credentials {TOKEN}"}}'.encode(),
        authorization=f"Bearer {TOKEN}",
        method="GET",
        path="/user",
    )
    assert isinstance(error, GitHubHTTPError) and error.status == 401
    assert str(error) == "GitHub answered 401 on GET /user: Bad credentials [redacted]"


def test_who_is_named_upstream() -> None:
    assert GitHubHTTPError.upstream == "GitHub"
    assert GitHubNotConfigured.upstream is None  # our configuration, not GitHub's doing
    limited = GitHubRateLimited(1_800_000_600.0, "secondary rate limit", now=1_800_000_000.0)
    assert "in about 600 s" in str(limited)
