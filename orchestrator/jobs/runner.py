"""The runner: one job, run once, its outcome recorded, its retry planned on failure.

Apart from `jobs.base` because it is the one part of the jobs seam that needs the
retry plan (`jobs.retry`), which itself builds on `jobs.base`.
"""

from __future__ import annotations

import logging
import time
import traceback
from typing import TYPE_CHECKING, Any

from orchestrator.jobs.base import (
    JOB_RECORD_TTL,
    Job,
    JobContext,
    JobRegistry,
    Status,
    UnknownJob,
    record,
    record_write,
)
from orchestrator.jobs.retry import schedule_retry
from orchestrator.store import keys
from orchestrator.store.base import failure_scope

if TYPE_CHECKING:
    from orchestrator.runtime import Runtime

log = logging.getLogger(__name__)


class JobRunner:
    """Runs one job once, whatever delivers it and however often."""

    def __init__(self, services: Runtime, jobs: JobRegistry) -> None:
        self.services = services
        self.jobs = jobs

    async def run(self, job: Job) -> Status:
        from orchestrator.logs import log_context

        ids: dict[str, Any] = {"job_id": job.id, "job": job.name}
        interaction = job.payload.get("interaction")
        if isinstance(interaction, dict):
            ids["interaction_id"] = interaction.get("id")
        if isinstance(job.payload.get("delivery"), str):
            ids["delivery_id"] = job.payload["delivery"]
        with failure_scope(), log_context(**ids):
            return await self._run(job)

    async def _run(self, job: Job) -> Status:
        store = self.services.store
        try:
            func = self.jobs.get(job.name)
        except UnknownJob:
            func = None
        # The claim makes a second delivery of the same attempt a no-op (Lambda retries
        # async events; a redelivered webhook may dispatch again). It is written in one
        # transaction with the record of what this attempt does next, so a crash cannot
        # leave an attempt claimed but still recorded as pending, never to run.
        if func is None:
            write = record_write(job, "failed", error=f"unknown job {job.name!r}")
        else:
            write = record_write(job, "running", started_at=time.time())
        if not store.claim_and_put(keys.job_run(job.id, job.attempt), JOB_RECORD_TTL, None, write):
            log.info("job duplicate skipped", extra={"job": job.name, "job_id": job.id})
            return "duplicate"
        if func is None:
            log.error("unknown job", extra={"job": job.name, "job_id": job.id})
            return "failed"
        started = time.perf_counter()
        try:
            await func(JobContext(job=job, services=self.services))
        except Exception as exc:
            retry_at = schedule_retry(self.services.store, job, self.jobs.retries(job.name))
            log.error(
                "job failed",
                extra={
                    "job": job.name,
                    "job_id": job.id,
                    "error": type(exc).__name__,
                    "retry_at": retry_at,
                },
            )
            record(
                self.services.store,
                job,
                "failed",
                error=_describe(exc),
                duration_ms=round((time.perf_counter() - started) * 1000, 1),
                **({"retry_at": retry_at} if retry_at is not None else {}),
            )
            return "failed"
        record(
            self.services.store,
            job,
            "done",
            duration_ms=round((time.perf_counter() - started) * 1000, 1),
        )
        return "done"


def _describe(exc: BaseException) -> str:
    """Exception type, message and the innermost frame: enough to debug, bounded in size."""
    frames = traceback.extract_tb(exc.__traceback__)
    where = f" at {frames[-1].filename.rsplit('/', 1)[-1]}:{frames[-1].lineno}" if frames else ""
    return f"{type(exc).__name__}: {exc}"[:500] + where
