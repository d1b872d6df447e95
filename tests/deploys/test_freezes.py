"""Freeze windows: the cron matcher, durations in elapsed time, IANA time zones across DST
changes, one-off windows, coverage by globs, and reading windows from the file and the store."""

from __future__ import annotations

from datetime import UTC, date, datetime
from pathlib import Path
from typing import Any

import pytest

from orchestrator.config import load_settings
from orchestrator.deploys import freezes
from orchestrator.deploys.freezes import Cron, FreezeWindow, InvalidFreeze, in_force, parse_window
from orchestrator.services import Services


def at(text: str) -> float:
    """An instant, written with its offset (so each case says which wall clock it means)."""
    return datetime.fromisoformat(text).timestamp()


def window(cron: str, duration: str, timezone: str = "UTC", **extra: Any) -> FreezeWindow:
    return parse_window(
        {"name": "w", "cron": cron, "duration": duration, "timezone": timezone, **extra}
    )


# -- the cron matcher -------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("expression", "day", "matches"),
    [
        ("0 18 * * 5", date(2026, 11, 27), True),  # a Friday
        ("0 18 * * 5", date(2026, 11, 28), False),
        ("0 18 * * fri", date(2026, 11, 27), True),
        ("0 0 * * 0", date(2026, 11, 29), True),  # Sunday is 0 ...
        ("0 0 * * 7", date(2026, 11, 29), True),  # ... and 7
        ("0 0 * * mon-fri", date(2026, 11, 29), False),
        ("0 0 * * 1-5", date(2026, 11, 30), True),
        ("0 0 24-26 12 *", date(2026, 12, 25), True),
        ("0 0 24-26 dec *", date(2026, 11, 25), False),
        ("0 0 */10 * *", date(2026, 11, 21), True),  # 1, 11, 21, 31
        ("0 0 */10 * *", date(2026, 11, 20), False),
        ("0 0 1,15 * *", date(2026, 11, 15), True),
        ("0 0 1 * 5", date(2026, 11, 27), True),  # both restricted: either one counts
        ("0 0 1 * 5", date(2026, 12, 1), True),
        ("0 0 1 * 5", date(2026, 11, 26), False),
        ("0 0 */2 * 5", date(2026, 11, 27), True),  # a `*` field: both must match
        ("0 0 */2 * 5", date(2026, 11, 20), False),
        ("0 0 * 1-3/2 *", date(2026, 3, 4), True),  # January and March
        ("0 0 * 1-3/2 *", date(2026, 2, 4), False),
    ],
)
def test_cron_days(expression: str, day: date, matches: bool) -> None:
    assert Cron.parse(expression).matches_day(day) is matches


def test_cron_times_of_a_day() -> None:
    assert Cron.parse("*/20 9-10 * * *").times == (
        (9, 0),
        (9, 20),
        (9, 40),
        (10, 0),
        (10, 20),
        (10, 40),
    )
    assert Cron.parse("5 0,12 * * *").times == ((0, 5), (12, 5))
    assert Cron.parse("30 22/1 * * *").times == ((22, 30), (23, 30))


@pytest.mark.parametrize(
    ("expression", "message"),
    [
        ("0 18 * *", "five fields"),
        ("60 * * * *", "minute: '60' is not 0-59"),
        ("0 24 * * *", "hour"),
        ("0 0 0 * *", "day of month"),
        ("0 0 * 13 *", "month"),
        ("0 0 * * 8", "day of week"),
        ("0 0 * * sun-", "day of week"),
        ("*/0 * * * *", "bad step"),
        ("5-1 * * * *", "runs backwards"),
        ("0 0 * * friday", "day of week"),
        ("@daily", "five fields"),
    ],
)
def test_cron_errors_name_the_field(expression: str, message: str) -> None:
    with pytest.raises(InvalidFreeze, match=message):
        Cron.parse(expression)


# -- when is it frozen, and until when --------------------------------------------------------

BERLIN, NEW_YORK = "Europe/Berlin", "America/New_York"


@pytest.mark.parametrize(
    ("cron", "length", "zone", "now", "until"),
    [
        # a plain day: 02:30-03:30 Berlin winter time is 01:30-02:30 UTC
        ("30 2 * * *", "1h", BERLIN, "2026-03-28T02:45+01:00", "2026-03-28T03:30+01:00"),
        ("30 2 * * *", "1h", BERLIN, "2026-03-28T03:30+01:00", None),  # the end is open
        ("30 2 * * *", "1h", BERLIN, "2026-03-28T02:29+01:00", None),
        # spring forward (29 March 2026, 02:00 CET -> 03:00 CEST): 02:30 never happens; it
        # is read with the offset before the jump, 02:30+01:00, which is 03:30 summer time
        ("30 2 * * *", "1h", BERLIN, "2026-03-29T03:00+02:00", None),
        ("30 2 * * *", "1h", BERLIN, "2026-03-29T03:45+02:00", "2026-03-29T04:30+02:00"),
        ("30 2 * * *", "1h", BERLIN, "2026-03-29T04:30+02:00", None),
        # fall back (25 October 2026, 03:00 CEST -> 02:00 CET): 02:30 happens twice; the
        # window starts once, at the first, and lasts one real hour (to the second 02:30)
        ("30 2 * * *", "1h", BERLIN, "2026-10-25T02:45+02:00", "2026-10-25T02:30+01:00"),
        ("30 2 * * *", "1h", BERLIN, "2026-10-25T02:15+01:00", "2026-10-25T02:30+01:00"),
        ("30 2 * * *", "1h", BERLIN, "2026-10-25T02:45+01:00", None),
        # a window across the spring-forward jump: three real hours from 01:00 winter time
        # end at 05:00 on the summer-time wall clock
        ("0 1 29 3 *", "3h", BERLIN, "2026-03-29T04:30+02:00", "2026-03-29T05:00+02:00"),
        ("0 1 29 3 *", "3h", BERLIN, "2026-03-29T05:00+02:00", None),
        # the weekend freeze over the fall-back weekend: Friday 18:00 CEST + 62 h is
        # Monday 07:00 CET (the night of 25 October had an hour more)
        ("0 18 * * 5", "62h", BERLIN, "2026-10-24T12:00+02:00", "2026-10-26T07:00+01:00"),
        ("0 18 * * 5", "62h", BERLIN, "2026-10-26T07:00+01:00", None),
        ("0 18 * * 5", "62h", BERLIN, "2026-10-23T17:59+02:00", None),
        # New York business hours, the Monday after DST began (8 March 2026): 09:00 EDT
        ("0 9 * * 1-5", "8h", NEW_YORK, "2026-03-09T09:30-04:00", "2026-03-09T17:00-04:00"),
        ("0 9 * * 1-5", "8h", NEW_YORK, "2026-03-09T08:30-04:00", None),
        # ... and the Friday before it: 09:00 EST, an hour later in UTC
        ("0 9 * * 1-5", "8h", NEW_YORK, "2026-03-06T13:30+00:00", None),  # 08:30 EST
        ("0 9 * * 1-5", "8h", NEW_YORK, "2026-03-06T14:30+00:00", "2026-03-06T17:00-05:00"),
        ("0 9 * * 1-5", "8h", NEW_YORK, "2026-03-07T10:00-05:00", None),  # Saturday
        # New York's fall back (1 November 2026, 02:00 EDT -> 01:00 EST): 01:30 twice
        ("30 1 * * *", "45min", NEW_YORK, "2026-11-01T01:40-04:00", "2026-11-01T01:15-05:00"),
        ("30 1 * * *", "45min", NEW_YORK, "2026-11-01T01:40-05:00", None),
        # across midnight
        ("0 23 * * *", "2h", "UTC", "2026-11-29T00:30+00:00", "2026-11-29T01:00+00:00"),
        ("0 23 * * *", "2h", "UTC", "2026-11-29T23:00+00:00", "2026-11-30T01:00+00:00"),
        ("0 22 * * 5", "4h", BERLIN, "2026-11-28T01:59+01:00", "2026-11-28T02:00+01:00"),
        ("0 22 * * 5", "4h", BERLIN, "2026-11-28T02:00+01:00", None),
        # across a month and a year
        ("0 20 31 12 *", "1d", "UTC", "2027-01-01T12:00+00:00", "2027-01-01T20:00+00:00"),
        # touching windows make one freeze: its end is the last window's
        ("0 9,11 * * *", "2h", "UTC", "2026-11-29T09:30+00:00", "2026-11-29T13:00+00:00"),
        ("0 9,12 * * *", "2h", "UTC", "2026-11-29T09:30+00:00", "2026-11-29T11:00+00:00"),
    ],
)
def test_recurring_windows(cron: str, length: str, zone: str, now: str, until: str | None) -> None:
    ends = window(cron, length, zone).active_until(at(now))
    assert ends == (None if until is None else at(until))


def test_windows_overlapping_all_day_long_freeze_well_past_a_day() -> None:
    ends = window("*/30 * * * *", "45min").active_until(at("2026-11-29T09:10+00:00"))
    assert ends is not None and ends >= at("2026-11-30T09:10+00:00")


@pytest.mark.parametrize(
    ("now", "frozen"),
    [
        ("2026-12-23T23:59+01:00", False),
        ("2026-12-24T00:00+01:00", True),
        ("2026-12-26T23:59+01:00", True),
        ("2026-12-27T00:00+01:00", False),
    ],
)
def test_one_off_windows(now: str, frozen: bool) -> None:
    xmas = parse_window(
        {
            "name": "xmas",
            "start": datetime(2026, 12, 24),  # a TOML local datetime: read in the window's zone
            "end": "2026-12-27T00:00",
            "timezone": BERLIN,
        }
    )
    assert (xmas.active_until(at(now)) is not None) is frozen
    if frozen:
        assert xmas.active_until(at(now)) == at("2026-12-27T00:00+01:00")


def test_next_start_finds_the_next_opening_even_over_a_jump() -> None:
    nightly = window("30 2 * * *", "1h", BERLIN)
    assert nightly.next_start(at("2026-03-28T12:00+01:00")) == at("2026-03-29T03:30+02:00")
    leap = window("0 0 29 2 *", "1h")
    assert leap.next_start(at("2026-03-01T00:00+00:00")) is None, "none within a year"
    one_off = parse_window({"name": "o", "start": "2027-01-01T00:00Z", "end": "2027-01-02T00:00Z"})
    assert one_off.next_start(at("2026-01-01T00:00Z")) == at("2027-01-01T00:00Z")
    assert one_off.next_start(at("2027-01-01T12:00Z")) is None


# -- which deploys a window covers ------------------------------------------------------------


def test_windows_cover_apps_and_environments_by_glob() -> None:
    friday = window("0 18 * * 5", "62h", BERLIN, apps=["web", "api-*"], environments="prod*")
    assert friday.covers("web", "production") and friday.covers("api-eu", "prod")
    assert not friday.covers("web", "staging") and not friday.covers("api", "production")
    everything = window("0 18 * * 5", "62h")
    assert everything.covers("anything", "at-all")


def test_in_force_names_the_window_that_ends_last() -> None:
    now = at("2026-11-27T19:00+01:00")  # a Friday evening
    short = parse_window({"name": "evening", "cron": "0 18 * * 5", "duration": "4h"})
    weekend = parse_window(
        {"name": "weekend", "cron": "0 18 * * 5", "duration": "62h", "timezone": BERLIN}
    )
    staging_only = parse_window(
        {"name": "s", "cron": "0 0 * * *", "duration": "1d", "environments": ["staging"]}
    )
    found = in_force([short, weekend, staging_only], "web", "production", now)
    assert found is not None and found.window.name == "weekend"
    assert found.ends_at == at("2026-11-30T08:00+01:00")
    assert "weekend" in found.describe() and "Mon 30 Nov 2026 08:00 CET" in found.describe()
    assert in_force([staging_only], "web", "production", now) is None


@pytest.mark.parametrize(
    ("data", "message"),
    [
        ({"name": "has space", "cron": "0 0 * * *", "duration": "1h"}, "name is"),
        ({"name": "w", "cron": "0 0 * * *"}, "needs a duration"),
        ({"name": "w", "cron": "0 0 * * *", "duration": "15d"}, "duration is up to 14 d"),
        ({"name": "w", "cron": "0 0 * * *", "duration": "soon"}, "duration: 'soon'"),
        ({"name": "w", "cron": "0 0 * *", "duration": "1h"}, "freeze w: cron"),
        ({"name": "w", "cron": "0 0 * * *", "duration": "1h", "timezone": "Mars/Olympus"}, "zone"),
        ({"name": "w", "cron": "0 0 * * *", "duration": "1h", "timezone": "../etc"}, "zone"),
        ({"name": "w", "cron": "0 0 * * *", "duration": "1h", "end": "2027-01-01"}, "either"),
        ({"name": "w", "start": "2027-01-02", "end": "2027-01-01"}, "end must be after start"),
        ({"name": "w", "start": "2027-01-01"}, "start and end"),
        ({"name": "w", "start": "tomorrow", "end": "2027-01-01"}, "not a date and time"),
        ({"name": "w", "cron": "0 0 * * *", "duration": "1h", "apps": []}, "apps is a list"),
        ({"name": "w", "cron": "0 0 * * *", "duration": "1h", "colour": "red"}, "unknown keys"),
    ],
)
def test_invalid_windows_name_the_window_and_the_field(data: dict[str, Any], message: str) -> None:
    with pytest.raises(InvalidFreeze, match=message):
        parse_window(data)


def test_windows_come_from_the_config_file_and_the_store(tmp_path: Path) -> None:
    config = tmp_path / "orchestrator.toml"
    config.write_text(
        '[[freeze]]\nname = "xmas"\nstart = 2026-12-24T00:00:00+01:00\n'
        'end = 2026-12-27T00:00:00+01:00\nreason = "holidays"\n\n'
        '[[freeze]]\nname = "friday"\ncron = "0 15 * * fri"\nduration = "66h"\n'
        'timezone = "Europe/Berlin"\nenvironments = ["production"]\n'
    )
    services = Services(load_settings(ORCHESTRATOR_DATA_DIR=tmp_path, ORCHESTRATOR_CONFIG=config))
    try:
        stored = window("0 12 * * *", "1h", apps=["web"])
        freezes.add(services.store, stored)
        found = freezes.load(services)
        assert [w.name for w in found] == ["xmas", "friday", "w"]
        assert found[0].start == at("2026-12-24T00:00+01:00") and found[0].reason == "holidays"
        assert found[1].environments == ("production",) and not found[1].stored
        assert found[2].stored and found[2].apps == ("web",)
        assert found[2].cron == stored.cron and found[2].duration == stored.duration
        assert freezes.remove(services.store, "w")
        assert not freezes.remove(services.store, "w")
        assert [w.name for w in freezes.load(services)] == ["xmas", "friday"]
    finally:
        services.close()


def test_a_stored_one_off_window_reads_back(tmp_path: Path) -> None:
    """`/freeze add start:… end:…` stores epoch seconds; reading them back must not fail."""
    services = Services(load_settings(ORCHESTRATOR_DATA_DIR=tmp_path))
    try:
        added = parse_window(
            {"name": "xmas", "start": "2026-12-24T00:00", "end": "2026-12-27T00:00"}
        )
        freezes.add(services.store, added)
        (found,) = freezes.stored(services.store)
        assert (found.start, found.end, found.stored) == (added.start, added.end, True)
    finally:
        services.close()


def test_the_description_of_a_window() -> None:
    assert window("0 18 * * 5", "62h", BERLIN).when() == (
        "cron `0 18 * * 5` for 2 d 14 h (Europe/Berlin)"
    )
    one_off = parse_window(
        {"name": "o", "start": "2026-12-24T00:00", "end": "2026-12-27T00:00", "timezone": BERLIN}
    )
    assert one_off.when() == "Thu 24 Dec 2026 00:00 CET → Sun 27 Dec 2026 00:00 CET"
    assert datetime.fromtimestamp(one_off.start or 0, UTC).hour == 23
