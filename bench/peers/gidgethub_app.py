"""gidgethub's webhook side in a minimal Starlette app: `Event.from_http(headers, body,
secret=...)` (HMAC check + JSON decode) and a `Router` with one `workflow_run` completed
handler. `GITHUB_WEBHOOK_SECRET` names the secret. Runs in `build/bench/venvs/gidgethub`.
"""

from __future__ import annotations

import os
from typing import Any

from gidgethub import BadRequest, ValidationFailure, routing, sansio
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse
from starlette.routing import Route

SECRET = os.environ["GITHUB_WEBHOOK_SECRET"]
router = routing.Router()
handled = {"completed": 0}


@router.register("workflow_run", action="completed")  # type: ignore[untyped-decorator]
async def workflow_run_completed(event: sansio.Event, *args: Any, **kwargs: Any) -> None:
    run = event.data.get("workflow_run") or {}
    if run.get("conclusion") is not None:
        handled["completed"] += 1


async def webhook(request: Request) -> JSONResponse:
    body = await request.body()
    try:
        event = sansio.Event.from_http(request.headers, body, secret=SECRET)
    except ValidationFailure:
        return JSONResponse({"error": "invalid request signature"}, status_code=401)
    except BadRequest as exc:
        return JSONResponse({"error": str(exc)}, status_code=int(exc.status_code))
    await router.dispatch(event)
    return JSONResponse({"accepted": True, "delivery": event.delivery_id}, status_code=202)


app = Starlette(routes=[Route("/github", webhook, methods=["POST"])])
