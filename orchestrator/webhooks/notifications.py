"""Every event a notification can be rendered for goes to the subscriptions."""

from __future__ import annotations

from typing import TYPE_CHECKING

from orchestrator.github.events import Event
from orchestrator.github.routing import EventRouter
from orchestrator.notifications.render import NOTIFIABLE_EVENTS

if TYPE_CHECKING:
    from orchestrator.clients import Clients
    from orchestrator.jobs.base import JobContext

router = EventRouter()


async def notify(event: Event, ctx: JobContext[Clients]) -> None:
    from orchestrator.notifications.deliver import notify as deliver

    await deliver(ctx.services, event)


for _name in NOTIFIABLE_EVENTS:
    router.on(_name)(notify)
