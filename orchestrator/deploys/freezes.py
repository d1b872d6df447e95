"""Freeze windows: times when deploys to some environments wait (Friday evenings, the holidays).

A window is either recurring, a cron expression for when it starts, a duration and an
IANA time zone:

    [[freeze]]
    name = "weekend"
    cron = "0 18 * * 5"          # Fridays 18:00 ...
    duration = "62h"             # ... until Monday 08:00
    timezone = "Europe/Berlin"
    apps = ["web", "api-*"]      # globs; default: every app
    environments = ["production"]  # globs; default: every environment

or one-off, from-to (`start`/`end`: TOML datetimes or ISO 8601 text; without an offset they
are read in `timezone`). Windows come from the config file and from `/freeze add` (stored).
During a window, deploys to the environments it covers are refused with the window's name
and end; an admin may override it with a reason (`deploys.gate`).

Time, precisely:
* the cron expression is matched against the wall clock in the window's time zone: five
  fields (minute, hour, day of month, month, day of week; 0 or 7 is Sunday; month and day
  names allowed), each `*`, a value, a range `a-b`, a list `a,b`, and steps `*/n` or `a-b/n`;
  when both day fields are restricted a day matching either one counts, as in cron;
* the duration is elapsed time: a 3 h window that starts at 01:00 on the night clocks
  spring forward ends at 05:00 on the wall clock, three real hours later;
* a start time the wall clock skips (02:30 on the spring-forward night in Berlin) is read
  with the offset before the jump, as Python reads it (PEP 495): the window starts at 03:30
  summer time, whole, never dropped;
* a start time the wall clock passes twice (02:30 on the fall-back night) starts the window
  once, at its first occurrence;
* windows that overlap or touch make one freeze: its end is the last of their ends.

Pure, apart from `load`, `add` and `remove` (the config file and the store). The cron
matcher is small and ours: no dependency for five fields.
"""

from __future__ import annotations

import fnmatch
import re
import time
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from typing import TYPE_CHECKING, Any
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from orchestrator.config_file import load_file_config
from orchestrator.store import keys
from orchestrator.text import duration as say_duration
from orchestrator.text import parse_duration

if TYPE_CHECKING:
    from orchestrator.runtime import Runtime
    from orchestrator.store.base import JSONObject, Store

MAX_RECURRING = 14 * 24 * 3600.0  # a longer freeze is a one-off window
_MERGES = 48  # touching windows merged into one freeze, at most (an every-hour cron...)
_NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.-]{0,47}$")
_KEYS = {"name", "cron", "duration", "timezone", "start", "end", "apps", "environments", "reason"}


class InvalidFreeze(ValueError):
    """A window that cannot be read; the message names the window and the field."""


# -- cron -------------------------------------------------------------------------------------

_MONTHS = {
    name: number
    for number, name in enumerate(
        ("jan", "feb", "mar", "apr", "may", "jun", "jul", "aug", "sep", "oct", "nov", "dec"), 1
    )
}
_DAYS = {
    name: number for number, name in enumerate(("sun", "mon", "tue", "wed", "thu", "fri", "sat"))
}


def _value(text: str, what: str, low: int, high: int, names: Mapping[str, int]) -> int:
    if text.lower() in names:
        return names[text.lower()]
    if not (text.isascii() and text.isdigit()) or not low <= int(text) <= high:
        raise InvalidFreeze(f"cron {what}: {text!r} is not {low}-{high}")
    return int(text)


def _field(
    text: str, what: str, low: int, high: int, names: Mapping[str, int] | None = None
) -> frozenset[int]:
    """One field: `*`, `5`, `1-5`, `1,3,5`, `*/15`, `9-17/2` (and names where they exist)."""
    known = names or {}
    values: set[int] = set()
    for part in text.split(","):
        base, slash, step_text = part.partition("/")
        step = 1
        if slash:
            if not (step_text.isascii() and step_text.isdigit()) or int(step_text) == 0:
                raise InvalidFreeze(f"cron {what}: bad step in {part!r}")
            step = int(step_text)
        if base == "*":
            first, last = low, high
        elif "-" in base:
            start, _, end = base.partition("-")
            first = _value(start, what, low, high, known)
            last = _value(end, what, low, high, known)
            if first > last:
                raise InvalidFreeze(f"cron {what}: range {part!r} runs backwards")
        else:
            first = _value(base, what, low, high, known)
            last = high if slash else first
        values.update(range(first, last + 1, step))
    return frozenset(values)


@dataclass(frozen=True)
class Cron:
    """A five-field cron expression: when a recurring window starts, on the wall clock."""

    expression: str
    days: frozenset[int]
    months: frozenset[int]
    weekdays: frozenset[int]  # 0 = Sunday
    any_day: bool  # the day-of-month field starts with `*`
    any_weekday: bool
    times: tuple[tuple[int, int], ...]  # (hour, minute) a matching day starts at, in order

    @classmethod
    def parse(cls, expression: str) -> Cron:
        parts = expression.split()
        if len(parts) != 5:
            raise InvalidFreeze(f"cron {expression!r}: five fields (minute hour day month weekday)")
        minute, hour, day, month, weekday = parts
        minutes = _field(minute, "minute", 0, 59)
        hours = _field(hour, "hour", 0, 23)
        return cls(
            expression=" ".join(parts),
            days=_field(day, "day of month", 1, 31),
            months=_field(month, "month", 1, 12, _MONTHS),
            weekdays=frozenset(d % 7 for d in _field(weekday, "day of week", 0, 7, _DAYS)),
            any_day=day.startswith("*"),
            any_weekday=weekday.startswith("*"),
            times=tuple((h, m) for h in sorted(hours) for m in sorted(minutes)),
        )

    def matches_day(self, day: date) -> bool:
        if day.month not in self.months:
            return False
        by_date = day.day in self.days
        by_weekday = (day.weekday() + 1) % 7 in self.weekdays
        if self.any_day or self.any_weekday:
            return by_date and by_weekday  # `*` matches everything: the other field decides
        return by_date or by_weekday


# -- windows ----------------------------------------------------------------------------------


@dataclass(frozen=True)
class FreezeWindow:
    name: str
    apps: tuple[str, ...] = ("*",)
    environments: tuple[str, ...] = ("*",)
    cron: Cron | None = None
    duration: float = 0.0  # seconds, recurring windows
    timezone: str = "UTC"
    start: float | None = None  # one-off windows
    end: float | None = None
    reason: str = ""
    stored: bool = False  # added with /freeze add (the others are in the config file)
    created_by: str | None = None

    @property
    def zone(self) -> ZoneInfo:
        return ZoneInfo(self.timezone)

    def covers(self, app: str, environment: str) -> bool:
        return any(fnmatch.fnmatchcase(app, p) for p in self.apps) and any(
            fnmatch.fnmatchcase(environment, p) for p in self.environments
        )

    def _starts_on(self, day: date, zone: ZoneInfo) -> list[float]:
        assert self.cron is not None
        if not self.cron.matches_day(day):
            return []
        return [
            datetime(day.year, day.month, day.day, hour, minute, tzinfo=zone).timestamp()
            for hour, minute in self.cron.times
        ]

    def _latest_start(self, at: float, floor: float) -> float | None:
        """The newest start at or before `at`, looking back no further than `floor`'s day."""
        zone = self.zone
        day = datetime.fromtimestamp(at, zone).date()
        first = datetime.fromtimestamp(floor, zone).date() - timedelta(days=1)
        best: float | None = None
        found_on: date | None = None
        while day >= first:
            for start in self._starts_on(day, zone):
                if start <= at and (best is None or start > best):
                    best, found_on = start, day
            # A day's starts can sit past the next day's first ones only around a clock
            # change, by an hour or so: one more day back settles it.
            if found_on is not None and day < found_on:
                break
            day -= timedelta(days=1)
        return best

    def active_until(self, now: float) -> float | None:
        """When the freeze in force at `now` ends (touching windows merged), or None."""
        if self.cron is None:
            if self.start is not None and self.end is not None and self.start <= now < self.end:
                return self.end
            return None
        start = self._latest_start(now, now - self.duration)
        if start is None or now >= start + self.duration:
            return None
        end = start + self.duration
        for _ in range(_MERGES):
            later = self._latest_start(end, start + 1)
            if later is None or later <= start or later + self.duration <= end:
                break
            start, end = later, later + self.duration
        return end

    def next_start(self, now: float) -> float | None:
        """The next time this window starts after `now` (within a year), or None."""
        if self.cron is None:
            return self.start if self.start is not None and self.start > now else None
        zone = self.zone
        day = datetime.fromtimestamp(now, zone).date()
        best: float | None = None
        for offset in range(367):
            for start in self._starts_on(day + timedelta(days=offset), zone):
                if start > now and (best is None or start < best):
                    best = start
            if best is not None and offset > 0:
                return best
        return best

    def when(self) -> str:
        """ "cron `0 18 * * 5` for 62 h (Europe/Berlin)" or the one-off's from-to."""
        if self.cron is not None:
            return (
                f"cron `{self.cron.expression}` for {say_duration(self.duration)} ({self.timezone})"
            )
        assert self.start is not None and self.end is not None
        return f"{local_time(self.start, self.timezone)} → {local_time(self.end, self.timezone)}"

    def to_record(self) -> JSONObject:
        return {
            "name": self.name,
            "apps": list(self.apps),
            "environments": list(self.environments),
            "cron": self.cron.expression if self.cron else None,
            "duration": self.duration,
            "timezone": self.timezone,
            "start": self.start,
            "end": self.end,
            "reason": self.reason,
            "created_by": self.created_by,
        }


def local_time(at: float, timezone: str) -> str:
    """ "Sun 29 Mar 04:30 CEST": a moment as people in the window's zone read it."""
    return datetime.fromtimestamp(at, ZoneInfo(timezone)).strftime("%a %d %b %Y %H:%M %Z")


def _zone(name: str, timezone: Any) -> str:
    if not isinstance(timezone, str) or not timezone:
        raise InvalidFreeze(f"freeze {name}: timezone is an IANA name like Europe/Berlin")
    try:
        ZoneInfo(timezone)
    except (ZoneInfoNotFoundError, ValueError):
        raise InvalidFreeze(
            f"freeze {name}: timezone {timezone!r} is not a known time zone"
        ) from None
    return timezone


def _moment(name: str, what: str, value: Any, timezone: str, *, stored: bool = False) -> float:
    # The store keeps a one-off window's moments as epoch seconds (`to_record`); a config
    # file gives dates and times, never bare numbers.
    if stored and isinstance(value, int | float) and not isinstance(value, bool):
        return float(value)
    if isinstance(value, str):
        try:
            value = datetime.fromisoformat(value.strip())
        except ValueError:
            raise InvalidFreeze(
                f"freeze {name}: {what} {value!r} is not a date and time (2026-12-24T18:00)"
            ) from None
    if isinstance(value, date) and not isinstance(value, datetime):
        value = datetime(value.year, value.month, value.day)
    if not isinstance(value, datetime):
        raise InvalidFreeze(f"freeze {name}: {what} is a date and time")
    if value.tzinfo is None:
        value = value.replace(tzinfo=ZoneInfo(timezone))
    return float(value.timestamp())


def _globs(name: str, what: str, value: Any) -> tuple[str, ...]:
    if isinstance(value, str):
        value = [value]
    if not isinstance(value, list) or not value or not all(isinstance(v, str) for v in value):
        raise InvalidFreeze(f"freeze {name}: {what} is a list of names or globs")
    return tuple(v.strip() for v in value if v.strip()) or ("*",)


def parse_window(
    data: Mapping[str, Any], *, stored: bool = False, created_by: str | None = None
) -> FreezeWindow:
    """One window from the config file or the store; InvalidFreeze naming the field."""
    name = data.get("name")
    if not isinstance(name, str) or not _NAME.match(name):
        raise InvalidFreeze(
            f"freeze {name!r}: name is 1-48 letters, digits, '.', '-' or '_' (no spaces)"
        )
    unknown = sorted(set(data) - _KEYS - ({"created_by"} if stored else set()))
    if unknown:
        raise InvalidFreeze(f"freeze {name}: unknown keys {', '.join(unknown)}")
    timezone = _zone(name, data.get("timezone") or "UTC")
    reason = data.get("reason") or ""
    if not isinstance(reason, str):
        raise InvalidFreeze(f"freeze {name}: reason is text")
    common: dict[str, Any] = {
        "name": name,
        "apps": _globs(name, "apps", data.get("apps", ["*"])),
        "environments": _globs(name, "environments", data.get("environments", ["*"])),
        "timezone": timezone,
        "reason": reason[:200],
        "stored": stored,
        "created_by": created_by if created_by is not None else data.get("created_by"),
    }
    cron_text = data.get("cron")
    has_range = data.get("start") is not None or data.get("end") is not None
    if cron_text is not None:
        if has_range:
            raise InvalidFreeze(f"freeze {name}: either cron and duration, or start and end")
        if not isinstance(cron_text, str):
            raise InvalidFreeze(f"freeze {name}: cron is text like '0 18 * * 5'")
        try:
            cron = Cron.parse(cron_text)
        except InvalidFreeze as exc:
            raise InvalidFreeze(f"freeze {name}: {exc}") from None
        length = _length(name, data.get("duration"))
        return FreezeWindow(cron=cron, duration=length, **common)
    if data.get("start") is None or data.get("end") is None:
        raise InvalidFreeze(f"freeze {name}: give cron and duration, or start and end")
    start = _moment(name, "start", data["start"], timezone, stored=stored)
    end = _moment(name, "end", data["end"], timezone, stored=stored)
    if end <= start:
        raise InvalidFreeze(f"freeze {name}: end must be after start")
    return FreezeWindow(start=start, end=end, **common)


def _length(name: str, value: Any) -> float:
    if isinstance(value, int | float) and not isinstance(value, bool):
        seconds = float(value)  # a number in a stored record: seconds
    elif isinstance(value, str):
        try:
            seconds = parse_duration(value)
        except ValueError as exc:
            raise InvalidFreeze(f"freeze {name}: duration: {exc}") from None
    else:
        raise InvalidFreeze(f"freeze {name}: a recurring window needs a duration like '2h'")
    if not 0 < seconds <= MAX_RECURRING:
        raise InvalidFreeze(
            f"freeze {name}: duration is up to {say_duration(MAX_RECURRING)} "
            "(use start and end for longer)"
        )
    return seconds


# -- in force ---------------------------------------------------------------------------------


@dataclass(frozen=True)
class Freeze:
    """A freeze in force over one environment: which window, and until when."""

    window: FreezeWindow
    ends_at: float

    def describe(self) -> str:
        reason = f": {self.window.reason}" if self.window.reason else ""
        return (
            f"🧊 freeze **{self.window.name}**{reason}, until "
            f"{local_time(self.ends_at, self.window.timezone)}"
        )


def in_force(
    windows: Iterable[FreezeWindow], app: str, environment: str, now: float
) -> Freeze | None:
    """The freeze over `app`/`environment` at `now`: of several, the one that ends last."""
    found: Freeze | None = None
    for window in windows:
        if not window.covers(app, environment):
            continue
        end = window.active_until(now)
        if end is not None and (found is None or end > found.ends_at):
            found = Freeze(window, end)
    return found


# -- where windows live -----------------------------------------------------------------------


def from_config(runtime: Runtime) -> list[FreezeWindow]:
    return [parse_window(data) for data in load_file_config(runtime.settings.config_file).freeze]


def stored(store: Store) -> list[FreezeWindow]:
    return [parse_window(r.value, stored=True) for r in store.query_prefix(keys.FREEZE_PREFIX, 200)]


def load(runtime: Runtime) -> list[FreezeWindow]:
    """Every window: the config file's, then those added with `/freeze add`."""
    return [*from_config(runtime), *stored(runtime.store)]


def add(store: Store, window: FreezeWindow) -> None:
    """Store a window (`/freeze add`); one that has ended is kept until a day after its end."""
    ttl = None
    if window.end is not None:
        ttl = max(60.0, window.end - time.time() + 24 * 3600)
    store.put(keys.freeze_window(window.name), window.to_record(), ttl=ttl)


def remove(store: Store, name: str) -> bool:
    if store.get(keys.freeze_window(name)) is None:
        return False
    store.delete(keys.freeze_window(name))
    return True
