"""The cold-start section's arithmetic and its report: the deferred command against the bare
PING, the fastest of several `-X importtime` runs, our own modules per front door, and the
tables `docs/benchmarks.md` shows for them. No artifact is built here (`make bench` does)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from bench import artifacts, report
from bench.coldstart import Start, deferred_ratios, fastest, own_modules


def row(module: str, self_us: int, cumulative_us: int, depth: int = 0) -> dict[str, Any]:
    return {"module": module, "self_us": self_us, "cumulative_us": cumulative_us, "depth": depth}


def test_the_deferred_ratio_is_against_the_bare_ping_of_the_same_runs() -> None:
    deferred = [{"wall_ms": 130.0}, {"wall_ms": 110.0}, {"wall_ms": 120.0}]
    bare = [{"wall_ms": 100.0}, {"wall_ms": 100.0}, {"wall_ms": 80.0}]
    ratios = deferred_ratios(deferred, bare)
    assert ratios["wall_deferred_vs_bare_ping"] == pytest.approx(1.2)  # 120 / 100
    pairs = ratios["wall_deferred_vs_bare_ping_per_rep"]
    assert pairs["runs"] == pytest.approx([1.3, 1.1, 1.5])
    assert pairs["median"] == pytest.approx(1.3)
    # Runs are paired: a missing one is a bug, not a ratio.
    with pytest.raises(ValueError, match=r"shorter"):
        deferred_ratios(deferred, bare[:2])


def test_the_deferred_ratio_feeds_its_goal() -> None:
    ratios = deferred_ratios([{"wall_ms": 119.0}], [{"wall_ms": 100.0}])
    goals = report.goals({"sections": {"coldstart": {"ratios": ratios}}})
    (goal,) = [g for g in goals if g["goal"].startswith("deferred slash command cold")]
    assert goal["met"] is True
    ratios = deferred_ratios([{"wall_ms": 121.0}], [{"wall_ms": 100.0}])
    goals = report.goals({"sections": {"coldstart": {"ratios": ratios}}})
    (goal,) = [g for g in goals if g["goal"].startswith("deferred slash command cold")]
    assert goal["met"] is False


def test_each_module_keeps_its_fastest_time() -> None:
    runs = [
        [row("orchestrator.main", 50, 900), row("json", 30, 30)],
        [row("orchestrator.main", 70, 800), row("json", 20, 40)],
    ]
    best = {r["module"]: r for r in fastest(runs)}
    assert (best["orchestrator.main"]["self_us"], best["orchestrator.main"]["cumulative_us"]) == (
        50,
        800,
    )
    assert (best["json"]["self_us"], best["json"]["cumulative_us"]) == (20, 30)
    assert runs[0][0]["self_us"] == 50 and runs[1][0]["self_us"] == 70  # inputs untouched


def test_own_modules_are_ours_only_ranked_by_cumulative_time() -> None:
    rows = [
        row("fastapi", 300_000, 400_000),
        row("orchestrator", 100, 100),
        row("orchestrator.main", 3_000, 600_000),
        row("orchestrator.config", 6_000, 9_000, 1),
        row("orchestrator_extras", 5_000, 5_000),  # a prefix is not a package
        *(row(f"orchestrator.m{i}", 10 * i, 100 * i, 1) for i in range(1, 13)),
    ]
    found = own_modules(rows, top=3)
    assert [r["module"] for r in found["top_own_cumulative"]] == [
        "orchestrator.main",
        "orchestrator.config",
        "orchestrator.m12",
    ]
    assert found["modules_imported"] == len(rows)
    assert found["own_modules"] == 15
    assert found["own_self_us"] == 100 + 3_000 + 6_000 + sum(10 * i for i in range(1, 13))
    assert found["total_self_us"] == found["own_self_us"] + 300_000 + 5_000


def test_a_start_counts_only_its_own_answer(tmp_path: Path) -> None:
    art = artifacts.artifacts()["ours"]
    ping = Start("ours", art, tmp_path / "e.json", {})
    deferred = Start("deferred", art, tmp_path / "e.json", {}, 200, 5)
    github = Start("github", art, tmp_path / "e.json", {}, 202, None)
    assert ping.answered({"status": 200, "body": '{"type": 1}'})
    assert not ping.answered({"status": 200, "body": '{"type":5}'})
    assert deferred.answered({"status": 200, "body": '{"type":5,"data":{"flags":64}}'})
    assert not deferred.answered({"status": 200, "body": '{"type":4}'})
    assert not deferred.answered({"status": 401, "body": '{"type":5}'})
    assert github.answered({"status": 202, "body": '{"accepted":true}'})
    assert not github.answered({"status": 200, "body": '{"duplicate":true}'})


def test_the_report_shows_our_import_cost_per_front_door() -> None:
    door = {
        "modules_imported": 450,
        "own_modules": 25,
        "total_self_us": 418_000,
        "own_self_us": 25_400,
        "top_own_cumulative": [
            row("orchestrator.main", 3_600, 568_000),
            row("orchestrator.config", 6_600, 15_200, 1),
        ],
    }
    doors = {"ping": door, "deferred": {**door, "own_modules": 83}, "github": door}
    text = report.render({"sections": {"coldstart": {"front_doors": doors, "ratios": {}}}})
    assert "### Our modules' import cost per front door" in text
    assert "| signed PING (`POST /discord`, type 1) | 450 (25) | 418 | 25.4 |" in text
    assert "| 450 (83) |" in text
    assert text.count("| `orchestrator.config` | 15.2 | 6.6 |") == 3
    assert "GitHub delivery" in text


def test_the_report_leaves_the_table_out_when_nothing_was_traced() -> None:
    assert report.front_door_lines({}) == []
    text = report.render({"sections": {"coldstart": {"ratios": {}}}})
    assert "per front door" not in text


def test_our_artifact_is_rebuilt_when_its_source_changes(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from bench import common

    (tmp_path / "orchestrator").mkdir()
    (tmp_path / "requirements").mkdir()
    module = tmp_path / "orchestrator" / "main.py"
    module.write_text("A = 1\n")
    (tmp_path / "requirements" / "runtime.txt").write_text("fastapi==1\n")
    monkeypatch.setattr(common, "ROOT", tmp_path)
    first = artifacts._source_fingerprint()
    assert artifacts._source_fingerprint() == first
    module.write_text("A = 2\n")
    assert artifacts._source_fingerprint() != first


@pytest.mark.parametrize(
    ("code", "problem"),
    [
        ("import time\ndef handler(event, context):\n    time.sleep(60)\n", "did not answer"),
        (
            "import atexit, time\natexit.register(time.sleep, 60)\n"
            "def handler(event, context):\n"
            "    return {'statusCode': 200, 'body': '{\"type\":1}'}\n",
            "did not exit after answering",
        ),
    ],
)
def test_a_hanging_start_is_killed_at_the_deadline(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, code: str, problem: str
) -> None:
    """A child stuck before its answer, or after it (a thread, an exit hook), fails the
    section at `START_TIMEOUT` instead of holding `make bench` forever."""
    import sys
    import time

    from bench import coldstart

    monkeypatch.setattr(coldstart, "START_TIMEOUT", 1.0)
    (tmp_path / "stuck.py").write_text(code)
    event = tmp_path / "event.json"
    event.write_text("{}")
    art = artifacts.Artifact("stuck", tmp_path, "stuck.handler", False, tmp_path / "x.zip")
    started = time.monotonic()
    with pytest.raises(RuntimeError, match=problem):
        coldstart.one_start(sys.executable, Start("stuck", art, event, {}))
    assert time.monotonic() - started < 30  # killed, not waited out


def test_ours_and_the_bare_artifact_start_back_to_back_each_first_as_often() -> None:
    """The cold start's per-run pairs are side by side, as the PING's (`paired_order`)."""
    from bench import coldstart

    reps = 4 * (len(coldstart.VARIANTS) - 1)  # two full rotations of the order, twice
    leads: dict[int, list[bool]] = {}
    for rep in range(reps):
        order = coldstart.start_order(rep)
        assert sorted(order) == sorted(coldstart.VARIANTS)
        ours, bare = order.index("ours"), order.index("bare")
        assert abs(ours - bare) == 1
        leads.setdefault(min(ours, bare), []).append(ours < bare)
    for place, firsts in leads.items():
        assert firsts.count(True) == firsts.count(False), (place, firsts)
