"""The rate-limit decisions, pinned branch by branch without HTTP."""

from __future__ import annotations

import email.utils
from typing import Any

import pytest

from orchestrator.github.ratelimit import (
    SECONDARY_MIN_WAIT,
    Decision,
    RateLimit,
    backoff,
    decide,
    parse_rate_limit,
    parse_retry_after,
)

NOW = 1_800_000_000.0


def _decide(
    status: int | None, headers: dict[str, str] | None = None, body: bytes = b"", **kw: Any
) -> Decision | None:
    options: dict[str, Any] = {"attempt": 1, "now": NOW, "max_wait": 60.0, "max_retries": 3}
    return decide(status, headers or {}, body, **(options | kw))


def test_snapshot_parses_every_header_case_insensitively() -> None:
    snapshot = parse_rate_limit(
        {
            "X-RateLimit-Limit": "5000",
            "x-ratelimit-remaining": "4812",
            "X-RATELIMIT-USED": "188",
            "x-ratelimit-reset": "1800000600",
            "x-ratelimit-resource": "core",
        }
    )
    assert snapshot == RateLimit(
        limit=5000, remaining=4812, used=188, reset=1_800_000_600, resource="core"
    )
    assert snapshot.describe().startswith("4,812 of 5,000 requests left (core), resets ")
    assert snapshot.describe().endswith(" UTC")


def test_snapshot_absent_without_headers_and_tolerates_garbage() -> None:
    assert parse_rate_limit({"content-type": "application/json"}) is None
    odd = parse_rate_limit({"x-ratelimit-remaining": "lots"})
    assert odd is not None and odd.remaining is None
    assert odd.describe() == "rate limit unknown"


def test_primary_limit_waits_until_reset() -> None:
    decision = _decide(
        403,
        {"x-ratelimit-remaining": "0", "x-ratelimit-reset": str(int(NOW) + 42)},
        max_wait=100,
    )
    assert decision is not None
    assert (decision.kind, decision.retry, decision.wait) == ("primary", True, 42)
    assert decision.retry_at == NOW + 42


def test_primary_limit_beyond_max_wait_gives_up_with_reset_time() -> None:
    reset = int(NOW) + 1800
    decision = _decide(429, {"x-ratelimit-remaining": "0", "x-ratelimit-reset": str(reset)})
    assert decision is not None
    assert decision.retry is False
    assert decision.retry_at == reset
    assert "primary" in decision.reason


def test_primary_limit_with_reset_in_the_past_still_waits_a_little() -> None:
    decision = _decide(403, {"x-ratelimit-remaining": "0", "x-ratelimit-reset": str(int(NOW) - 5)})
    assert decision is not None and decision.retry and decision.wait == 1.0


def test_secondary_limit_uses_retry_after() -> None:
    decision = _decide(403, {"retry-after": "7", "x-ratelimit-remaining": "100"})
    assert decision is not None
    assert (decision.kind, decision.retry, decision.wait) == ("secondary", True, 7.0)


def test_retry_after_wins_over_remaining_zero() -> None:
    decision = _decide(429, {"retry-after": "3", "x-ratelimit-remaining": "0"})
    assert decision is not None and decision.wait == 3.0


def test_secondary_limit_from_body_only_waits_a_minute_then_longer() -> None:
    body = b'{"message": "You have exceeded a Secondary Rate Limit. Please wait."}'
    first = _decide(403, {}, body)
    assert first is not None
    assert (first.kind, first.retry, first.wait) == ("secondary", True, SECONDARY_MIN_WAIT)
    second = _decide(403, {}, body, attempt=2)
    assert second is not None
    assert second.wait == 2 * SECONDARY_MIN_WAIT
    assert second.retry is False  # 120 s exceeds max_wait=60
    assert second.retry_at == NOW + 120


def test_bare_429_is_treated_as_secondary() -> None:
    decision = _decide(429)
    assert decision is not None and decision.kind == "secondary" and decision.wait == 60.0


@pytest.mark.parametrize("status", [200, 201, 204, 304, 401, 404, 422])
def test_ordinary_answers_are_not_decisions(status: int) -> None:
    assert _decide(status, {"x-ratelimit-remaining": "0"}) is None


def test_plain_403_is_a_permission_problem_not_a_limit() -> None:
    assert (
        _decide(403, {"x-ratelimit-remaining": "10"}, b'{"message":"Resource not accessible"}')
        is None
    )


def test_server_errors_back_off_exponentially_capped_by_max_wait() -> None:
    waits = [_decide(502, attempt=n, max_wait=5) for n in (1, 2, 3)]
    assert [d.wait for d in waits if d] == [1.0, 2.0, 4.0]
    capped = _decide(503, attempt=3, max_wait=3)
    assert capped is not None and capped.wait == 3.0 and capped.retry
    assert backoff(4) == 8.0


def test_server_error_honours_retry_after() -> None:
    decision = _decide(503, {"retry-after": "12"})
    assert decision is not None and decision.kind == "server" and decision.wait == 12.0


def test_retries_stop_after_max_retries() -> None:
    last_allowed = _decide(500, attempt=3, max_retries=3)
    exhausted = _decide(500, attempt=4, max_retries=3)
    assert last_allowed is not None and last_allowed.retry
    assert exhausted is not None and not exhausted.retry


def test_no_answer_is_a_network_decision() -> None:
    decision = _decide(None)
    assert decision is not None and decision.kind == "network" and decision.retry


def test_non_idempotent_requests_are_not_retried_after_server_errors() -> None:
    for status in (None, 500, 502):
        decision = _decide(status, idempotent=False)
        assert decision is not None and decision.retry is False
    # ...but a rate-limit refusal did nothing, so it is safe to retry.
    limited = _decide(429, {"retry-after": "2"}, idempotent=False)
    assert limited is not None and limited.retry


def test_retry_after_as_http_date() -> None:
    date = email.utils.formatdate(NOW + 30, usegmt=True)
    assert parse_retry_after(date, NOW) == pytest.approx(30.0)
    assert parse_retry_after("soon", NOW) is None
    assert parse_retry_after(None, NOW) is None
    assert parse_retry_after("-5", NOW) == 0.0
