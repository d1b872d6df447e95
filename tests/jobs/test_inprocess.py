from __future__ import annotations

import asyncio
import contextlib
import contextvars
import logging
import threading
import time
from collections.abc import Iterator, Sequence
from typing import Any

import pytest

from orchestrator import logs
from orchestrator.jobs import inprocess
from orchestrator.jobs.base import Claim, Job, JobContext, JobNotStarted, JobRegistry
from orchestrator.jobs.inprocess import InProcessDispatcher
from orchestrator.jobs.runner import JobRunner
from orchestrator.logs import log_context
from orchestrator.services import Services
from orchestrator.store import keys
from orchestrator.store.base import (
    MAX_VALUE_BYTES,
    ClaimAndPut,
    Store,
    StoreUnavailable,
    Versioned,
    failure_scope,
    mark_failed,
)


@pytest.fixture
def jobs() -> JobRegistry:
    return JobRegistry()


def make_dispatcher(services: Services, jobs: JobRegistry) -> InProcessDispatcher:
    return InProcessDispatcher(services, JobRunner(services, jobs))


def test_dispatch_returns_before_the_job_finishes(services: Services, jobs: JobRegistry) -> None:
    finished = threading.Event()

    @jobs.job("slow")
    async def slow(ctx: JobContext) -> None:
        await asyncio.sleep(0.5)
        finished.set()

    dispatcher = make_dispatcher(services, jobs)
    started = time.perf_counter()
    job = dispatcher.dispatch("slow", {})
    assert time.perf_counter() - started < 0.4
    assert not finished.is_set()
    assert services.store.get(f"job:{job.id}")["status"] in {"pending", "running"}
    assert dispatcher.drain(timeout=5)
    assert finished.is_set()
    assert services.store.get(f"job:{job.id}")["status"] == "done"
    dispatcher.close()


def test_failures_are_recorded_not_raised(services: Services, jobs: JobRegistry) -> None:
    @jobs.job("boom")
    async def boom(ctx: JobContext) -> None:
        raise RuntimeError("kaput")

    dispatcher = make_dispatcher(services, jobs)
    job = dispatcher.dispatch("boom", {"x": 1})
    assert dispatcher.drain(timeout=5)
    recorded = services.store.get(f"job:{job.id}")
    assert recorded["status"] == "failed"
    assert "RuntimeError: kaput" in recorded["error"]
    assert recorded["payload"] == {"x": 1}
    dispatcher.close()


def test_unknown_job_is_recorded_as_failed(services: Services, jobs: JobRegistry) -> None:
    dispatcher = make_dispatcher(services, jobs)
    job = dispatcher.dispatch("nope", {})
    assert dispatcher.drain(timeout=5)
    assert services.store.get(f"job:{job.id}")["status"] == "failed"
    dispatcher.close()


def test_the_same_job_runs_once(services: Services, jobs: JobRegistry) -> None:
    runs = _recording(jobs, "count")

    runner = JobRunner(services, jobs)
    job = Job("count", {}, id="fixed", attempt=1)
    assert asyncio.run(runner.run(job)) == "done"
    assert asyncio.run(runner.run(job)) == "duplicate"
    assert asyncio.run(runner.run(Job("count", {}, id="fixed", attempt=2))) == "done"
    assert runs == ["fixed", "fixed"]


def test_close_waits_for_inflight_jobs(services: Services, jobs: JobRegistry) -> None:
    done = threading.Event()

    @jobs.job("slow")
    async def slow(ctx: JobContext) -> None:
        await asyncio.sleep(0.3)
        done.set()

    dispatcher = make_dispatcher(services, jobs)
    dispatcher.dispatch("slow", {})
    dispatcher.close(timeout=5)
    assert done.is_set()
    with pytest.raises(RuntimeError, match="closed"):
        dispatcher.dispatch("slow", {})


def test_job_events_round_trip() -> None:
    job = Job("x", {"a": [1]}, id="abc", attempt=2)
    assert Job.from_event(job.to_event()) == job
    assert Job.from_event({"version": "2.0", "rawPath": "/"}) is None
    assert Job.from_event({"orchestrator_job": {"name": 1}}) is None
    assert Job.from_event("nope") is None


def test_a_fresh_process_knows_every_job_the_product_dispatches() -> None:
    """A job event in a fresh container names a job nothing has run yet: the composition
    root's registry must hold every name anything dispatches (deferred replies, webhook
    deliveries, every schedule's job, probe alerts), or it fails as an unknown job."""
    import subprocess
    import sys

    code = "from orchestrator import product; print(' '.join(product.jobs().names()))"
    run = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, timeout=60, check=True
    )
    from orchestrator.config import load_settings
    from orchestrator.discord.dispatch import DEFERRED_JOB
    from orchestrator.github.intake import DELIVERY_JOB
    from orchestrator.probes.run import ANNOUNCE_JOB
    from orchestrator.schedules.timing import schedules

    dispatched = {DEFERRED_JOB, DELIVERY_JOB, ANNOUNCE_JOB}
    dispatched |= {s.job for s in schedules(load_settings())}
    assert dispatched <= set(run.stdout.split())


def test_dispatch_once_queues_the_first_copy_only(services: Services, jobs: JobRegistry) -> None:
    runs: list[str] = []

    @jobs.job("once")
    async def once(ctx: JobContext) -> None:
        runs.append(ctx.job.id)

    dispatcher = make_dispatcher(services, jobs)
    claim = Claim("delivery:d-1", 60, {"event": "push"})
    job = dispatcher.dispatch_once(claim, "once", {"n": 1}, job_id="gh-d-1")
    assert job is not None and job.id == "gh-d-1"
    assert dispatcher.dispatch_once(claim, "once", {"n": 2}, job_id="gh-d-1") is None
    assert dispatcher.drain(timeout=5)
    assert runs == ["gh-d-1"]
    assert services.store.get("delivery:d-1") == {"event": "push"}
    assert services.store.get("job:gh-d-1")["payload"] == {"n": 1}
    dispatcher.close()


def test_dispatch_once_after_close_is_written_but_not_started(
    services: Services, jobs: JobRegistry
) -> None:
    """The caller is told (JobNotStarted) so it can release the claim; the pending record
    stays, for the next start to resume."""
    dispatcher = make_dispatcher(services, jobs)
    dispatcher.close()
    with pytest.raises(JobNotStarted):
        dispatcher.dispatch_once(Claim("delivery:d-2", 60), "once", {}, job_id="gh-d-2")
    assert services.store.get("job:gh-d-2")["status"] == "pending"


def test_an_attempt_is_claimed_and_recorded_running_together(
    services: Services, jobs: JobRegistry
) -> None:
    """While the job runs, its attempt is claimed and its record says running: one write."""
    seen: list[object] = []

    @jobs.job("look")
    async def look(ctx: JobContext) -> None:
        seen.append(services.store.get("job:look-1"))
        seen.append(services.store.claim(keys.job_run("look-1", 1), ttl=60))

    runner = JobRunner(services, jobs)
    assert asyncio.run(runner.run(Job("look", {}, id="look-1"))) == "done"
    [record, claimable] = seen
    assert isinstance(record, dict) and record["status"] == "running"
    assert claimable is False


def test_a_job_handed_over_while_the_dispatcher_closes_is_refused_not_stranded(
    services: Services, jobs: JobRegistry, monkeypatch: pytest.MonkeyPatch
) -> None:
    """`close` lands between the loop check and the hand-over: the job is refused (the
    webhook then releases its claim), not left on a stopped loop with `drain` waiting."""
    dispatcher = make_dispatcher(services, jobs)
    ensure = dispatcher._ensure_loop

    def ensure_then_close() -> asyncio.AbstractEventLoop:
        loop = ensure()
        dispatcher.close()
        return loop

    monkeypatch.setattr(dispatcher, "_ensure_loop", ensure_then_close)
    with pytest.raises(JobNotStarted):
        dispatcher.dispatch_once(Claim("delivery:d-3", 60), "any", {}, job_id="gh-d-3")
    assert dispatcher.inflight() == 0
    assert services.store.get("job:gh-d-3")["status"] == "pending"  # for the next start


def test_a_runner_that_crashes_is_logged_and_leaves_nothing_in_flight(
    services: Services, jobs: JobRegistry, caplog: pytest.LogCaptureFixture
) -> None:
    class Crashing(JobRunner):
        async def execute(self, job: Job, func: object) -> tuple[str, object]:  # type: ignore[override]
            raise RuntimeError("store gone")

    @jobs.job("any")
    async def any_job(ctx: JobContext) -> None:
        pass

    dispatcher = InProcessDispatcher(services, Crashing(services, jobs))
    for _ in range(3):
        dispatcher.dispatch("any", {})
    assert dispatcher.drain(timeout=5)
    assert dispatcher.inflight() == 0
    crashed = [r for r in caplog.records if r.message == "job runner crashed"]
    assert len(crashed) == 3
    assert all(r.__dict__.get("job") == "any" and r.__dict__.get("job_id") for r in crashed)
    dispatcher.close()


class _Counting:
    """The store, counting its batch writes (how many items each) and failing on demand."""

    def __init__(self, store: Store) -> None:
        self._store = store
        self.claims: list[int] = []
        self.outcomes: list[int] = []
        self.claims_fail: Exception | None = None
        self.outcomes_fail: Exception | None = None

    def claim_and_put_many(self, items: Sequence[ClaimAndPut]) -> list[bool | None]:
        if self.claims_fail is not None:
            raise self.claims_fail
        self.claims.append(len(items))
        return self._store.claim_and_put_many(items)

    def put_versioned_many(self, writes: Sequence[Versioned]) -> None:
        if self.outcomes_fail is not None:
            raise self.outcomes_fail
        self.outcomes.append(len(writes))
        self._store.put_versioned_many(writes)

    def __getattr__(self, name: str) -> Any:
        return getattr(self._store, name)


@pytest.fixture
def counting(services: Services, monkeypatch: pytest.MonkeyPatch) -> _Counting:
    counting = _Counting(services.store)
    monkeypatch.setattr(services, "_store", counting)
    return counting


@contextlib.contextmanager
def _held(dispatcher: InProcessDispatcher) -> Iterator[None]:
    """Keep the dispatcher's loop busy for the block: what is handed over meanwhile is
    there together when it next looks."""
    release = threading.Event()
    entered = threading.Event()

    def hold() -> None:
        entered.set()
        release.wait(5)

    dispatcher._ensure_loop().call_soon_threadsafe(hold)
    assert entered.wait(5)
    try:
        yield
    finally:
        release.set()


def _recording(jobs: JobRegistry, name: str = "tick") -> list[str]:
    """Register job `name`, which notes the id of each of its runs in the list returned."""
    ran: list[str] = []

    @jobs.job(name)
    async def note(ctx: JobContext) -> None:
        ran.append(ctx.job.id)

    return ran


def test_jobs_handed_over_together_are_claimed_and_recorded_in_one_write_per_batch(
    services: Services, jobs: JobRegistry, counting: _Counting
) -> None:
    ran: list[int] = []

    @jobs.job("tick")
    async def tick(ctx: JobContext) -> None:
        ran.append(ctx.job.payload["n"])

    dispatcher = make_dispatcher(services, jobs)
    with _held(dispatcher):
        handed = [dispatcher.dispatch("tick", {"n": n}) for n in range(40)]
    assert dispatcher.drain(timeout=5)
    assert sorted(ran) == list(range(40))
    assert counting.claims == [32, 8]  # `_BATCH` a transaction
    assert counting.outcomes == [32, 8]  # they all ended in the same turn of the loop
    assert {services.store.get(keys.job(job.id))["status"] for job in handed} == {"done"}
    dispatcher.close()


def test_the_same_attempt_twice_in_one_batch_runs_once(
    services: Services, jobs: JobRegistry, counting: _Counting
) -> None:
    runs = _recording(jobs, "count")

    dispatcher = make_dispatcher(services, jobs)
    with _held(dispatcher):
        job = Job("count", {}, id="twice")
        dispatcher.submit(job)
        dispatcher.submit(job)  # e.g. resumed by a worker starting while this one runs it
    assert dispatcher.drain(timeout=5)
    assert runs == ["twice"]
    assert counting.claims == [2]
    dispatcher.close()


def test_jobs_the_store_cannot_start_stay_pending_and_leave_nothing_in_flight(
    services: Services, jobs: JobRegistry, counting: _Counting, caplog: pytest.LogCaptureFixture
) -> None:
    @jobs.job("tick")
    async def tick(ctx: JobContext) -> None:
        raise AssertionError("never started")

    counting.claims_fail = StoreUnavailable("sqlite: disk I/O error")
    dispatcher = make_dispatcher(services, jobs)
    with _held(dispatcher):
        handed = [dispatcher.dispatch("tick", {}) for _ in range(3)]
    assert dispatcher.drain(timeout=5)
    assert dispatcher.inflight() == 0
    assert {services.store.get(keys.job(job.id))["status"] for job in handed} == {"pending"}
    [line] = [r for r in caplog.records if r.message == inprocess._NOT_STARTED]
    assert sorted(line.__dict__["job_ids"]) == sorted(job.id for job in handed)
    dispatcher.close()


def test_a_job_whose_record_cannot_be_written_does_not_hold_up_its_batch(
    services: Services, jobs: JobRegistry
) -> None:
    """Its running record is too large for the store: it alone stays pending."""
    ran = _recording(jobs)

    dispatcher = make_dispatcher(services, jobs)
    with _held(dispatcher):
        dispatcher.submit(Job("tick", {}, id="a"))
        # Just under the cap as pending; its running record (started_at) tips it over.
        big = Job("tick", {"blob": "x" * (MAX_VALUE_BYTES - 100)}, id="big")
        dispatcher.submit(big)
        dispatcher.submit(Job("tick", {}, id="c"))
    assert dispatcher.drain(timeout=5)
    assert sorted(ran) == ["a", "c"]
    assert services.store.get(keys.job("big"))["status"] == "pending"
    dispatcher.close()


def test_an_outcome_too_large_to_record_costs_no_other_job_its_record(
    services: Services, jobs: JobRegistry
) -> None:
    """A failure's record adds its error to a payload that only just fitted: that one
    record cannot be written, and the others of its batch are written all the same."""

    @jobs.job("tick")
    async def tick(ctx: JobContext) -> None:
        if ctx.job.id == "big":
            raise RuntimeError("x" * 400)

    dispatcher = make_dispatcher(services, jobs)
    with _held(dispatcher):
        for n in range(3):
            dispatcher.submit(Job("tick", {}, id=f"ok{n}"))
        dispatcher.submit(Job("tick", {"blob": "x" * (MAX_VALUE_BYTES - 300)}, id="big"))
    assert dispatcher.drain(timeout=5)
    assert dispatcher.inflight() == 0
    statuses = {n: services.store.get(keys.job(n))["status"] for n in ("ok0", "ok1", "ok2")}
    assert statuses == {"ok0": "done", "ok1": "done", "ok2": "done"}
    assert services.store.get(keys.job("big"))["status"] == "running"  # as after a crash
    dispatcher.close()


def test_a_batch_is_no_one_requests_and_survives_a_request_whose_store_failed(
    services: Services, jobs: JobRegistry
) -> None:
    """The request that handed a job over may hit a store failure later (its failure scope
    then fails every store call of that request at once): the batch its job is in, others'
    jobs too, is started outside that scope."""
    ran = _recording(jobs)

    dispatcher = make_dispatcher(services, jobs)
    with _held(dispatcher):
        with failure_scope():
            dispatcher.dispatch("tick", {}, job_id="mine")
            mark_failed()  # a later write of the same request failed
        dispatcher.dispatch("tick", {}, job_id="theirs")
    assert dispatcher.drain(timeout=5)
    assert sorted(ran) == ["mine", "theirs"]
    dispatcher.close()


def test_an_outcome_batch_falling_back_to_one_by_one_logs_an_outage_once(
    services: Services,
    jobs: JobRegistry,
    monkeypatch: pytest.MonkeyPatch,
    caplog: pytest.LogCaptureFixture,
) -> None:
    """One record too large sends the batch one by one; if the store then goes down, the
    jobs left get one line between them, not a traceback each."""
    _recording(jobs)
    dispatcher = make_dispatcher(services, jobs)
    writes: list[int] = []

    def finish(outcomes: Sequence[Versioned]) -> None:
        writes.append(len(outcomes))
        if len(outcomes) > 1:
            raise ValueError("store value too large")
        if len(writes) == 3:  # the second one alone
            raise ValueError("store value too large")
        if len(writes) > 3:
            raise StoreUnavailable("sqlite: disk I/O error")

    monkeypatch.setattr(dispatcher.runner, "finish", finish)
    with _held(dispatcher):
        for n in range(5):
            dispatcher.dispatch("tick", {}, job_id=f"j{n}")
    assert dispatcher.drain(timeout=5)
    assert writes == [5, 1, 1, 1]
    lines = [r.__dict__ for r in caplog.records if r.message == inprocess._NOT_RECORDED]
    assert [line.get("job_id") or line.get("job_ids") for line in lines] == [
        "j1",
        ["j2", "j3", "j4"],
    ]
    dispatcher.close()


def test_a_start_batch_falling_back_to_one_by_one_logs_an_outage_once(
    services: Services,
    jobs: JobRegistry,
    monkeypatch: pytest.MonkeyPatch,
    caplog: pytest.LogCaptureFixture,
) -> None:
    ran = _recording(jobs)
    dispatcher = make_dispatcher(services, jobs)
    start = dispatcher.runner.start
    writes: list[int] = []

    def flaky_start(batch: Sequence[Job]) -> list[Any]:
        writes.append(len(batch))
        if len(batch) > 1 or len(writes) == 3:
            raise ValueError("store value too large")
        if len(writes) > 3:
            raise StoreUnavailable("sqlite: disk I/O error")
        return start(batch)

    monkeypatch.setattr(dispatcher.runner, "start", flaky_start)
    with _held(dispatcher):
        handed = [dispatcher.dispatch("tick", {}, job_id=f"j{n}") for n in range(5)]
    assert dispatcher.drain(timeout=5)
    assert writes == [5, 1, 1, 1] and ran == ["j0"]
    lines = [r.__dict__ for r in caplog.records if r.message == inprocess._NOT_STARTED]
    assert [line.get("job_id") or line.get("job_ids") for line in lines] == [
        "j1",
        ["j2", "j3", "j4"],
    ]
    assert [services.store.get(keys.job(job.id))["status"] for job in handed[1:]] == ["pending"] * 4
    dispatcher.close()


def test_outcomes_are_recorded_outside_the_scope_of_the_request_that_handed_them_over(
    services: Services, jobs: JobRegistry
) -> None:
    """A job's end is noticed in its own context (its request's), but its outcome is
    written in one of the dispatcher's: a store failure that request met later does not
    fail the writing of its batch's outcomes, others' among them."""
    _recording(jobs)
    dispatcher = make_dispatcher(services, jobs)
    with _held(dispatcher):
        with failure_scope():
            dispatcher.dispatch("tick", {}, job_id="mine")
            mark_failed()
        dispatcher.dispatch("tick", {}, job_id="theirs")
    assert dispatcher.drain(timeout=5)
    assert services.store.get(keys.job("mine"))["status"] == "done"
    assert services.store.get(keys.job("theirs"))["status"] == "done"
    dispatcher.close()


def test_a_crash_is_logged_in_the_context_of_the_request_that_handed_the_job_over(
    services: Services, jobs: JobRegistry, monkeypatch: pytest.MonkeyPatch
) -> None:
    _recording(jobs)
    dispatcher = make_dispatcher(services, jobs)

    async def crash(job: Job, func: object) -> tuple[str, Versioned]:
        raise RuntimeError("boom")

    monkeypatch.setattr(dispatcher.runner, "execute", crash)
    seen: list[dict[str, Any]] = []

    class Context(logging.Handler):
        def emit(self, record: logging.LogRecord) -> None:
            if record.getMessage() == "job runner crashed":
                seen.append(dict(logs._context.get() or {}))

    watcher = Context()
    logging.getLogger(inprocess.__name__).addHandler(watcher)
    try:
        with log_context(request_id="req-1"):
            dispatcher.dispatch("tick", {})
        assert dispatcher.drain(timeout=5)
    finally:
        logging.getLogger(inprocess.__name__).removeHandler(watcher)
    assert [ids.get("request_id") for ids in seen] == ["req-1"]
    dispatcher.close()


def test_a_job_handed_over_after_close_has_drained_is_recorded_pending(
    services: Services, jobs: JobRegistry, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Between `drain` returning and `close` shutting the door: still in flight when the
    loop stops, so recorded pending as its next attempt, for the next start."""

    @jobs.job("slow")
    async def slow(ctx: JobContext) -> None:
        await asyncio.sleep(5)

    dispatcher = make_dispatcher(services, jobs)
    drain = dispatcher.drain

    def drain_then_hand_over(timeout: float = 10.0) -> bool:
        drained = drain(timeout)
        dispatcher.dispatch("slow", {}, job_id="late")
        return drained

    monkeypatch.setattr(dispatcher, "drain", drain_then_hand_over)
    dispatcher.close(timeout=1)
    record = services.store.get(keys.job("late"))
    assert record["status"] == "pending" and record["attempt"] == 2


def test_outcomes_the_store_cannot_record_leave_nothing_in_flight(
    services: Services, jobs: JobRegistry, counting: _Counting, caplog: pytest.LogCaptureFixture
) -> None:
    ran = _recording(jobs)

    counting.outcomes_fail = StoreUnavailable("sqlite: disk I/O error")
    dispatcher = make_dispatcher(services, jobs)
    job = dispatcher.dispatch("tick", {})
    assert dispatcher.drain(timeout=5)
    assert ran == [job.id] and dispatcher.inflight() == 0
    # It ran; its record says so as far as the store took it (as after a crash right then).
    assert services.store.get(keys.job(job.id))["status"] == "running"
    [line] = [r for r in caplog.records if r.message == inprocess._NOT_RECORDED]
    assert line.__dict__["job_id"] == job.id
    dispatcher.close()


@pytest.fixture
def started(jobs: JobRegistry, monkeypatch: pytest.MonkeyPatch) -> dict[str, float]:
    """A linger of 1 s, and job "stamp", which notes when each of its runs started."""
    monkeypatch.setattr(inprocess, "_LINGER", 1.0)
    started: dict[str, float] = {}

    @jobs.job("stamp")
    async def stamp(ctx: JobContext) -> None:
        started[ctx.job.id] = time.monotonic()

    return started


def test_a_job_after_an_idle_spell_starts_at_once_and_a_stream_in_batches(
    services: Services, jobs: JobRegistry, started: dict[str, float]
) -> None:
    dispatcher = make_dispatcher(services, jobs)
    handed = time.monotonic()
    dispatcher.dispatch("stamp", {}, job_id="first")
    assert dispatcher.drain(timeout=5)
    assert started["first"] - handed < 0.5  # idle: not held back by the linger
    dispatcher.dispatch("stamp", {}, job_id="second")
    dispatcher.dispatch("stamp", {}, job_id="third")
    assert dispatcher.drain(timeout=5)
    # Within the linger of the first batch: the next one waits it out, and takes both.
    assert started["second"] - started["first"] >= 0.9
    assert abs(started["third"] - started["second"]) < 0.5
    dispatcher.close()


def test_a_wake_up_that_finds_nothing_to_start_holds_no_job_back(
    services: Services, jobs: JobRegistry, started: dict[str, float]
) -> None:
    """A wake-up whose jobs an earlier batch took starts no batch, so the next job is not
    made to wait out a linger for it."""
    dispatcher = make_dispatcher(services, jobs)
    woken = threading.Event()

    def stale_wake_up() -> None:
        dispatcher._start()
        woken.set()

    dispatcher._ensure_loop().call_soon_threadsafe(stale_wake_up)
    assert woken.wait(5)
    handed = time.monotonic()
    dispatcher.dispatch("stamp", {}, job_id="next")
    assert dispatcher.drain(timeout=5)
    assert started["next"] - handed < 0.5
    dispatcher.close()


def test_each_job_runs_in_the_context_it_was_handed_over_in(
    services: Services, jobs: JobRegistry
) -> None:
    """As a task made by its caller would: a request's log ids follow its job, and two
    jobs of one batch do not share theirs."""
    seen: dict[str, str | None] = {}

    @jobs.job("peek")
    async def peek(ctx: JobContext) -> None:
        seen[ctx.job.id] = _WHO.get()

    dispatcher = make_dispatcher(services, jobs)
    with _held(dispatcher):
        for who in ("ada", "bob"):
            token = _WHO.set(who)
            dispatcher.dispatch("peek", {}, job_id=f"job-{who}")
            _WHO.reset(token)
    assert dispatcher.drain(timeout=5)
    assert seen == {"job-ada": "ada", "job-bob": "bob"}
    dispatcher.close()


_WHO: contextvars.ContextVar[str | None] = contextvars.ContextVar("who", default=None)


def test_drain_waits_for_every_job_handed_over(services: Services, jobs: JobRegistry) -> None:
    finished: list[int] = []

    @jobs.job("nap")
    async def nap(ctx: JobContext) -> None:
        await asyncio.sleep(0.05)
        finished.append(ctx.job.payload["n"])

    dispatcher = make_dispatcher(services, jobs)
    for n in range(20):
        dispatcher.dispatch("nap", {"n": n})
    assert dispatcher.drain(timeout=5)
    assert sorted(finished) == list(range(20))
    assert dispatcher.inflight() == 0
    dispatcher.close()


class _Blocking:
    """The store, its outcome writes (`put_versioned_many`) held until released."""

    def __init__(self, store: Store) -> None:
        self._store = store
        self.writing = threading.Event()
        self.release = threading.Event()

    def put_versioned_many(self, writes: Sequence[Versioned]) -> None:
        self.writing.set()
        assert self.release.wait(5)
        self._store.put_versioned_many(writes)

    def __getattr__(self, name: str) -> Any:
        return getattr(self._store, name)


def _release_when_close_asks(
    loop: asyncio.AbstractEventLoop, release: threading.Event, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Release the held loop once `close` has asked anything of it (the question it asks
    the loop, or, deciding without it, the cancellation of what it took to be left over):
    `close` has made up its mind, or is waiting for the loop to."""
    ask = loop.call_soon_threadsafe

    def asked(callback: Any, *args: Any, **kwargs: Any) -> Any:
        handle = ask(callback, *args, **kwargs)
        release.set()
        return handle

    monkeypatch.setattr(loop, "call_soon_threadsafe", asked)


@pytest.mark.parametrize("when", ["not yet noticed", "outcome queued", "outcome being written"])
def test_a_job_that_ended_as_the_dispatcher_closes_is_done_not_run_again(
    when: str, services: Services, jobs: JobRegistry, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Its task has ended but its outcome is not written yet (its end not yet noticed, its
    outcome queued to be written, or being written) when `close`'s drain gives up: it is
    recorded done, not pending as a next attempt that the next start would run again."""
    release = threading.Event()
    ran = _recording(jobs)
    store = _Blocking(services.store)
    if when == "outcome being written":
        monkeypatch.setattr(services, "_store", store)
        release = store.release
    held = threading.Event()

    def hold() -> None:
        held.set()
        assert release.wait(5)

    @jobs.job("ends")
    async def ends(ctx: JobContext) -> None:
        ran.append(ctx.job.id)
        if when != "outcome being written":
            # Holds the loop's next turn: the task's end (or its last step) is queued
            # behind it, and `close` asks the loop while it holds.
            asyncio.get_running_loop().call_soon(hold)
        if when == "not yet noticed":
            await asyncio.sleep(0)  # ends in the turn `close`'s question is queued in

    dispatcher = make_dispatcher(services, jobs)
    dispatcher.dispatch("ends", {}, job_id="ended")
    assert (store.writing if when == "outcome being written" else held).wait(5)
    _release_when_close_asks(dispatcher._ensure_loop(), release, monkeypatch)
    dispatcher.close(timeout=0.1)  # the drain gives up: the job is not finished yet
    assert ran == ["ended"]
    recorded = services.store.get(keys.job("ended"))
    assert (recorded["status"], recorded["attempt"]) == ("done", 1)
    restarted = make_dispatcher(services, jobs)
    assert restarted.resume_pending() == []
    restarted.close()


def test_a_loop_that_does_not_answer_close_leaves_its_jobs_pending(
    services: Services,
    jobs: JobRegistry,
    monkeypatch: pytest.MonkeyPatch,
    caplog: pytest.LogCaptureFixture,
) -> None:
    """A job blocking the loop's thread: `close` waits `_ANSWER` for the loop, then decides
    without it, and the job is recorded pending for the next start all the same."""
    monkeypatch.setattr(inprocess, "_ANSWER", 0.1)
    release = threading.Event()
    blocking = threading.Event()

    @jobs.job("blocks")
    async def blocks(ctx: JobContext) -> None:
        blocking.set()
        release.wait(5)  # not awaited: the loop's thread is held

    dispatcher = make_dispatcher(services, jobs)
    dispatcher.dispatch("blocks", {}, job_id="stuck")
    assert blocking.wait(5)
    try:
        started = time.monotonic()
        dispatcher.close(timeout=0.1)
        assert time.monotonic() - started < 3  # drain, `_ANSWER`, the thread's join
    finally:
        release.set()
    recorded = services.store.get(keys.job("stuck"))
    assert (recorded["status"], recorded["attempt"]) == ("pending", 2)
    assert any("deciding without it" in r.message for r in caplog.records)


def test_jobs_ending_turn_after_turn_do_not_keep_close_from_its_answer(
    services: Services,
    jobs: JobRegistry,
    monkeypatch: pytest.MonkeyPatch,
    caplog: pytest.LogCaptureFixture,
) -> None:
    """The loop answers `close` in the turn it is asked, taking in the tasks that ended that
    turn itself: with a job ending on every turn, waiting a turn for their callbacks would
    never end, and `close` would decide without the loop (and re-queue jobs that finished)."""
    monkeypatch.setattr(inprocess, "_ANSWER", 0.05)
    completed: set[str] = set()
    first_done = threading.Event()

    @jobs.job("steps")
    async def steps(ctx: JobContext) -> None:
        for _ in range(int(ctx.job.payload["turns"])):
            await asyncio.sleep(0)
        completed.add(ctx.job.id)
        first_done.set()

    dispatcher = make_dispatcher(services, jobs)
    ids = [f"steps-{n}" for n in range(1000)]
    for n, job_id in enumerate(ids):
        dispatcher.dispatch("steps", {"turns": 100 + n}, job_id=job_id)  # one ends a turn
    assert first_done.wait(10)
    dispatcher.close(timeout=0)
    assert not any("deciding without it" in r.message for r in caplog.records)
    for job_id in ids:
        recorded = services.store.get(keys.job(job_id))
        expected = ("done", 1) if job_id in completed else ("pending", 2)
        assert (recorded["status"], recorded["attempt"]) == expected, job_id
    assert 0 < len(completed) < len(ids)  # close came while they were ending


def test_a_loop_that_fails_after_taking_closes_question_still_lets_close_finish(
    services: Services,
    jobs: JobRegistry,
    monkeypatch: pytest.MonkeyPatch,
    caplog: pytest.LogCaptureFixture,
) -> None:
    """Taken up, then slower than `_ANSWER`, then failed: `close` decides without the loop,
    records the job pending, stops the loop and joins its thread; nothing escapes."""
    monkeypatch.setattr(inprocess, "_ANSWER", 0.1)
    started = threading.Event()

    @jobs.job("waits")
    async def waits(ctx: JobContext) -> None:
        started.set()
        await asyncio.Event().wait()  # until cancelled

    dispatcher = make_dispatcher(services, jobs)
    dispatcher.dispatch("waits", {}, job_id="waiting")
    assert started.wait(5)

    def slow_then_broken() -> None:
        time.sleep(0.15)
        raise RuntimeError("outcome write broke")

    monkeypatch.setattr(dispatcher, "_record", slow_then_broken)
    thread = dispatcher._thread
    dispatcher.close(timeout=0.05)
    recorded = services.store.get(keys.job("waiting"))
    assert (recorded["status"], recorded["attempt"]) == ("pending", 2)
    assert thread is not None and not thread.is_alive()
    assert any("deciding without it" in r.message for r in caplog.records)
