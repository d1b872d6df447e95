"""Discord's rate-limit bookkeeping and retry decisions, pinned without HTTP or a clock."""

from __future__ import annotations

from typing import Any

import pytest

from orchestrator.discord.ratelimit import (
    BACKOFF_CAP,
    Bucket,
    BucketHeaders,
    Hold,
    RateLimiter,
    Retry,
    backoff,
    decide,
    exhausted,
    hold,
    observed,
    parse_bucket_headers,
    parse_rate_limit,
    parse_retry_after,
    spend,
    wait_time,
)
from orchestrator.discord.rest import Route

APP = "100000000000000001"
TOKEN = "aW50ZXJhY3Rpb24tdG9rZW4tU0VDUkVULTQy"  # a recognisable fake

CHANNEL_42 = Route.of("POST", "/channels/{channel_id}/messages", channel_id="42")
CHANNEL_43 = Route.of("POST", "/channels/{channel_id}/messages", channel_id="43")
EDIT_42 = Route.of(
    "PATCH", "/channels/{channel_id}/messages/{message_id}", channel_id="42", message_id="1"
)
ME = Route.of("GET", "/users/@me")


def _headers(
    remaining: str, reset_after: str, bucket: str = "", limit: str = "5"
) -> dict[str, str]:
    headers = {
        "X-RateLimit-Limit": limit,
        "X-RateLimit-Remaining": remaining,
        "X-RateLimit-Reset-After": reset_after,
    }
    if bucket:
        headers["X-RateLimit-Bucket"] = bucket
    return headers


# -- reading headers and bodies --


@pytest.mark.parametrize(
    ("headers", "expected"),
    [
        ({}, BucketHeaders(None, None, None, None)),
        (_headers("3", "1.5", bucket="abc"), BucketHeaders("abc", 5, 3, 1.5)),
        (
            {"x-ratelimit-remaining": "0", "X-RATELIMIT-RESET-AFTER": "2"},
            BucketHeaders(None, None, 0, 2.0),
        ),
        ({"X-RateLimit-Bucket": ""}, BucketHeaders(None, None, None, None)),
        (_headers("zero", "2", limit="five"), BucketHeaders(None, None, None, 2.0)),
        (_headers("0", "nan"), BucketHeaders(None, 5, 0, None)),
        (_headers("0", "inf"), BucketHeaders(None, 5, 0, None)),
        (_headers("0", "-1"), BucketHeaders(None, 5, 0, None)),
    ],
    ids=["none", "all", "any-case", "empty-bucket", "bad-ints", "nan", "inf", "negative"],
)
def test_parse_bucket_headers(headers: dict[str, str], expected: BucketHeaders) -> None:
    assert parse_bucket_headers(headers) == expected


@pytest.mark.parametrize(
    ("headers", "expected"),
    [
        ({}, None),
        ({"Retry-After": "3"}, 3.0),
        ({"retry-after": "0.25"}, 0.25),
        ({"Retry-After": "soon"}, None),
        ({"Retry-After": "-3"}, None),
    ],
)
def test_parse_retry_after(headers: dict[str, str], expected: float | None) -> None:
    assert parse_retry_after(headers) == expected


@pytest.mark.parametrize(
    ("headers", "body", "retry_after", "is_global", "scope"),
    [
        ({}, b'{"retry_after": 1.25, "global": false}', 1.25, False, None),
        ({}, b'{"retry_after": 3, "global": true}', 3.0, True, None),
        ({"X-RateLimit-Global": "true"}, b'{"retry_after": 2.5}', 2.5, True, None),
        ({"X-RateLimit-Scope": "global"}, b'{"retry_after": 2.5}', 2.5, True, "global"),
        ({"X-RateLimit-Scope": "shared"}, b'{"retry_after": 9}', 9.0, False, "shared"),
        ({"Retry-After": "7"}, b"<html>cloudflare</html>", 7.0, True, None),
        ({"X-RateLimit-Scope": "user"}, b"{", 1.0, False, "user"),
        ({}, b'{"retry_after": "soon"}', 1.0, False, None),
        ({}, b'{"retry_after": -4}', 1.0, False, None),
        ({}, b'{"retry_after": true}', 1.0, False, None),
        ({"Retry-After": "4"}, b'{"global": false}', 4.0, False, None),
    ],
)
def test_parse_rate_limit(
    headers: dict[str, str], body: bytes, retry_after: float, is_global: bool, scope: str | None
) -> None:
    info = parse_rate_limit(headers, body)
    assert (info.retry_after, info.is_global, info.scope) == (retry_after, is_global, scope)


# -- one bucket, as values --


@pytest.mark.parametrize(
    ("headers", "expected"),
    [
        (BucketHeaders("h", 5, 2, 1.5), Bucket(5, 2, 101.5)),
        (BucketHeaders(None, None, 0, 3.0), Bucket(None, 0, 103.0)),
        (BucketHeaders("h", 5, None, 1.5), None),
        (BucketHeaders("h", 5, 2, None), None),
    ],
)
def test_observed(headers: BucketHeaders, expected: Bucket | None) -> None:
    assert observed(headers, now=100.0) == expected


@pytest.mark.parametrize(
    ("bucket", "now", "expected"),
    [
        (Bucket(5, 2, 10.0), 0.0, Bucket(5, 1, 10.0)),  # counts down
        (Bucket(5, 0, 10.0), 0.0, Bucket(5, -1, 10.0)),  # overspent: still counted
        (Bucket(5, 0, 10.0), 10.0, Bucket(5, 4, 10.0)),  # reset passed: refilled, then spent
        (Bucket(None, 0, 10.0), 10.0, Bucket(None, -1, 10.0)),  # size unknown: no refill
    ],
)
def test_spend(bucket: Bucket, now: float, expected: Bucket) -> None:
    assert spend(bucket, now) == expected


@pytest.mark.parametrize(
    ("bucket", "expected"),
    [
        (None, Bucket(None, 0, 104.0)),
        (Bucket(5, 3, 101.0), Bucket(5, 0, 104.0)),
        (Bucket(5, 3, 200.0), Bucket(5, 0, 104.0)),  # retry_after wins even when sooner
    ],
)
def test_exhausted(bucket: Bucket | None, expected: Bucket) -> None:
    assert exhausted(bucket, 4.0, now=100.0) == expected


@pytest.mark.parametrize(
    ("bucket", "global_until", "now", "expected"),
    [
        (None, 0.0, 100.0, 0.0),
        (Bucket(5, 1, 110.0), 0.0, 100.0, 0.0),  # slots left
        (Bucket(5, 0, 110.0), 0.0, 100.0, 10.0),  # exhausted until its reset
        (Bucket(5, -2, 110.0), 0.0, 100.0, 10.0),
        (Bucket(5, 0, 100.0), 0.0, 100.0, 0.0),  # reset reached
        (None, 103.0, 100.0, 3.0),  # global hold alone
        (Bucket(5, 0, 102.0), 105.0, 100.0, 5.0),  # the longer of the two
        (Bucket(5, 0, 109.0), 105.0, 100.0, 9.0),
        (None, 90.0, 100.0, 0.0),  # a lapsed global hold
    ],
)
def test_wait_time(bucket: Bucket | None, global_until: float, now: float, expected: float) -> None:
    assert wait_time(bucket, global_until, now) == expected


@pytest.mark.parametrize(
    ("bucket", "global_until", "waited", "expected"),
    [
        (None, 0.0, 0.0, Hold(0.0, False, False)),
        (None, 0.0, 100.0, Hold(0.0, False, False)),  # nothing to wait: budget irrelevant
        (Bucket(5, 0, 110.0), 0.0, 0.0, Hold(10.0, False, False)),
        (Bucket(5, 0, 110.0), 0.0, 20.0, Hold(10.0, False, False)),  # exactly the budget
        (Bucket(5, 0, 110.0), 0.0, 20.5, Hold(10.0, False, True)),
        (Bucket(5, 0, 140.0), 0.0, 0.0, Hold(40.0, False, True)),
        (None, 102.0, 0.0, Hold(2.0, True, False)),
        (Bucket(5, 0, 140.0), 102.0, 0.0, Hold(40.0, True, True)),  # global, though not why
    ],
)
def test_hold(bucket: Bucket | None, global_until: float, waited: float, expected: Hold) -> None:
    assert hold(bucket, global_until, now=100.0, waited=waited, max_wait=30.0) == expected


# -- retrying a failed attempt --


@pytest.mark.parametrize(
    ("attempt", "cap", "expected"),
    [
        (1, BACKOFF_CAP, 0.5),
        (2, BACKOFF_CAP, 1.0),
        (3, BACKOFF_CAP, 2.0),
        (9, BACKOFF_CAP, 8.0),
        (3, 1.5, 1.5),  # the client caps at max_wait when that is shorter
        (1, 0.0, 0.0),
    ],
)
def test_backoff(attempt: int, cap: float, expected: float) -> None:
    assert backoff(attempt, cap) == expected


def _decide(status: int | None, headers: dict[str, str] | None = None, **kw: Any) -> Retry | None:
    options: dict[str, Any] = {"attempt": 1, "max_retries": 3, "max_wait": 30.0}
    return decide(status, headers or {}, **(options | kw))


@pytest.mark.parametrize(
    ("status", "headers", "options", "expected"),
    [
        # answers a retry cannot change: the caller uses them as they are
        (200, {}, {}, None),
        (204, {}, {}, None),
        (400, {"Retry-After": "1"}, {}, None),
        (404, {}, {}, None),
        # no answer: exponential backoff, capped by max_wait
        (None, {}, {"error": "ReadTimeout"}, Retry(True, 0.5, "ReadTimeout")),
        (None, {}, {"attempt": 3, "error": "ConnectError"}, Retry(True, 2.0, "ConnectError")),
        (None, {}, {"attempt": 3, "max_wait": 1.0}, Retry(True, 1.0, "")),
        (None, {}, {"attempt": 4, "error": "ReadTimeout"}, Retry(False, 0.0, "ReadTimeout")),
        (None, {}, {"max_retries": 0, "error": "ReadTimeout"}, Retry(False, 0.0, "ReadTimeout")),
        # 429: retried while attempts remain; the limiter holds its wait, not the decision
        (429, {"Retry-After": "5"}, {}, Retry(True, 0.0, "rate limited")),
        (429, {}, {"attempt": 4}, Retry(False, 0.0, "rate limited")),
        # 5xx: Retry-After if Discord sends one and it fits, backoff otherwise
        (500, {}, {}, Retry(True, 0.5, "HTTP 500")),
        (502, {}, {"attempt": 2}, Retry(True, 1.0, "HTTP 502")),
        (503, {"Retry-After": "3"}, {}, Retry(True, 3.0, "HTTP 503")),
        (503, {"retry-after": "junk"}, {}, Retry(True, 0.5, "HTTP 503")),
        (503, {"Retry-After": "30"}, {}, Retry(True, 30.0, "HTTP 503")),
        (503, {"Retry-After": "120"}, {}, Retry(False, 120.0, "HTTP 503, retry after 120s")),
        (503, {"Retry-After": "120"}, {"attempt": 4}, Retry(False, 0.0, "HTTP 503")),
        (500, {}, {"attempt": 4, "max_wait": 0.2}, Retry(False, 0.0, "HTTP 500")),
        (500, {}, {"attempt": 3, "max_wait": 0.2}, Retry(True, 0.2, "HTTP 500")),
    ],
)
def test_decide(
    status: int | None, headers: dict[str, str], options: dict[str, Any], expected: Retry | None
) -> None:
    assert _decide(status, headers, **options) == expected


# -- the limiter: the values above, kept per route --


def test_limiter_knows_nothing_until_told() -> None:
    assert RateLimiter().wait_time(CHANNEL_42, 0.0) == 0.0


@pytest.mark.parametrize(("now", "expected"), [(100.0, 1.5), (101.0, 0.5), (101.5, 0.0), (200, 0)])
def test_limiter_waits_out_an_exhausted_bucket(now: float, expected: float) -> None:
    limiter = RateLimiter()
    limiter.update(CHANNEL_42, _headers("0", "1.5"), now=100.0)
    assert limiter.wait_time(CHANNEL_42, now) == pytest.approx(expected)


def test_limiter_lets_requests_through_while_slots_remain() -> None:
    limiter = RateLimiter()
    limiter.update(CHANNEL_42, _headers("1", "3"), now=0.0)
    assert limiter.wait_time(CHANNEL_42, 0.0) == 0.0
    limiter.acquire(CHANNEL_42, 0.0)  # spends the last slot before the response arrives
    assert limiter.wait_time(CHANNEL_42, 1.0) == 2.0
    limiter.acquire(CHANNEL_42, 3.0)  # after the reset, the bucket is full again
    assert limiter.wait_time(CHANNEL_42, 3.0) == 0.0


def test_limiter_keeps_major_parameters_apart_and_shares_bucket_hashes() -> None:
    limiter = RateLimiter()
    limiter.update(EDIT_42, _headers("4", "5", bucket="h"), now=0.0)
    limiter.update(CHANNEL_42, _headers("0", "2", bucket="h"), now=0.0)
    assert limiter.wait_time(EDIT_42, 0.0) == 2.0
    assert limiter.wait_time(CHANNEL_43, 0.0) == 0.0
    assert limiter.wait_time(ME, 0.0) == 0.0


def test_limiter_headers_are_case_insensitive_and_bad_values_ignored() -> None:
    limiter = RateLimiter()
    limiter.update(ME, {"x-ratelimit-remaining": "0", "X-RATELIMIT-RESET-AFTER": "2"}, now=0.0)
    assert limiter.wait_time(ME, 0.0) == 2.0
    other = RateLimiter()
    for bad in (
        {"X-RateLimit-Remaining": "zero", "X-RateLimit-Reset-After": "2"},
        {"X-RateLimit-Remaining": "0", "X-RateLimit-Reset-After": "nan"},
        {"X-RateLimit-Remaining": "0", "X-RateLimit-Reset-After": "-1"},
        {"X-RateLimit-Remaining": "0"},
    ):
        other.update(ME, bad, now=0.0)
        assert other.wait_time(ME, 0.0) == 0.0


def test_limiter_global_limit_blocks_every_route() -> None:
    limiter = RateLimiter()
    limiter.rate_limited(CHANNEL_42, 3.0, is_global=True, now=10.0)
    assert limiter.wait_time(ME, 10.0) == 3.0
    assert limiter.wait_time(CHANNEL_43, 12.0) == 1.0
    assert limiter.wait_time(ME, 13.0) == 0.0
    limiter.rate_limited(ME, 1.0, is_global=True, now=10.0)  # a shorter hold does not cut it
    assert limiter.global_until == 13.0


def test_limiter_429_retry_after_overrides_the_bucket_reset() -> None:
    limiter = RateLimiter()
    limiter.update(CHANNEL_42, _headers("0", "0.5"), now=0.0)
    limiter.rate_limited(CHANNEL_42, 4.0, is_global=False, now=0.0)
    assert limiter.wait_time(CHANNEL_42, 0.0) == 4.0
    assert limiter.wait_time(CHANNEL_43, 0.0) == 0.0


def test_limiter_hold_applies_the_budget_to_the_routes_bucket() -> None:
    limiter = RateLimiter()
    limiter.update(CHANNEL_42, _headers("0", "10"), now=0.0)
    assert limiter.hold(CHANNEL_42, now=0.0, waited=0.0, max_wait=30.0) == Hold(10.0, False, False)
    assert limiter.hold(CHANNEL_42, now=0.0, waited=25.0, max_wait=30.0) == Hold(10.0, False, True)
    assert limiter.hold(CHANNEL_43, now=0.0, waited=25.0, max_wait=30.0) == Hold(0.0, False, False)


def test_limiter_forgets_lapsed_buckets_once_it_holds_many() -> None:
    limiter = RateLimiter()
    for n in range(512):
        route = Route.of("POST", "/channels/{channel_id}/messages", channel_id=str(n))
        limiter.update(route, _headers("0", "1"), now=0.0)
    assert limiter.bucket(CHANNEL_42) == Bucket(5, 0, 1.0)
    limiter.update(ME, _headers("0", "1"), now=5.0)  # the 513th, after the others lapsed
    assert limiter.bucket(CHANNEL_42) is None
    assert limiter.bucket(ME) == Bucket(5, 0, 6.0)


def test_limiter_never_holds_a_webhook_token() -> None:
    route = Route.of(
        "PATCH",
        "/webhooks/{webhook_id}/{webhook_token}/messages/@original",
        webhook_id=APP,
        webhook_token=TOKEN,
    )
    other = Route.of(
        "PATCH",
        "/webhooks/{webhook_id}/{webhook_token}/messages/@original",
        webhook_id=APP,
        webhook_token=TOKEN + "x",
    )
    limiter = RateLimiter()
    limiter.update(route, _headers("0", "1"), now=0.0)
    assert TOKEN not in limiter.bucket_key(route) and TOKEN not in repr(vars(limiter))
    assert limiter.wait_time(route, 0.0) == 1.0
    assert limiter.wait_time(other, 0.0) == 0.0  # each interaction token is its own bucket
    assert str(route) == "PATCH /webhooks/{webhook_id}/{webhook_token}/messages/@original"
    assert TOKEN in route.path
