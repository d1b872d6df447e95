"""Every event a notification can be rendered for goes to the subscriptions.

Notifications sit below deploys, so this adapter is where they learn which workflow
run is a tracked deploy (`deploy_link`): such a run shows on its commit's card as a
link to the live deploy message, never as a second account of the same run; neither it
nor the statuses of the GitHub Deployment it records are posted on their own in the
channel that message is in.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from orchestrator.github.events import Event, dig
from orchestrator.github.routing import EventRouter
from orchestrator.notifications.render import NOTIFIABLE_EVENTS

if TYPE_CHECKING:
    from orchestrator.clients import Clients
    from orchestrator.jobs.base import JobContext
    from orchestrator.notifications.cards import DeployLink

router = EventRouter()


def deploy_link(services: Clients, event: Event) -> DeployLink | None:
    """The live deploy message this event is about, if `/deploy` tracks it: the workflow
    run it follows, or the GitHub Deployment it records (ours: `deployments.is_ours`)."""
    if event.name not in ("workflow_run", "deployment_status"):
        return None
    from orchestrator.deploys import tracking
    from orchestrator.notifications.cards import DeployLink

    if event.name == "workflow_run":
        tracked = tracking.load_for_event(services.store, event)
    else:
        from orchestrator.deploys.deployments import is_ours

        payload = dig(event.payload, "deployment", "payload")
        ours = is_ours(payload)
        tracked = (
            tracking.load_correlation(services.store, payload["correlation_id"]) if ours else None
        )
    if tracked is None:
        return None
    guilds = [g for g in services.settings.discord_guild_ids if g.isdigit()]
    url = None
    if len(guilds) == 1 and tracked.channel_id and tracked.message_id:
        url = f"https://discord.com/channels/{guilds[0]}/{tracked.channel_id}/{tracked.message_id}"
    return DeployLink(
        channel_id=tracked.channel_id,
        message_id=tracked.message_id,
        url=url,
        label=f"{tracked.kind.capitalize()} of {tracked.app}",
    )


async def notify(event: Event, ctx: JobContext[Clients]) -> None:
    from orchestrator.notifications.deliver import notify as deliver

    services = ctx.services
    await deliver(services, event, lambda e: deploy_link(services, e))


for _name in NOTIFIABLE_EVENTS:
    router.on(_name)(notify)
