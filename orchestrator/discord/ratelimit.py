"""When to hold a request, how long, and when to stop: Discord's rate limits as plain data.

Discord's "Rate Limits" page describes per-route buckets: each response says
which bucket its route belongs to (`X-RateLimit-Bucket`, a hash shared by
routes that share a limit), how many requests are left in it and when it
refills. A bucket is per (hash, major parameters): the same hash for channel 42
and channel 43 is two independent limits. A 429 says how long to stay away,
for one bucket or, when global, for every route.

Everything here is a function of headers, bodies and a `now` the caller
passes (monotonic seconds): nothing sleeps, sends or reads the clock, so the
tests pin every branch without HTTP or time. `DiscordREST` only applies the
answers: it sleeps what `RateLimiter.hold` says, retries what `decide` says.

A wait must stay bounded: a job that sleeps past Lambda's timeout is lost, so
any hold beyond `max_wait` is given up on and reported to the caller instead.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass, replace
from typing import Protocol

from orchestrator.discord.errors import error_body

BACKOFF_BASE = 0.5
BACKOFF_CAP = 8.0
DEFAULT_RETRY_AFTER = 1.0
_PRUNE_ABOVE = 512

Headers = Mapping[str, str]


class BucketRoute(Protocol):
    """What the limiter needs to know of a route (`rest.Route` is one)."""

    @property
    def key(self) -> str:
        """Method and path template: what Discord hands a bucket hash for."""
        ...

    @property
    def major(self) -> str:
        """The major parameters, which split one bucket hash into independent limits."""
        ...


# -- reading headers --


def _header(headers: Headers, name: str) -> str | None:
    for key, value in headers.items():
        if key.lower() == name:
            return value
    return None


def _float(value: str | None) -> float | None:
    if value is None:
        return None
    try:
        number = float(value)
    except ValueError:
        return None
    return number if math.isfinite(number) and number >= 0 else None


def _int(value: str | None) -> int | None:
    if value is None:
        return None
    try:
        return int(value)
    except ValueError:
        return None


@dataclass(frozen=True)
class BucketHeaders:
    """The `X-RateLimit-*` headers of one response (any status); None where absent or garbled."""

    bucket: str | None
    limit: int | None
    remaining: int | None
    reset_after: float | None


def parse_bucket_headers(headers: Headers) -> BucketHeaders:
    """Read the bucket headers case-insensitively; a bad value counts as absent, never raises."""
    return BucketHeaders(
        bucket=_header(headers, "x-ratelimit-bucket") or None,
        limit=_int(_header(headers, "x-ratelimit-limit")),
        remaining=_int(_header(headers, "x-ratelimit-remaining")),
        reset_after=_float(_header(headers, "x-ratelimit-reset-after")),
    )


def parse_retry_after(headers: Headers) -> float | None:
    """A 5xx's `Retry-After` in seconds, or None when absent or not a usable number."""
    return _float(_header(headers, "retry-after"))


@dataclass(frozen=True)
class RateLimitInfo:
    """What a 429 says: how long to stay away, and from what (one bucket or every route)."""

    retry_after: float
    is_global: bool
    scope: str | None


def parse_rate_limit(headers: Headers, body: bytes) -> RateLimitInfo:
    """Read a 429. A body that is not Discord's JSON (a Cloudflare block page) is taken as global,

    since such blocks cover every route from this IP.
    """
    data = error_body(body)
    scope = _header(headers, "x-ratelimit-scope")
    retry_after: float | None = None
    raw = data.get("retry_after") if data is not None else None
    if isinstance(raw, int | float) and not isinstance(raw, bool):
        retry_after = _float(str(raw))
    if retry_after is None:
        retry_after = _float(_header(headers, "retry-after"))
    if retry_after is None:
        retry_after = DEFAULT_RETRY_AFTER
    is_global = (
        (data is not None and data.get("global") is True)
        or (_header(headers, "x-ratelimit-global") or "").lower() == "true"
        or scope == "global"
        or (data is None and scope is None)
    )
    return RateLimitInfo(retry_after=retry_after, is_global=is_global, scope=scope)


# -- one bucket's state, as values --


@dataclass(frozen=True)
class Bucket:
    """What we know of one bucket: its size (if told), requests left, and when it refills."""

    limit: int | None
    remaining: int
    reset_at: float  # monotonic seconds


def observed(headers: BucketHeaders, now: float) -> Bucket | None:
    """The bucket a response describes, or None when it did not say both count and reset."""
    if headers.remaining is None or headers.reset_after is None:
        return None
    return Bucket(headers.limit, headers.remaining, now + headers.reset_after)


def spend(bucket: Bucket, now: float) -> Bucket:
    """The bucket after one more request goes out, refilled first if its reset has passed.

    Counting before the response arrives keeps concurrent callers from all
    spending the last slot; the response's headers then replace the estimate.
    """
    if bucket.reset_at <= now and bucket.limit is not None:
        bucket = replace(bucket, remaining=bucket.limit)
    return replace(bucket, remaining=bucket.remaining - 1)


def exhausted(bucket: Bucket | None, retry_after: float, now: float) -> Bucket:
    """The bucket after a 429 on it: `retry_after` is authoritative over any reset we knew."""
    until = now + retry_after
    if bucket is None:
        return Bucket(None, 0, until)
    return replace(bucket, remaining=0, reset_at=until)


def wait_time(bucket: Bucket | None, global_until: float, now: float) -> float:
    """Seconds to hold a request so it hits neither the global limit nor its bucket's; 0 to send."""
    wait = max(0.0, global_until - now)
    if bucket is not None and bucket.remaining <= 0 and bucket.reset_at > now:
        wait = max(wait, bucket.reset_at - now)
    return wait


@dataclass(frozen=True)
class Hold:
    """The answer before a send: go (`wait` 0), sleep `wait` first, or give up."""

    wait: float
    is_global: bool  # a global limit is in force (whatever else holds the route)
    give_up: bool  # sleeping `wait` would take the total waited past `max_wait`


def hold(
    bucket: Bucket | None, global_until: float, *, now: float, waited: float, max_wait: float
) -> Hold:
    """Decide the hold for a request that has already waited `waited` seconds in all."""
    wait = wait_time(bucket, global_until, now)
    give_up = wait > 0 and waited + wait > max_wait
    return Hold(wait=wait, is_global=global_until > now, give_up=give_up)


# -- every bucket: the bookkeeping --


class RateLimiter:
    """Discord's rate-limit state: which routes share a bucket, each bucket, the global hold.

    Only a keeper of the values above: it never sleeps or reads the time; callers
    pass `now` (monotonic seconds).
    """

    def __init__(self) -> None:
        self._hashes: dict[str, str] = {}
        self._buckets: dict[str, Bucket] = {}
        self.global_until = 0.0

    def bucket_key(self, route: BucketRoute) -> str:
        """Until Discord names the route's bucket, the route itself stands in for it."""
        bucket = self._hashes.get(route.key, f"route:{route.key}")
        return f"{bucket}|{route.major}"

    def bucket(self, route: BucketRoute) -> Bucket | None:
        """What is known of the bucket `route` draws from, if anything."""
        return self._buckets.get(self.bucket_key(route))

    def wait_time(self, route: BucketRoute, now: float) -> float:
        """Seconds to hold a request on `route` so it does not hit a known limit; 0 to send."""
        return wait_time(self.bucket(route), self.global_until, now)

    def hold(self, route: BucketRoute, *, now: float, waited: float, max_wait: float) -> Hold:
        """The `hold` decision for `route` against the current state."""
        return hold(
            self.bucket(route), self.global_until, now=now, waited=waited, max_wait=max_wait
        )

    def acquire(self, route: BucketRoute, now: float) -> None:
        """Count a request about to go out (see `spend`); unknown buckets are not counted."""
        key = self.bucket_key(route)
        state = self._buckets.get(key)
        if state is not None:
            self._buckets[key] = spend(state, now)

    def update(self, route: BucketRoute, headers: Headers, now: float) -> None:
        """Learn from a response's `X-RateLimit-*` headers (any status)."""
        parsed = parse_bucket_headers(headers)
        if parsed.bucket:
            self._hashes[route.key] = parsed.bucket
        state = observed(parsed, now)
        if state is None:
            return
        self._buckets[self.bucket_key(route)] = state
        if len(self._buckets) > _PRUNE_ABOVE:
            self._prune(now)

    def rate_limited(
        self, route: BucketRoute, retry_after: float, *, is_global: bool, now: float
    ) -> None:
        """Record a 429: `retry_after` is authoritative, for every route if the limit is global."""
        if is_global:
            self.global_until = max(self.global_until, now + retry_after)
            return
        key = self.bucket_key(route)
        self._buckets[key] = exhausted(self._buckets.get(key), retry_after, now)

    def _prune(self, now: float) -> None:
        """Every interaction token opens its own bucket; forget the ones that have lapsed."""
        for key in [k for k, state in self._buckets.items() if state.reset_at <= now]:
            del self._buckets[key]


# -- retrying a failed attempt --


def backoff(attempt: int, cap: float = BACKOFF_CAP) -> float:
    """Wait before retry number `attempt` (1-based) after a 5xx or transport failure."""
    return float(min(cap, BACKOFF_BASE * 2 ** (attempt - 1)))


@dataclass(frozen=True)
class Retry:
    """What to do after an attempt that failed in a way a retry might cure.

    `retry` False means stop; `reason` then says why, for the error and the log.
    `wait` is the sleep before the next attempt; a 429's own wait is not in it,
    because `rate_limited` records it and the next `hold` sleeps it out.
    """

    retry: bool
    wait: float
    reason: str


def decide(
    status: int | None,
    headers: Headers,
    *,
    attempt: int,
    max_retries: int,
    max_wait: float,
    error: str = "",
) -> Retry | None:
    """Decide about the answer to attempt number `attempt` (1-based).

    `status` None means no answer arrived; `error` names the failure (the
    transport exception's type). None is returned for answers a retry cannot
    change (success, or a 4xx other than 429): the caller uses them as they are.
    Backoff never exceeds `max_wait`; a server asking for a longer `Retry-After`
    is given up on rather than obeyed.
    """
    retries_left = attempt <= max_retries
    if status is None:
        if not retries_left:
            return Retry(False, 0.0, error)
        return Retry(True, backoff(attempt, min(BACKOFF_CAP, max_wait)), error)
    if status == 429:
        return Retry(retries_left, 0.0, "rate limited")
    if status >= 500:
        reason = f"HTTP {status}"
        if not retries_left:
            return Retry(False, 0.0, reason)
        asked = parse_retry_after(headers)
        if asked is not None and asked > max_wait:
            return Retry(False, asked, f"{reason}, retry after {asked:.0f}s")
        wait = asked if asked is not None else backoff(attempt, min(BACKOFF_CAP, max_wait))
        return Retry(True, wait, reason)
    return None
