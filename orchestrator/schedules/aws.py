"""EventBridge Scheduler events -> the slot's job, run once through `JobRunner`.

The template's schedules invoke the function with
`{"orchestrator_schedule": "<schedule name>", "at": "<aws.scheduler.scheduled-time>"}`
(Scheduler fills in the time). The slot comes from `at`, not from the clock, so a
delivery retried a minute later is still the same slot, has the same job id, and
meets the runner's claim: a duplicate delivery runs once.
"""

from __future__ import annotations

import asyncio
import logging
import time
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any

from orchestrator.jobs.base import Job, Status
from orchestrator.jobs.retry import SWEEP
from orchestrator.schedules.timing import (
    Schedule,
    by_name,
    latest_slot,
    slot_job_id,
    slot_payload,
)

if TYPE_CHECKING:
    from orchestrator.config import Settings
    from orchestrator.jobs.runner import JobRunner
    from orchestrator.services import Services

log = logging.getLogger(__name__)

EVENT_KEY = "orchestrator_schedule"


def is_schedule_event(event: Any) -> bool:
    return isinstance(event, dict) and isinstance(event.get(EVENT_KEY), str)


def parse_at(value: Any) -> datetime | None:
    """Scheduler's `2026-11-29T09:00:00Z` (ISO 8601); None when missing or malformed."""
    if not isinstance(value, str) or not value:
        return None
    try:
        moment = datetime.fromisoformat(value.replace("Z", "+00:00"))
    except ValueError:
        return None
    return moment.replace(tzinfo=UTC) if moment.tzinfo is None else moment.astimezone(UTC)


def event_slot(schedule: Schedule, at: datetime) -> datetime:
    """Daily and weekly slots round down to their slot. An interval slot is the scheduled
    time itself (to the second): EventBridge's `rate()` is not epoch-aligned, and its
    period need not equal `ORCHESTRATOR_PROBE_INTERVAL`."""
    if schedule.kind == "interval":
        return at.replace(microsecond=0)
    return latest_slot(schedule, at)


def job_for_event(event: dict[str, Any], settings: Settings, now: float | None = None) -> Job:
    """The slot's job; ValueError for an unknown schedule name."""
    name = event.get(EVENT_KEY)
    try:
        schedule = by_name(settings, str(name))
    except KeyError:
        raise ValueError(f"unknown schedule {name!r}") from None
    at = parse_at(event.get("at"))
    if at is None:
        log.warning("schedule event without a usable time; using now", extra={"schedule": name})
        at = datetime.fromtimestamp(time.time() if now is None else now, UTC)
    slot = event_slot(schedule, at)
    return Job(schedule.job, slot_payload(schedule, slot), slot_job_id(schedule, slot))


def run_schedule_event(
    event: dict[str, Any], services: Services, *, runner: JobRunner | None = None
) -> dict[str, str]:
    """Run the job a schedule event stands for; the Lambda handler's schedule branch.

    Synchronous, with a private event loop closed before returning (never `asyncio.run`,
    which leaves no current loop behind for Mangum's next invocation in this container).
    A failed job is recorded as failed and returned normally, like `run_job_event`.
    The `jobs.retry` schedule sweeps the failed jobs whose retry is due instead.
    """
    if event.get(EVENT_KEY) == SWEEP:
        # Not a job of its own: a sweep every few minutes would bury the job list.
        from orchestrator.jobs.retry import sweep

        return {"schedule": SWEEP, "retried": str(len(sweep(services)))}
    job = job_for_event(event, services.settings)
    with asyncio.Runner(loop_factory=asyncio.new_event_loop) as run:
        status: Status = run.run((runner or services.runner()).run(job))
    return {"job": job.id, "status": status}
