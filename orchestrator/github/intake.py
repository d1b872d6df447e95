"""Webhook intake: a delivery is claimed once, then handled as a job.

GitHub may deliver the same `X-GitHub-Delivery` more than once (redeliveries,
its own retries of timeouts), so the endpoint claims the delivery id in the
store before dispatching: the second copy is acknowledged as a duplicate and
causes nothing. The claim outlives GitHub's redelivery window.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from orchestrator.github.events import Event, slim
from orchestrator.github.routing import EventRouter
from orchestrator.jobs.base import JobContext, JobRegistry
from orchestrator.store import keys
from orchestrator.store.base import JSONObject, Store

DELIVERY_TTL = 7 * 24 * 3600
DELIVERY_JOB = "github.delivery"
# Its handlers are safe to run again (posts record what they sent, run tracking keeps the
# newest state), so a delivery whose Discord post failed tries again on its own.
DELIVERY_RETRIES = 3


def claim_delivery(store: Store, delivery: str, event: str, action: str | None) -> bool:
    """True for the first copy of a delivery; raises StoreUnavailable when the store is down."""
    return store.claim(
        keys.delivery(delivery), ttl=DELIVERY_TTL, value={"event": event, "action": action}
    )


def job_payload(event: Event) -> JSONObject:
    return {"event": event.name, "delivery": event.delivery, "payload": slim(event.payload)}


def event_from_job(payload: dict[str, Any]) -> Event:
    name, delivery, body = payload.get("event"), payload.get("delivery"), payload.get("payload")
    if not isinstance(name, str) or not isinstance(delivery, str) or not isinstance(body, dict):
        raise ValueError("malformed delivery job payload")
    return Event(name, delivery, body)


def delivery_jobs(router: Callable[[], EventRouter]) -> JobRegistry:
    """The delivery job, routing through `router()`: the composition root's merged router,
    asked for only when a delivery runs, so this core never learns which features exist."""
    jobs = JobRegistry()

    @jobs.job(DELIVERY_JOB, retries=DELIVERY_RETRIES)
    async def handle_delivery(ctx: JobContext[Any]) -> None:
        event = event_from_job(ctx.job.payload)
        await router().dispatch(event, ctx)

    return jobs
