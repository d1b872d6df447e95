"""In-process jobs: a dedicated event loop on a background thread.

Why a thread and not `asyncio.create_task` on the request's loop: the same app
runs under uvicorn, under TestClient and under Mangum, and Mangum drives a
fresh `run_until_complete` per invocation, so a task left on that loop is
frozen the moment the response returns. A loop of our own keeps running
whatever served the request, so the HTTP answer never waits for the job and
the job never waits for the next request.
"""

from __future__ import annotations

import asyncio
import logging
import threading
from typing import TYPE_CHECKING

from orchestrator.jobs.base import Claim, Job, JobNotStarted, Status, record, record_write
from orchestrator.jobs.runner import JobRunner
from orchestrator.store import keys
from orchestrator.store.base import JSONObject

if TYPE_CHECKING:
    from orchestrator.runtime import Runtime

log = logging.getLogger(__name__)


class _Run:
    """One job handed to the loop: its task once started there (loop thread only)."""

    __slots__ = ("cancelled", "job", "task")

    def __init__(self, job: Job) -> None:
        self.job = job
        self.task: asyncio.Task[Status] | None = None
        self.cancelled = False

    def cancel(self) -> None:
        self.cancelled = True
        if self.task is not None:
            self.task.cancel()


class InProcessDispatcher:
    def __init__(self, services: Runtime, runner: JobRunner) -> None:
        self.services = services
        self.runner = runner
        self._loop: asyncio.AbstractEventLoop | None = None
        self._thread: threading.Thread | None = None
        self._lock = threading.Lock()
        self._inflight: set[_Run] = set()  # handed to the loop, not finished
        self._idle = threading.Condition(self._lock)  # notified when `_inflight` empties
        self._closed = False

    def _ensure_loop(self) -> asyncio.AbstractEventLoop:
        with self._lock:
            if self._closed:
                raise RuntimeError("job dispatcher is closed")
            if self._loop is None:
                loop = asyncio.new_event_loop()
                ready = threading.Event()

                def serve() -> None:
                    asyncio.set_event_loop(loop)
                    loop.call_soon(ready.set)
                    loop.run_forever()

                self._thread = threading.Thread(target=serve, name="orchestrator-jobs", daemon=True)
                self._thread.start()
                ready.wait()
                self._loop = loop
            return self._loop

    def dispatch(self, name: str, payload: JSONObject, *, job_id: str | None = None) -> Job:
        job = Job(name=name, payload=payload) if job_id is None else Job(name, payload, job_id)
        return self.submit(job)

    def submit(self, job: Job) -> Job:
        """Record `job` as pending and run it here (dispatch, `jobs retry`, resume)."""
        record(self.services.store, job, "pending")
        self._run_soon(job)
        return job

    def dispatch_once(
        self, claim: Claim, name: str, payload: JSONObject, *, job_id: str
    ) -> Job | None:
        """Claim and record pending in one store transaction, then run (see `Dispatcher`)."""
        job = Job(name, payload, job_id)
        pending = record_write(job, "pending")
        if not self.services.store.claim_and_put(claim.key, claim.ttl, claim.value, pending):
            return None
        try:
            self._run_soon(job)
        except Exception as exc:  # closed while shutting down
            raise JobNotStarted(f"could not start job {job.id}: {exc}") from exc
        return job

    def _run_soon(self, job: Job) -> None:
        """Hand `job` to the loop: one `call_soon_threadsafe` (a wake-up of the loop if it
        sleeps), and the task is made there. Not `run_coroutine_threadsafe`: its
        cross-thread future and the callbacks chaining it to the task cost more than the
        job's own bookkeeping, once per job."""
        loop = self._ensure_loop()
        run = _Run(job)
        with self._lock:
            self._inflight.add(run)
        try:
            loop.call_soon_threadsafe(self._start, run)
        except RuntimeError:  # the loop was closed meanwhile
            self._finished(run)
            raise

    def _start(self, run: _Run) -> None:
        """On the loop: start the job's task, unless `close` gave up on it first."""
        if run.cancelled:
            self._finished(run)
            return
        task = run.task = asyncio.ensure_future(self.runner.run(run.job))
        task.add_done_callback(lambda done: self._finished(run, done))

    def _finished(self, run: _Run, task: asyncio.Task[Status] | None = None) -> None:
        if task is not None and not task.cancelled() and task.exception() is not None:
            log.error("job runner crashed", exc_info=task.exception())
        with self._idle:  # last: `drain` returning means the job is over, its log too
            self._inflight.discard(run)
            if not self._inflight:
                self._idle.notify_all()

    def inflight(self) -> int:
        with self._lock:
            return len(self._inflight)

    def drain(self, timeout: float = 10.0) -> bool:
        """Wait for in-flight jobs; True if none is left."""
        with self._idle:
            return self._idle.wait_for(lambda: not self._inflight, timeout)

    def resume_pending(self, *, limit: int = 200) -> list[Job]:
        """Run the jobs a previous process left pending (stopped before or while running).

        Safe with several workers starting at once: the runner's claim lets each
        job attempt run once, whoever resumes it.
        """
        resumed = []
        for entry in self.services.store.query_prefix(keys.JOB_PREFIX, limit=limit * 5):
            value = entry.value
            if value.get("status") != "pending":
                continue
            job = Job(
                name=str(value.get("name")),
                payload=dict(value.get("payload") or {}),
                id=keys.parse_job(entry.key),
                attempt=int(value.get("attempt", 1)),
            )
            self._run_soon(job)
            resumed.append(job)
            if len(resumed) >= limit:
                break
        if resumed:
            log.info("resumed pending jobs", extra={"count": len(resumed)})
        return resumed

    def close(self, timeout: float = 10.0) -> None:
        """Let in-flight jobs finish within `timeout`; record the rest as pending, for the
        next start to resume (as a new attempt: they may have done part of their work)."""
        finished = self.drain(timeout)
        with self._lock:
            self._closed = True
            loop, thread = self._loop, self._thread
            leftover = list(self._inflight)
        if not finished:
            log.warning(
                "stopping with jobs still running; they will resume on the next start",
                extra={"count": len(leftover)},
            )
            for run in leftover:
                job = run.job
                if loop is not None:
                    loop.call_soon_threadsafe(run.cancel)
                record(
                    self.services.store,
                    Job(job.name, job.payload, job.id, job.attempt + 1),
                    "pending",
                    interrupted=True,
                )
        if loop is not None:
            loop.call_soon_threadsafe(loop.stop)
        if thread is not None:
            thread.join(timeout=1.0)
