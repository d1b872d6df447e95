"""Moving a tracked run on by one (current) event: the one path every source of news takes.

A `workflow_run`/`workflow_job` webhook and the reconcile sweep (which asks GitHub what a
lost webhook would have said) both end here, so a run moved by either is drawn, verified
and frees its environment the same way. Callers check first that the event is current
(`github.reconcile.is_current`): a stale one must change nothing.

Two current events of one run may be handled at once (a job per delivery): each would
fold itself into the state it read before the other saved, and their message edits could
reach Discord in either order, leaving "in progress" on a run already verified. So, in
this process, one event per run at a time: under the run's lock the state is read again
and the event checked again (a newer one may have been recorded meanwhile), then folded,
saved and drawn. Across containers (Lambda) the check against the newest version seen
still keeps a late event from reopening a finished run.
"""

from __future__ import annotations

import asyncio
import weakref
from typing import TYPE_CHECKING

from orchestrator.deploys import launch, runs, tracking
from orchestrator.github import reconcile

if TYPE_CHECKING:
    from orchestrator.clients import Clients
    from orchestrator.deploys.tracking import Tracked
    from orchestrator.discord.rest import DiscordREST
    from orchestrator.github.events import Event


# One lock per tracked run (by correlation id), dropped once no handler holds it.
_LOCKS: weakref.WeakValueDictionary[str, asyncio.Lock] = weakref.WeakValueDictionary()


def _lock(correlation: str) -> asyncio.Lock:
    lock = _LOCKS.get(correlation)
    if lock is None:
        lock = _LOCKS[correlation] = asyncio.Lock()
    return lock


async def advance(
    services: Clients, tracked: Tracked, event: Event, discord: DiscordREST
) -> Tracked:
    """Fold `event` into `tracked`, save it, edit its message; when the run is over, verify
    it (deploys and releases) and free its environment for the next deploy waiting."""
    async with _lock(tracked.correlation):
        latest = tracking.load_correlation(services.store, tracked.correlation) or tracked
        if not reconcile.is_current(services.store, event):
            return latest  # a newer event of this run was handled while this one waited
        return await _advance(services, latest, event, discord)


async def _advance(
    services: Clients, tracked: Tracked, event: Event, discord: DiscordREST
) -> Tracked:
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
