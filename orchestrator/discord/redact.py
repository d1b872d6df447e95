"""Keeping interaction tokens out of logs, errors and rate-limit keys.

An interaction token is a credential (for 15 minutes it can post as the bot in
that channel) and Discord puts it in the URL path: `/webhooks/{id}/{token}`.
So it leaks wherever a URL is printed. Our own code never prints one (routes
are named by their template), but httpx logs every request's URL at INFO; a
filter on its logger rewrites those lines. Where a token must tell two things
apart (one rate-limit bucket per token), a short digest stands in for it.

The bot token travels only in the `Authorization` header, which nothing here
logs; the log formatter's redactor (`orchestrator.logs`) is the backstop for it.
"""

from __future__ import annotations

import hashlib
import logging
import re

_WEBHOOK_TOKEN_IN_URL = re.compile(r"(/webhooks/[^/\s]+/)[^/\s?\"']+")


def redact(text: str) -> str:
    """Replace the token in any webhook URL inside `text`."""
    return _WEBHOOK_TOKEN_IN_URL.sub(r"\1{webhook_token}", text)


def token_digest(token: str) -> str:
    """Stands in for a webhook token in limiter keys, so no raw token is kept or printed."""
    return hashlib.sha256(token.encode()).hexdigest()[:16]


class RedactWebhookTokens(logging.Filter):
    """httpx logs every request URL at INFO; interaction tokens in them must not reach the logs."""

    def filter(self, record: logging.LogRecord) -> bool:
        message = record.getMessage()
        redacted = redact(message)
        if redacted != message:
            record.msg = redacted
            record.args = ()
        return True


def install_httpx_redaction() -> None:
    """Put the filter on httpx's logger once, however many clients are made."""
    logger = logging.getLogger("httpx")
    if not any(isinstance(f, RedactWebhookTokens) for f in logger.filters):
        logger.addFilter(RedactWebhookTokens())
