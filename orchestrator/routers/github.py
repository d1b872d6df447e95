"""`POST /github`: the webhook URL given to a repository, organisation or GitHub App."""

from __future__ import annotations

from fastapi import APIRouter, Request
from fastapi.responses import JSONResponse

from orchestrator.github.verify import SIGNATURE_HEADER, SignatureError, verify_signature
from orchestrator.routers.body import read_capped
from orchestrator.routers.errors import Refusal, responses
from orchestrator.services import Services

router = APIRouter(tags=["github"])

# GitHub caps webhook payloads at 25 MB and drops larger ones itself.
MAX_BODY_BYTES = 25 * 1024 * 1024


@router.post(
    "/github",
    summary="GitHub webhook endpoint",
    description="Receives webhook deliveries. `X-Hub-Signature-256` (HMAC-SHA256 of the raw body) "
    "is checked first; `ping` answers 200.",
    openapi_extra={
        "requestBody": {
            "required": True,
            "content": {
                "application/json": {
                    "schema": {"type": "object"},
                    "example": {"zen": "Keep it logically awesome."},
                }
            },
        },
        "parameters": [
            {
                "name": "X-GitHub-Event",
                "in": "header",
                "required": True,
                "schema": {"type": "string"},
                "example": "ping",
            },
            {
                "name": "X-GitHub-Delivery",
                "in": "header",
                "required": True,
                "schema": {"type": "string"},
            },
            {
                "name": "X-Hub-Signature-256",
                "in": "header",
                "required": True,
                "schema": {"type": "string"},
            },
        ],
    },
    responses={
        200: {
            "description": "Accepted (ping).",
            "content": {"application/json": {"example": {"ok": True}}},
        },
        **responses(400, 401, 413),
    },
)
async def webhook(request: Request) -> JSONResponse:
    services: Services = request.app.state.services
    body = await read_capped(request, MAX_BODY_BYTES)
    try:
        verify_signature(
            [s.get_secret_value() for s in services.settings.github_webhook_secret],
            request.headers.get(SIGNATURE_HEADER),
            body,
        )
    except SignatureError as exc:
        raise Refusal(401, "bad_signature", str(exc)) from None
    return JSONResponse({"ok": True})
