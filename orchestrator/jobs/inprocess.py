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
import concurrent.futures
import contextvars
import functools
import logging
import threading
from collections.abc import Callable, Iterator
from typing import TYPE_CHECKING, Any, TypeVar

from orchestrator.jobs.base import (
    Claim,
    Job,
    JobFunc,
    JobNotStarted,
    Status,
    record,
    record_write,
)
from orchestrator.jobs.runner import JobRunner
from orchestrator.store import keys
from orchestrator.store.base import JSONObject, StoreUnavailable, Versioned

if TYPE_CHECKING:
    from orchestrator.runtime import Runtime

log = logging.getLogger(__name__)
T = TypeVar("T")


# Job starts, or outcomes, per store transaction. A batch holds the store's write lock for
# about 50 us a job; a request's inline write waits at most 5 ms for it (`store.sqlite`).
_BATCH = 32
# While jobs keep coming, a batch starts no sooner than this after the one before, so the
# ones handed over meanwhile start together: one wake-up of the loop, one claim write and
# one outcome write for all of them, instead of the loop taking the GIL and the store's
# write lock from the requests once per job. A job waits at most this long for its batch;
# one after an idle spell starts at once.
_LINGER = 0.02
# How long `close` waits for the loop to say which jobs are left over (see `close`), once
# and, if the loop is by then writing outcomes, once more. It answers within a turn of the
# loop, unless a job blocks the loop's thread or the store is slow to take a write.
_ANSWER = 2.0


class _Run:
    """One job handed to the loop: the context it was handed over in (its task runs in
    it, as a task made there would), and its task once started (loop thread only)."""

    __slots__ = ("cancelled", "context", "job", "noted", "task")

    def __init__(self, job: Job) -> None:
        self.job = job
        self.context = contextvars.copy_context()
        self.task: asyncio.Task[tuple[Status, Versioned]] | None = None
        self.cancelled = False
        self.noted = False  # its task's end taken in (`_executed`), once

    def cancel(self) -> None:
        self.cancelled = True
        if self.task is not None:
            self.task.cancel()


_NOT_STARTED = "jobs not started; they stay pending, for the next start to resume"
_NOT_RECORDED = "job outcomes not recorded; those jobs stay recorded running"


def _job_ids(runs: list[_Run]) -> dict[str, Any]:
    """A log line's fields naming the jobs it is about."""
    if len(runs) == 1:
        return {"job_id": runs[0].job.id, "job": runs[0].job.name}
    return {"job_ids": [run.job.id for run in runs], "count": len(runs)}


def _write_or_each(
    runs: list[_Run], write: Callable[[list[_Run]], list[T]], unwritten: T, failed: str
) -> list[T]:
    """`write(runs)`, a result per run. When it fails for one of them (a record too large),
    each is written alone, so that one costs no other its write; a store outage gives the
    runs left `unwritten` and one log line between them, not a traceback each."""
    try:
        return write(runs)
    except StoreUnavailable:
        log.exception(failed, extra=_job_ids(runs))
        return [unwritten] * len(runs)
    except Exception:
        if len(runs) == 1:
            log.exception(failed, extra=_job_ids(runs))
            return [unwritten]
    results: list[T] = []
    for at, run in enumerate(runs):
        try:
            results += write([run])
        except StoreUnavailable:  # down after all
            log.exception(failed, extra=_job_ids(runs[at:]))
            return results + [unwritten] * (len(runs) - at)
        except Exception:
            log.exception(failed, extra=_job_ids([run]))
            results.append(unwritten)
    return results


def _batches(items: list[T]) -> Iterator[list[T]]:
    for at in range(0, len(items), _BATCH):
        yield items[at : at + _BATCH]


class InProcessDispatcher:
    """Runs jobs on a loop of its own, in batches: the jobs handed over since the loop last
    looked are claimed in one store write (`JobRunner.start`), run as tasks of their own,
    and the outcomes of those that end in one turn of the loop recorded in one more
    (`JobRunner.finish`). Two commits for a burst of deliveries, not two per delivery;
    each job still runs once, under its own claim."""

    def __init__(self, services: Runtime, runner: JobRunner) -> None:
        self.services = services
        self.runner = runner
        self._loop: asyncio.AbstractEventLoop | None = None
        self._thread: threading.Thread | None = None
        self._lock = threading.Lock()
        self._inflight: set[_Run] = set()  # handed to the loop, not finished
        self._idle = threading.Condition(self._lock)  # notified when `_inflight` empties
        self._starting: list[_Run] = []  # handed over, to be started (under `_lock`)
        self._ended: list[tuple[_Run, Versioned]] = []  # run, outcome not recorded (loop only)
        self._last_start = float("-inf")  # when `_start` last ran, in loop time (loop only)
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
        """Hand `job` to the loop. The first job handed over since the loop last looked
        wakes it (one `call_soon_threadsafe`); the others join that batch, no wake-up each.
        Not `run_coroutine_threadsafe`: its cross-thread future and the callbacks chaining
        it to a task cost more than the job's own bookkeeping, once per job."""
        loop = self._ensure_loop()
        run = _Run(job)
        with self._lock:
            # Checked again here, under the lock `close` sets it under: a job handed over
            # is either refused or among those `close` waits for (or records as pending).
            if self._closed:
                raise RuntimeError("job dispatcher is closed")
            self._inflight.add(run)
            self._starting.append(run)
            wake = len(self._starting) == 1
        if wake:
            # A context of its own: the batch is no one request's (its log ids, its store
            # failure scope); each job's task runs in the context it was handed over in.
            loop.call_soon_threadsafe(self._wake, context=contextvars.Context())

    def _wake(self) -> None:
        """On the loop: start the jobs handed over, now if the last batch started
        `_LINGER` ago or more, else when it will have: one job after an idle spell starts
        at once, while a stream of them is started a batch at a time."""
        loop = asyncio.get_running_loop()
        wait = self._last_start + _LINGER - loop.time()
        if wait > 0:
            loop.call_later(wait, self._start)
        else:
            self._start()

    def _start(self) -> None:
        """On the loop: claim the jobs handed over (but those `close` gave up on), in one
        store write per `_BATCH`, and start a task for each this process won."""
        with self._lock:
            runs, self._starting = self._starting, []
        if not runs:  # a wake-up whose jobs an earlier batch took: no batch, no linger
            return
        self._last_start = asyncio.get_running_loop().time()
        for run in runs:
            if run.cancelled:
                self._finished(run)
        for batch in _batches([run for run in runs if not run.cancelled]):
            for run, func in zip(batch, self._claim(batch), strict=True):
                if isinstance(func, str):  # not to run here: it ended at its start
                    self._finished(run)
                    continue
                task = asyncio.get_running_loop().create_task(
                    self.runner.execute(run.job, func), context=run.context
                )
                run.task = task
                # In the job's context too: a line logged there carries its request's ids.
                task.add_done_callback(functools.partial(self._executed, run), context=run.context)

    def _claim(self, runs: list[_Run]) -> list[JobFunc | Status]:
        """`JobRunner.start` for `runs`; "pending" for those it could not start (their
        records stay pending, for the next start to resume)."""
        return _write_or_each(
            runs, lambda some: self.runner.start([run.job for run in some]), "pending", _NOT_STARTED
        )

    def _executed(self, run: _Run, task: asyncio.Task[tuple[Status, Versioned]]) -> None:
        """On the loop: a job's task ended. Its outcome joins those to record at the end
        of this turn of the loop. Once per run: `_collect_leftover` may take it in first."""
        if run.noted:
            return
        run.noted = True
        if task.cancelled():
            self._finished(run)
            return
        error = task.exception()
        if error is not None:
            log.error("job runner crashed", exc_info=error, extra=_job_ids([run]))
            self._finished(run)
            return
        self._ended.append((run, task.result()[1]))
        if len(self._ended) == 1:
            asyncio.get_running_loop().call_soon(self._record, context=contextvars.Context())

    def _record(self) -> None:
        """On the loop: record the outcomes of the jobs that ended, one store write per
        `_BATCH`; each job is finished (for `drain`) once its outcome is written."""
        ended, self._ended = self._ended, []
        for batch in _batches(ended):
            self._write_outcomes(batch)
            for run, _ in batch:
                self._finished(run)

    def _write_outcomes(self, ended: list[tuple[_Run, Versioned]]) -> None:
        """`JobRunner.finish` for `ended`. One that is not written leaves its job recorded
        running, as a crash right then would."""
        outcomes = dict(ended)

        def finish(some: list[_Run]) -> list[None]:
            self.runner.finish([outcomes[run] for run in some])
            return [None] * len(some)

        _write_or_each(list(outcomes), finish, None, _NOT_RECORDED)

    def _finished(self, run: _Run) -> None:
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
        next start to resume (as a new attempt: they may have done part of their work).

        The loop decides which jobs are left (`_collect_leftover`): a job is finished once
        its outcome is written, on the loop, after its task ended. Read from this thread, a
        job whose `done` the loop was writing (or had queued) would be left over too, and
        recorded pending as a new attempt, which the next start runs again under a claim
        of its own (a second notification, a second deploy). If the loop does not answer
        within `_ANSWER` (a job blocking its thread, a store slow to take the outcomes),
        this thread decides after all, as a crash right then would: a job that ended in
        that loop's last turn may then run again."""
        self.drain(timeout)
        with self._lock:
            self._closed = True  # from now on `_run_soon` refuses: nothing joins `leftover`
            loop, thread = self._loop, self._thread
            unfinished = bool(self._inflight)  # none: none can join, nothing to decide
        leftover = self._leftover(loop) if unfinished and loop is not None else []
        if leftover:
            log.warning(
                "stopping with jobs still running; they will resume on the next start",
                extra={"count": len(leftover)},
            )
            for run in leftover:
                job = run.job
                record(
                    self.services.store,
                    Job(job.name, job.payload, job.id, job.attempt + 1),
                    "pending",
                    interrupted=True,
                )
        if loop is not None:
            # A turn late: a task cancelled above takes its cancellation in the next turn,
            # unwinding its job in its own context. Stopped first, it would be left pending
            # and closed by the garbage collector instead, outside that context.
            loop.call_soon_threadsafe(loop.call_soon, loop.stop)
        if thread is not None:
            thread.join(timeout=1.0)

    def _leftover(self, loop: asyncio.AbstractEventLoop) -> list[_Run]:
        """For `close`: the runs not finished, cancelled, as the loop collects them; as this
        thread sees them if the loop does not answer in time."""
        if loop.is_running():  # else stopped by an earlier `close`: nothing is written now
            answer: concurrent.futures.Future[list[_Run]] = concurrent.futures.Future()
            loop.call_soon_threadsafe(self._collect_leftover, answer, context=contextvars.Context())
            try:
                try:
                    return answer.result(_ANSWER)
                except TimeoutError:
                    # Not taken up: withdrawn, so the loop never acts on it. Taken up: the
                    # loop is writing the outcomes of jobs that ended, and answers once it has.
                    if answer.cancel():
                        raise
                    return answer.result(_ANSWER)
            except TimeoutError:
                log.warning(
                    "job loop did not say which jobs are left; deciding without it",
                    extra={"timeout": _ANSWER},
                )
            except Exception:
                log.exception("job loop failed to say which jobs are left; deciding without it")
        with self._lock:
            leftover = list(self._inflight)
        for run in leftover:
            loop.call_soon_threadsafe(run.cancel)
        return leftover

    def _collect_leftover(self, answer: concurrent.futures.Future[list[_Run]]) -> None:
        """On the loop, for `close` (nothing joins any more): take in the ends of tasks
        that ended (a task that ended this turn has its `_executed` queued behind this;
        taken in here, that one does nothing), write the outcomes of those jobs, then
        cancel the runs still unfinished (running, or handed over and not started) and
        answer with them. All in this one turn: jobs ending turn after turn cannot keep
        the answer waiting."""
        if not answer.set_running_or_notify_cancel():
            return  # `close` stopped waiting, and decided without the loop
        try:
            with self._lock:
                ended = [
                    run
                    for run in self._inflight
                    if run.task is not None and run.task.done() and not run.noted
                ]
            for run in ended:
                if run.task is not None:
                    self._executed(run, run.task)
            self._record()  # what their own turn would have done: these jobs are finished
            with self._lock:
                leftover = list(self._inflight)
            for run in leftover:
                run.cancel()
        except BaseException as exc:
            answer.set_exception(exc)
            raise
        answer.set_result(leftover)
