"""The features' background jobs (probes, their alerts, digests, the deploy watch, the
reconcile sweep), by name.

Adapters: the local scheduler, an EventBridge event, the retry sweep and
`orchestrator jobs retry` all run these very functions; each only unpacks its
payload and calls its feature's domain code.
"""

from __future__ import annotations

import logging
from typing import TYPE_CHECKING, Any

from orchestrator.deploys.launch import WATCH_JOB
from orchestrator.deploys.reconcile import RECONCILE_JOB
from orchestrator.jobs.base import JobRegistry
from orchestrator.probes.run import ANNOUNCE_JOB, ANNOUNCE_RETRIES, PROBE_JOB

if TYPE_CHECKING:
    from orchestrator.clients import Clients
    from orchestrator.jobs.base import JobContext

log = logging.getLogger(__name__)

DIGEST_JOB = "digest.send"

jobs = JobRegistry()


def _slot(payload: dict[str, Any]) -> float | None:
    slot = payload.get("slot")
    return float(slot) if isinstance(slot, int | float) and not isinstance(slot, bool) else None


@jobs.job(PROBE_JOB)
async def probes_run(ctx: JobContext[Clients]) -> None:
    from orchestrator.probes.run import run_probes

    observed = await run_probes(ctx.services)
    changes = sum(1 for o in observed if o.change is not None)
    log.info("probes ran", extra={"targets": len(observed), "changes": changes})


@jobs.job(ANNOUNCE_JOB, retries=ANNOUNCE_RETRIES)
async def probes_announce(ctx: JobContext[Clients]) -> None:
    """A probe change whose post failed in `probes.run`, posted later (retried on its own)."""
    from orchestrator.probes.run import post_announcement

    await post_announcement(ctx.services, ctx.job.payload)


@jobs.job(DIGEST_JOB, retries=2)  # one post per run: safe to repeat on failure
async def digest_send(ctx: JobContext[Clients]) -> None:
    """Post the digest of the period ending at the slot; nothing without a digest channel."""
    from orchestrator.digest.load import PERIODS, build
    from orchestrator.digest.render import to_message

    services = ctx.services
    channel = services.settings.digest_channel_id
    if not channel:
        log.info("digest skipped: ORCHESTRATOR_DIGEST_CHANNEL_ID is not set")
        return
    period = ctx.job.payload.get("period")
    if period not in PERIODS:
        raise ValueError(f"digest period must be daily or weekly, got {period!r}")
    digest = build(services, period, end=_slot(ctx.job.payload))
    async with services.discord_rest() as discord:
        await discord.create_message(channel, to_message(digest).to_data())


@jobs.job(WATCH_JOB, retries=1)  # reminders are claimed once each; a pump only starts what waits
async def deploys_watch(ctx: JobContext[Clients]) -> None:
    """Remind channels of locks about to lapse; start deploys waiting on a free environment."""
    from orchestrator.deploys.launch import watch

    watched = await watch(ctx.services)
    log.info(
        "deploy watch",
        extra={
            "reminded": watched.reminded,
            "pumped": watched.pumped,
            "expired": watched.expired,
        },
    )


# No retries: the next slot sweeps again in a few minutes (each redelivery is claimed once).
@jobs.job(RECONCILE_JOB)
async def deploys_reconcile(ctx: JobContext[Clients]) -> None:
    """Catch up on lost webhooks: unfinished tracked runs older than the threshold are moved
    on by what GitHub says; failed deliveries of the configured hook are redelivered once."""
    from orchestrator.deploys.reconcile import sweep

    if not ctx.services.settings.has_github_credentials:
        log.info("reconcile skipped: no GitHub credentials")
        return
    await sweep(ctx.services, by_hand=False)
