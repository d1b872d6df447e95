"""How a failed GitHub (or other) call reads as a fact: `error_of`, table-tested."""

from __future__ import annotations

import pytest

from orchestrator.apps import InvalidApp
from orchestrator.github.errors import (
    GitHubError,
    GitHubHTTPError,
    GitHubRateLimited,
    GitHubUnavailable,
)
from orchestrator.http import RefusedURL
from orchestrator.verification.budget import TimedOut
from orchestrator.verification.facts import CheckError
from orchestrator.verification.github_facts import error_of


@pytest.mark.parametrize(
    ("exc", "expected"),
    [
        (TimedOut(1.5), CheckError("timeout", "timed out after 1.5 s")),
        (
            GitHubHTTPError(404, "Not Found"),
            CheckError("not_found", "GitHub answered 404 (missing, or the token cannot see it)"),
        ),
        (GitHubHTTPError(422, "bad"), CheckError("error", "GitHub answered 422: bad")),
        (
            GitHubUnavailable("GitHub answered 502"),
            CheckError("unavailable", "GitHub answered 502"),
        ),
        (
            GitHubRateLimited(0.0, now=0.0),
            CheckError(
                "unavailable",
                "GitHub rate limit: retry after 1970-01-01 00:00:00 UTC (in about 0 s)",
            ),
        ),
        (GitHubError("no token"), CheckError("error", "no token")),
        (InvalidApp("no app 'x'"), CheckError("invalid", "no app 'x'")),
        (
            RefusedURL("probe: x does not resolve"),
            CheckError("invalid", "probe: x does not resolve"),
        ),
        (KeyError("secret"), CheckError("error", "unexpected KeyError")),  # never the message
    ],
)
def test_error_of(exc: BaseException, expected: CheckError) -> None:
    assert error_of(exc) == expected


def test_error_messages_are_capped() -> None:
    assert len(error_of(GitHubError("x" * 1000)).message) == 300
