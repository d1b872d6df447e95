"""The one app, and its two front doors.

* `uvicorn orchestrator.main:app` serves it locally.
* `orchestrator.main.handler` is the AWS Lambda entry point (the SAM template's
  `Handler`): the same app behind Mangum.

Both import this very module the same way, so the layout that works locally is
the layout that works on Lambda; there is no `sys.path` trickery anywhere.
"""

from __future__ import annotations

import gc

# A cold start spends most of its time importing (FastAPI builds its OpenAPI models, we
# build the app): objects that live as long as the process, with no garbage cycles worth
# collecting. Python's cyclic GC would still walk them every few hundred allocations, about
# 20 ms of a ~400 ms Lambda cold start here. So it is paused until the app is built, then
# those objects are frozen out of every later collection (`_resume_gc`).
_GC_WAS_ENABLED = gc.isenabled()
gc.disable()

try:
    import logging
    import os
    from collections.abc import AsyncIterator
    from contextlib import asynccontextmanager
    from typing import Any

    from fastapi import FastAPI
    from starlette.types import ASGIApp, Receive, Scope, Send

    from orchestrator import __version__
    from orchestrator.config import ConfigError, Settings, finalize, load_settings
    from orchestrator.routers import discord, docs, errors, github, meta
    from orchestrator.routers.edge import SignedEdge
    from orchestrator.routers.middleware import AccessLog
    from orchestrator.services import Services
    from orchestrator.store.base import StoreUnavailable
except BaseException:  # a broken install: whoever imported us keeps a working GC
    if _GC_WAS_ENABLED:
        gc.enable()
    raise


DESCRIPTION = """\
A Discord <-> GitHub deploy orchestrator.

* `POST /discord` is the Discord Interactions endpoint (Ed25519-signed).
* `POST /github` is the GitHub webhook endpoint (HMAC-SHA256-signed).
* `GET /healthz` and `GET /version` say whether it is up and which commit it runs.
"""


def create_app(settings: Settings | None = None, *, services: Services | None = None) -> FastAPI:
    """Build the app. Settings default to the environment; services to what settings name."""
    if services is None:
        services = Services(finalize(settings) if settings is not None else load_settings())
    if services.settings.is_prod:
        refuse_an_invalid_config_file(services.settings)

    @asynccontextmanager
    async def lifespan(_: FastAPI) -> AsyncIterator[None]:
        # Runs under uvicorn; Lambda runs with lifespan="off" and freezes instead of stopping.
        try:
            resume = getattr(services.jobs, "resume_pending", None)
            if resume is not None:
                resume()  # jobs an earlier process was stopped before finishing
        except StoreUnavailable:
            # Serve anyway: /healthz says 503, /github answers 503 so GitHub redelivers.
            logging.getLogger(__name__).warning("store unavailable at startup")
        from orchestrator.schedules.local import start_scheduler

        scheduler = start_scheduler(services)  # None unless ORCHESTRATOR_SCHEDULER is on
        yield
        if scheduler is not None:
            scheduler.stop()  # before the dispatcher closes: nothing is sent to a closed one
        # SIGTERM lands here: in-flight jobs finish, or are recorded pending for next start.
        services.close(services.settings.shutdown_grace)

    app = _App(
        title="orchestrator",
        version=__version__,
        description=DESCRIPTION,
        lifespan=lifespan,
        docs_url=None,  # `routers.docs` serves it, with Swagger UI's files (no CDN)
        redoc_url=None,
        openapi_url="/openapi.json",
        # No OpenTelemetry SDK ships with us, so FastAPI's hooks would only cost a provider
        # lookup per request (measured ~20 us of a PING's ~200 us); our logs carry the ids.
        telemetry={"tracing": False, "metrics": False, "logs": False},
    )
    app.state["services"] = services
    from orchestrator.logs import configure

    configure(services.settings.log_level, secrets=services.settings.secret_values())
    errors.install(app)
    # Routes are matched in order, one pattern at a time: the two front doors first, the
    # pages people open now and then (meta, docs) after them.
    app.include_router(discord.router)
    app.include_router(github.router)
    app.include_router(meta.router)
    app.include_router(docs.router)
    return app


class _App(FastAPI):
    """The FastAPI app with its two outer layers, outside FastAPI's own middleware.

    `add_middleware` would put them inside Starlette's error, telemetry and body-limit
    layers, three calls and a wrapped `send` on every request, PINGs included. The signed
    edge is outermost (signatures and size caps, before any routing, on the routers' own
    paths): it answers PINGs and refusals itself, logged, and a bug of its own with the
    app's JSON 500. The access log wraps the rest (`routers.middleware`)."""

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        """An HTTP request goes straight to the middleware stack, as FastAPI's `__call__`
        then Starlette's send it for this app (no `root_path`; telemetry off, as
        `create_app` builds it): one frame where they take two, and no telemetry lookup, on
        every PING. Anything else (lifespan, a `root_path` set) goes their way."""
        if scope["type"] == "http" and not self.root_path:
            scope["app"] = self
            stack = self.middleware_stack
            if stack is None:
                stack = self.middleware_stack = self.build_middleware_stack()
            await stack(scope, receive, send)
            return
        await super().__call__(scope, receive, send)

    def build_middleware_stack(self) -> ASGIApp:
        inner = AccessLog(super().build_middleware_stack())
        return SignedEdge(inner, discord_path=discord.PATH, github_path=github.PATH)


def refuse_an_invalid_config_file(settings: Settings) -> None:
    """Production does not start with a config file it would refuse (an `http://` URL allowed
    locally, a private host): otherwise every app command fails later, even `/config show`.
    ConfigError names each field, like a missing secret; `orchestrator build` checks the same
    before shipping the file."""
    from orchestrator.product import config_problems

    problems = config_problems(settings.config_file, production=True)
    if problems:
        raise ConfigError([f"{settings.config_file}: {problem}" for problem in problems])


def _load_secret_params() -> None:
    """On Lambda, secrets are SSM parameter *names* in the environment (`*_PARAM`): read
    them once per container, before settings are built. Elsewhere, nothing to do."""
    if os.environ.get("AWS_LAMBDA_FUNCTION_NAME") and any(
        name.endswith("_PARAM") for name in os.environ
    ):
        from orchestrator.aws.secrets import apply_secret_params

        apply_secret_params()


def _resume_gc() -> None:
    """Undo the pause at the top of this module. `gc.freeze` moves what the start built into
    the permanent generation: never collected (it is not garbage), never walked again, so
    later collections, warm invokes' included, only look at what requests allocate."""
    gc.freeze()
    if _GC_WAS_ENABLED:
        gc.enable()


try:
    _load_secret_params()
    app = create_app()
finally:
    _resume_gc()  # also when the start fails: whoever imported us keeps a working GC


def _register_snapstart_hooks() -> None:
    """Under Lambda SnapStart, a restored container drops the clients and credentials it
    inherited from the snapshot (`orchestrator.aws.snapstart`). Without SnapStart this is
    one environment lookup."""
    from orchestrator.aws import snapstart

    services: Services = app.state["services"]
    snapstart.register(services.reset_after_restore)


_register_snapstart_hooks()

_adapter: Any = None


def handler(event: dict[str, Any], context: Any) -> dict[str, Any]:
    """AWS Lambda entry point. A plain function, so our own events (EventBridge schedules,
    async self-invoked jobs) are recognised before Mangum, which only understands HTTP.

    Lines logged on an event loop are written at the end of its turn (`logs.info_line`);
    the container may be frozen as soon as this returns, so what is pending is written
    first, and every invocation's lines land in its own log stream entry."""
    from orchestrator.logs import flush

    try:
        return _handle(event, context)
    finally:
        flush()


def _handle(event: dict[str, Any], context: Any) -> dict[str, Any]:
    global _adapter
    services: Services = app.state["services"]
    if isinstance(event, dict) and "orchestrator_schedule" in event:
        from orchestrator.schedules.aws import run_schedule_event

        return run_schedule_event(event, services)
    if isinstance(event, dict) and "orchestrator_job" in event:
        from orchestrator.jobs.lambda_ import run_job_event

        return run_job_event(event, services.runner())
    if _adapter is None:
        from mangum import Mangum

        settings = services.settings
        _adapter = Mangum(app, lifespan="off", api_gateway_base_path=settings.api_base_path)
    _ensure_event_loop()
    result: dict[str, Any] = _adapter(event, context)
    return result


def _ensure_event_loop() -> None:
    """Mangum runs each request on `asyncio.get_event_loop()`, which raises once anything
    in this thread has cleared the current loop (`asyncio.run` does, on exit). Our own
    branches never do, but one stray `asyncio.run` must not turn every later request of
    the container into a 500, so give Mangum a loop when there is none."""
    import asyncio

    try:
        asyncio.get_event_loop_policy().get_event_loop()
    except RuntimeError:
        asyncio.set_event_loop(asyncio.new_event_loop())
