"""Local scheduling and EventBridge schedule events."""

from __future__ import annotations

import asyncio
import time
from datetime import UTC, datetime
from pathlib import Path

import pytest

from orchestrator.jobs.base import Job
from orchestrator.jobs.retry import DELAYS, SWEEP, record_failed_attempt
from orchestrator.probes.run import incidents
from orchestrator.schedules.aws import is_schedule_event, run_schedule_event
from orchestrator.schedules.local import LocalScheduler, start_scheduler
from orchestrator.schedules.timing import PROBES, Schedule
from orchestrator.services import Services
from orchestrator.store.base import JSONObject
from tests.support.world import (
    APP_CHANNEL,
    DIGEST_CHANNEL,
    World,
    completed_run,
    deliver,
    services_for,
)

MONDAY_9 = datetime(2026, 11, 30, 9, 0, 0, tzinfo=UTC)


class Recorder:
    """A dispatcher that only remembers what it was asked to run."""

    def __init__(self) -> None:
        self.dispatched: list[tuple[str, str | None]] = []

    def dispatch(self, name: str, payload: JSONObject, *, job_id: str | None = None) -> Job:
        self.dispatched.append((name, job_id))
        return Job(name, payload, job_id or "x")

    def submit(self, job: Job) -> Job:
        return job

    def close(self, timeout: float = 10.0) -> None:
        return None


# --- the local scheduler -------------------------------------------------------------------------


def test_two_workers_and_a_restart_dispatch_each_slot_once(world: World) -> None:
    recorder = Recorder()
    services = Services(world.services.settings, store=world.services.store, jobs=recorder)
    first, second = LocalScheduler(services), LocalScheduler(services)
    assert first.tick_once(MONDAY_9) == [
        "sched-probes.run-20261130T090000Z",
        "sched-digest.send-daily-2026-11-30",
        "sched-digest.send-weekly-2026-11-30",
        "sched-deploys.watch-20261130T090000Z",
        "sched-deploys.reconcile-20261130T090000Z",
    ]
    assert second.tick_once(MONDAY_9) == [], "the other worker: already claimed"
    assert first.tick_once(MONDAY_9.replace(minute=2)) == [], "nothing new in this slot"
    restarted = LocalScheduler(services)
    assert restarted.tick_once(MONDAY_9.replace(minute=3)) == []
    assert second.tick_once(MONDAY_9.replace(minute=5)) == [
        "sched-probes.run-20261130T090500Z",
        "sched-deploys.watch-20261130T090500Z",
        "sched-deploys.reconcile-20261130T090500Z",
    ]
    assert [name for name, _ in recorder.dispatched] == [
        "probes.run",
        "digest.send",
        "digest.send",
        "deploys.watch",
        "deploys.reconcile",
        "probes.run",
        "deploys.watch",
        "deploys.reconcile",
    ]


def test_the_scheduler_thread_runs_probes_locally(tmp_path: Path, world: World) -> None:
    assert start_scheduler(world.services) is None, "off in test unless asked"
    services = services_for(tmp_path / "on", world.site, world.discord, ORCHESTRATOR_SCHEDULER="on")
    (tmp_path / "on").mkdir(exist_ok=True)
    services.settings.config_file.write_text(world.config.read_text())
    # Daily slots: the wall clock cannot cross into a second slot while the test runs.
    plan = [Schedule(PROBES, "probes.run", "interval", every=86400)]
    scheduler = LocalScheduler(services, plan, tick=0.05).start()
    try:
        deadline = time.monotonic() + 10
        while world.site.hits["/health"] < 1 and time.monotonic() < deadline:
            time.sleep(0.02)
    finally:
        scheduler.stop()
        assert services.jobs.drain(10)  # type: ignore[attr-defined]
    assert not scheduler.running
    assert world.site.hits["/health"] == 1, "one slot, one run, however many ticks"
    [record] = services.store.query_prefix("job:sched-probes.run-", limit=5)
    assert record.value["status"] == "done"
    recorder = Recorder()
    running = start_scheduler(Services(services.settings, store=services.store, jobs=recorder))
    assert running is not None and running.running
    running.stop()
    assert not running.running
    assert ("probes.run", record.key.removeprefix("job:")) not in recorder.dispatched
    services.close(timeout=5)


# --- EventBridge Scheduler events ----------------------------------------------------------------


def test_a_duplicate_probe_schedule_delivery_runs_once(world: World) -> None:
    event = {"orchestrator_schedule": "probes.run", "at": "2026-11-29T09:05:00Z"}
    assert is_schedule_event(event) and not is_schedule_event({"orchestrator_job": {}})
    assert run_schedule_event(event, world.services) == {
        "job": "sched-probes.run-20261129T090500Z",
        "status": "done",
    }
    assert run_schedule_event(dict(event), world.services)["status"] == "duplicate"
    assert world.site.hits["/health"] == 1
    later = {**event, "at": "2026-11-29T09:10:00Z"}
    world.site.route("/health", status=503)
    assert run_schedule_event(later, world.services)["status"] == "done"
    assert run_schedule_event(later, world.services)["status"] == "duplicate"
    [post] = world.posts(APP_CHANNEL)
    assert "is down" in post.body["embeds"][0]["title"]
    assert len(incidents(world.services.store, "web")) == 1


def test_the_retry_schedule_sweeps_due_retries_and_is_no_job_itself(world: World) -> None:
    """EventBridge's `jobs.retry` (every 2 minutes) and the local scheduler's tick both
    post a digest that Discord refused earlier, once."""
    services = world.services
    past = time.time() - DELAYS[0] - 5
    job = Job("digest.send", {"period": "daily"}, "sched-digest.send-daily-2026-11-28")
    record_failed_attempt(services, job, "DiscordHTTPError: 503", retries=2, now=past)
    event = {"orchestrator_schedule": SWEEP, "at": "2026-11-29T09:02:00Z"}
    assert is_schedule_event(event)
    assert run_schedule_event(event, services) == {"schedule": SWEEP, "retried": "1"}
    assert services.jobs.drain(10)  # type: ignore[attr-defined]
    assert len(world.posts(DIGEST_CHANNEL)) == 1
    assert services.store.get(f"job:{job.id}")["status"] == "done"
    assert run_schedule_event(event, services) == {"schedule": SWEEP, "retried": "0"}
    swept = [r.key for r in services.store.query_prefix("job:") if SWEEP in r.key]
    assert swept == [], "a sweep leaves no job record of its own"

    other = Job("digest.send", {"period": "daily"}, "sched-digest.send-daily-2026-11-27")
    record_failed_attempt(services, other, "DiscordHTTPError: 503", retries=2, now=past)
    assert LocalScheduler(services, plan=[]).tick_once() == []  # dispatches no slot, sweeps
    assert services.jobs.drain(10)  # type: ignore[attr-defined]
    assert len(world.posts(DIGEST_CHANNEL)) == 2
    assert services.store.get(f"job:{other.id}")["status"] == "done"


def test_the_digest_schedule_posts_once_per_slot(world: World) -> None:
    services = world.services
    deliver(services, completed_run(41, "success"))
    deliver(services, completed_run(42, "failure"))
    event = {"orchestrator_schedule": "digest.send-daily", "at": "2026-11-29T09:00:00Z"}
    assert run_schedule_event(event, services)["status"] == "done"
    assert run_schedule_event({**event, "at": "2026-11-29T09:00:59Z"}, services) == {
        "job": "sched-digest.send-daily-2026-11-29",
        "status": "duplicate",
    }
    [post] = world.posts(DIGEST_CHANNEL)
    digest = post.body["embeds"][0]
    assert digest["title"].startswith("📊 Daily digest · 28 Nov 09:00")
    assert "2 deploys · 50.0% succeeded · mean 2 min 30 s" in digest["description"]
    fields = {f["name"]: f["value"] for f in digest["fields"]}
    assert "[#42](https://github.com/acme/web/actions/runs/42)" in fields["Failed runs"]


def test_no_digest_channel_means_no_digest(tmp_path: Path, world: World) -> None:
    services = services_for(tmp_path / "quiet", world.site, world.discord)
    services = Services(
        services.settings.replace(digest_channel_id=None),
        store=world.services.store,
    )
    event = {"orchestrator_schedule": "digest.send-weekly", "at": "2026-11-30T09:00:00Z"}
    assert run_schedule_event(event, services)["status"] == "done"
    assert world.discord.requests == []


def test_the_schedule_event_leaves_the_threads_event_loop_alone(world: World) -> None:
    """Mangum's next invocation in a warm container needs the current loop intact."""
    loop = asyncio.new_event_loop()
    asyncio.set_event_loop(loop)
    try:
        event = {"orchestrator_schedule": "digest.send-daily", "at": "2026-11-20T09:00:00Z"}
        run_schedule_event(event, world.services)
        assert asyncio.get_event_loop_policy().get_event_loop() is loop
    finally:
        asyncio.set_event_loop(None)
        loop.close()


def test_an_unknown_schedule_is_refused(world: World) -> None:
    with pytest.raises(ValueError, match="unknown schedule"):
        run_schedule_event({"orchestrator_schedule": "coffee"}, world.services)
