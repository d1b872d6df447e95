"""Digest statistics and rendering, table-driven: empty and all-failed periods included."""

from __future__ import annotations

import pytest

from orchestrator.digest.compute import (
    DeployStats,
    ProbeSample,
    RunSample,
    UptimeStats,
    VerificationSample,
    compute,
    deploy_stats,
    percentile,
)
from orchestrator.digest.render import percent, to_message, uptime_line
from orchestrator.probes.state import SELF_APP
from tests.support.discord_spec import DiscordSpec

START, END = 1_000_000.0, 1_000_000.0 + 86400


def run(
    app: str, conclusion: str | None, duration: float | None, at: float = START + 10, n: int = 1
) -> RunSample:
    return RunSample(
        app=app,
        at=at,
        conclusion=conclusion,
        duration_s=duration,
        url=f"https://github.com/acme/{app}/actions/runs/{n}",
        head_sha="abcdef0123456789",
        run_id=n,
    )


@pytest.mark.parametrize(
    ("values", "p", "expected"),
    [
        ([], 95, None),
        ([7.0], 95, 7.0),
        ([7.0], 50, 7.0),
        ([1.0, 2.0], 50, 1.0),  # rank ceil(1.0) = 1
        ([1.0, 2.0], 95, 2.0),
        ([3.0, 1.0, 2.0], 50, 2.0),
        ([float(v) for v in range(1, 21)], 95, 19.0),  # rank ceil(19.0) = 19: exact, no float fuzz
        ([float(v) for v in range(1, 22)], 95, 20.0),  # rank ceil(19.95) = 20
        ([float(v) for v in range(1, 101)], 95, 95.0),
        ([float(v) for v in range(1, 101)], 100, 100.0),
    ],
)
def test_nearest_rank_percentile(values: list[float], p: int, expected: float | None) -> None:
    assert percentile(values, p) == expected


def test_percentile_rejects_nonsense() -> None:
    with pytest.raises(ValueError, match="p is in"):
        percentile([1.0], 0)


@pytest.mark.parametrize(
    ("runs", "expected"),
    [
        pytest.param([], DeployStats(), id="none"),
        pytest.param(
            [
                run("web", "failure", 60),
                run("web", "timed_out", 120),
                run("web", "startup_failure", None),
            ],
            DeployStats(count=3, successes=0, failures=3, success_rate=0.0, mean_s=90, p95_s=120),
            id="all-failed",
        ),
        pytest.param(
            [run("web", "cancelled", None), run("web", "skipped", None)],
            DeployStats(count=2),
            id="only-cancelled-no-rate",
        ),
        pytest.param(
            [run("web", "success", 100), run("web", "success", 300), run("web", "failure", 200)],
            DeployStats(
                count=3, successes=2, failures=1, success_rate=2 / 3, mean_s=200, p95_s=300
            ),
            id="mixed",
        ),
    ],
)
def test_deploy_stats(runs: list[RunSample], expected: DeployStats) -> None:
    assert deploy_stats(runs) == expected


def test_an_empty_period() -> None:
    digest = compute(START, END, [], [], [])
    assert digest.empty and digest.deploys == DeployStats() and digest.verdicts == {}
    message = to_message(digest)
    text = str(message.embeds)
    assert "n/a" in text and "0%" not in text
    DiscordSpec.get().assert_valid_request("POST", "/channels/1/messages", message.to_data())


def test_samples_outside_the_period_are_ignored() -> None:
    digest = compute(
        START,
        END,
        [run("web", "success", 10, at=START - 1), run("web", "failure", 10, at=END)],
        [ProbeSample("web", "api", END + 5, ok=False)],
        [VerificationSample("web", START - 100, "fail")],
    )
    assert digest.empty


def test_an_all_failed_period() -> None:
    runs = [run("web", "failure", 60, n=1), run("api", "timed_out", 240, at=START + 20, n=2)]
    probes = [ProbeSample("web", "frontend", START + i, ok=False) for i in range(4)]
    digest = compute(START, END, runs, probes, [])
    assert digest.deploys.success_rate == 0.0
    assert [r.run_id for r in digest.failed_runs] == [1, 2]
    web = next(a for a in digest.apps if a.app == "web")
    assert web.uptime.uptime == 0.0 and web.uptime.p50_ms is None and web.uptime.p95_ms is None
    message = to_message(digest)
    description = message.embeds[0]["description"]
    assert "0.0% succeeded" in description and "mean 2 min 30 s" in description
    fields = {f["name"]: f["value"] for f in message.embeds[0]["fields"]}
    assert "0.0% up (0/4 probes) · p50 n/a · p95 n/a" in fields["web"]
    assert "[#1](https://github.com/acme/web/actions/runs/1)" in fields["Failed runs"]
    assert "[#2](https://github.com/acme/api/actions/runs/2)" in fields["Failed runs"]
    DiscordSpec.get().assert_valid_request("POST", "/channels/1/messages", message.to_data())


def test_a_mixed_period_per_app() -> None:
    runs = [run("web", "success", 100, n=1), run("web", "success", 300, n=2)]
    probes = [
        *(ProbeSample("web", "frontend", START + i, ok=True, ms=10 * (i + 1)) for i in range(20)),
        *(ProbeSample("web", "api", START + i, ok=i != 0, ms=5) for i in range(10)),
        ProbeSample(SELF_APP, "self", START + 1, ok=True, ms=3),
    ]
    verifications = [
        VerificationSample("web", START + 1, "pass"),
        VerificationSample("web", START + 2, "pass"),
        VerificationSample("web", START + 3, "warn"),
    ]
    digest = compute(START, END, runs, probes, verifications)
    web = next(a for a in digest.apps if a.app == "web")
    assert web.deploys.success_rate == 1.0 and web.deploys.p95_s == 300
    assert (web.uptime.samples, web.uptime.up) == (30, 29)
    frontend = next(t for t in web.targets if t.target == "frontend")
    assert (frontend.uptime, frontend.p50_ms, frontend.p95_ms) == (1.0, 100.0, 190.0)
    assert web.verdicts == {"pass": 2, "warn": 1} and digest.verdicts == {"pass": 2, "warn": 1}
    message = to_message(digest)
    fields = {f["name"]: f["value"] for f in message.embeds[0]["fields"]}
    assert "100% succeeded" in fields["web"]
    assert "96.6% up (29/30 probes)" in fields["web"], "29/30 rounds down, never up to 96.7"
    assert "orchestrator (this service)" in fields
    assert "Failed runs" not in fields
    assert message.embeds[0]["title"].startswith("📊 Daily digest")
    DiscordSpec.get().assert_valid_request("POST", "/channels/1/messages", message.to_data())


@pytest.mark.parametrize(
    ("value", "text"),
    [(None, "n/a"), (1.0, "100%"), (0.99999, "99.9%"), (0.0, "0.0%"), (0.5, "50.0%")],
)
def test_percent(value: float | None, text: str) -> None:
    assert percent(value) == text


def test_latencies_read_in_the_one_duration_style() -> None:
    stats = UptimeStats("all", samples=4, up=4, uptime=1.0, p50_ms=12.4, p95_ms=None)
    assert uptime_line(stats) == "📡 100% up (4/4 probes) · p50 12 ms · p95 n/a"
    slow = UptimeStats("all", samples=4, up=4, uptime=1.0, p50_ms=850, p95_ms=2300)
    assert uptime_line(slow).endswith("p50 850 ms · p95 2.3 s")


def test_many_apps_and_failures_stay_within_discords_limits() -> None:
    runs = [run(f"app{i:02d}", "failure", 30, n=i) for i in range(40)]
    message = to_message(compute(START, START + 7 * 86400, runs, [], []))
    assert message.embeds[0]["title"].startswith("📊 Weekly digest")
    fields = message.embeds[0]["fields"]
    assert len(fields) <= 25 and "… and 30 more" in fields[-1]["value"]
    DiscordSpec.get().assert_valid_request("POST", "/channels/1/messages", message.to_data())
