"""One request to GitHub, the whole way: build, authorize, send, retry, refresh, raise.

Split the way httpx splits sending, one short step each:

    build (headers, query) -> authorize -> send with the ETag cache -> on no answer or a
    rate limit, wait and retry -> on a 401 to a cached token, refresh it once -> raise for
    status (or serve the cached body for a 304)

What to do about an answer is decided by plain functions over status, headers and
body (`after_response`, `after_no_answer`, `give_up_error`, with `ratelimit.decide`
for the waits), so the tests pin every branch without HTTP; `Sender` only carries
the decisions out.

`Sender` knows nothing of credential kinds: each call says how to authorize and how
to drop a refused credential. That keeps it below `auth`, whose App credential sends
its own token exchange through a `Sender` of its own, and below the client, which
adds the endpoints. httpx is imported in the constructor, not here, so importing
this module (and the credentials, and the error types) costs no HTTP stack.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from orchestrator.github.cache import (
    ETAG_CACHE_ENTRIES,
    CacheKey,
    ETagCache,
    Reply,
    cache_key,
    keepable_etag,
    revalidated,
)
from orchestrator.github.errors import (
    GitHubError,
    GitHubRateLimited,
    GitHubUnavailable,
    http_error,
)
from orchestrator.github.ratelimit import Decision, RateLimit, decide, parse_rate_limit
from orchestrator.http import USER_AGENT, new_client

if TYPE_CHECKING:
    import httpx

# The name these lines have always carried (they came from the client): log queries use it.
log = logging.getLogger("orchestrator.github.client")

DEFAULT_BASE_URL = "https://api.github.com"
API_VERSION = "2022-11-28"
JSON_MEDIA_TYPE = "application/vnd.github+json"

Sleep = Callable[[float], Awaitable[None]]
Authorize = Callable[[], Awaitable[str]]  # the Authorization header for the next attempt


# --- pure decisions -----------------------------------------------------------------------


def is_idempotent(method: str, idempotent: bool | None) -> bool:
    """Whether sending twice is harmless: the caller's word, else what HTTP says of the method."""
    if idempotent is None:
        return method in ("GET", "HEAD", "PUT", "DELETE")
    return idempotent


def drop_none(params: Mapping[str, Any] | None) -> dict[str, Any] | None:
    """The query without its unset filters (None would be sent as an empty value)."""
    clean = {key: value for key, value in (params or {}).items() if value is not None}
    return clean or None


@dataclass(frozen=True)
class Deliver:
    """Use the answer as it is: a success, a 304, or an error for the raise-for-status step."""


@dataclass(frozen=True)
class Reauthenticate:
    """GitHub refused a cached credential it may have expired early: drop it, send again."""


@dataclass(frozen=True)
class Retry:
    """Wait `decision.wait` seconds, then send again."""

    decision: Decision


@dataclass(frozen=True)
class GiveUp:
    """Stop: waiting longer than we may, out of attempts, or not safe to send again."""

    decision: Decision


Step = Deliver | Reauthenticate | Retry | GiveUp


def after_response(
    status: int,
    headers: Mapping[str, str],
    content: bytes,
    *,
    attempt: int,
    now: float,
    max_wait: float,
    max_retries: int,
    idempotent: bool,
    can_reauthenticate: bool,
) -> Step:
    """What to do with the answer to attempt number `attempt` (1-based).

    Rate limits and 5xx go to `ratelimit.decide`. A 401 is a refresh only when the
    credential has a cached token not yet refreshed during this request
    (`can_reauthenticate`): a second 401 means the credential itself is wrong.
    """
    decision = decide(
        status,
        headers,
        content,
        attempt=attempt,
        now=now,
        max_wait=max_wait,
        max_retries=max_retries,
        idempotent=idempotent,
    )
    if decision is not None:
        return Retry(decision) if decision.retry else GiveUp(decision)
    if status == 401 and can_reauthenticate:
        return Reauthenticate()
    return Deliver()


def after_no_answer(
    *,
    never_sent: bool,
    attempt: int,
    now: float,
    max_wait: float,
    max_retries: int,
    idempotent: bool,
) -> Retry | GiveUp:
    """What to do when attempt `attempt` got no answer (timeout, reset, refused).

    A connection that never opened (`never_sent`) cannot have done anything, so even
    a dispatch is safe to send again; an answer lost mid-way may hide a deploy that
    started, so a non-idempotent request stops there.
    """
    decision = decide(
        None,
        {},
        b"",
        attempt=attempt,
        now=now,
        max_wait=max_wait,
        max_retries=max_retries,
        idempotent=idempotent or never_sent,
    )
    assert decision is not None  # no answer always is a transient failure
    return Retry(decision) if decision.retry else GiveUp(decision)


def give_up_error(
    decision: Decision,
    *,
    method: str,
    path: str,
    attempt: int,
    idempotent: bool,
    now: float,
) -> GitHubError:
    """The error for an answer we stopped retrying: rate limited (with when), or unavailable."""
    if decision.kind in ("primary", "secondary"):
        return GitHubRateLimited(decision.retry_at, decision.reason, now=now)
    hint = "" if idempotent else " (not retried: it may have taken effect)"
    return GitHubUnavailable(
        f"{decision.reason} on {method} {path} after {attempt} attempt(s){hint}; "
        "try again in a few minutes"
    )


def no_answer_error(*, method: str, path: str, attempt: int, cause: str) -> GitHubUnavailable:
    """The error for a request that never got an answer; `cause` names the failure, not its text."""
    return GitHubUnavailable(
        f"no answer from GitHub on {method} {path} after {attempt} attempt(s) "
        f"({cause}); try again in a minute"
    )


# --- carrying them out ----------------------------------------------------------------------


class Sender:
    """One connection pool and one retry policy: sends a request to a `Reply` or an error.

    `max_retries` and `max_wait` may be lowered on a live sender (the verifier does, to
    fit its budget); `last_rate_limit` is the latest `x-ratelimit-*` snapshot.
    """

    def __init__(
        self,
        *,
        base_url: str = DEFAULT_BASE_URL,
        transport: httpx.AsyncBaseTransport | None = None,
        max_retries: int = 3,
        max_wait: float = 60.0,
        timeout: float = 10.0,
        sleep: Sleep = asyncio.sleep,
        user_agent: str = USER_AGENT,
        clock: Callable[[], float] = time.time,
        etag_cache_size: int = ETAG_CACHE_ENTRIES,
    ) -> None:

        if max_retries < 0:
            raise ValueError("max_retries must be >= 0")
        self.http = new_client(
            base_url=base_url.rstrip("/"),
            transport=transport,
            timeout=timeout,
            user_agent=user_agent,
            headers={"Accept": JSON_MEDIA_TYPE, "X-GitHub-Api-Version": API_VERSION},
        )
        self.max_retries = max_retries
        self.max_wait = max_wait
        self._sleep = sleep
        self._clock = clock
        self._etags = ETagCache(etag_cache_size)
        self.last_rate_limit: RateLimit | None = None

    async def __aenter__(self) -> Sender:
        return self

    async def __aexit__(self, *exc_info: object) -> None:
        await self.aclose()

    async def aclose(self) -> None:
        await self.http.aclose()

    async def send(
        self,
        method: str,
        url: str,
        *,
        authorize: Authorize,
        reauthenticate: Callable[[], None] | None = None,
        params: Mapping[str, Any] | None = None,
        json: Any = None,
        accept: str | None = None,
        idempotent: bool | None = None,
        follow_redirects: bool = True,
    ) -> Reply:
        """Send with retries; return any answer below 400 (304s served from the ETag cache).

        `reauthenticate` drops a cached credential after a 401; it is called at most once.
        """
        idempotent = is_idempotent(method, idempotent)
        query = drop_none(params)
        attempt = 0
        while True:
            attempt += 1
            authorization = await authorize()
            request = self._build(method, url, query, json, accept, authorization)
            key, cached = self._conditional(method, request)
            response = await self._transmit(method, request, follow_redirects, attempt, idempotent)
            if response is None:
                continue  # no answer; the wait before the next attempt is done
            step = after_response(
                response.status_code,
                response.headers,
                response.content,
                attempt=attempt,
                now=self._clock(),
                max_wait=self.max_wait,
                max_retries=self.max_retries,
                idempotent=idempotent,
                can_reauthenticate=reauthenticate is not None,
            )
            match step:
                case Deliver():
                    return self._settle(method, request, response, key, cached, authorization)
                case Reauthenticate():
                    assert reauthenticate is not None
                    reauthenticate()
                    reauthenticate = None  # once: a second 401 is the answer
                case GiveUp(decision):
                    raise give_up_error(
                        decision,
                        method=method,
                        path=request.url.path,
                        attempt=attempt,
                        idempotent=idempotent,
                        now=self._clock(),
                    )
                case Retry(decision):
                    await self._pause(method, request, decision.reason, decision.wait, attempt)

    def _build(
        self,
        method: str,
        url: str,
        params: dict[str, Any] | None,
        json: Any,
        accept: str | None,
        authorization: str,
    ) -> httpx.Request:
        """The request with this attempt's credential (it may have been refreshed since)."""
        headers = {"Authorization": authorization}
        if accept:
            headers["Accept"] = accept
        return self.http.build_request(method, url, params=params, json=json, headers=headers)

    def _conditional(
        self, method: str, request: httpx.Request
    ) -> tuple[CacheKey | None, Reply | None]:
        """Offer the cached representation's ETag, so an unchanged answer is a free 304."""
        key = cache_key(method, str(request.url), request.headers.get("accept", ""))
        entry = self._etags.get(key) if key is not None else None
        if entry is None:
            return key, None
        etag, cached = entry
        request.headers["If-None-Match"] = etag
        return key, cached

    async def _transmit(
        self,
        method: str,
        request: httpx.Request,
        follow_redirects: bool,
        attempt: int,
        idempotent: bool,
    ) -> httpx.Response | None:
        """Send once. None: no answer came, a retry makes sense, and its wait is done."""
        import httpx

        started = time.perf_counter()
        try:
            response = await self.http.send(request, follow_redirects=follow_redirects)
        except httpx.TransportError as exc:
            step = after_no_answer(
                never_sent=isinstance(exc, httpx.ConnectError | httpx.ConnectTimeout),
                attempt=attempt,
                now=self._clock(),
                max_wait=self.max_wait,
                max_retries=self.max_retries,
                idempotent=idempotent,
            )
            cause = type(exc).__name__
            if isinstance(step, GiveUp):
                raise no_answer_error(
                    method=method, path=request.url.path, attempt=attempt, cause=cause
                ) from None
            await self._pause(method, request, cause, step.decision.wait, attempt)
            return None
        self._observe(method, request, response, started)
        return response

    def _observe(
        self, method: str, request: httpx.Request, response: httpx.Response, started: float
    ) -> None:
        """Keep the rate-limit snapshot for `/diagnose`; log the request (never its headers)."""
        snapshot = parse_rate_limit(response.headers)
        if snapshot is not None:
            self.last_rate_limit = snapshot
        log.debug(
            "github request",
            extra={
                "method": method,
                "path": request.url.path,
                "status": response.status_code,
                "ms": round((time.perf_counter() - started) * 1000, 1),
            },
        )

    async def _pause(
        self, method: str, request: httpx.Request, reason: str, wait: float, attempt: int
    ) -> None:
        log.warning(
            "github retry",
            extra={
                "method": method,
                "path": request.url.path,
                "reason": reason,
                "wait": wait,
                "attempt": attempt,
            },
        )
        await self._sleep(wait)

    def _settle(
        self,
        method: str,
        request: httpx.Request,
        response: httpx.Response,
        key: CacheKey | None,
        cached: Reply | None,
        authorization: str,
    ) -> Reply:
        """Raise for status; a 304 to our ETag is the cached reply; a fresh 200 is kept."""
        status = response.status_code
        hit = revalidated(status, cached)
        if hit is not None:
            return hit
        if status >= 400 or status == 304:
            raise http_error(
                status,
                response.content,
                authorization=authorization,
                method=method,
                path=request.url.path,
            )
        reply = Reply(status, response.headers, response.content)
        etag = keepable_etag(status, response.headers.get("etag"))
        if key is not None and etag is not None:
            self._etags.put(key, etag, reply)
        return reply
