"""Liveness and identity: `/healthz` and `/version`."""

from __future__ import annotations

from typing import Literal

from fastapi import APIRouter, Request
from fastapi.responses import JSONResponse
from pydantic import BaseModel, Field
from starlette.concurrency import run_in_threadpool

from orchestrator.buildinfo import build_info
from orchestrator.routers.errors import responses
from orchestrator.services import Services
from orchestrator.store.base import StoreUnavailable

router = APIRouter(tags=["meta"])


class Health(BaseModel):
    status: Literal["ok", "degraded"] = Field(examples=["ok"])
    store: Literal["ok", "unreachable"] = Field(examples=["ok"])


class Version(BaseModel):
    version: str = Field(description="Package version.", examples=["0.1.0"])
    sha: str = Field(
        description="Git commit this code was built from, or `unknown`.",
        examples=["9f2c1e4b7a6d5c3e2f1a0b9c8d7e6f5a4b3c2d1e"],
    )
    built_at: str | None = Field(
        description="UTC build time (ISO 8601) for built artifacts.",
        examples=["2026-11-29T04:00:00Z"],
    )
    python: str = Field(description="Interpreter version.", examples=["3.12.1"])
    source: Literal["build", "git", "unknown"] = Field(
        description="Where `sha` came from: the artifact's build info, the git checkout, or "
        "nowhere.",
        examples=["build"],
    )


@router.get(
    "/healthz",
    response_model=Health,
    summary="Liveness and store reachability",
    description="200 when the process is up and the store answers; 503 when the store does not "
    "(load balancers and the post-deploy gate read the status code).",
    responses={
        503: {
            "model": Health,
            "description": "The store is unreachable.",
            "content": {
                "application/json": {"example": {"status": "degraded", "store": "unreachable"}}
            },
        }
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
    response_model=Version,
    summary="Which code is running",
    description="The commit SHA baked into this build. The deploy pipeline compares it with the "
    "commit it just deployed; the bot compares it with the branch head.",
    responses=responses(),
)
async def version() -> Version:
    return Version(**build_info().as_dict())
