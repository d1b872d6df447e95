"""`POST /discord`: the Interactions Endpoint URL pasted into the Discord developer portal."""

from __future__ import annotations

from fastapi import APIRouter, Request
from fastapi.responses import JSONResponse

from orchestrator.discord.interactions import Interaction
from orchestrator.logs import bind
from orchestrator.routers.edge import VerifiedInteraction
from orchestrator.routers.errors import Refusal, responses
from orchestrator.services import Services

PATH = "/discord"  # the signed edge verifies what arrives here (main wires it)

router = APIRouter(tags=["discord"])

_PING_EXAMPLE = {"type": 1, "id": "1", "application_id": "1", "token": "t", "version": 1}


@router.post(
    PATH,
    summary="Discord interactions endpoint",
    description="Receives every interaction Discord sends. The Ed25519 signature over "
    "`X-Signature-Timestamp` + raw body is checked first (unsigned requests are refused "
    "before the body is read); a PING (type 1) answers PONG.",
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
        **responses(400, 401, 408, 413, 503),
    },
)
@router.post(PATH + "/", include_in_schema=False)
async def interactions(request: Request, raw: VerifiedInteraction) -> JSONResponse:
    services: Services = request.app.state["services"]
    interaction = Interaction(raw)
    bind(interaction_type=interaction.type)
    from orchestrator.discord.dispatch import UnsupportedInteraction, respond

    try:
        answer = await respond(services.commands, interaction, services)
    except UnsupportedInteraction:
        raise Refusal(400, "unsupported", "unsupported interaction type") from None
    return JSONResponse(answer)
