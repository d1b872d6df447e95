"""Liveness and identity: `/healthz` and `/version`.

`/healthz` also judges the configuration the process runs with, since a config file or a
`/config set` value that today's rules refuse fails commands long after startup: it names
the fields (never their values: the endpoint is public, and a refused value may be an
internal host), and logs the full reasons.
"""

from __future__ import annotations

import logging
import re
from typing import Any

from fastapi import APIRouter, Request
from fastapi.responses import JSONResponse
from starlette.concurrency import run_in_threadpool

from orchestrator.buildinfo import build_info
from orchestrator.services import Services
from orchestrator.store.base import StoreUnavailable

log = logging.getLogger(__name__)

router = APIRouter(tags=["meta"])


HEALTH_SCHEMA: dict[str, Any] = {
    "type": "object",
    "title": "Health",
    "required": ["status", "store"],
    "properties": {
        "status": {"type": "string", "enum": ["ok", "degraded"]},
        "store": {"type": "string", "enum": ["ok", "unreachable"]},
        "config": {
            "type": "string",
            "enum": ["invalid"],
            "description": "Present when the configuration has problems (see `config_errors`).",
        },
        "config_errors": {
            "type": "array",
            "items": {"type": "string"},
            "description": "Where each problem is, e.g. `apps[web].frontend_url` (the reasons "
            "are in the logs).",
        },
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
    summary="Liveness, store reachability and configuration",
    description="200 when the process is up and the store answers; 503 when the store does not, "
    "or the config file is invalid (every app command would fail). A runtime override "
    "(`/config set`) that today's rules refuse is ignored, named here, and still 200 "
    "(load balancers and the post-deploy gate read the status code).",
    responses={
        200: {
            "description": "Up, and the store answers (`degraded`: an override is ignored).",
            "content": {
                "application/json": {
                    "schema": HEALTH_SCHEMA,
                    "examples": {
                        "ok": {"value": {"status": "ok", "store": "ok"}},
                        "override ignored": {
                            "value": {
                                "status": "degraded",
                                "store": "ok",
                                "config": "invalid",
                                "config_errors": ["apps[web].frontend_url"],
                            }
                        },
                    },
                }
            },
        },
        503: _json(
            HEALTH_SCHEMA,
            {"status": "degraded", "store": "unreachable"},
            "The store is unreachable, or the config file is invalid.",
        ),
    },
)
async def healthz(request: Request) -> JSONResponse:
    services: Services = request.app.state["services"]
    try:
        await run_in_threadpool(services.store.ping)
    except StoreUnavailable:
        return JSONResponse({"status": "degraded", "store": "unreachable"}, status_code=503)
    problems, fatal = await run_in_threadpool(config_problems, services)
    if problems:
        log.warning("configuration problems", extra={"problems": problems})
        body = {
            "status": "degraded",
            "store": "ok",
            "config": "invalid",
            "config_errors": sorted({where(p) for p in problems}),
        }
        return JSONResponse(body, status_code=503 if fatal else 200)
    return JSONResponse({"status": "ok", "store": "ok"})


def config_problems(services: Services) -> tuple[list[str], bool]:
    """The configuration's problems under this process's rules, and whether they are the
    file's (every app command fails) rather than ignored overrides (the file's value runs)."""
    from orchestrator.apps import InvalidApp, loaded_of
    from orchestrator.product import config_problems as file_problems

    settings = services.settings
    found = file_problems(settings.config_file, production=settings.is_prod)
    if found:
        return found, True
    try:
        return loaded_of(services).ignored, False
    except (InvalidApp, StoreUnavailable):
        return [], False  # judged above / the store's own check answers for it


# Compiled by `re` (and kept in its cache) when a problem is first shown, not at import.
_WHERE = r"(?:apps|notify)\[[^\]\s]{1,40}\](?:\.[a-z_]+)?"


def where(problem: str) -> str:
    """The field a problem names (`apps[web].frontend_url`), without its reason or value."""
    found = re.match(_WHERE, problem)
    return found.group(0) if found else "config file"


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
