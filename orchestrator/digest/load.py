"""Reading a period's samples from the store, and the digest built from them.

Keys hold a sortable UTC time, so a period is read with one prefix query per day
(`probe:web:api:20261129`) instead of a scan: a week of 5-minute probes is a few
thousand small records, read in pages the backend bounds.
"""

from __future__ import annotations

import time
from collections.abc import Sequence
from typing import TYPE_CHECKING, Any, Literal

from orchestrator.digest.compute import (
    Digest,
    ProbeSample,
    RunSample,
    VerificationSample,
    compute,
)
from orchestrator.probes.state import SELF_APP, TARGETS
from orchestrator.store import keys

if TYPE_CHECKING:
    from orchestrator.runtime import Runtime
    from orchestrator.store.base import Store

Period = Literal["daily", "weekly"]
PERIODS: dict[str, float] = {"daily": 86400.0, "weekly": 7 * 86400.0}
PER_DAY_LIMIT = 5000  # > a day of probes at the shortest interval (30 s: 2880)


def _float(value: Any) -> float | None:
    return float(value) if isinstance(value, int | float) and not isinstance(value, bool) else None


def _int(value: Any) -> int | None:
    return value if isinstance(value, int) and not isinstance(value, bool) else None


def _str(value: Any) -> str | None:
    return value if isinstance(value, str) else None


def runs(store: Store, app: str, start: float, end: float) -> list[RunSample]:
    out = []
    for day in keys.days(start, end):
        for record in store.query_prefix(keys.run_prefix(app, day), limit=PER_DAY_LIMIT):
            value = record.value
            at = _float(value.get("completed_at"))
            if at is None:
                continue
            out.append(
                RunSample(
                    app=app,
                    at=at,
                    conclusion=_str(value.get("conclusion")),
                    duration_s=_float(value.get("duration")),
                    url=_str(value.get("url")),
                    head_sha=_str(value.get("head_sha")),
                    run_id=_int(value.get("run_id")),
                )
            )
    return out


def probes(store: Store, app: str, start: float, end: float) -> list[ProbeSample]:
    out = []
    for target in TARGETS:
        for day in keys.days(start, end):
            prefix = keys.probe_prefix(app, target, day)
            for record in store.query_prefix(prefix, limit=PER_DAY_LIMIT):
                value = record.value
                at = _float(value.get("at"))
                if at is None:
                    continue
                ms = value.get("ms")
                out.append(ProbeSample(app, target, at, bool(value.get("ok")), _int(ms)))
    return out


def verifications(store: Store, app: str, start: float, end: float) -> list[VerificationSample]:
    out = []
    for day in keys.days(start, end):
        prefix = keys.verification_prefix(app, day)
        for record in store.query_prefix(prefix, limit=PER_DAY_LIMIT):
            at = _float(record.value.get("recorded_at"))
            verdict = _str(record.value.get("verdict"))
            if at is not None and verdict:
                out.append(VerificationSample(app, at, verdict.lower()))
    return out


def app_names(services: Runtime) -> list[str]:
    from orchestrator.apps import apps_of

    return [*sorted(apps_of(services)), SELF_APP]


def build(
    services: Runtime,
    period: Period,
    *,
    end: float | None = None,
    apps: Sequence[str] | None = None,
) -> Digest:
    """The digest of the `period` ending at `end` (default now) for `apps` (default all)."""
    period_end = time.time() if end is None else end
    period_start = period_end - PERIODS[period]
    store = services.store
    names = list(apps) if apps is not None else app_names(services)
    all_runs: list[RunSample] = []
    all_probes: list[ProbeSample] = []
    all_verifications: list[VerificationSample] = []
    for name in names:
        all_runs += runs(store, name, period_start, period_end)
        all_probes += probes(store, name, period_start, period_end)
        all_verifications += verifications(store, name, period_start, period_end)
    return compute(period_start, period_end, all_runs, all_probes, all_verifications)
