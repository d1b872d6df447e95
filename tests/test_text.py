"""The one duration style, at every boundary between its units."""

from __future__ import annotations

import math

import pytest

from orchestrator.text import ago, duration, duration_ms, parse_duration


@pytest.mark.parametrize(
    ("seconds", "text"),
    [
        (None, "?"),
        (math.nan, "?"),
        (0, "0 s"),
        (0.0004, "0 s"),  # rounds to no time at all
        (0.0005, "0 s"),  # half a millisecond rounds to even: still nothing
        (0.0006, "1 ms"),
        (0.85, "850 ms"),
        (0.9994, "999 ms"),
        (0.9996, "1 s"),  # 1000 ms is a second, not "1000 ms"
        (1, "1 s"),
        (2.0, "2 s"),
        (2.34, "2.3 s"),
        (4.25, "4.2 s"),
        (9.94, "9.9 s"),
        (9.96, "10 s"),
        (10, "10 s"),
        (42.4, "42 s"),
        (59.4, "59 s"),
        (59.6, "1 min"),  # rounded up into the next unit
        (60, "1 min"),
        (61, "1 min 1 s"),
        (90, "1 min 30 s"),
        (185, "3 min 5 s"),
        (192, "3 min 12 s"),
        (300, "5 min"),
        (3599, "59 min 59 s"),
        (3600, "1 h"),
        (3659, "1 h"),  # the smaller unit is truncated, never rounded up
        (3660, "1 h 1 min"),
        (7200, "2 h"),
        (7322, "2 h 2 min"),
        (7800, "2 h 10 min"),
        (86399, "23 h 59 min"),
        (86400, "1 d"),
        (100800, "1 d 4 h"),
        (273600, "3 d 4 h"),
        (604800, "7 d"),
        (math.inf, "forever"),
        (-0.0001, "0 s"),  # no "-0"
        (-0.25, "-250 ms"),
        (-5, "-5 s"),
        (-185, "-3 min 5 s"),
    ],
)
def test_duration(seconds: float | None, text: str) -> None:
    assert duration(seconds) == text


def test_missing_text_is_the_callers() -> None:
    assert duration(None, missing="n/a") == "n/a"
    assert duration_ms(None, missing="n/a") == "n/a"
    assert duration(0, missing="n/a") == "0 s"


@pytest.mark.parametrize(
    ("ms", "text"),
    [
        (None, "?"),
        (0, "0 s"),
        (12.4, "12 ms"),
        (180, "180 ms"),
        (999, "999 ms"),
        (1000, "1 s"),
        (1600, "1.6 s"),
        (2300, "2.3 s"),
        (12_345, "12 s"),
        (192_000, "3 min 12 s"),
    ],
)
def test_duration_ms(ms: float | None, text: str) -> None:
    assert duration_ms(ms) == text


@pytest.mark.parametrize(
    ("seconds", "text"),
    [
        (None, "?"),
        (-30, "just now"),  # a clock slightly ahead
        (0, "just now"),
        (59.9, "just now"),
        (60, "1 min ago"),
        (185, "3 min 5 s ago"),
        (7800, "2 h 10 min ago"),
        (273600, "3 d 4 h ago"),
    ],
)
def test_ago(seconds: float | None, text: str) -> None:
    assert ago(seconds) == text


@pytest.mark.parametrize(
    ("text", "seconds"),
    [
        ("30s", 30),
        ("90 min", 90 * 60),
        ("2h", 7200),
        ("1d 12h", 36 * 3600),
        ("1h30m", 5400),
        (" 1 W ", 7 * 86400),
        ("2 sec", 2),
        ("2 hours", 7200),
    ],
)
def test_parse_duration_reads_what_people_type(text: str, seconds: float) -> None:
    assert parse_duration(text) == seconds


@pytest.mark.parametrize("text", ["", "30", "2 fortnights", "h", "1h x", "-1h", "0m", "1.5h"])
def test_parse_duration_refuses_anything_else(text: str) -> None:
    with pytest.raises(ValueError, match=r"duration|no time"):
        parse_duration(text)


def test_parse_duration_reads_what_duration_writes() -> None:
    for seconds in (42, 185, 7800, 273600):
        assert parse_duration(duration(seconds)) == seconds


def test_an_error_is_one_short_line() -> None:
    from orchestrator.text import error_line

    assert error_line(ValueError("no such ref\ntraceback follows"), 100) == "no such ref"
    assert error_line(ValueError("  \n  "), 100) == "ValueError"
    assert error_line(ValueError("x" * 300), 120) == "x" * 120
