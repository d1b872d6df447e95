"""Small, dependency-free statistics for the benchmarks.

Every reported number is a median over repetitions with its min and max (`spread`);
latency percentiles use the nearest-rank method on the sorted samples.
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Sequence
from typing import Any


def median(values: Iterable[float]) -> float:
    data = sorted(values)
    if not data:
        raise ValueError("median of no values")
    middle = len(data) // 2
    if len(data) % 2:
        return float(data[middle])
    return (data[middle - 1] + data[middle]) / 2.0


def percentile(values: Iterable[float], pct: float) -> float:
    """Nearest-rank percentile: the smallest sample with at least `pct`% of samples <= it."""
    if not 0 <= pct <= 100:
        raise ValueError("percentile must be within 0..100")
    data = sorted(values)
    if not data:
        raise ValueError("percentile of no values")
    if pct == 0:
        return float(data[0])
    rank = math.ceil(pct / 100.0 * len(data))
    return float(data[rank - 1])


def spread(values: Sequence[float]) -> dict[str, Any]:
    """Median, min and max of repeated measurements, plus the raw values."""
    if not values:
        raise ValueError("spread of no values")
    return {
        "median": median(values),
        "min": float(min(values)),
        "max": float(max(values)),
        "n": len(values),
        "runs": [float(v) for v in values],
    }


def latency_summary(samples: Sequence[float]) -> dict[str, float]:
    """p50/p90/p99/max (and mean) of one run's latencies, in the samples' unit."""
    if not samples:
        raise ValueError("no latency samples")
    return {
        "p50": percentile(samples, 50),
        "p90": percentile(samples, 90),
        "p99": percentile(samples, 99),
        "max": float(max(samples)),
        "mean": sum(samples) / len(samples),
    }


def ratio(numerator: float | None, denominator: float | None) -> float | None:
    """numerator / denominator, or None when either is missing or the denominator is zero."""
    if numerator is None or denominator is None or denominator == 0:
        return None
    return numerator / denominator
