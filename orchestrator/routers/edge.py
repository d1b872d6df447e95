"""The signed edge: the security checks of `/discord` and `/github`, as bare ASGI.

Anyone can POST to these two URLs, so what decides whether a request is ours
runs before the framework: signature headers (no body read without them), the
size cap (no buffering past it), the process-wide body budget (no buffering past
it across requests either), the body deadline (no connection held open by a body
that never finishes), the signature over the exact bytes. A refusal
therefore costs microseconds, not a trip through routing and dependency
injection, and Discord's PING (the portal's handshake, the most frequent
unauthenticated-looking request) is answered right here.

A request that passes continues to the FastAPI route, which declares what it
needs of the edge as a dependency (`VerifiedBody`, `VerifiedInteraction`), so the
contract shows in the route's signature and a route reached without the edge
fails closed (401). The edge is built from the routers' own path constants. The pure checks live in
`discord.verify` and `github.verify`; this module only adapts ASGI to them.
"""

from __future__ import annotations

import asyncio
import json
import math
import time
import types
from collections.abc import Callable, Generator
from json.scanner import make_scanner
from typing import TYPE_CHECKING, Annotated, Any

from fastapi import Depends, Request
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from orchestrator.discord import verify as discord_verify
from orchestrator.discord.interactions import shape_problem
from orchestrator.github import verify as github_verify
from orchestrator.routers.budget import BODIES, BodyBudget, Claim
from orchestrator.routers.errors import CRASH, Refusal
from orchestrator.routers.errors import log as _errors
from orchestrator.routers.middleware import (
    LOG_IDS,
    REQUEST_ID,
    REQUEST_ID_HEADER,
    choose_request_id,
    log_answer,
    request_context,
    request_id_header,
    started,
)

if TYPE_CHECKING:
    from orchestrator.config import Settings
    from orchestrator.services import Services

VERIFIED_BODY = "orchestrator.verified_body"
INTERACTION = "orchestrator.interaction"
# GitHub's documented cap ("25 MB"): it never delivers more, so anything larger is not GitHub.
GITHUB_MAX_BODY_BYTES = 25_000_000
_PONG = b'{"type":1}'
_DECODER = json.JSONDecoder()
# The decoder's own scanner (what `decode` calls after its two wrappers), built once.
# (typeshed types its argument as a scanner; CPython's takes the decoder it reads options from)
_SCAN: Callable[[str, int], tuple[Any, int]] = make_scanner(_DECODER)  # type: ignore[arg-type]
# What JSON allows around a value (RFC 8259 `ws`); `str.isspace` would allow more.
_JSON_WHITESPACE = " \t\n\r"
# The PING answer never changes but for the request id: its headers built once.
_PONG_HEADERS = (
    (b"content-type", b"application/json"),
    (b"content-length", str(len(_PONG)).encode()),
)
_PONG_BODY: Message = {"type": "http.response.body", "body": _PONG}
_CRASH_JSON = json.dumps(dict(zip(("error", "message"), CRASH, strict=True))).encode()


def _positions(*names: bytes) -> dict[bytes, int]:
    """Each header name `_headers` looks for, and where its value goes."""
    return {name: at for at, name in enumerate(names)}


# What each door reads of the headers, in one pass: its signature headers, the declared
# body length, the request id (`middleware.choose_request_id`), and `Expect` (`_read_capped`).
_DISCORD_HEADERS = _positions(
    b"x-signature-ed25519",
    b"x-signature-timestamp",
    b"content-length",
    REQUEST_ID_HEADER,
    b"expect",
)
_GITHUB_HEADERS = _positions(
    b"x-hub-signature-256", b"content-length", b"x-github-delivery", REQUEST_ID_HEADER, b"expect"
)


def _headers(scope: Scope, wanted: dict[bytes, int]) -> list[str | None]:
    """The value of each `wanted` header at its position, in one pass over the headers (the
    first of a repeated one), or None where it is absent. One dictionary lookup a header:
    a quarter less than testing each name against a tuple of those wanted."""
    found: list[str | None] = [None] * len(wanted)
    for key, value in scope["headers"]:
        at = wanted.get(key)
        if at is not None and found[at] is None:
            found[at] = value.decode("latin-1")
    return found


async def _read_capped(
    declared: str | None,
    receive: Receive,
    limit: int,
    settings: Settings,
    budget: BodyBudget = BODIES,
    *,
    expect: str | None = None,
) -> bytearray:
    """The body, refusing a declared (`Content-Length`) or actual size over `limit` as soon
    as it shows, a body the process-wide `budget` cannot hold (503), and one slower than the
    deadline (408).

    The claim on the budget covers the wait for the body and ends with it: the caller
    verifies the body next, with no `await` in between, so no other request of this loop
    can run before that is done. A body the server already holds whole (a PING's, nearly
    always: read with the headers) is taken as it is: no wait, so no deadline and no claim
    (refusing it would free nothing). A client that sent `expect` (`Expect: 100-continue`)
    has sent no body yet, and asking for it invites it (uvicorn answers `100 Continue` at
    the first `receive()`): its claim comes first, so a spent budget refuses it unasked."""
    size = 0
    if declared is not None:
        if not (declared.isascii() and declared.isdigit()):  # "²".isdigit() is True
            raise Refusal(400, "malformed", "invalid Content-Length")
        # Length first: int() of a 5,000-digit string raises (Python's digit limit). Up to
        # 18 characters int() is safe, and comparing the number alone decides.
        if len(declared) > 18:
            digits = declared.lstrip("0") or "0"
            if len(digits) > len(str(limit)):
                raise Refusal(413, "too_large", f"body over {limit} bytes")
            declared = digits
        size = int(declared)
        if size > limit:
            raise Refusal(413, "too_large", f"body over {limit} bytes")
    claim: Claim | None = None
    body: bytearray | None = None  # once the body comes in more than one message
    # One deadline for the whole body, not per chunk: a byte every few seconds must not keep
    # a connection (and its claim) forever. Set at the body's first wait.
    deadline: float | None = None
    try:
        if expect is not None:
            # At least a byte: with no Content-Length (chunked) nothing else would ask the
            # budget before the invitation, and a spent one must refuse it.
            claim = _claim(budget, max(size, 1), settings)
        while True:
            # `await receive()`, its first step taken here: a small body is usually in hand
            # already, and then `receive()` returns without suspending, so arming a timer
            # for it (`asyncio.timeout`, ~5 us of a ~100 us PING), or a coroutine to arm it
            # in, would guard nothing.
            steps = receive().__await__()
            try:
                waiting_on = steps.send(None)
            except StopIteration as done:
                message: Message = done.value
                waited = False
            else:
                waited = True
                if claim is None:
                    # The body is waited for: its declared length is claimed before another
                    # byte comes, so a client announcing 25 MB and trickling it holds its
                    # share of the budget from the start, not once it has sent it.
                    try:
                        claim = _claim(budget, size, settings)
                    except Refusal:
                        steps.close()
                        raise
                if deadline is None:
                    deadline = asyncio.get_running_loop().time() + settings.body_timeout
                message = await _receive_by(steps, waiting_on, deadline)
            if message["type"] == "http.disconnect":
                raise Refusal(400, "malformed", "client disconnected")
            chunk = message.get("body", b"")
            more = message.get("more_body", False)
            if body is None:
                if not more:  # the whole body in one message (a PING's, in hand: no claim)
                    if len(chunk) > limit:
                        raise Refusal(413, "too_large", f"body over {limit} bytes")
                    # Waited for, over its (false, or no) Content-Length: claimed at its size.
                    # In hand (also after an `Expect` claim), it is taken as it is.
                    if waited and claim is not None and not claim.cover(len(chunk)):
                        raise _busy(settings)
                    return bytearray(chunk)
                # A bytearray grows in place: no second full-size copy at the last chunk.
                body = bytearray()
            if claim is None:  # more is to come: claimed before it does, waited for or not
                claim = _claim(budget, size, settings)
            size = len(body) + len(chunk)
            if size > limit:
                raise Refusal(413, "too_large", f"body over {limit} bytes")
            if size > claim.size and not claim.cover(size):  # no (or a false) Content-Length
                raise _busy(settings)
            body += chunk
            if not more:
                return body
    except TimeoutError:
        raise Refusal(
            408,
            "timeout",
            f"body not received within {settings.body_timeout:g} s",
            # The rest of the body may still come: this connection cannot carry another request.
            {"connection": "close"},
        ) from None
    finally:
        if claim is not None:
            claim.release()


def _claim(budget: BodyBudget, size: int, settings: Settings) -> Claim:
    """A claim of `size` bytes on `budget`, or the 503 of a spent budget."""
    claim = Claim(budget, settings.body_budget_bytes)
    if not claim.cover(size):
        raise _busy(settings)
    return claim


async def _receive_by(
    steps: Generator[Any, Any, Message], waiting_on: Any, deadline: float
) -> Message:
    """The rest of a `receive()` whose first step suspended on `waiting_on`, timed out at
    `deadline` (loop time): exactly as if it had been awaited inside
    `asyncio.timeout_at(deadline)` all along."""
    async with asyncio.timeout_at(deadline):
        return await _resume(steps, waiting_on)


@types.coroutine
def _resume(steps: Generator[Any, Any, Message], waiting_on: Any) -> Generator[Any, Any, Message]:
    """Continue an awaitable that has already been stepped once and is `waiting_on` a
    future: what `yield from` would do, from its second step on (sends, throws, close)."""
    while True:
        try:
            sent = yield waiting_on
        except GeneratorExit:
            steps.close()
            raise
        except BaseException as exc:  # CancelledError from the deadline, included
            try:
                waiting_on = steps.throw(exc)
            except StopIteration as done:
                result: Message = done.value
                return result
        else:
            try:
                waiting_on = steps.send(sent)
            except StopIteration as done:
                result = done.value
                return result


def _busy(settings: Settings) -> Refusal:
    """The budget is spent. Every body now in flight finishes or times out within the body
    deadline, so that is an honest time to come back."""
    return Refusal(
        503,
        "unavailable",
        "too many request bodies in flight, retry later",
        {"retry-after": str(math.ceil(settings.body_timeout)), "connection": "close"},
    )


async def _answer(
    scope: Scope, send: Send, status: int, body: bytes, headers: dict[str, str] | None = None
) -> None:
    extra = [(k.encode("latin-1"), v.encode("latin-1")) for k, v in (headers or {}).items()]
    await send(
        {
            "type": "http.response.start",
            "status": status,
            "headers": [
                (b"content-type", b"application/json"),
                (b"content-length", str(len(body)).encode()),
                *extra,
                request_id_header(scope),
            ],
        }
    )
    await send({"type": "http.response.body", "body": body})


def _pong_start(request_id: str) -> Message:
    return {
        "type": "http.response.start",
        "status": 200,
        "headers": [*_PONG_HEADERS, (REQUEST_ID_HEADER, request_id.encode("latin-1"))],
    }


def _interaction(body: bytearray) -> dict[str, Any]:
    """The verified body as a JSON object, or a 400 (never a 500, whatever its shape)."""
    try:
        # Discord sends UTF-8. `json.loads(bytes)` would first guess among UTF-8/16/32 and
        # build a decoder per call: twice the ~2 us of the decode itself, on every PING.
        data = _decode_object(body.decode())
    except (ValueError, UnicodeDecodeError, RecursionError):  # RecursionError: [[[[...]]]]
        raise Refusal(400, "malformed", "body is not JSON") from None
    if not isinstance(data, dict):
        raise Refusal(400, "malformed", "body is not a JSON object")
    problem = shape_problem(data)
    if problem is not None:
        raise Refusal(400, "malformed", problem)
    return data


def _decode_object(text: str) -> Any:
    """`_DECODER.decode(text)`, the same value or the same error, with its common case (text
    that opens with `{`, as Discord's does) scanned by the decoder's C scanner directly: the
    `decode` and `raw_decode` wrappers around it cost a third of a small body's decode."""
    if text[:1] == "{":
        try:
            value, end = _SCAN(text, 0)
        except StopIteration:  # a member with no value (`{"a": }`): `decode` names the error
            pass
        else:
            if end == len(text) or not text[end:].strip(_JSON_WHITESPACE):
                return value
    return _DECODER.decode(text)  # what else there is: its answer, or its named error


class SignedEdge:
    """The app's outermost layer (`main._App`), run by the app after Starlette has set
    `scope["app"]`, so its settings are always the app's current services', the same ones
    the routes see. What it does not answer itself goes on to `app` (the access log, then
    the framework)."""

    def __init__(self, app: ASGIApp, *, discord_path: str, github_path: str) -> None:
        self.app = app
        self.discord_path = discord_path
        self.github_path = github_path

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or scope.get("method") != "POST":
            await self.app(scope, receive, send)
            return
        # `/discord/` is the same door: checked here like `/discord` (a 401, never a redirect
        # that would let an unsigned request learn anything), and routed to the same route.
        path = scope.get("path")
        if isinstance(path, str) and len(path) > 1 and path.endswith("/"):
            path = path.rstrip("/")
        if path not in (self.discord_path, self.github_path):
            await self.app(scope, receive, send)
            return
        started(scope)
        ids: dict[str, str] = {}
        scope[LOG_IDS] = ids
        status: int | None = 500  # the line's status while the edge answers; None once passed on
        try:
            interaction: dict[str, Any] | None = None
            answer: tuple[int, bytes, dict[str, str] | None] | None = None  # a refusal's
            try:
                services: Services = scope["app"].state["services"]
                # The body, read and verified (a claim on the body budget while it was read).
                # From now on it is a verified request's, which only Discord or GitHub can send.
                if path == self.discord_path:
                    body = await self._discord(services, scope, receive)
                else:
                    body = await self._github(services, scope, receive, ids)
                if path == self.discord_path:
                    interaction = _interaction(body)
                    interaction_id = interaction.get("id")
                    if isinstance(interaction_id, str):
                        ids["interaction_id"] = interaction_id
            except Refusal as refused:
                payload = json.dumps({"error": refused.error, "message": refused.message})
                answer = (refused.status, payload.encode(), refused.headers)
            except Exception:
                # Outside the framework's error layer: a bug here gets the answer and the log
                # line a bug inside the app gets, and goes no further (not to the server's log).
                with request_context(scope):
                    _errors.exception("unhandled error")
                answer = (500, _CRASH_JSON, None)
            if answer is not None:
                # Sent once the exception is gone: its traceback holds the frames that read
                # the body (up to 25 MB, no longer claimed), and a client that never reads
                # its answer would keep them alive as long as the send waits.
                status = answer[0]
                await _answer(scope, send, *answer)
                return
            if interaction is not None:
                if interaction.get("type") == 1:  # PING: the portal's handshake, answered here
                    status = 200
                    # The request id the door's header pass chose (`choose_request_id`).
                    await send(_pong_start(scope[REQUEST_ID]))
                    await send(_PONG_BODY)
                    return
                scope[INTERACTION] = interaction
            status = None  # the access log wraps the rest, and writes its line
        finally:
            # Once, whatever ends the edge's own answer (a send that fails, a cancellation).
            if status is not None:
                log_answer(scope, status)
        scope[VERIFIED_BODY] = body
        await self.app(scope, _replay(body), send)

    async def _discord(self, services: Services, scope: Scope, receive: Receive) -> bytearray:
        settings = services.settings
        signature, timestamp, declared, given_id, expect = _headers(scope, _DISCORD_HEADERS)
        choose_request_id(scope, given_id)
        try:
            raw, timestamp = discord_verify.check_headers(
                signature, timestamp, now=time.time(), max_age=settings.discord_signature_max_age
            )
            body = await _read_capped(
                declared, receive, settings.discord_max_body_bytes, settings, expect=expect
            )
            # `timestamp.encode() + body` is bytes already: no copy of the body to make one.
            discord_verify.verify_signed(settings.discord_public_key or "", raw, timestamp, body)
        except discord_verify.SignatureError as exc:
            raise Refusal(401, "bad_signature", str(exc)) from None
        return body

    async def _github(
        self, services: Services, scope: Scope, receive: Receive, ids: dict[str, str]
    ) -> bytearray:
        settings = services.settings
        signature, declared, delivery, given_id, expect = _headers(scope, _GITHUB_HEADERS)
        choose_request_id(scope, given_id)
        if delivery:  # logged with the answer, refused or not
            ids["delivery_id"] = delivery[:100]
        secrets = [s.get_secret_value() for s in settings.github_webhook_secret]
        try:
            github_verify.check_header(signature)
            body = await _read_capped(
                declared, receive, GITHUB_MAX_BODY_BYTES, settings, expect=expect
            )
            github_verify.verify_signature(secrets, signature, body)
        except github_verify.SignatureError as exc:
            raise Refusal(401, "bad_signature", str(exc)) from None
        return body


def _replay(body: bytearray) -> Receive:
    """A `receive` that hands the already-read body to the app once, then disconnects."""
    sent = False

    async def receive() -> Message:
        nonlocal sent
        if sent:
            return {"type": "http.disconnect"}
        sent = True
        return {"type": "http.request", "body": bytes(body), "more_body": False}

    return receive


async def _verified_body(request: Request) -> bytearray:
    """The body the edge verified; 401 when the edge did not run (fail closed).

    `async` only so FastAPI calls it on the event loop: a plain `def` dependency is run in
    its thread pool, a thread hop per delivery for a dictionary lookup."""
    body = request.scope.get(VERIFIED_BODY)
    if not isinstance(body, bytearray):
        raise Refusal(401, "bad_signature", "request was not verified")
    return body


async def _verified_interaction(request: Request) -> dict[str, Any]:
    """The verified, parsed interaction the edge passed on; 401 without the edge."""
    interaction = request.scope.get(INTERACTION)
    if not isinstance(interaction, dict):
        raise Refusal(401, "bad_signature", "request was not verified")
    return interaction


# What a route declares to receive the edge's work (no OpenAPI parameters of their own).
# Both dependencies are `async def`: they only read the scope, and FastAPI runs a plain
# `def` dependency in anyio's thread pool, whose first use imports anyio's asyncio backend
# (about 15 ms of a cold container's first interaction or delivery) and costs a thread hop.
VerifiedBody = Annotated[bytearray, Depends(_verified_body)]
VerifiedInteraction = Annotated[dict[str, Any], Depends(_verified_interaction)]
