"""One access-log line per request, and the log context every other line inherits.

The request id is the caller's `X-Request-Id`, else the Lambda request id, else a fresh
one; it is echoed back so a user's report can be matched to our logs. The line itself
goes through `logs.info_line` (`logs.access_line` for the edge's answers): the JSON line
`logging` would write, without a `LogRecord`.

Two layers write it. The signed edge (`routers.edge`, the outermost) answers PINGs and
refusals itself and logs them with `log_answer`, without a layer around it: no wrapped
`send` and no context to set up for an answer that runs no other code. What it passes
on reaches `AccessLog`, which wraps the rest of the app. Both take the request id, start
time and ids from the scope (`request_id`, `started`, `LOG_IDS`), so a delivery the edge
verified is logged with the edge's time and the delivery id it read.
"""

from __future__ import annotations

import logging
import os
import time
from typing import Any

from starlette.types import ASGIApp, Message, Receive, Scope, Send

from orchestrator.logs import access_line, flush, info_line, log_context
from orchestrator.store.base import failure_scope

log = logging.getLogger("orchestrator.access")

REQUEST_ID = "orchestrator.request_id"
STARTED = "orchestrator.started"
# Ids learnt before the app runs (the interaction id, the GitHub delivery id): fields of
# the access line and of every line the request's code logs.
LOG_IDS = "orchestrator.log_ids"


REQUEST_ID_HEADER = b"x-request-id"


def request_id(scope: Scope) -> str:
    """This request's id, chosen once (whichever layer asks first) and kept in the scope."""
    chosen = scope.get(REQUEST_ID)
    if chosen is None:
        given = None
        for name, value in scope.get("headers", ()):
            if name == REQUEST_ID_HEADER:
                given = value.decode("latin-1")
                break
        chosen = choose_request_id(scope, given)
    return str(chosen)


def choose_request_id(scope: Scope, given: str | None) -> str:
    """Choose this request's id and keep it in the scope (`request_id` finds it there):
    `given`, the first `X-Request-Id` (the signed edge reads it in its own pass over the
    headers), if it is 1-100 characters; else the Lambda request id; else a fresh one."""
    if given is not None and 0 < len(given) <= 100:
        chosen = given
    else:
        context: Any = scope.get("aws.context")
        aws_id = getattr(context, "aws_request_id", None)
        # What `secrets.token_hex(8)` returns, without its three Python calls on the way.
        chosen = aws_id if isinstance(aws_id, str) else os.urandom(8).hex()
    scope[REQUEST_ID] = chosen
    return chosen


def started(scope: Scope) -> float:
    """When this request reached the first layer that asked (`time.perf_counter`)."""
    at = scope.get(STARTED)
    if at is None:
        at = scope[STARTED] = time.perf_counter()
    return float(at)


def request_id_header(scope: Scope) -> tuple[bytes, bytes]:
    """The response header that echoes the request id."""
    return (REQUEST_ID_HEADER, request_id(scope).encode("latin-1"))


def _request_fields(scope: Scope) -> dict[str, Any]:
    """What every line of this request says about it: its id, route, method and `LOG_IDS`."""
    fields: dict[str, Any] = {"request_id": request_id(scope)}
    route, method, ids = scope.get("path"), scope.get("method"), scope.get(LOG_IDS)
    if route is not None:
        fields["route"] = route
    if method is not None:
        fields["method"] = method
    if ids:
        fields.update(ids)
    return fields


def request_context(scope: Scope) -> log_context:
    """The log context of this request's lines (`_request_fields`)."""
    return log_context(**_request_fields(scope))


def _duration_ms(scope: Scope) -> float:
    """Milliseconds since `started`, to the hundredth (cut, not rounded): a whole number of
    hundredths divided by 100 prints as that decimal (`0.12`), and costs a quarter of
    `round(x, 2)`, which goes through decimal text and back."""
    return int((time.perf_counter() - started(scope)) * 100_000) / 100


def log_answer(scope: Scope, status: int) -> None:
    """The access line of an answer given before the app ran (a PING, a refusal): the same
    line `AccessLog` writes, through `access_line`, since the edge's answers have exactly
    its fields (the edge only answers a POST to one of its paths) and no log context."""
    chosen = scope.get(REQUEST_ID)  # chosen by now, nearly always: `request_id` otherwise
    access_line(
        log,
        "request",
        chosen if chosen.__class__ is str else request_id(scope),
        scope["path"],
        scope["method"],
        scope.get(LOG_IDS) or {},
        status,
        _duration_ms(scope),
    )


class AccessLog:
    """Wraps the app: the request id echoed on its answers, the log context (and the store's
    failure scope) its code runs in, and its access line."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        started(scope)
        echoed = request_id_header(scope)
        status = 500  # what the line says if no answer was sent at all

        async def send_with_id(message: Message) -> None:
            nonlocal status
            if message["type"] == "http.response.start":
                status = message["status"]
                message = {**message, "headers": [*message.get("headers", ()), echoed]}
            await send(message)

        with failure_scope(), request_context(scope):
            crashed = True
            try:
                await self.app(scope, receive, send_with_id)
                crashed = False
            finally:
                info_line(log, "request", {"status": status, "duration_ms": _duration_ms(scope)})
                if crashed:
                    # The server reports the crash next, maybe through a handler of its own
                    # (plain `uvicorn` keeps its logging config): this line comes first.
                    flush()
