"""The scheduled jobs. Registered by name, so the local scheduler, an EventBridge event
and `orchestrator jobs retry` all run the very same function."""

from __future__ import annotations

import logging
from typing import TYPE_CHECKING, Any

from orchestrator.jobs.base import registry

if TYPE_CHECKING:
    from orchestrator.jobs.base import JobContext

log = logging.getLogger(__name__)


def _slot(payload: dict[str, Any]) -> float | None:
    slot = payload.get("slot")
    return float(slot) if isinstance(slot, int | float) and not isinstance(slot, bool) else None


@registry.job("probes.run")
async def probes_run(ctx: JobContext) -> None:
    from orchestrator.probes.run import run_probes

    observed = await run_probes(ctx.services)
    changes = sum(1 for o in observed if o.change is not None)
    log.info("probes ran", extra={"targets": len(observed), "changes": changes})


@registry.job("probes.announce", retries=3)  # = probes.run.ANNOUNCE_JOB
async def probes_announce(ctx: JobContext) -> None:
    """A probe change whose post failed in `probes.run`, posted later (retried on its own)."""
    from orchestrator.probes.run import post_announcement

    await post_announcement(ctx.services, ctx.job.payload)


@registry.job("digest.send", retries=2)  # one post per run: safe to repeat on failure
async def digest_send(ctx: JobContext) -> None:
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
