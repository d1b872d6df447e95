"""One access-log line per request, and the log context every other line inherits.

A pure ASGI middleware (no per-request objects beyond a dict) so it costs
microseconds on the PING path. The request id is the caller's
`X-Request-Id`, else the Lambda request id, else a fresh one; it is echoed
back so a user's report can be matched to our logs. The line itself goes through
`logs.info_line`: the JSON line `logging` would write, without a `LogRecord`.
"""

from __future__ import annotations

import json
import logging
import secrets
import time
from typing import Any

from starlette.types import ASGIApp, Message, Receive, Scope, Send

from orchestrator.logs import info_line, log_context
from orchestrator.routers.errors import CRASH
from orchestrator.store.base import failure_scope

log = logging.getLogger("orchestrator.access")


def _request_id(scope: Scope) -> str:
    for name, value in scope.get("headers", ()):
        if name == b"x-request-id" and 0 < len(value) <= 100:
            return str(value.decode("latin-1"))
    context: Any = scope.get("aws.context")
    aws_id = getattr(context, "aws_request_id", None)
    return aws_id if isinstance(aws_id, str) else secrets.token_hex(8)


class AccessLog:
    """The outermost layer (`main._App`): every answer, refusals included, is logged, and a
    bug outside the app's own error layer (in the signed edge) still gets the JSON 500."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        request_id = _request_id(scope)
        echoed = (b"x-request-id", request_id.encode("latin-1"))
        started = time.perf_counter()
        status: int | None = None

        async def send_with_id(message: Message) -> None:
            nonlocal status
            if message["type"] == "http.response.start":
                status = message["status"]
                message = {**message, "headers": [*message.get("headers", ()), echoed]}
            await send(message)

        with (
            failure_scope(),
            log_context(request_id=request_id, route=scope.get("path"), method=scope.get("method")),
        ):
            try:
                await self.app(scope, receive, send_with_id)
            except Exception:
                if status is not None:
                    raise  # answered already: the app's error layer logged it, re-raises it
                # What the app's error layer does for a crash inside it, for one outside it;
                # the traceback goes to our (redacted) log, not on to the server's.
                _errors.exception("unhandled error")
                await send_with_id(_CRASH_START)
                await send_with_id(_CRASH_BODY)
            finally:
                duration_ms = round((time.perf_counter() - started) * 1000, 2)
                info_line(log, "request", {"status": status or 500, "duration_ms": duration_ms})


_errors = logging.getLogger("orchestrator.routers.errors")
_CRASH_JSON = json.dumps(dict(zip(("error", "message"), CRASH, strict=True))).encode()
_CRASH_START: Message = {
    "type": "http.response.start",
    "status": 500,
    "headers": [
        (b"content-type", b"application/json"),
        (b"content-length", str(len(_CRASH_JSON)).encode()),
    ],
}
_CRASH_BODY: Message = {"type": "http.response.body", "body": _CRASH_JSON}
