"""`POST /github`: the webhook URL given to a repository, organisation or GitHub App.

verify -> ping -> allow-list -> claim the delivery id and queue its job (one atomic
store write) -> 202.
Everything before the job is cheap and bounded, so GitHub's 10-second limit is
never close; a store outage answers 503 so GitHub records a failed delivery
that can be redelivered, rather than a 2xx that silently drops the event.
"""

from __future__ import annotations

import json
import logging

from fastapi import APIRouter, Request
from fastapi.responses import JSONResponse
from starlette.concurrency import run_in_threadpool

from orchestrator.logs import bind
from orchestrator.routers.edge import VerifiedBody
from orchestrator.routers.errors import Refusal, responses
from orchestrator.services import Services

PATH = "/github"  # the signed edge verifies what arrives here (main wires it)

router = APIRouter(tags=["github"])
log = logging.getLogger(__name__)


def _answers(**examples: tuple[str, dict[str, object]]) -> dict[str, object]:
    return {
        "application/json": {
            "schema": {"type": "object"},
            "examples": {
                name: {"summary": summary, "value": value}
                for name, (summary, value) in examples.items()
            },
        }
    }


_DELIVERY = "72d3162e-cc78-11e3-81ab-4c9367dc0958"
_ANSWERED = _answers(  # 200
    ping=("ping", {"ok": True, "zen": "Design for failure."}),
    duplicate=("this delivery id was already handled", {"duplicate": True, "delivery": _DELIVERY}),
)
_QUEUED = _answers(  # 202
    accepted=("queued for handling", {"accepted": True, "delivery": _DELIVERY}),
    ignored=("no handler for this event", {"ignored": True, "event": "star.created"}),
)
_PING_BODY = {"zen": "Keep it logically awesome.", "hook_id": 1}


@router.post(
    PATH,
    summary="GitHub webhook endpoint",
    description="Receives webhook deliveries. `X-Hub-Signature-256` (HMAC-SHA256 of the raw "
    "body with any configured secret) is checked first. `ping` answers 200; events nobody "
    "handles answer 202 `ignored`; a delivery id seen before answers 200 `duplicate`; "
    "everything else is queued and answers 202.",
    openapi_extra={
        "requestBody": {
            "required": True,
            "content": {
                "application/json": {"schema": {"type": "object"}, "example": _PING_BODY},
                "application/x-www-form-urlencoded": {
                    "schema": {
                        "type": "object",
                        "properties": {"payload": {"type": "string"}},
                        "required": ["payload"],
                    },
                    # GitHub's "form" content type: the same JSON, in a `payload` field.
                    "example": {"payload": json.dumps(_PING_BODY)},
                },
            },
        },
        "parameters": [
            {
                "name": "X-GitHub-Event",
                "in": "header",
                "required": True,
                "schema": {"type": "string"},
                "example": "workflow_run",
            },
            {
                "name": "X-GitHub-Delivery",
                "in": "header",
                "required": True,
                "schema": {"type": "string"},
                "example": "72d3162e-cc78-11e3-81ab-4c9367dc0958",
            },
            {
                "name": "X-Hub-Signature-256",
                "in": "header",
                "required": True,
                "schema": {"type": "string"},
                "example": "sha256=757107ea0eb2509fc2112...",
            },
        ],
    },
    responses={
        200: {"description": "A ping, or a duplicate delivery.", "content": _ANSWERED},
        202: {"description": "Accepted: queued for handling, or ignored.", "content": _QUEUED},
        **responses(400, 401, 408, 413, 503),
    },
)
@router.post(PATH + "/", include_in_schema=False)
async def webhook(request: Request, body: VerifiedBody) -> JSONResponse:
    services: Services = request.app.state["services"]

    name = request.headers.get("x-github-event", "")
    delivery = request.headers.get("x-github-delivery", "")
    bind(delivery_id=delivery[:100] or None, event=name[:50] or None)
    if not name or not delivery or len(delivery) > 100:
        raise Refusal(400, "malformed", "X-GitHub-Event and X-GitHub-Delivery are required")
    try:
        text = body.decode("utf-8")
    except UnicodeDecodeError:
        raise Refusal(400, "malformed", "body is not UTF-8") from None
    size = len(body)
    body.clear()  # up to 25 MB: free the bytes before parsing builds objects from the text
    # Imported on the first delivery, not with the app: a cold start that answers a PING
    # never pays for the event model, the intake or the job seam.
    from orchestrator.github.events import Event, MalformedPayload, parse_body
    from orchestrator.github.intake import queue_delivery
    from orchestrator.jobs.base import JobNotStarted
    from orchestrator.store import StoreUnavailable, keys

    try:
        payload = parse_body(text, request.headers.get("content-type"))
    except MalformedPayload as exc:
        raise Refusal(400, "malformed", str(exc)) from None
    del text
    event = Event(name, delivery, payload)
    if name == "ping":
        return JSONResponse({"ok": True, "zen": payload.get("zen")})
    if not services.events.accepts(name, event.action):
        return JSONResponse({"ignored": True, "event": event.key}, status_code=202)

    # One store transaction, awaited through the store's writer (inline for SQLite, a
    # thread of its own for DynamoDB): the claim and the queued job are durable together
    # before the 2xx. StoreUnavailable (nothing written) becomes 503 (errors.install).
    try:
        queued = await services.writer.run(queue_delivery, services.jobs, event, size)
    except StoreUnavailable:
        raise
    except Exception as exc:
        log.exception("could not queue delivery", extra={"delivery": delivery})
        if isinstance(exc, JobNotStarted):
            # Claimed and recorded, but not started. Let GitHub redeliver: un-claim, so
            # the redelivery is not taken for a duplicate. (Any other failure wrote nothing.)
            try:
                await run_in_threadpool(services.store.delete, keys.delivery(delivery))
            except Exception as unclaim:
                # The claim stays: GitHub's redelivery answers `duplicate` and the reconcile
                # sweep takes the delivery for received, so nothing runs it on its own. Say
                # so loudly; the answer is still 503 (the job was not started).
                log.error(
                    "could not release the claim of a delivery whose job did not start; "
                    "it will not be redelivered on its own",
                    extra={"delivery": delivery, "error": type(unclaim).__name__},
                )
        raise Refusal(
            503,
            "unavailable",
            "could not queue the delivery; redeliver later",
            {"Retry-After": "30"},
        ) from None
    if queued is None:
        return JSONResponse({"duplicate": True, "delivery": delivery})
    return JSONResponse({"accepted": True, "delivery": delivery}, status_code=202)
