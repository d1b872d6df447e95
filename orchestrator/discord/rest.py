"""The Discord REST client: the few routes the orchestrator calls, with rate limits done right.

Why a client of our own rather than a Discord library: we need a dozen routes,
must run inside a Lambda invocation (no gateway, no long-lived state), and want
every wait to be observable and bounded, because a job that sleeps past
Lambda's timeout is lost.

Layers, sans-I/O style:

* `Route` names a call by its method and path *template*; only the template is
  ever logged, never the URL, because interaction tokens live in URL paths.
* `RateLimiter` is the pure bucket bookkeeping Discord's "Rate Limits" page
  describes: routes map to bucket hashes learnt from `X-RateLimit-Bucket`, and a
  bucket is per (hash, major parameters: channel, guild, webhook + token).
* `parse_error` / `parse_rate_limit` read Discord's answers without trusting them
  to be well formed.
* `DiscordREST` is the thin async edge: it asks the limiter how long to wait,
  sends, feeds the headers back, and retries what is worth retrying. Every wait
  goes through the injected `sleep` so tests run instantly and see each wait.
"""

from __future__ import annotations

import asyncio
import hashlib
import json
import logging
import math
import re
import secrets
import time
from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass
from types import TracebackType
from typing import TYPE_CHECKING, Any
from urllib.parse import quote

from orchestrator import __version__
from orchestrator.discord.limits import clamp_message
from orchestrator.http import new_client

if TYPE_CHECKING:
    import httpx

log = logging.getLogger(__name__)

USER_AGENT = f"DiscordBot (https://github.com/orchestrator, {__version__})"
MAJOR_PARAMETERS = ("channel_id", "guild_id", "webhook_id", "webhook_token")

_BACKOFF_BASE = 0.5
_BACKOFF_CAP = 8.0
_MAX_GATE_ROUNDS = 50
_DEFAULT_RETRY_AFTER = 1.0
_MAX_ERROR_MESSAGE = 300
_PRUNE_ABOVE = 512

Headers = Mapping[str, str]
Sleep = Callable[[float], Awaitable[None]]
Clock = Callable[[], float]


class DiscordError(RuntimeError):
    """Base for Discord client failures. Messages name route templates, never tokens."""

    upstream: str | None = "Discord"  # whom a user-facing failure message names (not us)


class DiscordConfigError(DiscordError):
    """The client lacks what a route needs (a bot token): fix the configuration, not the call."""

    upstream = None  # our configuration, not Discord's doing


class DiscordHTTPError(DiscordError):
    """Discord refused the request (4xx other than 429). Retrying the same request cannot help."""

    def __init__(
        self, status: int, code: int, message: str, *, route: str = "", errors: Any = None
    ) -> None:
        self.status = status
        self.code = code
        self.message = message
        self.route = route
        self.errors = errors
        where = f"{route}: " if route else ""
        super().__init__(f"{where}HTTP {status}, Discord code {code}: {message}")


class RateLimited(DiscordError):
    """Waiting out a rate limit would exceed `max_wait` or the retry budget.

    Raised rather than slept through so the caller (a job with its own retry
    policy, or a Lambda with a deadline) decides what to do with the time.
    """

    def __init__(
        self, route: str, retry_after: float, *, is_global: bool = False, scope: str | None = None
    ) -> None:
        self.route = route
        self.retry_after = retry_after
        self.is_global = is_global
        self.scope = scope
        kind = "global rate limit" if is_global else "rate limited"
        super().__init__(f"{route}: {kind}, retry after {retry_after:.3f}s")


class DiscordUnavailable(DiscordError):
    """Discord kept failing (5xx, timeouts, connection errors) through every retry."""

    def __init__(self, route: str, attempts: int, reason: str, status: int | None = None) -> None:
        self.route = route
        self.attempts = attempts
        self.reason = reason
        self.status = status
        super().__init__(f"{route}: Discord unavailable after {attempts} attempt(s): {reason}")


def _token_digest(token: str) -> str:
    """Stands in for a webhook token in limiter keys, so no raw token is kept or printed."""
    return hashlib.sha256(token.encode()).hexdigest()[:16]


@dataclass(frozen=True)
class Route:
    """One Discord route: method, path template and the values that fill it."""

    method: str
    template: str
    params: tuple[tuple[str, str], ...] = ()

    @classmethod
    def of(cls, method: str, template: str, **params: str) -> Route:
        return cls(method.upper(), template, tuple(sorted(params.items())))

    @property
    def key(self) -> str:
        """What Discord hands a bucket hash for: the same for every channel, guild or token."""
        return f"{self.method} {self.template}"

    @property
    def major(self) -> str:
        """The major parameters, which split one bucket hash into independent limits."""
        parts = []
        for name, value in self.params:
            if name in MAJOR_PARAMETERS:
                shown = _token_digest(value) if name == "webhook_token" else value
                parts.append(f"{name}={shown}")
        return ",".join(parts)

    @property
    def path(self) -> str:
        return self.template.format(**{name: quote(value, safe="") for name, value in self.params})

    def __str__(self) -> str:
        return self.key

    def __repr__(self) -> str:
        shown = {k: ("***" if k == "webhook_token" else v) for k, v in self.params}
        return f"Route({self.method} {self.template} {shown})"


@dataclass
class _Bucket:
    limit: int | None
    remaining: int
    reset_at: float


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


class RateLimiter:
    """Discord's rate-limit state, as plain bookkeeping over headers and a clock value.

    Pure: it never sleeps or reads the time; callers pass `now` (monotonic seconds).
    """

    def __init__(self) -> None:
        self._hashes: dict[str, str] = {}
        self._buckets: dict[str, _Bucket] = {}
        self.global_until = 0.0

    def bucket_key(self, route: Route) -> str:
        """Until Discord names the route's bucket, the route itself stands in for it."""
        bucket = self._hashes.get(route.key, f"route:{route.key}")
        return f"{bucket}|{route.major}"

    def wait_time(self, route: Route, now: float) -> float:
        """Seconds to hold a request on `route` so it does not hit a known limit; 0 to send."""
        wait = max(0.0, self.global_until - now)
        state = self._buckets.get(self.bucket_key(route))
        if state is not None and state.remaining <= 0 and state.reset_at > now:
            wait = max(wait, state.reset_at - now)
        return wait

    def acquire(self, route: Route, now: float) -> None:
        """Count a request about to go out, so concurrent callers do not all spend the last slot.

        The response's headers then replace this estimate with Discord's own count.
        """
        state = self._buckets.get(self.bucket_key(route))
        if state is None:
            return
        if state.reset_at <= now and state.limit is not None:
            state.remaining = state.limit
        state.remaining -= 1

    def update(self, route: Route, headers: Headers, now: float) -> None:
        """Learn from a response's `X-RateLimit-*` headers (any status)."""
        bucket = _header(headers, "x-ratelimit-bucket")
        if bucket:
            self._hashes[route.key] = bucket
        remaining = _int(_header(headers, "x-ratelimit-remaining"))
        reset_after = _float(_header(headers, "x-ratelimit-reset-after"))
        if remaining is None or reset_after is None:
            return
        limit = _int(_header(headers, "x-ratelimit-limit"))
        self._buckets[self.bucket_key(route)] = _Bucket(limit, remaining, now + reset_after)
        if len(self._buckets) > _PRUNE_ABOVE:
            self._prune(now)

    def rate_limited(
        self, route: Route, retry_after: float, *, is_global: bool, now: float
    ) -> None:
        """Record a 429: `retry_after` is authoritative, for every route if the limit is global."""
        until = now + retry_after
        if is_global:
            self.global_until = max(self.global_until, until)
            return
        key = self.bucket_key(route)
        state = self._buckets.get(key)
        if state is None:
            self._buckets[key] = _Bucket(None, 0, until)
        else:
            state.remaining = 0
            state.reset_at = until

    def _prune(self, now: float) -> None:
        """Every interaction token opens its own bucket; forget the ones that have lapsed."""
        for key in [k for k, state in self._buckets.items() if state.reset_at <= now]:
            del self._buckets[key]


@dataclass(frozen=True)
class RateLimitInfo:
    retry_after: float
    is_global: bool
    scope: str | None


def _json_object(body: bytes) -> dict[str, Any] | None:
    try:
        data = json.loads(body)
    except (ValueError, UnicodeDecodeError):
        return None
    return data if isinstance(data, dict) else None


def parse_rate_limit(headers: Headers, body: bytes) -> RateLimitInfo:
    """Read a 429. A body that is not Discord's JSON (a Cloudflare block page) is taken as global,

    since such blocks cover every route from this IP.
    """
    data = _json_object(body)
    scope = _header(headers, "x-ratelimit-scope")
    retry_after: float | None = None
    raw = data.get("retry_after") if data is not None else None
    if isinstance(raw, int | float) and not isinstance(raw, bool):
        retry_after = _float(str(raw))
    if retry_after is None:
        retry_after = _float(_header(headers, "retry-after"))
    if retry_after is None:
        retry_after = _DEFAULT_RETRY_AFTER
    is_global = (
        (data is not None and data.get("global") is True)
        or (_header(headers, "x-ratelimit-global") or "").lower() == "true"
        or scope == "global"
        or (data is None and scope is None)
    )
    return RateLimitInfo(retry_after=retry_after, is_global=is_global, scope=scope)


def _flatten_errors(errors: Any, path: str = "") -> list[str]:
    """Discord's nested form errors as `"embeds.0.title: Must be 256 or fewer in length."`."""
    if not isinstance(errors, dict):
        return []
    found: list[str] = []
    inner = errors.get("_errors")
    if isinstance(inner, list):
        for item in inner:
            if isinstance(item, dict) and isinstance(item.get("message"), str):
                found.append(f"{path or '(body)'}: {item['message']}")
    for key, value in errors.items():
        if key != "_errors":
            found.extend(_flatten_errors(value, f"{path}.{key}" if path else str(key)))
    return found


def parse_error(status: int, body: bytes) -> tuple[int, str, Any]:
    """(Discord error code, message, raw `errors`) from an error body; never raises."""
    data = _json_object(body)
    if data is None:
        return 0, f"HTTP {status} without a Discord error body", None
    code = data.get("code")
    message = data.get("message")
    errors = data.get("errors")
    text = message if isinstance(message, str) and message else f"HTTP {status}"
    details = _flatten_errors(errors)
    if details:
        text = f"{text} ({'; '.join(details[:5])})"
    if len(text) > _MAX_ERROR_MESSAGE:
        text = text[: _MAX_ERROR_MESSAGE - 1] + "…"
    return (code if isinstance(code, int) and not isinstance(code, bool) else 0), text, errors


def backoff(attempt: int, cap: float = _BACKOFF_CAP) -> float:
    """Wait before retry number `attempt` (1-based) after a 5xx or transport failure."""
    return float(min(cap, _BACKOFF_BASE * 2 ** (attempt - 1)))


_WEBHOOK_TOKEN_IN_URL = re.compile(r"(/webhooks/[^/\s]+/)[^/\s?\"']+")


def redact(text: str) -> str:
    """Replace the token in any webhook URL inside `text`."""
    return _WEBHOOK_TOKEN_IN_URL.sub(r"\1{webhook_token}", text)


class _RedactWebhookTokens(logging.Filter):
    """httpx logs every request URL at INFO; interaction tokens must not reach the logs."""

    def filter(self, record: logging.LogRecord) -> bool:
        message = record.getMessage()
        redacted = redact(message)
        if redacted != message:
            record.msg = redacted
            record.args = ()
        return True


def _install_httpx_redaction() -> None:
    logger = logging.getLogger("httpx")
    if not any(isinstance(f, _RedactWebhookTokens) for f in logger.filters):
        logger.addFilter(_RedactWebhookTokens())


class DiscordREST:
    """Async Discord REST client; one per event loop (httpx clients are bound to their loop)."""

    def __init__(
        self,
        *,
        base_url: str,
        application_id: str,
        bot_token: str | None = None,
        transport: httpx.AsyncBaseTransport | None = None,
        max_retries: int = 3,
        max_wait: float = 30.0,
        timeout: float = 10.0,
        sleep: Sleep = asyncio.sleep,
        clock: Clock = time.monotonic,
    ) -> None:
        import httpx

        if max_retries < 0:
            raise ValueError("max_retries must not be negative")
        if max_wait < 0:
            raise ValueError("max_wait must not be negative")
        _install_httpx_redaction()
        self.application_id = application_id
        self._bot_token = bot_token or None
        self._max_retries = max_retries
        self._max_wait = max_wait
        self._sleep = sleep
        self._clock = clock
        self.limiter = RateLimiter()
        self._transport_error: type[Exception] = httpx.TransportError
        self._client = new_client(
            base_url=base_url, transport=transport, timeout=timeout, user_agent=USER_AGENT
        )

    async def aclose(self) -> None:
        await self._client.aclose()

    async def __aenter__(self) -> DiscordREST:
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        await self.aclose()

    # -- interaction webhooks: the interaction token authorises, no bot token is sent --

    def _webhook(self, method: str, suffix: str, token: str, **params: str) -> Route:
        return Route.of(
            method,
            "/webhooks/{webhook_id}/{webhook_token}" + suffix,
            webhook_id=self.application_id,
            webhook_token=token,
            **params,
        )

    async def edit_original(self, token: str, message: dict[str, Any]) -> dict[str, Any]:
        route = self._webhook("PATCH", "/messages/@original", token)
        return _expect_dict(route, await self._request(route, body=clamp_message(message)))

    async def delete_original(self, token: str) -> None:
        await self._request(self._webhook("DELETE", "/messages/@original", token))

    async def create_followup(self, token: str, message: dict[str, Any]) -> dict[str, Any]:
        route = self._webhook("POST", "", token)
        result = await self._request(route, body=clamp_message(message), query={"wait": "true"})
        return _expect_dict(route, result)

    async def edit_followup(
        self, token: str, message_id: str, message: dict[str, Any]
    ) -> dict[str, Any]:
        route = self._webhook("PATCH", "/messages/{message_id}", token, message_id=message_id)
        return _expect_dict(route, await self._request(route, body=clamp_message(message)))

    # -- bot-token routes --

    async def create_message(self, channel_id: str, message: dict[str, Any]) -> dict[str, Any]:
        """Post in a channel. A nonce is added (unless given) so a retried POST cannot post twice:

        with `enforce_nonce` Discord returns the first message instead of creating another.
        """
        body = clamp_message(message)
        if body.get("nonce") is None:
            body["nonce"] = secrets.token_hex(12)
            body["enforce_nonce"] = True
        route = Route.of("POST", "/channels/{channel_id}/messages", channel_id=channel_id)
        return _expect_dict(route, await self._request(route, body=body, bot=True))

    async def edit_message(
        self, channel_id: str, message_id: str, message: dict[str, Any]
    ) -> dict[str, Any]:
        route = Route.of(
            "PATCH",
            "/channels/{channel_id}/messages/{message_id}",
            channel_id=channel_id,
            message_id=message_id,
        )
        return _expect_dict(
            route, await self._request(route, body=clamp_message(message), bot=True)
        )

    async def create_dm(self, user_id: str) -> dict[str, Any]:
        route = Route.of("POST", "/users/@me/channels")
        result = await self._request(route, body={"recipient_id": user_id}, bot=True)
        return _expect_dict(route, result)

    async def get_current_user(self) -> dict[str, Any]:
        """The bot's own user; a cheap way to prove the token works."""
        route = Route.of("GET", "/users/@me")
        return _expect_dict(route, await self._request(route, bot=True))

    def _commands(self, method: str, guild_id: str | None) -> Route:
        if guild_id is None:
            return Route.of(
                method,
                "/applications/{application_id}/commands",
                application_id=self.application_id,
            )
        return Route.of(
            method,
            "/applications/{application_id}/guilds/{guild_id}/commands",
            application_id=self.application_id,
            guild_id=guild_id,
        )

    async def get_global_commands(self) -> list[dict[str, Any]]:
        route = self._commands("GET", None)
        return _expect_list(route, await self._request(route, bot=True))

    async def get_guild_commands(self, guild_id: str) -> list[dict[str, Any]]:
        route = self._commands("GET", guild_id)
        return _expect_list(route, await self._request(route, bot=True))

    async def bulk_overwrite_global_commands(
        self, commands: list[dict[str, Any]]
    ) -> list[dict[str, Any]]:
        route = self._commands("PUT", None)
        return _expect_list(route, await self._request(route, body=commands, bot=True))

    async def bulk_overwrite_guild_commands(
        self, guild_id: str, commands: list[dict[str, Any]]
    ) -> list[dict[str, Any]]:
        route = self._commands("PUT", guild_id)
        return _expect_list(route, await self._request(route, body=commands, bot=True))

    # -- the request loop --

    async def _gate(self, route: Route, waited: float) -> float:
        """Sleep until `route` may be sent; returns the new total waited, or raises RateLimited."""
        name = str(route)  # log the template only: a Route's params may hold a token
        for _ in range(_MAX_GATE_ROUNDS):
            wait = self.limiter.wait_time(route, self._clock())
            if wait <= 0:
                return waited
            is_global = self.limiter.global_until > self._clock()
            if waited + wait > self._max_wait:
                log.warning(
                    "discord rate limit wait exceeds budget on %s",
                    name,
                    extra={"route": name, "wait": round(wait, 3)},
                )
                raise RateLimited(name, wait, is_global=is_global)
            log.info(
                "discord rate limit: waiting %.3fs on %s",
                wait,
                name,
                extra={"route": name, "wait": round(wait, 3), "global": is_global},
            )
            await self._sleep(wait)
            waited += wait
        raise RateLimited(name, self.limiter.wait_time(route, self._clock()))

    async def _request(
        self,
        route: Route,
        *,
        body: Any = None,
        query: dict[str, str] | None = None,
        bot: bool = False,
    ) -> Any:
        name = str(route)
        headers: dict[str, str] = {}
        if bot:
            if self._bot_token is None:
                raise DiscordConfigError(f"{route} needs a bot token; set DISCORD_BOT_TOKEN")
            headers["Authorization"] = f"Bot {self._bot_token}"
        path = route.path
        waited = 0.0
        attempt = 0
        while True:
            waited = await self._gate(route, waited)
            self.limiter.acquire(route, self._clock())
            attempt += 1
            retries_left = attempt <= self._max_retries
            try:
                response = await self._client.request(
                    route.method,
                    path,
                    json=body,
                    params=query,
                    headers=headers,
                )
            except self._transport_error as exc:
                reason = type(exc).__name__
                if not retries_left:
                    raise DiscordUnavailable(name, attempt, reason) from None
                delay = backoff(attempt, self._backoff_cap)
                log.warning(
                    "discord request failed (%s) on %s; retrying in %.3fs",
                    reason,
                    name,
                    delay,
                    extra={"route": name, "attempt": attempt, "error": reason},
                )
                await self._sleep(delay)
                continue

            now = self._clock()
            status = response.status_code
            self.limiter.update(route, response.headers, now)
            if 200 <= status < 300:
                return _decode(route, status, response.content)
            if status == 429:
                info = parse_rate_limit(response.headers, response.content)
                self.limiter.rate_limited(
                    route, info.retry_after, is_global=info.is_global, now=now
                )
                log.warning(
                    "discord 429 on %s: retry after %.3fs",
                    name,
                    info.retry_after,
                    extra={
                        "route": name,
                        "retry_after": info.retry_after,
                        "global": info.is_global,
                        "scope": info.scope,
                        "attempt": attempt,
                    },
                )
                if not retries_left:
                    raise RateLimited(
                        name, info.retry_after, is_global=info.is_global, scope=info.scope
                    )
                continue  # the gate sleeps out retry_after, within max_wait
            if status >= 500:
                reason = f"HTTP {status}"
                if not retries_left:
                    raise DiscordUnavailable(name, attempt, reason, status)
                asked = _float(response.headers.get("retry-after"))
                if asked is not None and asked > self._max_wait:
                    raise DiscordUnavailable(
                        name, attempt, f"{reason}, retry after {asked:.0f}s", status
                    )
                delay = asked if asked is not None else backoff(attempt, self._backoff_cap)
                log.warning(
                    "discord %s on %s; retrying in %.3fs",
                    reason,
                    name,
                    delay,
                    extra={"route": name, "attempt": attempt, "status": status},
                )
                await self._sleep(delay)
                continue
            code, message, errors = parse_error(status, response.content)
            log.warning(
                "discord refused %s: HTTP %d code %d",
                name,
                status,
                code,
                extra={"route": name, "status": status, "code": code},
            )
            raise DiscordHTTPError(status, code, message, route=name, errors=errors)

    @property
    def _backoff_cap(self) -> float:
        return min(_BACKOFF_CAP, self._max_wait)


def _decode(route: Route, status: int, content: bytes) -> Any:
    if status == 204 or not content:
        return None
    try:
        return json.loads(content)
    except (ValueError, UnicodeDecodeError):
        raise DiscordError(f"{route}: HTTP {status} with a body that is not JSON") from None


def _expect_dict(route: Route, value: Any) -> dict[str, Any]:
    if not isinstance(value, dict):
        raise DiscordError(f"{route}: expected a JSON object, got {type(value).__name__}")
    return value


def _expect_list(route: Route, value: Any) -> list[dict[str, Any]]:
    if not isinstance(value, list) or not all(isinstance(item, dict) for item in value):
        raise DiscordError(f"{route}: expected a JSON array of objects")
    return value
