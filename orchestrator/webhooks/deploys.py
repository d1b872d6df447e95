"""Webhooks that move tracked runs along: `workflow_run` and `workflow_job`.

Stale events (older than what we know, per `github.reconcile`) change
nothing. When a run completes, the verifier runs and its verdict is folded
into the same message, so the message ends at "deployed and verified" (or
says exactly what is wrong); then the environment is free for the next deploy waiting
(`deploys.launch.finished`).
"""

from __future__ import annotations

import logging
from typing import TYPE_CHECKING

from orchestrator.deploys import launch, runs, tracking
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
    tracked = tracking.apply(tracked, event)
    tracking.save(store, tracked)
    async with services.discord_rest() as discord:
        try:
            await runs.publish(services, tracked, discord)
            # By state, not by transition: a retried delivery (its first try failed to
            # publish or to verify) finds the run already finished and must still verify it.
            if (
                tracked.finished
                and tracked.verdict is None
                and tracked.kind in tracking.VERIFIED_KINDS
            ):
                tracked = await runs.verify(services, tracked)
                tracking.save(store, tracked)
                await runs.publish(services, tracked, discord)
        finally:
            # Verified (or failing to be): its environment takes the next deploy. Once per
            # run, whatever happened above, so a broken verification never blocks it.
            if tracked.finished:
                await launch.finished(services, tracked, discord)
