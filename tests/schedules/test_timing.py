"""`due`, slots and job ids, table-driven; and schedule events -> the slot's job."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from orchestrator.config import load_settings
from orchestrator.schedules.aws import event_slot, job_for_event, parse_at
from orchestrator.schedules.local import enabled
from orchestrator.schedules.timing import (
    Schedule,
    by_name,
    due,
    latest_slot,
    schedules,
    slot_job_id,
    slot_payload,
)

PROBES = Schedule("probes.run", "probes.run", "interval", every=300)
DAILY = Schedule("digest.send-daily", "digest.send", "daily", hour=9, payload={"period": "daily"})
WEEKLY = Schedule("digest.send-weekly", "digest.send", "weekly", hour=9, weekday=0)


def t(day: int, hour: int, minute: int = 0, second: int = 0) -> datetime:
    """A time in November 2026 (the 30th is a Monday)."""
    return datetime(2026, 11, day, hour, minute, second, tzinfo=UTC)


@pytest.mark.parametrize(
    ("schedule", "last", "now", "expected"),
    [
        pytest.param(PROBES, None, t(29, 9, 7, 30), t(29, 9, 5), id="interval-first-tick"),
        pytest.param(PROBES, t(29, 9, 5), t(29, 9, 7, 30), None, id="interval-already-run"),
        pytest.param(PROBES, t(29, 9, 0), t(29, 9, 7, 30), t(29, 9, 5), id="interval-next"),
        pytest.param(PROBES, None, t(29, 9, 5), t(29, 9, 5), id="interval-on-the-dot"),
        pytest.param(PROBES, t(29, 8, 0), t(29, 9, 7), t(29, 9, 5), id="interval-skips-missed"),
        pytest.param(DAILY, None, t(29, 9), t(29, 9), id="daily-on-the-hour"),
        pytest.param(DAILY, None, t(29, 14), t(29, 9), id="daily-late-within-grace"),
        pytest.param(DAILY, None, t(29, 15, 30), None, id="daily-too-late"),
        pytest.param(DAILY, None, t(29, 8, 59), None, id="daily-before-the-hour"),
        pytest.param(DAILY, t(29, 9), t(29, 10), None, id="daily-already-sent"),
        pytest.param(DAILY, t(28, 9), t(29, 9, 1), t(29, 9), id="daily-next-day"),
        pytest.param(WEEKLY, None, t(30, 9, 30), t(30, 9), id="weekly-monday"),
        pytest.param(WEEKLY, None, t(29, 9, 30), None, id="weekly-not-on-sunday"),
        pytest.param(WEEKLY, t(23, 9), t(30, 10), t(30, 9), id="weekly-next-monday"),
    ],
)
def test_due(
    schedule: Schedule, last: datetime | None, now: datetime, expected: datetime | None
) -> None:
    assert due(schedule, last, now) == expected


@pytest.mark.parametrize(
    ("schedule", "now", "slot"),
    [
        (PROBES, t(29, 9, 4, 59), t(29, 9, 0)),
        (DAILY, t(29, 8), t(28, 9)),
        (WEEKLY, t(29, 23), t(23, 9)),
        (WEEKLY, datetime(2026, 11, 30, 10, tzinfo=UTC) + timedelta(days=6), t(30, 9)),
    ],
)
def test_latest_slot(schedule: Schedule, now: datetime, slot: datetime) -> None:
    assert latest_slot(schedule, now) == slot


def test_grace_can_be_set_and_naive_times_are_refused() -> None:
    strict = Schedule("x", "x", "daily", hour=9, grace=timedelta(minutes=10))
    assert due(strict, None, t(29, 9, 10)) == t(29, 9)
    assert due(strict, None, t(29, 9, 11)) is None
    with pytest.raises(ValueError, match="timezone-aware"):
        due(DAILY, None, datetime(2026, 11, 29, 9))
    with pytest.raises(ValueError, match="every > 0"):
        Schedule("x", "x", "interval")


def test_job_ids_are_one_per_slot() -> None:
    assert slot_job_id(DAILY, t(29, 9)) == "sched-digest.send-daily-2026-11-29"
    assert slot_job_id(WEEKLY, t(30, 9)) == "sched-digest.send-weekly-2026-11-30"
    assert slot_job_id(PROBES, t(29, 9, 5)) == "sched-probes.run-20261129T090500Z"
    payload = slot_payload(DAILY, t(29, 9))
    assert payload == {
        "period": "daily",
        "schedule": "digest.send-daily",
        "slot": t(29, 9).timestamp(),
    }


def test_the_products_schedules_follow_the_settings() -> None:
    settings = load_settings(ORCHESTRATOR_PROBE_INTERVAL=600, ORCHESTRATOR_DIGEST_HOUR=7)
    plan = {s.name: s for s in schedules(settings)}
    assert set(plan) == {
        "probes.run",
        "digest.send-daily",
        "digest.send-weekly",
        "deploys.watch",
        "deploys.reconcile",
    }
    assert (plan["deploys.watch"].kind, plan["deploys.watch"].every) == ("interval", 300)
    assert plan["deploys.reconcile"].job == "deploys.reconcile"
    assert (plan["deploys.reconcile"].kind, plan["deploys.reconcile"].every) == ("interval", 300)
    assert plan["probes.run"].every == 600 and plan["probes.run"].job == "probes.run"
    assert plan["digest.send-daily"].hour == plan["digest.send-weekly"].hour == 7
    assert plan["digest.send-weekly"].payload == {"period": "weekly"}
    with pytest.raises(KeyError):
        by_name(settings, "nope")


@pytest.mark.parametrize(
    ("env", "setting", "expected"),
    [
        ("dev", None, True),
        ("test", None, False),
        ("dev", "off", False),
        ("test", "on", True),
    ],
)
def test_scheduler_switch(env: str, setting: str | None, expected: bool) -> None:
    overrides = {"ORCHESTRATOR_ENV": env}
    if setting is not None:
        overrides["ORCHESTRATOR_SCHEDULER"] = setting
    assert enabled(load_settings(**overrides)) is expected


# --- EventBridge events ------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        ("2026-11-29T09:00:00Z", t(29, 9)),
        ("2026-11-29T10:00:00+01:00", t(29, 9)),
        ("2026-11-29T09:00:00", t(29, 9)),
        ("<aws.scheduler.scheduled-time>", None),
        ("", None),
        (None, None),
    ],
)
def test_parse_at(value: object, expected: datetime | None) -> None:
    assert parse_at(value) == expected


def test_event_slots() -> None:
    assert event_slot(DAILY, t(29, 9, 0, 40)) == t(29, 9), "a late delivery: the same slot"
    assert event_slot(PROBES, t(29, 9, 3, 17)) == t(29, 9, 3, 17), "rate() is not aligned"


def test_an_event_becomes_the_slots_job() -> None:
    settings = load_settings()
    job = job_for_event(
        {"orchestrator_schedule": "digest.send-daily", "at": "2026-11-29T09:00:02Z"}, settings
    )
    assert (job.name, job.id) == ("digest.send", "sched-digest.send-daily-2026-11-29")
    assert job.payload["period"] == "daily" and job.payload["slot"] == t(29, 9).timestamp()
    fallback = job_for_event({"orchestrator_schedule": "probes.run"}, settings, now=1e9)
    assert fallback.id == "sched-probes.run-20010909T014640Z"
    with pytest.raises(ValueError, match="unknown schedule"):
        job_for_event({"orchestrator_schedule": "nope"}, settings)
