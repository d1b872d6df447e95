"""Jobs: work that must not hold up an HTTP answer (Discord gives us 3 s, GitHub 10 s).

A job is a registered async function plus a JSON payload. Routers call
`dispatch(name, payload)`; a backend decides where it runs (a background
loop in this process, or an async self-invoke on Lambda) and `JobRunner`
runs it exactly once per job id, recording the outcome in the store.

Not Starlette `BackgroundTasks`: under Mangum the Lambda response waits for
them, so a 2 s task delays the reply by 2 s.
"""

from __future__ import annotations

import logging
import secrets
import time
import traceback
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, Literal, Protocol

from orchestrator.store import keys
from orchestrator.store.base import JSONObject, failure_scope

if TYPE_CHECKING:
    from orchestrator.services import Services

log = logging.getLogger(__name__)

JOB_RECORD_TTL = 7 * 24 * 3600
Status = Literal["pending", "running", "done", "failed", "duplicate"]


@dataclass(frozen=True)
class Job:
    name: str
    payload: JSONObject
    id: str = field(default_factory=lambda: secrets.token_hex(8))
    attempt: int = 1

    def to_event(self) -> JSONObject:
        """The wire form (a Lambda async event, a store record)."""
        return {
            "orchestrator_job": {
                "id": self.id,
                "name": self.name,
                "payload": self.payload,
                "attempt": self.attempt,
            }
        }

    @classmethod
    def from_event(cls, event: Any) -> Job | None:
        """Recognise our own job events; anything else (HTTP, schedules of others) is None."""
        if not isinstance(event, dict):
            return None
        body = event.get("orchestrator_job")
        if not isinstance(body, dict):
            return None
        name, payload, job_id = body.get("name"), body.get("payload"), body.get("id")
        if (
            not isinstance(name, str)
            or not isinstance(payload, dict)
            or not isinstance(job_id, str)
        ):
            return None
        attempt = body.get("attempt", 1)
        return cls(
            name=name,
            payload=payload,
            id=job_id,
            attempt=attempt if isinstance(attempt, int) else 1,
        )


@dataclass(frozen=True)
class JobContext:
    job: Job
    services: Services


JobFunc = Callable[[JobContext], Awaitable[None]]


class UnknownJob(LookupError):
    pass


class JobRegistry:
    """Name -> function. Features register their jobs at import time."""

    def __init__(self) -> None:
        self._jobs: dict[str, JobFunc] = {}
        self._retries: dict[str, int] = {}

    def job(self, name: str, *, retries: int = 0) -> Callable[[JobFunc], JobFunc]:
        """Register a job. `retries`: how many more attempts a failure earns on its own
        (see `jobs.retry`); only for jobs that are safe to run again, such as posts that
        record what they already sent. Zero for anything a user is waiting on."""

        def register(func: JobFunc) -> JobFunc:
            if name in self._jobs and self._jobs[name] is not func:
                raise ValueError(f"job {name!r} is registered twice")
            self._jobs[name] = func
            self._retries[name] = retries
            return func

        return register

    def retries(self, name: str) -> int:
        return self._retries.get(name, 0)

    def get(self, name: str) -> JobFunc:
        if name not in self._jobs and self is registry:
            from orchestrator.features import load_all

            load_all()  # a fresh container may not have imported the job's module yet
        try:
            return self._jobs[name]
        except KeyError:
            raise UnknownJob(name) from None

    def names(self) -> list[str]:
        return sorted(self._jobs)


registry = JobRegistry()


_PROGRESS = {"pending": 1, "running": 2, "done": 3, "failed": 3}


def record(services: Services, job: Job, status: Status, **extra: Any) -> None:
    """Record a job's status, never moving it backwards.

    The version orders (attempt, progress): a duplicate dispatch of an attempt that
    already ran cannot reset it to "pending" (which would resume it on every start
    and hide a failure from `jobs retry --failed`), while a retry, the next attempt,
    always takes over.
    """
    services.store.put_if_newer(
        keys.job(job.id),
        {
            "name": job.name,
            "payload": job.payload,
            "attempt": job.attempt,
            "status": status,
            "updated_at": time.time(),
            **extra,
        },
        version=job.attempt * 10 + _PROGRESS.get(status, 0),
        ttl=JOB_RECORD_TTL,
    )


class JobRunner:
    """Runs one job once, whatever delivers it and however often."""

    def __init__(self, services: Services, jobs: JobRegistry = registry) -> None:
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
        # The claim makes a second delivery of the same attempt a no-op (Lambda retries
        # async events; a redelivered webhook may dispatch again).
        if not store.claim(keys.job_run(job.id, job.attempt), ttl=JOB_RECORD_TTL):
            log.info("job duplicate skipped", extra={"job": job.name, "job_id": job.id})
            return "duplicate"
        try:
            func = self.jobs.get(job.name)
        except UnknownJob:
            log.error("unknown job", extra={"job": job.name, "job_id": job.id})
            record(self.services, job, "failed", error=f"unknown job {job.name!r}")
            return "failed"
        record(self.services, job, "running", started_at=time.time())
        started = time.perf_counter()
        try:
            await func(JobContext(job=job, services=self.services))
        except Exception as exc:
            from orchestrator.jobs.retry import schedule_retry

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
                self.services,
                job,
                "failed",
                error=_describe(exc),
                duration_ms=round((time.perf_counter() - started) * 1000, 1),
                **({"retry_at": retry_at} if retry_at is not None else {}),
            )
            return "failed"
        record(
            self.services, job, "done", duration_ms=round((time.perf_counter() - started) * 1000, 1)
        )
        return "done"


def _describe(exc: BaseException) -> str:
    """Exception type, message and the innermost frame: enough to debug, bounded in size."""
    frames = traceback.extract_tb(exc.__traceback__)
    where = f" at {frames[-1].filename.rsplit('/', 1)[-1]}:{frames[-1].lineno}" if frames else ""
    return f"{type(exc).__name__}: {exc}"[:500] + where


class Dispatcher(Protocol):
    """Where jobs run. One implementation per backend."""

    def dispatch(self, name: str, payload: JSONObject, *, job_id: str | None = None) -> Job: ...

    def submit(self, job: Job) -> Job:
        """Record a fully formed job (e.g. a retry's next attempt) as pending and start it."""
        ...

    def close(self, timeout: float = 10.0) -> None:
        """Stop accepting work; let in-flight jobs finish within `timeout`."""
        ...
