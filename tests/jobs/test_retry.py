"""Failed jobs with a retry policy try again on their own, once per planned attempt."""

from __future__ import annotations

import threading
import time
from collections.abc import Iterator

import pytest

from orchestrator.jobs.base import Job, JobContext, JobRegistry
from orchestrator.jobs.inprocess import InProcessDispatcher
from orchestrator.jobs.retry import (
    DELAYS,
    claim_submission,
    record_failed_attempt,
    retry_delay,
    sweep,
)
from orchestrator.jobs.runner import JobRunner
from orchestrator.services import Services


@pytest.mark.parametrize(
    ("attempt", "retries", "expected"),
    [
        (1, 0, None),  # no policy: a failure waits for a person
        (1, 1, DELAYS[0]),
        (2, 1, None),  # the one retry is spent
        (1, 3, DELAYS[0]),
        (2, 3, DELAYS[1]),
        (3, 3, DELAYS[2]),
        (4, 3, None),
        (5, 9, DELAYS[-1]),  # beyond the table: the longest delay again
        (0, 3, None),  # not an attempt
    ],
)
def test_retry_delay(attempt: int, retries: int, expected: float | None) -> None:
    assert retry_delay(attempt, retries) == expected


class Flaky:
    """A job that fails its first `failures` runs, counting every run."""

    def __init__(self, failures: int) -> None:
        self.failures = failures
        self.runs = 0
        self.lock = threading.Lock()

    async def __call__(self, ctx: JobContext) -> None:
        with self.lock:
            self.runs += 1
            run = self.runs
        if run <= self.failures:
            raise ConnectionError(f"Discord said no ({run})")


@pytest.fixture
def jobs() -> JobRegistry:
    return JobRegistry()


@pytest.fixture
def wired(services: Services, jobs: JobRegistry) -> Iterator[Services]:
    """Services whose dispatcher runs this test's registry."""
    wired = Services(services.settings, store=services.store)
    wired._jobs = InProcessDispatcher(wired, JobRunner(wired, jobs))
    yield wired
    wired.close(timeout=5)


def drain(services: Services) -> None:
    assert services.jobs.drain(10)  # type: ignore[attr-defined]


def record(services: Services, job: Job) -> dict[str, object]:
    value = services.store.get(f"job:{job.id}")
    assert value is not None
    return value


def test_a_failed_job_is_retried_when_due_and_then_done(wired: Services, jobs: JobRegistry) -> None:
    flaky = Flaky(failures=1)
    jobs.job("post", retries=2)(flaky)
    job = wired.jobs.dispatch("post", {"channel": "1"})
    drain(wired)
    failed = record(wired, job)
    assert failed["status"] == "failed" and failed["attempt"] == 1
    due = failed["retry_at"]
    assert isinstance(due, float) and due > time.time() + DELAYS[0] - 5

    assert sweep(wired, now=due - 1) == [], "not due yet"
    assert flaky.runs == 1
    assert sweep(wired, now=due + 1) == [job.id]
    drain(wired)
    done = record(wired, job)
    assert (done["status"], done["attempt"], flaky.runs) == ("done", 2, 2)
    assert "retry_at" not in done
    assert wired.store.query_prefix("retry:") == [], "the plan is used up"
    assert sweep(wired, now=due + 10_000) == []
    assert flaky.runs == 2


def test_retries_stop_when_the_policy_is_spent(wired: Services, jobs: JobRegistry) -> None:
    flaky = Flaky(failures=100)
    jobs.job("post", retries=2)(flaky)
    job = wired.jobs.dispatch("post", {})
    drain(wired)
    now = time.time()
    for expected_attempt in (2, 3):
        now += DELAYS[-1] + 1
        assert sweep(wired, now=now) == [job.id]
        drain(wired)
        assert record(wired, job)["attempt"] == expected_attempt
    final = record(wired, job)
    assert final["status"] == "failed" and "retry_at" not in final
    assert sweep(wired, now=now + 100_000) == []
    assert flaky.runs == 3, "the first run and exactly two retries"


def test_a_job_without_a_policy_is_never_retried_on_its_own(
    wired: Services, jobs: JobRegistry
) -> None:
    flaky = Flaky(failures=1)
    jobs.job("deferred-reply")(flaky)
    job = wired.jobs.dispatch("deferred-reply", {})
    drain(wired)
    assert "retry_at" not in record(wired, job)
    assert wired.store.query_prefix("retry:") == []
    assert sweep(wired, now=time.time() + 100_000) == []
    assert flaky.runs == 1


def failed_once(
    wired: Services, jobs: JobRegistry, retries: int, failures: int = 1
) -> tuple[Job, float, Flaky]:
    """A `post` job with this policy that failed its first run: the job, the due time of
    its planned retry, and the counter of its runs."""
    flaky = Flaky(failures=failures)
    jobs.job("post", retries=retries)(flaky)
    job = wired.jobs.dispatch("post", {})
    drain(wired)
    due = record(wired, job)["retry_at"]
    assert isinstance(due, float)
    return job, due, flaky


def test_a_job_retried_by_hand_is_left_alone(wired: Services, jobs: JobRegistry) -> None:
    job, due, flaky = failed_once(wired, jobs, retries=3)
    wired.jobs.submit(Job(job.name, job.payload, job.id, attempt=2))  # `orchestrator jobs retry`
    drain(wired)
    assert record(wired, job)["status"] == "done"
    assert sweep(wired, now=due + 1) == []
    assert flaky.runs == 2
    assert wired.store.query_prefix("retry:") == [], "the stale plan is dropped"


def test_concurrent_sweeps_submit_a_retry_once(wired: Services, jobs: JobRegistry) -> None:
    _, due, flaky = failed_once(wired, jobs, retries=1)
    barrier = threading.Barrier(6)
    submitted: list[list[str]] = []
    lock = threading.Lock()

    def worker() -> None:
        barrier.wait(timeout=5)
        ids = sweep(wired, now=due + 1)
        with lock:
            submitted.append(ids)

    threads = [threading.Thread(target=worker) for _ in range(6)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=10)
    drain(wired)
    assert sorted(len(ids) for ids in submitted) == [0, 0, 0, 0, 0, 1]
    assert flaky.runs == 2


def test_a_hand_retry_racing_the_sweep_submits_the_attempt_once(
    wired: Services, jobs: JobRegistry
) -> None:
    """`orchestrator jobs retry` takes the same per-attempt claim as the sweep."""
    job, due, flaky = failed_once(wired, jobs, retries=1)
    assert sweep(wired, now=due + 1) == [job.id]
    drain(wired)
    by_hand = Job(job.name, job.payload, job.id, attempt=2)
    assert not claim_submission(wired.store, by_hand), "the sweep already submitted attempt 2"
    assert flaky.runs == 2


def test_a_failed_submission_is_planned_again(wired: Services, jobs: JobRegistry) -> None:
    _, due, _ = failed_once(wired, jobs, retries=3)
    dispatcher = wired.jobs

    class Throttled:
        def submit(self, job: Job) -> Job:
            raise RuntimeError("TooManyRequestsException")

    wired._jobs = Throttled()  # type: ignore[assignment]
    assert sweep(wired, now=due + 1) == []
    wired._jobs = dispatcher
    [plan] = wired.store.query_prefix("retry:")
    assert plan.value == {"attempt": 3, "retries": 3}, "attempt 2 never ran; the plan moves on"


def test_a_failure_outside_the_runner_is_listed_and_retried(
    wired: Services, jobs: JobRegistry
) -> None:
    flaky = Flaky(failures=0)
    jobs.job("announce", retries=3)(flaky)
    job = Job("announce", {"channel_id": "9"})
    due = record_failed_attempt(wired, job, "DiscordHTTPError: 503", retries=3)
    stored = record(wired, job)
    assert stored["status"] == "failed" and stored["error"] == "DiscordHTTPError: 503"
    assert due is not None and stored["retry_at"] == due
    wired.jobs.submit(job)  # a stray first-attempt delivery never runs the post again
    drain(wired)
    assert flaky.runs == 0
    assert sweep(wired, now=due + 1) == [job.id]
    drain(wired)
    assert (record(wired, job)["status"], flaky.runs) == ("done", 1)


def test_registered_retry_policies() -> None:
    """Retries only where running again is safe (posts that record what they sent), never
    for work a user waits on (a deferred reply, whose token expires in 15 minutes)."""
    from orchestrator import product
    from orchestrator.discord.dispatch import DEFERRED_JOB
    from orchestrator.github.intake import DELIVERY_JOB

    registry = product.jobs()
    assert registry.retries(DELIVERY_JOB) == 3
    assert registry.retries("probes.announce") == 3
    assert registry.retries("digest.send") == 2
    assert registry.retries(DEFERRED_JOB) == 0
    assert registry.retries("probes.run") == 0, "the next scheduled run is its retry"
