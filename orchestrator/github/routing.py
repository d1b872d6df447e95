"""`@events.on("workflow_run", action="completed")`: which handlers an event reaches.

The same registry answers the webhook endpoint's allow-list question (is
anyone interested in this event?) before any store or job work, and routes
the event inside the job. Several handlers may take one event; one failing
does not stop the others.
"""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable
from typing import TYPE_CHECKING, Any

from orchestrator.github.events import Event

if TYPE_CHECKING:
    from orchestrator.jobs.base import JobContext

log = logging.getLogger(__name__)

EventHandler = Callable[[Event, "JobContext[Any]"], Awaitable[None]]


class HandlersFailed(RuntimeError):
    """Some handlers of an event failed; the others ran. Names them, for the job record."""


class EventRouter:
    """Each feature owns one (`router = EventRouter()`); the composition root merges
    them with `EventRouter(*routers)`, as gidgethub's `Router(*routers)` does, so this
    module never learns which features exist."""

    def __init__(self, *routers: EventRouter) -> None:
        self._handlers: dict[tuple[str, str | None], list[EventHandler]] = {}
        for other in routers:
            for key, handlers in other._handlers.items():
                self._handlers.setdefault(key, []).extend(handlers)

    def on(self, event: str, action: str | None = None) -> Callable[[EventHandler], EventHandler]:
        """Handle `event` (every action, or only `action`)."""

        def register(handler: EventHandler) -> EventHandler:
            self._handlers.setdefault((event, action), []).append(handler)
            return handler

        return register

    def handlers(self, name: str, action: str | None) -> list[EventHandler]:
        found = list(self._handlers.get((name, None), []))
        if action is not None:
            found += self._handlers.get((name, action), [])
        return found

    def accepts(self, name: str, action: str | None) -> bool:
        return bool(self.handlers(name, action))

    def events(self) -> list[str]:
        return sorted({name for name, _ in self._handlers})

    async def dispatch(self, event: Event, ctx: JobContext[Any]) -> int:
        """Run every handler for `event`; return how many ran, raise if any failed."""
        failures = []
        handlers = self.handlers(event.name, event.action)
        for handler in handlers:
            try:
                await handler(event, ctx)
            except Exception as exc:
                log.exception(
                    "event handler failed",
                    extra={
                        "event": event.key,
                        "delivery": event.delivery,
                        "handler": handler.__qualname__,
                    },
                )
                failures.append(f"{handler.__qualname__}: {type(exc).__name__}: {exc}"[:300])
        if failures:
            raise HandlersFailed("; ".join(failures))
        return len(handlers)
