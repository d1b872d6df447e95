"""`POST /discord`: the Interactions Endpoint URL pasted into the Discord developer portal."""

from __future__ import annotations

import json
import time
from typing import Any

from fastapi import APIRouter, Request
from fastapi.responses import JSONResponse

from orchestrator.discord.dispatch import UnsupportedInteraction, respond
from orchestrator.discord.interactions import Interaction, InteractionType
from orchestrator.discord.verify import (
    SIGNATURE_HEADER,
    TIMESTAMP_HEADER,
    SignatureError,
    check_headers,
    verify_request,
)
from orchestrator.logs import bind
from orchestrator.routers.body import read_capped
from orchestrator.routers.errors import Refusal, responses
from orchestrator.services import Services

router = APIRouter(tags=["discord"])

_PING_EXAMPLE = {"type": 1, "id": "1", "application_id": "1", "token": "t", "version": 1}


@router.post(
    "/discord",
    summary="Discord interactions endpoint",
    description="Receives every interaction Discord sends. The Ed25519 signature over "
    "`X-Signature-Timestamp` + raw body is checked first; a PING (type 1) answers PONG.",
    openapi_extra={
        "requestBody": {
            "required": True,
            "content": {
                "application/json": {"schema": {"type": "object"}, "example": _PING_EXAMPLE}
            },
        },
        "parameters": [
            {
                "name": "X-Signature-Ed25519",
                "in": "header",
                "required": True,
                "schema": {"type": "string"},
                "description": "Hex Ed25519 signature.",
            },
            {
                "name": "X-Signature-Timestamp",
                "in": "header",
                "required": True,
                "schema": {"type": "string"},
                "description": "Unix seconds, part of the signed message.",
            },
        ],
    },
    responses={
        200: {
            "description": "The interaction response: PONG, a message, a deferral, "
            "autocomplete choices or a modal.",
            "content": {"application/json": {"example": {"type": 1}}},
        },
        **responses(400, 401, 413),
    },
)
async def interactions(request: Request) -> JSONResponse:
    services: Services = request.app.state.services
    settings = services.settings
    signature = request.headers.get(SIGNATURE_HEADER)
    timestamp = request.headers.get(TIMESTAMP_HEADER)
    now = time.time()
    try:
        check_headers(signature, timestamp, now=now, max_age=settings.discord_signature_max_age)
        body = await read_capped(request, settings.discord_max_body_bytes)
        verify_request(
            public_key=settings.discord_public_key or "",
            signature=signature,
            timestamp=timestamp,
            body=body,
            now=now,
            max_age=settings.discord_signature_max_age,
        )
    except SignatureError as exc:
        raise Refusal(401, "bad_signature", str(exc)) from None
    interaction = Interaction(_parse(body))
    bind(interaction_id=interaction.id or None, interaction_type=interaction.type)
    if interaction.type == InteractionType.PING:  # the portal's check: answer before anything else
        return JSONResponse({"type": 1})
    try:
        answer = await respond(services.bot, interaction, services)
    except UnsupportedInteraction:
        raise Refusal(400, "unsupported", "unsupported interaction type") from None
    return JSONResponse(answer)


def _parse(body: bytes) -> dict[str, Any]:
    try:
        data = json.loads(body)
    except (ValueError, UnicodeDecodeError, RecursionError):  # RecursionError: [[[[...]]]]
        raise Refusal(400, "malformed", "body is not JSON") from None
    if not isinstance(data, dict):
        raise Refusal(400, "malformed", "body is not a JSON object")
    return data
