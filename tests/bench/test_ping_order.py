"""The PING section's run order: the goal's two sides back to back in every repetition."""

from __future__ import annotations

import pytest

from bench.ping import Target, _order

NAMES = ("ours", "floor", "bare", "dispike", "fdi")


def _targets(*names: str) -> list[Target]:
    return [Target(name, name, "/discord", [], {}, "uvicorn") for name in names]


@pytest.mark.parametrize("running", [NAMES[:2], NAMES[:3], NAMES[:4], NAMES])
def test_ours_and_the_floor_run_back_to_back_each_first_as_often_in_every_place(
    running: tuple[str, ...],
) -> None:
    """Whichever peers are installed: two sides alone, or with one, two or three others."""
    targets = _targets(*running)
    reps = 4 * (len(running) - 1)  # two full rotations of the order, twice
    leads: dict[int, list[bool]] = {}
    for rep in range(reps):
        order = [t.name for t in _order(targets, rep)]
        assert sorted(order) == sorted(running)  # each target once per repetition
        ours, floor = order.index("ours"), order.index("floor")
        assert abs(ours - floor) == 1
        leads.setdefault(min(ours, floor), []).append(ours < floor)
    for place, firsts in leads.items():
        assert firsts.count(True) == firsts.count(False), (place, firsts)


def test_every_target_takes_its_turn_first() -> None:
    targets = _targets(*NAMES)
    assert {_order(targets, rep)[0].name for rep in range(8)} == set(NAMES)


def test_without_one_side_the_others_still_rotate() -> None:
    assert [t.name for t in _order(_targets("bare", "fdi"), 1)] == ["fdi", "bare"]
    assert [t.name for t in _order(_targets("ours"), 3)] == ["ours"]
