"""Sending one request: the step decisions as a table without HTTP, then the Sender itself."""

from __future__ import annotations

from typing import Any

import httpx
import pytest

from orchestrator.github.errors import GitHubHTTPError, GitHubRateLimited, GitHubUnavailable
from orchestrator.github.ratelimit import Decision
from orchestrator.github.sending import (
    Deliver,
    GiveUp,
    Reauthenticate,
    Retry,
    Sender,
    after_no_answer,
    after_response,
    drop_none,
    give_up_error,
    is_idempotent,
    no_answer_error,
)

NOW = 1_800_000_000.0
LIMITED = {"x-ratelimit-remaining": "0", "x-ratelimit-reset": str(int(NOW) + 25)}
LIMITED_LONG = {"x-ratelimit-remaining": "0", "x-ratelimit-reset": str(int(NOW) + 3000)}
STEP_NAMES = {
    Deliver: "deliver",
    Reauthenticate: "reauthenticate",
    Retry: "retry",
    GiveUp: "give up",
}


@pytest.mark.parametrize(
    ("method", "given", "expected"),
    [
        ("GET", None, True),
        ("HEAD", None, True),
        ("PUT", None, True),
        ("DELETE", None, True),
        ("POST", None, False),
        ("PATCH", None, False),
        ("POST", True, True),  # cancelling twice is harmless: the caller says so
        ("GET", False, False),
    ],
)
def test_idempotent_is_the_callers_word_else_the_methods(
    method: str, given: bool | None, expected: bool
) -> None:
    assert is_idempotent(method, given) is expected


def test_unset_query_filters_are_dropped() -> None:
    assert drop_none({"branch": "main", "event": None, "per_page": 10}) == {
        "branch": "main",
        "per_page": 10,
    }
    assert drop_none({"event": None}) is None
    assert drop_none(None) is None


def _after(
    status: int,
    headers: dict[str, str] | None = None,
    content: bytes = b"",
    **kw: Any,
) -> object:
    options: dict[str, Any] = {
        "attempt": 1,
        "now": NOW,
        "max_wait": 60.0,
        "max_retries": 3,
        "idempotent": True,
        "can_reauthenticate": False,
    }
    return after_response(status, headers or {}, content, **(options | kw))


@pytest.mark.parametrize(
    ("status", "headers", "options", "expected"),
    [
        (200, {}, {}, "deliver"),
        (304, {}, {}, "deliver"),
        (302, {}, {}, "deliver"),  # a log redirect is the caller's to follow
        (404, {}, {}, "deliver"),  # an error for raise-for-status, not a retry
        (401, {}, {}, "deliver"),  # nothing cached to refresh: the credential is wrong
        (401, {}, {"can_reauthenticate": True}, "reauthenticate"),
        (403, {}, {"can_reauthenticate": True}, "deliver"),  # permissions, not the token
        (502, {}, {}, "retry"),
        (502, {}, {"attempt": 4}, "give up"),  # out of attempts
        (502, {}, {"idempotent": False}, "give up"),  # a dispatch may have started
        (403, LIMITED, {"idempotent": False}, "retry"),  # refused: GitHub did nothing
        (403, LIMITED_LONG, {}, "give up"),  # the reset is past what we may wait
    ],
)
def test_what_to_do_with_an_answer(
    status: int, headers: dict[str, str], options: dict[str, Any], expected: str
) -> None:
    step = _after(status, headers, **options)
    assert STEP_NAMES[type(step)] == expected


def test_waits_come_from_the_rate_limit_decision() -> None:
    primary = _after(403, LIMITED)
    assert isinstance(primary, Retry)
    assert primary.decision.kind == "primary" and primary.decision.wait == 25.0
    server = _after(503, attempt=3)
    assert isinstance(server, Retry) and server.decision.wait == 4.0
    secondary = _after(403, {}, b'{"message": "You have exceeded a secondary rate limit"}')
    assert isinstance(secondary, Retry) and secondary.decision.wait == 60.0


@pytest.mark.parametrize(
    ("never_sent", "idempotent", "attempt", "expected"),
    [
        (False, True, 1, Retry),
        (False, False, 1, GiveUp),  # the POST may have arrived before the answer was lost
        (True, False, 1, Retry),  # the connection never opened: nothing happened
        (True, True, 4, GiveUp),  # out of attempts
    ],
)
def test_what_to_do_without_an_answer(
    never_sent: bool, idempotent: bool, attempt: int, expected: type
) -> None:
    step = after_no_answer(
        never_sent=never_sent,
        attempt=attempt,
        now=NOW,
        max_wait=60.0,
        max_retries=3,
        idempotent=idempotent,
    )
    assert type(step) is expected
    assert step.decision.kind == "network"


@pytest.mark.parametrize(
    ("decision", "idempotent", "error", "words"),
    [
        (
            Decision("primary", False, 3000.0, NOW + 3000, "primary rate limit exhausted (core)"),
            True,
            GitHubRateLimited,
            "in about 3,000 s",
        ),
        (
            Decision("secondary", False, 120.0, NOW + 120, "secondary rate limit"),
            True,
            GitHubRateLimited,
            "secondary rate limit: retry after",
        ),
        (
            Decision("server", False, 8.0, NOW + 8, "GitHub answered 500"),
            True,
            GitHubUnavailable,
            "GitHub answered 500 on GET /x after 4 attempt(s); try again",
        ),
        (
            Decision("server", False, 1.0, NOW + 1, "GitHub answered 502"),
            False,
            GitHubUnavailable,
            "(not retried: it may have taken effect)",
        ),
    ],
)
def test_the_error_when_giving_up(
    decision: Decision, idempotent: bool, error: type, words: str
) -> None:
    raised = give_up_error(
        decision, method="GET", path="/x", attempt=4, idempotent=idempotent, now=NOW
    )
    assert type(raised) is error and words in str(raised)


def test_the_error_without_an_answer_names_the_failure_kind() -> None:
    error = no_answer_error(method="POST", path="/x", attempt=2, cause="ReadTimeout")
    assert str(error) == (
        "no answer from GitHub on POST /x after 2 attempt(s) (ReadTimeout); try again in a minute"
    )


# --- the Sender, over a mock transport (no network) ------------------------------------------


class Sleeps:
    def __init__(self) -> None:
        self.waits: list[float] = []

    async def __call__(self, seconds: float) -> None:
        self.waits.append(seconds)


@pytest.fixture
def anyio_backend() -> str:
    return "asyncio"


@pytest.mark.anyio
async def test_sender_refreshes_a_refused_credential_once() -> None:
    """The sender asks each attempt for its credential and drops a refused one at most once."""
    seen: list[str] = []
    tokens = iter(["Bearer old", "Bearer new", "Bearer newer"])
    dropped: list[bool] = []

    def handler(request: httpx.Request) -> httpx.Response:
        seen.append(request.headers["authorization"])
        return httpx.Response(401, json={"message": "Bad credentials"})

    async def authorize() -> str:
        return next(tokens)

    sleeps = Sleeps()
    async with Sender(transport=httpx.MockTransport(handler), sleep=sleeps) as sender:
        with pytest.raises(GitHubHTTPError) as info:
            await sender.send(
                "GET", "/user", authorize=authorize, reauthenticate=lambda: dropped.append(True)
            )
    assert seen == ["Bearer old", "Bearer new"] and dropped == [True]
    assert info.value.status == 401 and sleeps.waits == []
