"""The Discord REST client: the few routes the orchestrator calls, with rate limits done right.

Why a client of our own rather than a Discord library: we need a dozen routes,
must run inside a Lambda invocation (no gateway, no long-lived state), and want
every wait to be observable and bounded, because a job that sleeps past
Lambda's timeout is lost.

Layers, sans-I/O style:

* `Route` names a call by its method and path *template*; only the template is
  ever logged, never the URL, because interaction tokens live in URL paths.
* `orchestrator.discord.ratelimit` holds the bucket bookkeeping and the
  wait/retry decisions, as plain functions of headers and a clock value.
* `orchestrator.discord.errors` holds the exceptions and reads Discord's error
  bodies; `orchestrator.discord.redact` keeps tokens out of httpx's log lines.
* `DiscordREST` is the thin async edge: it asks the limiter how long to wait,
  sends, feeds the headers back, and retries what `decide` says is worth
  retrying. Every wait goes through the injected `sleep` so tests run instantly
  and see each wait.
"""

from __future__ import annotations

import asyncio
import json
import logging
import secrets
import time
from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass
from types import TracebackType
from typing import TYPE_CHECKING, Any
from urllib.parse import quote

from orchestrator import __version__
from orchestrator.discord.errors import (
    DiscordConfigError,
    DiscordError,
    DiscordHTTPError,
    DiscordUnavailable,
    RateLimited,
    parse_error,
)
from orchestrator.discord.limits import clamp_message
from orchestrator.discord.ratelimit import RateLimiter, Retry, decide, parse_rate_limit
from orchestrator.discord.redact import install_httpx_redaction, token_digest
from orchestrator.http import new_client

if TYPE_CHECKING:
    import httpx

log = logging.getLogger(__name__)

USER_AGENT = f"DiscordBot (https://github.com/orchestrator, {__version__})"
MAJOR_PARAMETERS = ("channel_id", "guild_id", "webhook_id", "webhook_token")

_MAX_GATE_ROUNDS = 50

Sleep = Callable[[float], Awaitable[None]]
Clock = Callable[[], float]


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
                shown = token_digest(value) if name == "webhook_token" else value
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
        install_httpx_redaction()
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
            hold = self.limiter.hold(
                route, now=self._clock(), waited=waited, max_wait=self._max_wait
            )
            if hold.wait <= 0:
                return waited
            if hold.give_up:
                log.warning(
                    "discord rate limit wait exceeds budget on %s",
                    name,
                    extra={"route": name, "wait": round(hold.wait, 3)},
                )
                raise RateLimited(name, hold.wait, is_global=hold.is_global)
            log.info(
                "discord rate limit: waiting %.3fs on %s",
                hold.wait,
                name,
                extra={"route": name, "wait": round(hold.wait, 3), "global": hold.is_global},
            )
            await self._sleep(hold.wait)
            waited += hold.wait
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
                decision = self._decide(None, {}, attempt, error=reason)
                if not decision.retry:
                    raise DiscordUnavailable(name, attempt, decision.reason) from None
                log.warning(
                    "discord request failed (%s) on %s; retrying in %.3fs",
                    reason,
                    name,
                    decision.wait,
                    extra={"route": name, "attempt": attempt, "error": reason},
                )
                await self._sleep(decision.wait)
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
                if not self._decide(status, response.headers, attempt).retry:
                    raise RateLimited(
                        name, info.retry_after, is_global=info.is_global, scope=info.scope
                    )
                continue  # the gate sleeps out retry_after, within max_wait
            if status >= 500:
                decision = self._decide(status, response.headers, attempt)
                if not decision.retry:
                    raise DiscordUnavailable(name, attempt, decision.reason, status)
                log.warning(
                    "discord %s on %s; retrying in %.3fs",
                    decision.reason,
                    name,
                    decision.wait,
                    extra={"route": name, "attempt": attempt, "status": status},
                )
                await self._sleep(decision.wait)
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

    def _decide(
        self, status: int | None, headers: Mapping[str, str], attempt: int, error: str = ""
    ) -> Retry:
        """`ratelimit.decide` with this client's budget, for an answer it always decides on."""
        decision = decide(
            status,
            headers,
            attempt=attempt,
            max_retries=self._max_retries,
            max_wait=self._max_wait,
            error=error,
        )
        assert decision is not None  # called only for 429, 5xx and no answer
        return decision


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
