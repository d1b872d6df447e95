"""Out-of-order webhooks: is this event the newest word on its workflow run, job or Deployment?

GitHub sends events out of order, so a late `in_progress` can arrive after
`completed`. Each run/job/Deployment keeps the version of the newest event seen
(attempt, then `updated_at`, then how far along the status is); an older
event is stale and must not overwrite or re-announce anything. Several
handlers of the same delivery all see it as current.
"""

from __future__ import annotations

from orchestrator.github.events import Event, WorkflowJob, WorkflowRun, number, text, timestamp
from orchestrator.store import keys
from orchestrator.store.base import Store

STATE_TTL = 30 * 24 * 3600
_RANK = {"requested": 0, "waiting": 0, "pending": 0, "queued": 1, "in_progress": 2, "completed": 3}
# A Deployment status's state as a run's status: any final state ends it (a later final one,
# `inactive` once superseded, still follows by its time).
_DEPLOYMENT_STATUS = {"pending": "queued", "queued": "queued", "in_progress": "in_progress"}


MAX_ATTEMPT = 10**6  # far past any real re-run count; keeps the arithmetic exact


def version(attempt: int, updated_at: float | None, status: str | None) -> float:
    """Orders events of one run: a re-run attempt beats everything of the previous one, and
    within an attempt the status does: a `completed` run is never reopened by a late
    `in_progress`, however its `updated_at` reads. The time only orders equal statuses."""
    bounded = max(0, min(attempt, MAX_ATTEMPT))
    return bounded * 1e11 + _RANK.get(status or "", 0) * 1e10 + min(updated_at or 0.0, 9e9)


def state_key(event: Event) -> tuple[str, float] | None:
    repo = event.repo or "?"
    if event.name == "workflow_run":
        run = WorkflowRun(event.payload.get("workflow_run"))
        if run.id is None:
            return None
        return keys.run_state(repo, run.id), version(run.attempt, run.updated_at, run.status)
    if event.name == "workflow_job":
        job = WorkflowJob(event.payload.get("workflow_job"))
        if job.id is None:
            return None
        updated = (
            job.completed_at
            or job.started_at
            or timestamp(event.payload, "workflow_job", "created_at")
        )
        return keys.job_state(repo, job.id), version(job.attempt, updated, job.status)
    if event.name == "deployment_status":
        deployment_id = number(event.payload, "deployment", "id")
        state = text(event.payload, "deployment_status", "state")
        if deployment_id is None or state is None:
            return None
        created = timestamp(event.payload, "deployment_status", "created_at")
        status = _DEPLOYMENT_STATUS.get(state, "completed")
        return keys.deployment_state(repo, deployment_id), version(1, created, status)
    return None


def is_current(store: Store, event: Event) -> bool:
    """Record the event's version if it is the newest; True unless the event is stale."""
    found = state_key(event)
    if found is None:
        return True
    key, event_version = found
    if store.put_if_newer(
        key, {"delivery": event.delivery, "version": event_version}, event_version, ttl=STATE_TTL
    ):
        return True
    current = store.get(key)
    return current is not None and current.get("delivery") == event.delivery
