"""When to wait, how long, and when to stop: GitHub's rate limits as a pure decision.

GitHub signals trouble three ways, and each wants a different wait:

* **primary limit**: the hourly budget is spent (`x-ratelimit-remaining: 0` on a
  403/429). Nothing helps before `x-ratelimit-reset`, so we wait exactly that long.
* **secondary limit**: too much, too fast (403/429 with `retry-after`, or only a
  message saying "secondary rate limit"). GitHub asks for `retry-after`, or at
  least a minute, growing if we keep tripping it.
* **GitHub is having a bad moment**: 5xx or no answer at all. Short exponential
  backoff, because these usually pass in seconds.

Every wait is bounded by `max_wait`: a Lambda invocation or a Discord follow-up
cannot sit for an hour, so past that bound we give up with the time a retry
makes sense, and the caller tells the human. Keeping this a plain function
over status, headers and body lets the tests pin every branch without HTTP.
"""

from __future__ import annotations

import time
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Literal

SECONDARY_MIN_WAIT = 60.0
BACKOFF_BASE = 1.0
_SECONDARY_PHRASE = b"secondary rate limit"

Kind = Literal["primary", "secondary", "server", "network"]


@dataclass(frozen=True)
class RateLimit:
    """The `x-ratelimit-*` headers of one response: what `/diagnose` reports."""

    limit: int | None
    remaining: int | None
    used: int | None
    reset: int | None  # epoch seconds
    resource: str | None

    def describe(self) -> str:
        """`"4,812 of 5,000 requests left (core), resets 14:05 UTC"`, for humans."""
        if self.remaining is None:
            return "rate limit unknown"
        text = f"{self.remaining:,}"
        if self.limit is not None:
            text += f" of {self.limit:,}"
        text += " requests left"
        if self.resource:
            text += f" ({self.resource})"
        if self.reset is not None:
            text += f", resets {time.strftime('%H:%M', time.gmtime(self.reset))} UTC"
        return text


@dataclass(frozen=True)
class Decision:
    """What to do about one failed attempt.

    `retry` False means stop: `retry_at` is the epoch second a new attempt makes
    sense (for the message the human sees); `wait` is how long that is from now.
    """

    kind: Kind
    retry: bool
    wait: float
    retry_at: float
    reason: str


def _lower(headers: Mapping[str, str]) -> dict[str, str]:
    return {key.lower(): value for key, value in headers.items()}


def _int(value: str | None) -> int | None:
    if value is None:
        return None
    try:
        return int(value.strip())
    except ValueError:
        return None


def parse_rate_limit(headers: Mapping[str, str]) -> RateLimit | None:
    """The snapshot in `headers`, or None when the response carried none (e.g. a redirect)."""
    lowered = _lower(headers)
    if not any(key.startswith("x-ratelimit-") for key in lowered):
        return None
    return RateLimit(
        limit=_int(lowered.get("x-ratelimit-limit")),
        remaining=_int(lowered.get("x-ratelimit-remaining")),
        used=_int(lowered.get("x-ratelimit-used")),
        reset=_int(lowered.get("x-ratelimit-reset")),
        resource=lowered.get("x-ratelimit-resource"),
    )


def parse_retry_after(value: str | None, now: float) -> float | None:
    """Seconds to wait from a `retry-after` header (GitHub sends seconds; HTTP allows a date)."""
    if value is None:
        return None
    value = value.strip()
    try:
        return max(0.0, float(value))
    except ValueError:
        pass
    import email.utils  # GitHub sends seconds; the date form is rare, so import it only then

    try:
        when = email.utils.parsedate_to_datetime(value)
    except (TypeError, ValueError):
        return None
    return max(0.0, when.timestamp() - now)


def backoff(attempt: int, base: float = BACKOFF_BASE) -> float:
    """1, 2, 4, 8 ... seconds. Deterministic: one small service does not stampede GitHub."""
    return base * 2.0 ** max(0, attempt - 1)


def decide(
    status: int | None,
    headers: Mapping[str, str],
    body: bytes,
    *,
    attempt: int,
    now: float,
    max_wait: float,
    max_retries: int,
    idempotent: bool = True,
) -> Decision | None:
    """Decide about the response to attempt number `attempt` (1-based).

    `status` None means no answer arrived (timeout, connection reset). None is
    returned when the response is not a rate limit or transient failure: the
    caller uses it as is (success, or an error like 404 or 422).

    `idempotent` False (a POST that may already have taken effect, like a
    workflow dispatch) stops at the first 5xx or lost answer instead of retrying:
    dispatching a deploy twice is worse than reporting "unknown, check GitHub".
    Rate-limit refusals are always safe to retry; GitHub did nothing.
    """
    lowered = _lower(headers)
    exhausted = attempt > max_retries

    if status in (403, 429):
        remaining = _int(lowered.get("x-ratelimit-remaining"))
        reset = _int(lowered.get("x-ratelimit-reset"))
        retry_after = parse_retry_after(lowered.get("retry-after"), now)
        if retry_after is not None:
            kind: Kind = "secondary"
            wait = retry_after
            reason = f"secondary rate limit (retry-after {retry_after:g}s)"
        elif remaining == 0:
            kind = "primary"
            wait = max(1.0, reset - now) if reset is not None else SECONDARY_MIN_WAIT
            resource = lowered.get("x-ratelimit-resource", "core")
            reason = f"primary rate limit exhausted ({resource})"
        elif _SECONDARY_PHRASE in body.lower() or status == 429:
            kind = "secondary"
            # GitHub: wait at least a minute, longer if we keep hitting it.
            wait = SECONDARY_MIN_WAIT * 2.0 ** max(0, attempt - 1)
            reason = "secondary rate limit"
        else:
            return None  # a plain 403: permissions, not pacing
        retry = not exhausted and wait <= max_wait
        return Decision(kind, retry, wait, now + wait, reason)

    if status is None or status >= 500:
        kind = "network" if status is None else "server"
        reason = "no answer from GitHub" if status is None else f"GitHub answered {status}"
        server_hint = parse_retry_after(lowered.get("retry-after"), now)
        wait = min(server_hint if server_hint is not None else backoff(attempt), max_wait)
        retry = idempotent and not exhausted
        return Decision(kind, retry, wait, now + wait, reason)

    return None
