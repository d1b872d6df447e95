"""The PING section's run order: the goal's two sides back to back in every repetition."""

from __future__ import annotations

from bench.ping import Target, _order

NAMES = ("ours", "floor", "bare", "dispike", "fdi")


def _targets(*names: str) -> list[Target]:
    return [Target(name, name, "/discord", [], {}, "uvicorn") for name in names]


def test_ours_and_the_floor_run_back_to_back_each_first_as_often() -> None:
    targets = _targets(*NAMES)
    firsts = []
    for rep in range(8):
        order = [t.name for t in _order(targets, rep)]
        assert sorted(order) == sorted(NAMES)  # each target once per repetition
        at = order.index("ours")
        assert "floor" in order[max(at - 1, 0) : at + 2]
        firsts.append(order.index("ours") < order.index("floor"))
    assert firsts.count(True) == firsts.count(False)


def test_every_target_takes_its_turn_first_and_each_side_leads_in_every_place() -> None:
    targets = _targets(*NAMES)
    assert {_order(targets, rep)[0].name for rep in range(8)} == set(NAMES)
    places = {
        (i, names[i])
        for rep in range(8)
        for names in [[t.name for t in _order(targets, rep)]]
        for i in range(len(names))
    }
    for side in ("ours", "floor"):
        assert {i for i, name in places if name == side} >= {0, 1}


def test_without_one_side_the_others_still_rotate() -> None:
    assert [t.name for t in _order(_targets("bare", "fdi"), 1)] == ["fdi", "bare"]
    assert [t.name for t in _order(_targets("ours"), 3)] == ["ours"]
