"""Liveness and identity: `/healthz` and `/version`."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Request
from fastapi.responses import JSONResponse
from starlette.concurrency import run_in_threadpool

from orchestrator.buildinfo import build_info
from orchestrator.services import Services
from orchestrator.store.base import StoreUnavailable

router = APIRouter(tags=["meta"])


HEALTH_SCHEMA: dict[str, Any] = {
    "type": "object",
    "title": "Health",
    "required": ["status", "store"],
    "properties": {
        "status": {"type": "string", "enum": ["ok", "degraded"]},
        "store": {"type": "string", "enum": ["ok", "unreachable"]},
    },
}

VERSION_SCHEMA: dict[str, Any] = {
    "type": "object",
    "title": "Version",
    "required": ["version", "sha", "built_at", "python", "source"],
    "properties": {
        "version": {"type": "string", "description": "Package version."},
        "sha": {
            "type": "string",
            "description": "Git commit this code was built from, or `unknown`.",
        },
        "built_at": {
            "type": ["string", "null"],
            "description": "UTC build time (ISO 8601) for built artifacts.",
        },
        "python": {"type": "string", "description": "Interpreter version."},
        "source": {
            "type": "string",
            "enum": ["build", "git", "unknown"],
            "description": "Where `sha` came from: the artifact's build info, the git "
            "checkout, or nowhere.",
        },
    },
}


def _json(schema: dict[str, Any], example: dict[str, Any], description: str) -> dict[str, Any]:
    return {
        "description": description,
        "content": {"application/json": {"schema": schema, "example": example}},
    }


@router.get(
    "/healthz",
    response_model=None,
    summary="Liveness and store reachability",
    description="200 when the process is up and the store answers; 503 when the store does not "
    "(load balancers and the post-deploy gate read the status code).",
    responses={
        200: _json(HEALTH_SCHEMA, {"status": "ok", "store": "ok"}, "Up, and the store answers."),
        503: _json(
            HEALTH_SCHEMA,
            {"status": "degraded", "store": "unreachable"},
            "The store is unreachable.",
        ),
    },
)
async def healthz(request: Request) -> JSONResponse:
    services: Services = request.app.state.services
    try:
        await run_in_threadpool(services.store.ping)
    except StoreUnavailable:
        return JSONResponse({"status": "degraded", "store": "unreachable"}, status_code=503)
    return JSONResponse({"status": "ok", "store": "ok"})


@router.get(
    "/version",
    response_model=None,
    summary="Which code is running",
    description="The commit SHA baked into this build. The deploy pipeline compares it with the "
    "commit it just deployed; the bot compares it with the branch head.",
    responses={
        200: _json(
            VERSION_SCHEMA,
            {
                "version": "0.1.0",
                "sha": "9f2c1e4b7a6d5c3e2f1a0b9c8d7e6f5a4b3c2d1e",
                "built_at": "2026-11-29T04:00:00Z",
                "python": "3.12.1",
                "source": "build",
            },
            "The running build.",
        )
    },
)
async def version() -> JSONResponse:
    return JSONResponse(build_info().as_dict())
