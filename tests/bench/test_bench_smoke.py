"""The benchmark harness works: its statistics are right, and one tiny PING round runs.

No peers are installed here; the full run is `make bench`.
"""

from __future__ import annotations

import tempfile
from pathlib import Path

import pytest

from bench import report
from bench.coldstart import parse_importtime
from bench.payloads import Keypair, signed_pings
from bench.ping import http_round, summarize, targets
from bench.stats import latency_summary, median, percentile, ratio, spread


def test_median_of_odd_and_even_counts() -> None:
    assert median([3, 1, 2]) == 2
    assert median([4, 1, 3, 2]) == 2.5
    assert median([7.5]) == 7.5
    with pytest.raises(ValueError, match="no values"):
        median([])


def test_percentile_is_nearest_rank() -> None:
    values = list(range(1, 101))  # 1..100
    assert percentile(values, 50) == 50
    assert percentile(values, 99) == 99
    assert percentile(values, 100) == 100
    assert percentile(values, 0) == 1
    assert percentile([10, 20, 30, 40], 50) == 20
    assert percentile([10, 20, 30, 40], 51) == 30
    assert percentile([5], 99) == 5
    with pytest.raises(ValueError, match="within"):
        percentile([1], 101)


def test_spread_summary_and_ratio() -> None:
    result = spread([3.0, 1.0, 2.0])
    assert (result["median"], result["min"], result["max"], result["n"]) == (2.0, 1.0, 3.0, 3)
    assert result["runs"] == [3.0, 1.0, 2.0]
    summary = latency_summary([float(v) for v in range(1, 201)])
    assert (summary["p50"], summary["p90"], summary["p99"], summary["max"]) == (100, 180, 198, 200)
    assert summary["mean"] == pytest.approx(100.5)
    assert ratio(3.0, 2.0) == 1.5
    assert ratio(1.0, 0.0) is None
    assert ratio(None, 2.0) is None


def test_importtime_lines_are_parsed() -> None:
    stderr = (
        "import time: self [us] | cumulative | imported package\n"
        "import time:       120 |        120 |     json.decoder\n"
        "import time:       300 |        420 |   json\n"
        "import time:      1000 |       1420 | app\n"
        "something else\n"
    )
    rows = parse_importtime(stderr)
    assert [(r["module"], r["depth"], r["cumulative_us"]) for r in rows] == [
        ("json.decoder", 2, 120),
        ("json", 1, 420),
        ("app", 0, 1420),
    ]


def test_one_tiny_ping_round_through_the_floor_and_our_app() -> None:
    keys = Keypair.generate()
    pings = signed_pings(keys, 50)
    with tempfile.TemporaryDirectory(prefix="bench-smoke-") as scratch:
        work = Path(scratch)
        (work / "data").mkdir()
        chosen = [t for t in targets(keys, work / "data", {}) if t.name in ("ours", "floor")]
        http_round(chosen, pings, work, reps=1, count=50, warmup=5)
    by_name = {t.name: t for t in chosen}
    for name in ("ours", "floor"):
        target = by_name[name]
        assert target.error is None, target.error
        [run] = target.runs
        assert run["ok"] == 50, run
        assert run["statuses"] == {"200": 50}
        assert run["rps"] > 0
        assert 0 < run["latency_ms"]["p50"] <= run["latency_ms"]["p99"]
        assert summarize(target)["rps"]["n"] == 1
    # The report renders from whatever a run produced, even a partial one.
    results = {"sections": {"ping": {"targets": {n: summarize(t) for n, t in by_name.items()}}}}
    results["goals"] = report.goals(results)
    text = report.render(results)
    assert "## 1. Signed PING over HTTP" in text
    assert "orchestrator (this app)" in text
