"""Webhook intake: a delivery is claimed once, then handled as a job.

GitHub may deliver the same `X-GitHub-Delivery` more than once (redeliveries,
its own retries of timeouts), so the endpoint claims the delivery id in the
store before dispatching: the second copy is acknowledged as a duplicate and
causes nothing. The claim outlives GitHub's redelivery window.

The claim and the queued job's pending record are one atomic store write
(`Dispatcher.dispatch_once` over `Store.claim_and_put`), durable before the endpoint
answers 2xx: one transaction per delivery (awaited inline with SQLite, on a writer
thread with DynamoDB). A crash after the 2xx finds the job pending (resumed on the next
start); a failed write leaves no claim, so GitHub's redelivery is not mistaken for a
duplicate.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from orchestrator.github.events import Event, slim
from orchestrator.github.routing import EventRouter
from orchestrator.jobs.base import Claim, Dispatcher, Job, JobContext, JobRegistry
from orchestrator.store import keys
from orchestrator.store.base import JSONObject

DELIVERY_TTL = 7 * 24 * 3600
DELIVERY_JOB = "github.delivery"
# Its handlers are safe to run again (posts record what they sent, run tracking keeps the
# newest state), so a delivery whose Discord post failed tries again on its own.
DELIVERY_RETRIES = 3


def queue_delivery(jobs: Dispatcher, event: Event, body_bytes: int | None = None) -> Job | None:
    """Claim the delivery and queue its job, atomically; None for a copy already claimed.
    `body_bytes`: the size of the body the payload was parsed from (see `slim`).

    Raises StoreUnavailable (nothing written) when the store is down, JobNotStarted
    (claim and record written, the job not started: the caller releases the claim).
    """
    return jobs.dispatch_once(
        delivery_claim(event.delivery, event.name, event.action),
        DELIVERY_JOB,
        job_payload(event, body_bytes),
        job_id=f"gh-{event.delivery}",
    )


def delivery_claim(delivery: str, event: str, action: str | None) -> Claim:
    """The once-only claim of a delivery id (what the redelivery sweep looks for)."""
    return Claim(keys.delivery(delivery), DELIVERY_TTL, {"event": event, "action": action})


def job_payload(event: Event, body_bytes: int | None = None) -> JSONObject:
    payload = slim(event.payload, source_bytes=body_bytes)
    return {"event": event.name, "delivery": event.delivery, "payload": payload}


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
