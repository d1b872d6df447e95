"""When is a schedule due? Pure functions over a `Schedule` and UTC datetimes.

* interval schedules have slots at every multiple of `every` seconds since the epoch,
  so every worker computes the same slots whatever its start time;
* daily ones at `hour`:00 UTC; weekly ones at `hour`:00 UTC on `weekday` (Monday = 0).

`due` answers with the newest slot at or before `now` when it has not run yet and is
not older than `grace`: a scheduler that was off at 09:00 still sends the digest at
10:00, but not one started at 18:00 (nobody wants yesterday's digest at teatime).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import TYPE_CHECKING, Any, Literal

from orchestrator.store import keys

if TYPE_CHECKING:
    from orchestrator.config import Settings

Kind = Literal["interval", "daily", "weekly"]
PROBES = "probes.run"
DIGEST_DAILY = "digest.send-daily"
DIGEST_WEEKLY = "digest.send-weekly"
DEPLOY_WATCH = "deploys.watch"
DEPLOY_WATCH_EVERY = 300  # lock reminders go out 10-15 minutes before a lock lapses
RECONCILE = "deploys.reconcile"
RECONCILE_EVERY = 300  # runs are looked at once older than ORCHESTRATOR_RECONCILE_AFTER
DIGEST_GRACE = timedelta(hours=6)


@dataclass(frozen=True)
class Schedule:
    name: str  # also the `orchestrator_schedule` of an EventBridge event
    job: str  # the registered job it runs
    kind: Kind
    every: int = 0  # seconds (interval)
    hour: int = 0  # UTC (daily, weekly)
    weekday: int = 0  # Monday = 0 (weekly)
    payload: dict[str, Any] = field(default_factory=dict)
    grace: timedelta | None = None  # default: one interval; for daily/weekly 6 h

    def __post_init__(self) -> None:
        if self.kind == "interval" and self.every <= 0:
            raise ValueError(f"{self.name}: an interval schedule needs every > 0")
        if not 0 <= self.hour <= 23 or not 0 <= self.weekday <= 6:
            raise ValueError(f"{self.name}: hour 0-23, weekday 0-6")

    @property
    def lateness(self) -> timedelta:
        if self.grace is not None:
            return self.grace
        return timedelta(seconds=self.every) if self.kind == "interval" else DIGEST_GRACE


def _utc(moment: datetime) -> datetime:
    if moment.tzinfo is None:
        raise ValueError("schedule times are timezone-aware (UTC)")
    return moment.astimezone(UTC)


def latest_slot(schedule: Schedule, now: datetime) -> datetime:
    """The newest slot at or before `now`."""
    now = _utc(now)
    if schedule.kind == "interval":
        seconds = int(now.timestamp()) // schedule.every * schedule.every
        return datetime.fromtimestamp(seconds, UTC)
    slot = now.replace(hour=schedule.hour, minute=0, second=0, microsecond=0)
    if slot > now:
        slot -= timedelta(days=1)
    if schedule.kind == "weekly":
        slot -= timedelta(days=(slot.weekday() - schedule.weekday) % 7)
    return slot


def due(schedule: Schedule, last_slot: datetime | None, now: datetime) -> datetime | None:
    """The slot to run now, or None (already run, or too late to be worth running)."""
    slot = latest_slot(schedule, now)
    if last_slot is not None and slot <= _utc(last_slot):
        return None
    if _utc(now) - slot > schedule.lateness:
        return None
    return slot


def slot_label(schedule: Schedule, slot: datetime) -> str:
    slot = _utc(slot)
    if schedule.kind == "interval":
        return keys.stamp(slot.timestamp())  # the job id lands in `job:` and slot-claim keys
    return slot.strftime("%Y-%m-%d")


def slot_job_id(schedule: Schedule, slot: datetime) -> str:
    """`sched-digest.send-daily-2026-11-29`: one job id per slot, whoever dispatches it."""
    return f"sched-{schedule.name}-{slot_label(schedule, slot)}"


def slot_payload(schedule: Schedule, slot: datetime) -> dict[str, Any]:
    return {**schedule.payload, "schedule": schedule.name, "slot": _utc(slot).timestamp()}


def schedules(settings: Settings) -> tuple[Schedule, ...]:
    """The product's schedules, timed by the settings."""
    return (
        Schedule(PROBES, "probes.run", "interval", every=settings.probe_interval),
        Schedule(
            DIGEST_DAILY,
            "digest.send",
            "daily",
            hour=settings.digest_hour,
            payload={"period": "daily"},
        ),
        Schedule(
            DIGEST_WEEKLY,
            "digest.send",
            "weekly",
            hour=settings.digest_hour,
            weekday=0,
            payload={"period": "weekly"},
        ),
        Schedule(DEPLOY_WATCH, "deploys.watch", "interval", every=DEPLOY_WATCH_EVERY),
        Schedule(RECONCILE, "deploys.reconcile", "interval", every=RECONCILE_EVERY),
    )


def by_name(settings: Settings, name: str) -> Schedule:
    for schedule in schedules(settings):
        if schedule.name == name:
            return schedule
    raise KeyError(name)
