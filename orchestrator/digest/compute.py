"""Digest statistics, pure: samples in, a `Digest` out, never a division by zero.

Definitions (also what the tests pin down):

* **success rate** = successful runs / decided runs, where decided means `success` or a
  failure (`failure`, `timed_out`, `startup_failure`). A cancelled or skipped run is
  neither: cancelling a deploy is not a failed deploy. No decided run: `None` ("n/a").
* **mean / p95 deploy duration** over runs that report a duration, whatever their outcome
  (a deploy that fails after 20 minutes cost 20 minutes).
* **percentiles** are nearest-rank: the p-th percentile of n sorted values is the value at
  rank ceil(p/100 * n) (1-based). Always an observed value, never interpolated, and
  defined for n = 1 (the value itself). n = 0: `None`.
* **uptime** = probes that were up / probes, per target and per app (all its targets).
  **latency** p50/p95 over the probes that were up (a timeout's "latency" is the timeout).

A sample belongs to the period when `period_start <= at < period_end`.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field

FAILED = frozenset({"failure", "timed_out", "startup_failure"})


@dataclass(frozen=True)
class RunSample:
    app: str
    at: float  # completion time
    conclusion: str | None
    duration_s: float | None = None
    url: str | None = None
    head_sha: str | None = None
    run_id: int | None = None

    @property
    def failed(self) -> bool:
        return self.conclusion in FAILED


@dataclass(frozen=True)
class ProbeSample:
    app: str
    target: str
    at: float
    ok: bool
    ms: int | None = None


@dataclass(frozen=True)
class VerificationSample:
    app: str
    at: float
    verdict: str


@dataclass(frozen=True)
class DeployStats:
    count: int = 0
    successes: int = 0
    failures: int = 0
    success_rate: float | None = None  # 0..1
    mean_s: float | None = None
    p95_s: float | None = None


@dataclass(frozen=True)
class UptimeStats:
    target: str  # a target name, or "all" for an app's targets together
    samples: int = 0
    up: int = 0
    uptime: float | None = None  # 0..1
    p50_ms: float | None = None
    p95_ms: float | None = None


@dataclass(frozen=True)
class AppDigest:
    app: str
    deploys: DeployStats
    uptime: UptimeStats  # all targets together
    targets: tuple[UptimeStats, ...] = ()
    verdicts: dict[str, int] = field(default_factory=dict)


@dataclass(frozen=True)
class Digest:
    period_start: float
    period_end: float
    deploys: DeployStats
    failed_runs: tuple[RunSample, ...] = ()
    apps: tuple[AppDigest, ...] = ()
    verdicts: dict[str, int] = field(default_factory=dict)

    @property
    def empty(self) -> bool:
        return not self.apps


def percentile(values: Iterable[float], p: int) -> float | None:
    """Nearest-rank percentile (see the module docstring); None for no values."""
    if not 0 < p <= 100:
        raise ValueError("p is in (0, 100]")
    ordered = sorted(values)
    if not ordered:
        return None
    rank = -(-p * len(ordered) // 100)  # ceil(p * n / 100) in integers: no float edge cases
    return ordered[max(rank, 1) - 1]


def mean(values: Sequence[float]) -> float | None:
    return sum(values) / len(values) if values else None


def ratio(part: int, whole: int) -> float | None:
    return part / whole if whole else None


def deploy_stats(runs: Sequence[RunSample]) -> DeployStats:
    successes = sum(1 for r in runs if r.conclusion == "success")
    failures = sum(1 for r in runs if r.failed)
    durations = [r.duration_s for r in runs if r.duration_s is not None]
    return DeployStats(
        count=len(runs),
        successes=successes,
        failures=failures,
        success_rate=ratio(successes, successes + failures),
        mean_s=mean(durations),
        p95_s=percentile(durations, 95),
    )


def uptime_stats(target: str, probes: Sequence[ProbeSample]) -> UptimeStats:
    up = [p for p in probes if p.ok]
    latencies = [float(p.ms) for p in up if p.ms is not None]
    return UptimeStats(
        target=target,
        samples=len(probes),
        up=len(up),
        uptime=ratio(len(up), len(probes)),
        p50_ms=percentile(latencies, 50),
        p95_ms=percentile(latencies, 95),
    )


def compute(
    period_start: float,
    period_end: float,
    runs: Iterable[RunSample],
    probes: Iterable[ProbeSample],
    verifications: Iterable[VerificationSample],
) -> Digest:
    """The digest of `[period_start, period_end)`; samples outside it are ignored."""

    def inside(at: float) -> bool:
        return period_start <= at < period_end

    kept_runs = sorted((r for r in runs if inside(r.at)), key=lambda r: (r.at, r.app))
    kept_probes = [p for p in probes if inside(p.at)]
    kept_verifications = [v for v in verifications if inside(v.at)]
    names = sorted(
        {r.app for r in kept_runs}
        | {p.app for p in kept_probes}
        | {v.app for v in kept_verifications}
    )
    apps = []
    for name in names:
        app_probes = [p for p in kept_probes if p.app == name]
        by_target: dict[str, list[ProbeSample]] = {}
        for sample in app_probes:
            by_target.setdefault(sample.target, []).append(sample)
        apps.append(
            AppDigest(
                app=name,
                deploys=deploy_stats([r for r in kept_runs if r.app == name]),
                uptime=uptime_stats("all", app_probes),
                targets=tuple(uptime_stats(t, by_target[t]) for t in sorted(by_target)),
                verdicts=dict(
                    sorted(Counter(v.verdict for v in kept_verifications if v.app == name).items())
                ),
            )
        )
    return Digest(
        period_start=period_start,
        period_end=period_end,
        deploys=deploy_stats(kept_runs),
        failed_runs=tuple(r for r in kept_runs if r.failed),
        apps=tuple(apps),
        verdicts=dict(sorted(Counter(v.verdict for v in kept_verifications).items())),
    )
