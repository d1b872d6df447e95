"""Failed jobs that try again on their own, later.

A notification that Discord refused at 02:00 (a 5xx, a timeout, a revoked token
being rotated) should still arrive, without anyone typing `orchestrator jobs
retry`. Jobs registered with `retries=N` get up to N more attempts, spaced out
(1 min, 5 min, 30 min), each the job's next attempt through the normal runner
(so it runs once, however often it is delivered).

The plan is kept in the store as `retry:<due time>:<job id>` records, so a sweep
reads only what is due, in due order, without scanning every job record. The
sweep runs on every tick of the local scheduler and, on AWS, from the
`jobs.retry` EventBridge schedule. A job retried by hand in the meantime has
moved on, and the sweep then leaves it alone.
"""

from __future__ import annotations

import logging
import time
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from orchestrator.jobs.base import JOB_RECORD_TTL, Job, record
from orchestrator.store import keys

if TYPE_CHECKING:
    from orchestrator.runtime import Runtime
    from orchestrator.store.base import Record, Store

log = logging.getLogger(__name__)

SWEEP = "jobs.retry"  # the schedule (EventBridge) that sweeps due retries on AWS
DELAYS = (60.0, 300.0, 1800.0)


def retry_delay(attempt: int, retries: int) -> float | None:
    """Seconds to wait after `attempt` failed, or None once the policy is spent
    (attempt 1 is the first run; `retries` more are allowed after it)."""
    if attempt < 1 or attempt > retries:
        return None
    return DELAYS[min(attempt, len(DELAYS)) - 1]


@dataclass(frozen=True)
class Planned:
    key: str
    due: float
    job_id: str
    attempt: int
    retries: int


def parse(rec: Record) -> Planned | None:
    """A stored plan, or None for a record that is not one (never raises)."""
    planned = keys.parse_retry(rec.key)
    attempt, retries = rec.value.get("attempt"), rec.value.get("retries", 0)
    if planned is None or not isinstance(attempt, int):
        return None
    due, job_id = planned
    return Planned(rec.key, due, job_id, attempt, retries if isinstance(retries, int) else 0)


def schedule_retry(store: Store, job: Job, retries: int, now: float | None = None) -> float | None:
    """Plan the next attempt of a failed `job`; its due time, or None when none is due."""
    delay = retry_delay(job.attempt, retries)
    if delay is None:
        return None
    due = (time.time() if now is None else now) + delay
    plan = {"attempt": job.attempt + 1, "retries": retries}  # the policy travels with the plan
    store.put(keys.retry(due, job.id), plan, ttl=JOB_RECORD_TTL)
    return due


def record_failed_attempt(
    services: Runtime, job: Job, error: str, *, retries: int, now: float | None = None
) -> float | None:
    """Record a first attempt that failed outside the runner (e.g. a post made inline by
    another job) as a failed job with its retries planned: listed by `jobs list`,
    replayable by `jobs retry`, and tried again by the sweep."""
    services.store.claim(keys.job_run(job.id, job.attempt), ttl=JOB_RECORD_TTL)
    retry_at = schedule_retry(services.store, job, retries, now)
    extra: dict[str, Any] = {"error": error[:500]}
    if retry_at is not None:
        extra["retry_at"] = retry_at
    record(services.store, job, "failed", **extra)
    return retry_at


def claim_submission(store: Store, job: Job) -> bool:
    """True for the one submitter of this attempt. Two sweeps (two workers, a retried
    schedule event) or a sweep and `orchestrator jobs retry` may pick the same failed job
    at once; without this each would submit its own next attempt, and the runner's claim,
    which is per attempt, would let both run."""
    return store.claim(keys.retry_submission(job.id, job.attempt), ttl=JOB_RECORD_TTL)


def sweep(services: Runtime, now: float | None = None, limit: int = 50) -> list[str]:
    """Submit every retry that is due; the ids of the jobs submitted."""
    store = services.store
    moment = time.time() if now is None else now
    submitted: list[str] = []
    for rec in store.query_prefix(keys.RETRY_PREFIX, limit=limit):
        planned = parse(rec)
        if planned is None:
            store.delete(rec.key)
            continue
        if planned.due > moment:
            break  # key order is due order: nothing after this is due either
        job = _next_attempt(store, planned)
        if job is not None and claim_submission(store, job):
            try:
                services.jobs.submit(job)
            except Exception as exc:  # the dispatcher failing (a throttled invoke): plan again
                retry_at = schedule_retry(store, job, planned.retries, now=moment)
                log.warning(
                    "retry not submitted",
                    extra={"job_id": job.id, "error": type(exc).__name__, "retry_at": retry_at},
                )
            else:
                submitted.append(job.id)
        store.delete(planned.key)
    if submitted:
        log.info("failed jobs retried", extra={"count": len(submitted)})
    return submitted


def _next_attempt(store: Store, planned: Planned) -> Job | None:
    """The planned attempt, unless the job has moved on (retried by hand, expired)."""
    stored = store.get(keys.job(planned.job_id))
    if stored is None or stored.get("status") != "failed":
        return None
    if stored.get("attempt") != planned.attempt - 1:
        return None
    name, payload = stored.get("name"), stored.get("payload")
    if not isinstance(name, str) or not isinstance(payload, dict):
        return None
    return Job(name, payload, planned.job_id, planned.attempt)
