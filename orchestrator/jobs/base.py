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
import threading
import time
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, Generic, Literal, NamedTuple, Protocol, TypeVar

from orchestrator.store import keys
from orchestrator.store.base import JSONObject, Versioned

if TYPE_CHECKING:
    from orchestrator.store.base import Store

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


R = TypeVar("R", covariant=True)


@dataclass(frozen=True)
class JobContext(Generic[R]):
    """What a job function gets: its job, and the runtime the runner was given.

    Generic so a job says what it needs of the runtime (`JobContext[Clients]`,
    `JobContext[Runtime]`) while this module depends on neither.
    """

    job: Job
    services: R


JobFunc = Callable[[JobContext[Any]], Awaitable[None]]


class UnknownJob(LookupError):
    pass


class JobRegistry:
    """Name -> function, and each job's retry policy.

    Each feature owns a registry of its own (`jobs = JobRegistry()`); the composition
    root merges them, `JobRegistry(*registries)`, the way gidgethub composes routers;
    parts passed as `later=[build, ...]` are built on the first name the others lack.
    Nothing here knows which features exist, so a job is known exactly when the
    root's registry holds it, in every process alike. Deferred parts are built in order,
    up to the first that holds the name asked for: list the cheaper or busier part first.
    """

    def __init__(
        self, *registries: JobRegistry, later: Sequence[Callable[[], JobRegistry]] = ()
    ) -> None:
        self._jobs: dict[str, JobFunc] = {}
        self._retries: dict[str, int] = {}
        for other in registries:
            self._merge(other)
        # Parts built only when a name the others do not hold is asked for, in order and no
        # further than the part that holds it: a container running one kind of job need not
        # import the features behind the rest.
        self._later = list(later)
        self._loading = threading.Lock()

    def _merge(self, other: JobRegistry) -> None:
        for name in other.names():
            self.job(name, retries=other.retries(name))(other.get(name))

    def _load_later(self, name: str | None = None) -> None:
        """Build the deferred parts in order until one holds `name` (all of them for None).

        A part leaves the list only once it is built and merged: a build that raises (a
        failed import) is tried again on the next miss, rather than taking every job of
        every deferred part with it for the life of the process."""
        with self._loading:  # jobs run on threads: a second miss waits for the first load
            while self._later and (name is None or name not in self._jobs):
                self._merge(self._later[0]())
                self._later.pop(0)

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
        if name not in self._jobs:
            self._load_later(name)
        return self._retries.get(name, 0)

    def get(self, name: str) -> JobFunc:
        if name not in self._jobs:
            self._load_later(name)
        try:
            return self._jobs[name]
        except KeyError:
            raise UnknownJob(name) from None

    def names(self) -> list[str]:
        self._load_later()
        return sorted(self._jobs)


_PROGRESS = {"pending": 1, "running": 2, "done": 3, "failed": 3}
# A failure to start an attempt (its invoke refused): above its pending record, below any
# start of it. The same attempt started after all (a redelivered webhook dispatches the same
# job id again, or an invoke that timed out was queued) then records `running` and its
# outcome over it, where a plain `failed` would stay on the record for good.
_NOT_STARTED = 1.5


def record_write(job: Job, status: Status, *, not_started: bool = False, **extra: Any) -> Versioned:
    """The store write that records a job's status, never moving it backwards.

    The version orders (attempt, progress): a duplicate dispatch of an attempt that
    already ran cannot reset it to "pending" (which would resume it on every start
    and hide a failure from `jobs retry --failed`), while a retry, the next attempt,
    always takes over. `not_started`: a `failed` that any start of this attempt supersedes
    (see `_NOT_STARTED`).

    Every record of one attempt holds the same payload, so a status after the first
    (`running`, `done`, `failed`) lets the store carry the stored payload over rather than
    encode and rewrite it (`Versioned.kept`): the record written is the same.
    """
    return Versioned(
        keys.job(job.id),
        {
            "name": job.name,
            "payload": job.payload,
            "attempt": job.attempt,
            "status": status,
            "updated_at": time.time(),
            **extra,
        },
        version=job.attempt * 10 + (_NOT_STARTED if not_started else _PROGRESS.get(status, 0)),
        ttl=JOB_RECORD_TTL,
        kept=None if status == "pending" else "payload",
        kept_since=None if status == "pending" else job.attempt * 10,
    )


def record(store: Store, job: Job, status: Status, **extra: Any) -> None:
    """Record a job's status (see `record_write`)."""
    store.put_versioned(record_write(job, status, **extra))


class JobNotStarted(RuntimeError):
    """`dispatch_once` wrote the claim and the pending record but could not start the job.

    The caller releases the claim, so whoever offered the work (GitHub) can offer it again;
    the job's record (pending, or failed as not started) stays and is harmless: the job id
    is the same next time, and that attempt's start records over it.
    """


class Claim(NamedTuple):
    """A once-only claim a job is dispatched under (`Dispatcher.dispatch_once`). A
    `NamedTuple`: the Lambda dispatcher imports this module before a deferred command's
    answer, and a frozen dataclass's class costs ten times as much to build."""

    key: str
    ttl: float
    value: JSONObject | None = None


class Dispatcher(Protocol):
    """Where jobs run. One implementation per backend."""

    def dispatch(self, name: str, payload: JSONObject, *, job_id: str | None = None) -> Job: ...

    def submit(self, job: Job) -> Job:
        """Record a fully formed job (e.g. a retry's next attempt) as pending and start it."""
        ...

    def dispatch_once(
        self, claim: Claim, name: str, payload: JSONObject, *, job_id: str
    ) -> Job | None:
        """`dispatch` under `claim`: the claim and the job's pending record are one atomic
        store write (`Store.claim_and_put`), made durable before the job starts. None when
        the claim was already taken: nothing is queued. StoreUnavailable: nothing written.
        JobNotStarted: written, but the job could not be started."""
        ...

    def close(self, timeout: float = 10.0) -> None:
        """Stop accepting work; let in-flight jobs finish within `timeout`."""
        ...
