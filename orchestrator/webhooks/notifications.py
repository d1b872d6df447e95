"""Every event a notification can be rendered for goes to the subscriptions.

Notifications sit below deploys, so this adapter is where they learn which workflow
run is a tracked deploy (`deploy_link`): such a run shows on its commit's card as a
link to the live deploy message, never as a second account of the same run.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from orchestrator.github.events import Event
from orchestrator.github.routing import EventRouter
from orchestrator.notifications.render import NOTIFIABLE_EVENTS

if TYPE_CHECKING:
    from orchestrator.clients import Clients
    from orchestrator.jobs.base import JobContext
    from orchestrator.notifications.cards import DeployLink

router = EventRouter()


def deploy_link(services: Clients, event: Event) -> DeployLink | None:
    """The live deploy message following this workflow run, if `/deploy` tracks it."""
    if event.name != "workflow_run":
        return None
    from orchestrator.deploys import tracking
    from orchestrator.notifications.cards import DeployLink

    tracked = tracking.load_for_event(services.store, event)
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
