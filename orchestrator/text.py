"""Durations and ages as people read them, in one style everywhere.

A deploy message, a digest, an uptime alert and a verification report all say how
long something took; when each module had its own formatter the same three minutes
read "3m 12s" in one message and "3 min" in the next. One style now:

    850 ms · 4.2 s · 42 s · 3 min 5 s · 2 h 10 min · 3 d 4 h · forever

Below a second, milliseconds; below ten seconds, one decimal (dropped when it is
zero); then whole seconds; then the two largest units, the smaller one truncated
(a 2 h 59 min run is not "3 h"). Anything that rounds to no time at all is "0 s".
A negative duration (a clock a little ahead of another) keeps its sign rather
than hiding the skew. Missing values (None, NaN) print `missing`, "?" by default.
"""

from __future__ import annotations

import math
import re

MINUTE = 60
HOUR = 60 * MINUTE
DAY = 24 * HOUR


def duration(seconds: float | None, *, missing: str = "?") -> str:
    """`seconds` as "850 ms", "4.2 s", "3 min 5 s", "2 h 10 min", "3 d 4 h" or "forever"."""
    if seconds is None or math.isnan(seconds):
        return missing
    sign = "-" if seconds < 0 else ""
    value = abs(seconds)
    if math.isinf(value):
        return f"{sign}forever"
    ms = round(value * 1000)
    if ms == 0:
        return "0 s"
    if ms < 1000:
        return f"{sign}{ms} ms"
    tenths = round(value * 10)
    if tenths < 100:
        return f"{sign}{tenths / 10:.1f}".removesuffix(".0") + " s"
    whole = round(value)
    if whole < MINUTE:
        return f"{sign}{whole} s"
    if whole < HOUR:
        return sign + _two(whole // MINUTE, "min", whole % MINUTE, "s")
    if whole < DAY:
        return sign + _two(whole // HOUR, "h", whole % HOUR // MINUTE, "min")
    return sign + _two(whole // DAY, "d", whole % DAY // HOUR, "h")


def duration_ms(ms: float | None, *, missing: str = "?") -> str:
    """`duration` for a value measured in milliseconds (`elapsed_ms`, p95 latencies)."""
    return missing if ms is None else duration(ms / 1000, missing=missing)


def ago(seconds: float | None, *, missing: str = "?") -> str:
    """How long ago: "just now" within the minute (or a little in the future, a clock
    slightly ahead), else "3 min 5 s ago"."""
    if seconds is None or math.isnan(seconds):
        return missing
    if seconds < MINUTE:
        return "just now"
    return f"{duration(seconds)} ago"


def _two(big: int, big_unit: str, small: int, small_unit: str) -> str:
    return f"{big} {big_unit} {small} {small_unit}" if small else f"{big} {big_unit}"


# -- reading durations people type ------------------------------------------------------------

_UNITS = {
    **dict.fromkeys(("s", "sec", "secs", "second", "seconds"), 1),
    **dict.fromkeys(("m", "min", "mins", "minute", "minutes"), MINUTE),
    **dict.fromkeys(("h", "hr", "hrs", "hour", "hours"), HOUR),
    **dict.fromkeys(("d", "day", "days"), DAY),
    **dict.fromkeys(("w", "week", "weeks"), 7 * DAY),
}
_PART = re.compile(r"\s*(\d{1,6})\s*([a-z]+)\s*")


def parse_duration(text: str) -> float:
    """ "2h", "90 min", "1d 12h", "1h30m", "2 hours" -> seconds; ValueError for anything else.

    A unit is required: a bare "30" could be seconds or minutes, and a lock that lasts 30
    seconds instead of 30 minutes is a surprise nobody wants (the error says so). The units
    are the ones `duration` writes ("min", "h", "d"), their one-letter forms and the words."""
    cleaned = text.strip().lower()
    if not cleaned:
        raise ValueError("a duration looks like 30min, 2h or 1d 12h")
    total, at = 0, 0
    while at < len(cleaned):
        match = _PART.match(cleaned, at)
        if match is None or match.group(2) not in _UNITS:
            raise ValueError(f"{text.strip()!r} is not a duration: use e.g. 30min, 2h or 1d 12h")
        total += int(match.group(1)) * _UNITS[match.group(2)]
        at = match.end()
    if total <= 0:
        raise ValueError(f"{text.strip()!r} is no time at all")
    return float(total)


def error_line(exc: BaseException, limit: int) -> str:
    """An error in one short line for a user or a status: its message's first line (its
    type's name when it has none), cut at `limit` characters."""
    message = str(exc).strip()
    return (message.splitlines()[0] if message else type(exc).__name__)[:limit]
