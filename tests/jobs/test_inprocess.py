from __future__ import annotations

import asyncio
import threading
import time

import pytest

from orchestrator.jobs.base import Claim, Job, JobContext, JobNotStarted, JobRegistry
from orchestrator.jobs.inprocess import InProcessDispatcher
from orchestrator.jobs.runner import JobRunner
from orchestrator.services import Services
from orchestrator.store import keys


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
    runs: list[str] = []

    @jobs.job("count")
    async def count(ctx: JobContext) -> None:
        runs.append(ctx.job.id)

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


def test_a_runner_that_crashes_is_logged_and_leaves_nothing_in_flight(
    services: Services, jobs: JobRegistry, caplog: pytest.LogCaptureFixture
) -> None:
    class Crashing(JobRunner):
        async def run(self, job: Job) -> str:  # type: ignore[override]
            raise RuntimeError("store gone")

    dispatcher = InProcessDispatcher(services, Crashing(services, jobs))
    for _ in range(3):
        dispatcher.dispatch("any", {})
    assert dispatcher.drain(timeout=5)
    assert dispatcher.inflight() == 0
    assert [r.message for r in caplog.records].count("job runner crashed") == 3
    dispatcher.close()


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
