"""What can go wrong talking to Discord, and the reading of Discord's error bodies.

The exceptions sort failures by what the caller should do about them: fix the
configuration (`DiscordConfigError`), give up on this request (`DiscordHTTPError`),
come back later (`RateLimited`), or treat Discord as down (`DiscordUnavailable`).
Their messages name route templates, never URLs, because interaction tokens
live in URL paths.

Error bodies are read without trusting them: a Cloudflare block page, an array
or bad UTF-8 where Discord's JSON was expected must still end in one of these
exceptions, not in a crash while reporting the failure.
"""

from __future__ import annotations

import json
from typing import Any

_MAX_ERROR_MESSAGE = 300


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


def error_body(body: bytes) -> dict[str, Any] | None:
    """The JSON object Discord puts in a failed response (a 429's too), or None; never raises.

    None covers everything that is not Discord talking: a proxy's HTML page, an
    empty body, a JSON array or scalar, bytes that are not UTF-8.
    """
    try:
        data = json.loads(body)
    except (ValueError, UnicodeDecodeError):
        return None
    return data if isinstance(data, dict) else None


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
    data = error_body(body)
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
