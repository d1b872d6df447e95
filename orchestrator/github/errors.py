"""What can go wrong talking to GitHub, as exceptions whose messages are safe to show.

A module of its own, importing nothing heavier than `json`: routers and handlers on
the request path catch these without loading an HTTP stack, and the credentials
module raises them without depending on the client that sends requests.

Every message here may reach a Discord reply or a log line, so none may hold a
credential: `scrub` removes the one a request was sent with, even when GitHub echoes
it back in an error body.
"""

from __future__ import annotations

import json
import time

_MESSAGE_LIMIT = 500  # GitHub's messages are short; a proxy's HTML error page is not


class GitHubError(RuntimeError):
    """Base for everything this client raises about GitHub. Messages never hold a credential."""

    upstream: str | None = "GitHub"  # whom a user-facing failure message names (not us)


class GitHubNotConfigured(GitHubError):
    """No credentials to call GitHub with: our configuration, not GitHub's doing."""

    upstream = None


class GitHubHTTPError(GitHubError):
    """GitHub answered with an error: the message is GitHub's own, which is usually the fix."""

    def __init__(
        self,
        status: int,
        message: str,
        documentation_url: str | None = None,
        *,
        method: str = "",
        path: str = "",
    ) -> None:
        self.status = status
        self.message = message
        self.documentation_url = documentation_url
        self.method = method
        self.path = path
        where = f" on {method} {path}" if method else ""
        super().__init__(f"GitHub answered {status}{where}: {message}")


class GitHubRateLimited(GitHubError):
    """Waiting for the limit to lift would exceed our bound; `retry_at` says when to try again."""

    def __init__(
        self, retry_at: float, reason: str = "rate limit", now: float | None = None
    ) -> None:
        self.retry_at = retry_at
        self.reason = reason
        when = time.strftime("%Y-%m-%d %H:%M:%S", time.gmtime(retry_at))
        wait = max(0, round(retry_at - (time.time() if now is None else now)))
        super().__init__(f"GitHub {reason}: retry after {when} UTC (in about {wait:,} s)")


class GitHubUnavailable(GitHubError):
    """GitHub did not answer usefully (5xx, timeouts) within the retry budget."""


def error_message(content: bytes, limit: int = _MESSAGE_LIMIT) -> tuple[str, str | None]:
    """GitHub's `message` (plus 422 field errors) and `documentation_url` from an error body."""
    try:
        body = json.loads(content) if content else None
    except ValueError:
        body = None
    if not isinstance(body, dict):
        text = content.decode("utf-8", errors="replace").strip()
        return (text[:limit] or "no message"), None
    message = str(body.get("message") or "no message")
    errors = body.get("errors")
    if isinstance(errors, list) and errors:
        details = []
        for item in errors[:5]:
            if isinstance(item, dict):
                details.append(
                    str(item.get("message") or item.get("code") or item.get("field") or item)
                )
            else:
                details.append(str(item))
        message += " (" + "; ".join(details) + ")"
    doc = body.get("documentation_url")
    return message[:limit], doc if isinstance(doc, str) else None


def scrub(text: str, authorization: str) -> str:
    """Belt and braces: a credential must never reach an exception or a log line."""
    _, _, secret = authorization.partition(" ")
    return text.replace(secret, "[redacted]") if len(secret) >= 8 else text


def http_error(
    status: int, content: bytes, *, authorization: str, method: str, path: str
) -> GitHubHTTPError:
    """The error for an answer of 400 or more: GitHub's own words, minus our credential."""
    message, doc = error_message(content)
    return GitHubHTTPError(status, scrub(message, authorization), doc, method=method, path=path)
