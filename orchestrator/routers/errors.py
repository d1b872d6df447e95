"""One error shape for every refusal, and the handlers that guarantee it.

Clients (Discord's portal check, GitHub's delivery log, a developer with curl)
always get JSON `{"error": code, "message": text}` with the right status:
400 malformed, 401 bad signature, 408 body too slow, 413 too large, 503 busy (the body
budget is spent) or a dependency is down.
Nothing escapes as a bare 500 with a stack trace.
"""

from __future__ import annotations

import logging
from typing import Any

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from starlette.exceptions import HTTPException as StarletteHTTPException

from orchestrator.store.base import StoreUnavailable

log = logging.getLogger(__name__)


# Response schemas are plain JSON Schema, not pydantic models: a model on a route makes
# FastAPI import `pydantic.v1` to classify it, which measured ~150 ms of a Lambda cold start.
ERROR_SCHEMA: dict[str, Any] = {
    "type": "object",
    "title": "ErrorBody",
    "required": ["error", "message"],
    "properties": {
        "error": {"type": "string", "description": "Stable machine-readable code."},
        "message": {"type": "string", "description": "What went wrong, for humans."},
    },
}


# The answer to a bug of ours: the same words wherever it is caught (here, or outside the
# framework's layers by the signed edge).
CRASH = ("internal", "something broke on our side")


class Refusal(Exception):
    """Raised by edge code to answer with an error body; never logged as a crash."""

    def __init__(
        self, status: int, error: str, message: str, headers: dict[str, str] | None = None
    ) -> None:
        super().__init__(message)
        self.status = status
        self.error = error
        self.message = message
        self.headers = headers


def error_response(
    status: int, error: str, message: str, headers: dict[str, str] | None = None
) -> JSONResponse:
    return JSONResponse({"error": error, "message": message}, status_code=status, headers=headers)


def responses(*statuses: int) -> dict[int | str, dict[str, Any]]:
    """OpenAPI `responses=` entries for the error answers a route can give."""
    described = {
        400: ("malformed", "The body is not what this endpoint accepts."),
        401: ("bad_signature", "Missing, malformed or wrong signature."),
        408: ("timeout", "The body did not arrive within ORCHESTRATOR_BODY_TIMEOUT."),
        413: ("too_large", "The body is over this endpoint's size limit."),
        503: (
            "unavailable",
            "Too many bodies in flight, or a dependency (the store) is down; retry after "
            "Retry-After seconds.",
        ),
    }
    out: dict[int | str, dict[str, Any]] = {}
    for status in statuses:
        code, text = described[status]
        out[status] = {
            "description": text,
            "content": {
                "application/json": {
                    "schema": ERROR_SCHEMA,
                    "example": {"error": code, "message": text},
                }
            },
        }
    return out


def install(app: FastAPI) -> None:
    @app.exception_handler(Refusal)
    async def _refusal(_: Request, exc: Refusal) -> JSONResponse:
        return error_response(exc.status, exc.error, exc.message, exc.headers)

    @app.exception_handler(RequestValidationError)
    async def _invalid(_: Request, exc: RequestValidationError) -> JSONResponse:
        return error_response(400, "malformed", "request did not match the expected shape")

    @app.exception_handler(StarletteHTTPException)
    async def _http(_: Request, exc: StarletteHTTPException) -> JSONResponse:
        code = {404: "not_found", 405: "method_not_allowed"}.get(exc.status_code, "http_error")
        return error_response(exc.status_code, code, str(exc.detail), getattr(exc, "headers", None))

    @app.exception_handler(StoreUnavailable)
    async def _store(_: Request, exc: StoreUnavailable) -> JSONResponse:
        log.warning("store unavailable", extra={"error": type(exc).__name__})
        return error_response(
            503, "unavailable", "storage is unavailable, retry later", {"Retry-After": "5"}
        )

    @app.exception_handler(Exception)
    async def _crash(_: Request, exc: Exception) -> JSONResponse:
        log.exception("unhandled error")
        return error_response(500, *CRASH)
