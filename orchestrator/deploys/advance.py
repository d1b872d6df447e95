"""Moving a tracked run on by one (current) event: the one path every source of news takes.

A `workflow_run`/`workflow_job` webhook and the reconcile sweep (which asks GitHub what a
lost webhook would have said) both end here, so a run moved by either is drawn, verified
and frees its environment the same way. Callers check first that the event is current
(`github.reconcile.is_current`): a stale one must change nothing.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from orchestrator.deploys import launch, runs, tracking

if TYPE_CHECKING:
    from orchestrator.clients import Clients
    from orchestrator.deploys.tracking import Tracked
    from orchestrator.discord.rest import DiscordREST
    from orchestrator.github.events import Event


async def advance(
    services: Clients, tracked: Tracked, event: Event, discord: DiscordREST
) -> Tracked:
    """Fold `event` into `tracked`, save it, edit its message; when the run is over, verify
    it (deploys and releases) and free its environment for the next deploy waiting."""
    store = services.store
    tracked = tracking.apply(tracked, event)
    tracking.save(store, tracked)
    try:
        await runs.publish(services, tracked, discord)
        # By state, not by transition: a retried delivery (its first try failed to
        # publish or to verify) finds the run already finished and must still verify it.
        if tracked.finished and tracked.verdict is None and tracked.kind in tracking.VERIFIED_KINDS:
            tracked = await runs.verify(services, tracked)
            tracking.save(store, tracked)
            await runs.publish(services, tracked, discord)
    finally:
        # Verified (or failing to be): its environment takes the next deploy. Once per
        # run, whatever happened above, so a broken verification never blocks it.
        if tracked.finished:
            await launch.finished(services, tracked, discord)
    return tracked
