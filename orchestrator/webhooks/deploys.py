"""Webhooks that move tracked runs along: `workflow_run` and `workflow_job`.

Stale events (older than what we know, per `github.reconcile`) change
nothing. A current one moves the run on (`deploys.advance`): when a run completes, the
verifier runs and its verdict is folded into the same message, so the message ends at
"deployed and verified" (or says exactly what is wrong); then the environment is free for
the next deploy waiting (`deploys.launch.finished`).
"""

from __future__ import annotations

import logging
from typing import TYPE_CHECKING

from orchestrator.deploys import tracking
from orchestrator.deploys.advance import advance
from orchestrator.github import reconcile
from orchestrator.github.events import Event
from orchestrator.github.routing import EventRouter

if TYPE_CHECKING:
    from orchestrator.clients import Clients
    from orchestrator.jobs.base import JobContext

log = logging.getLogger(__name__)

router = EventRouter()


@router.on("workflow_run")
@router.on("workflow_job")
async def follow_run(event: Event, ctx: JobContext[Clients]) -> None:
    services = ctx.services
    store = services.store
    tracked = tracking.load_for_event(store, event)
    if tracked is None:
        return
    if not reconcile.is_current(store, event):
        log.info("stale event for a tracked run", extra={"delivery": event.delivery})
        return
    async with services.discord_rest() as discord:
        await advance(services, tracked, event, discord)
