"""The runner: one job, run once, its outcome recorded, its retry planned on failure.

Apart from `jobs.base` because it is the one part of the jobs seam that needs the
retry plan (`jobs.retry`), which itself builds on `jobs.base`.

A run is three steps: `start` claims the attempt and records it running, `execute` runs
it, `finish` records its outcome. `run` is the three for one job (a Lambda invocation, a
schedule's event); a dispatcher running many jobs at once (`jobs.inprocess`) makes the
first and the last one store write for all the jobs at hand, not one each.
"""

from __future__ import annotations

import logging
import time
import traceback
from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

from orchestrator.jobs.base import (
    JOB_RECORD_TTL,
    Job,
    JobContext,
    JobFunc,
    JobRegistry,
    Status,
    UnknownJob,
    record_write,
)
from orchestrator.jobs.retry import schedule_retry
from orchestrator.store import keys
from orchestrator.store.base import ClaimAndPut, Versioned, failure_scope

if TYPE_CHECKING:
    from orchestrator.runtime import Runtime

log = logging.getLogger(__name__)


class JobRunner:
    """Runs each job once, whatever delivers it and however often."""

    def __init__(self, services: Runtime, jobs: JobRegistry) -> None:
        self.services = services
        self.jobs = jobs

    async def run(self, job: Job) -> Status:
        from orchestrator.logs import log_context

        with failure_scope(), log_context(**_ids(job)):
            [started] = self.start([job])
            if isinstance(started, str):
                return started
            status, outcome = await self._execute(job, started)
            self.finish([outcome])
            return status

    def start(self, jobs: Sequence[Job]) -> list[JobFunc | Status]:
        """Claim each job's attempt and record it running, in one store write.

        The claim makes a second delivery of the same attempt a no-op (Lambda retries
        async events; a redelivered webhook may dispatch again). It is written together
        with the record of what the attempt does next, so a crash cannot leave an attempt
        claimed but still recorded as pending, never to run.

        Per job, the function to run now, or how it ends here: "duplicate" (claimed
        before), "failed" (an unknown job, so recorded), "pending" (not written: a backend
        writing one by one could not write its record, or failed at it or before it; the
        record stays pending, for the next start). Raises (StoreUnavailable, ValueError for
        a record too large) with nothing written: every record stays pending.
        """
        funcs: list[JobFunc | None] = []
        items = []
        at = time.time()
        for job in jobs:
            try:
                func: JobFunc | None = self.jobs.get(job.name)
            except UnknownJob:
                func = None
            if func is None:
                write = record_write(job, "failed", error=f"unknown job {job.name!r}")
            else:
                write = record_write(job, "running", started_at=at)
            funcs.append(func)
            claim = keys.job_run(job.id, job.attempt)
            items.append(ClaimAndPut(claim, JOB_RECORD_TTL, None, write))
        claimed = self.services.store.claim_and_put_many(items)
        started: list[JobFunc | Status] = []
        for job, func, won in zip(jobs, funcs, claimed, strict=True):
            if won is None:
                log.error("job not started: not written; it stays pending", extra=_ids(job))
                started.append("pending")
            elif not won:
                log.info("job duplicate skipped", extra=_ids(job))
                started.append("duplicate")
            elif func is None:
                log.error("unknown job", extra=_ids(job))
                started.append("failed")
            else:
                started.append(func)
        return started

    async def execute(self, job: Job, func: JobFunc) -> tuple[Status, Versioned]:
        """Run a started job (under its own log ids and store failure scope): how it
        ended, and the write that records it (for `finish`)."""
        from orchestrator.logs import log_context

        with failure_scope(), log_context(**_ids(job)):
            return await self._execute(job, func)

    async def _execute(self, job: Job, func: JobFunc) -> tuple[Status, Versioned]:
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
            more: dict[str, Any] = {} if retry_at is None else {"retry_at": retry_at}
            return "failed", record_write(
                job,
                "failed",
                error=_describe(exc),
                duration_ms=round((time.perf_counter() - started) * 1000, 1),
                **more,
            )
        return "done", record_write(
            job, "done", duration_ms=round((time.perf_counter() - started) * 1000, 1)
        )

    def finish(self, outcomes: Sequence[Versioned]) -> None:
        """Record the outcomes `execute` returned, in one store write."""
        self.services.store.put_versioned_many(outcomes)


def _ids(job: Job) -> dict[str, Any]:
    """What a job's log lines carry: its id and name, and the interaction or delivery it
    works for."""
    ids: dict[str, Any] = {"job_id": job.id, "job": job.name}
    interaction = job.payload.get("interaction")
    if isinstance(interaction, dict):
        ids["interaction_id"] = interaction.get("id")
    if isinstance(job.payload.get("delivery"), str):
        ids["delivery_id"] = job.payload["delivery"]
    return ids


def _describe(exc: BaseException) -> str:
    """Exception type, message and the innermost frame: enough to debug, bounded in size."""
    frames = traceback.extract_tb(exc.__traceback__)
    where = f" at {frames[-1].filename.rsplit('/', 1)[-1]}:{frames[-1].lineno}" if frames else ""
    return f"{type(exc).__name__}: {exc}"[:500] + where
