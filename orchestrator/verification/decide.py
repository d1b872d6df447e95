"""From facts to a verdict: is what runs what we merged, and is it healthy?

Pure: `decide(facts)` reads only the dataclasses the collector filled, so every
verdict path is a row in a table test. The rules, in the order people ask:

* **FAIL** is for something definitely wrong now: a failed run, a page that
  answers 5xx or not at all, a version that is not the merged commit, HTML
  cached long enough to hide a deploy, a commit that never was on the branch.
* **WARN** is for "not wrong, but look": a run still going (the old version is
  expected until it ends), a few commits behind, slow answers, a missing cache
  header, or a check we could not make (GitHub down is not the app's fault,
  but it is not a green light either).
* **SKIP** is for a check the app does not configure. It sorts lowest, so the
  verdict is simply the worst status and a skip never turns a pass grey.

Summaries are one line meant for a phone at 2 a.m.; the details that back them
sit in `evidence`, JSON-ready.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from enum import IntEnum
from typing import Any

from orchestrator.notifications.render import first_line
from orchestrator.text import duration, duration_ms
from orchestrator.verification.facts import (
    API,
    FRESHNESS,
    FRONTEND,
    RUN,
    SELF,
    VERSION,
    CheckError,
    Facts,
    HttpProbe,
    RunFacts,
    VersionProbe,
    sha_matches,
)

DEFAULT_SLOW_MS = 1500
SUMMARY_LIMIT = 200

_FAILED = frozenset({"failure", "timed_out", "startup_failure"})
_CONCLUSION_WORDS = {
    "success": "succeeded",
    "failure": "failed",
    "timed_out": "timed out",
    "startup_failure": "failed to start",
    "cancelled": "was cancelled",
    "action_required": "waits for approval",
    "skipped": "was skipped",
    "neutral": "finished (neutral)",
    "stale": "went stale",
}


class Status(IntEnum):
    """Worse is larger, so a verdict is `max(...)`; SKIP sorts below PASS on purpose."""

    SKIP = 0
    PASS = 1
    WARN = 2
    FAIL = 3


@dataclass(frozen=True)
class Check:
    name: str
    status: Status
    summary: str
    evidence: Mapping[str, Any] = field(default_factory=dict)


@dataclass(frozen=True)
class Report:
    app: str
    run_id: int | None
    run_url: str | None
    head_sha: str | None
    checks: tuple[Check, ...]
    verdict: Status
    duration_ms: int
    collected_at: float
    repo: str = ""
    branch: str = ""

    def check(self, name: str) -> Check:
        for item in self.checks:
            if item.name == name:
                return item
        raise KeyError(name)


def verdict_of(statuses: Sequence[Status]) -> Status:
    return max(statuses, default=Status.SKIP)


# --- Cache-Control -----------------------------------------------------------------------------


@dataclass(frozen=True)
class CachePolicy:
    present: bool
    no_store: bool = False
    no_cache: bool = False
    max_age: int | None = None
    s_maxage: int | None = None
    immutable: bool = False
    private: bool = False


def _seconds(value: str) -> int | None:
    value = value.strip().strip('"')
    return int(value) if value.isascii() and value.isdigit() else None


def _larger(old: int | None, new: int | None) -> int | None:
    # Repeated directives are invalid; assume the longer lifetime (the one that hides deploys).
    if new is None:
        return old
    return new if old is None else max(old, new)


def parse_cache_control(value: str | None) -> CachePolicy:
    if value is None:
        return CachePolicy(present=False)
    no_store = no_cache = immutable = private = False
    max_age: int | None = None
    s_maxage: int | None = None
    for directive in value.split(","):
        name, has_arg, arg = directive.strip().partition("=")
        name = name.strip().lower()
        if name == "no-store":
            no_store = True
        elif name == "no-cache" and not has_arg:  # no-cache="field" only drops that field
            no_cache = True
        elif name == "max-age":
            max_age = _larger(max_age, _seconds(arg))
        elif name == "s-maxage":
            s_maxage = _larger(s_maxage, _seconds(arg))
        elif name == "immutable":
            immutable = True
        elif name == "private":
            private = True
    return CachePolicy(True, no_store, no_cache, max_age, s_maxage, immutable, private)


def html_cache_seconds(policy: CachePolicy) -> float | None:
    """Longest a browser or a CDN may serve this HTML without asking the origin again.

    None: the header sets no lifetime, so caches may guess one (heuristic freshness).
    """
    if policy.no_store or policy.no_cache:
        return 0.0
    if policy.immutable:
        return math.inf
    shared = None if policy.private else policy.s_maxage
    if shared is None and not policy.private:
        shared = policy.max_age
    lifetimes = [v for v in (policy.max_age, shared) if v is not None]
    return float(max(lifetimes)) if lifetimes else None


def cache_verdict(header: str | None, max_seconds: int) -> tuple[Status, str]:
    policy = parse_cache_control(header)
    if not policy.present:
        return Status.WARN, "no Cache-Control on the HTML"
    if policy.no_store:
        return Status.PASS, "HTML no-store"
    if policy.no_cache:
        return Status.PASS, "HTML no-cache"
    if policy.immutable:
        return Status.FAIL, "HTML marked immutable"
    lifetime = html_cache_seconds(policy)
    if lifetime is None:
        return Status.WARN, "HTML Cache-Control sets no max-age"
    if lifetime > max_seconds:
        return Status.FAIL, f"HTML cached {duration(lifetime)} (max {duration(max_seconds)})"
    return Status.PASS, f"HTML cached ≤{duration(lifetime)}"


# --- helpers ------------------------------------------------------------------------------------


def short(value: str | None) -> str:
    """7 characters of a SHA; other version strings as they are (bounded)."""
    if not value:
        return "?"
    if len(value) >= 7 and all(c in "0123456789abcdefABCDEF" for c in value):
        return value[:7]
    return first_line(value, 24)


def _plural(n: int, word: str) -> str:
    return f"{n} {word}{'' if n == 1 else 's'}"


def _clip(text: str) -> str:
    return first_line(text, SUMMARY_LIMIT)


def _clip_keeping(text: str, tail: str) -> str:
    """`_clip`, but `tail` (a count such as " +3 more") survives long job names."""
    return first_line(text, SUMMARY_LIMIT - len(tail)) + tail if tail else _clip(text)


def _probe_evidence(probe: HttpProbe) -> dict[str, Any]:
    return {
        "url": probe.url,
        "final_url": probe.final_url,
        "status": probe.status,
        "elapsed_ms": probe.elapsed_ms,
        "attempts": probe.attempts,
        "https": probe.https,
        "error": probe.error,
        "headers": dict(probe.headers),
        "body_bytes": probe.body_bytes,
        "truncated": probe.truncated,
    }


def _error_evidence(error: CheckError | None) -> dict[str, Any]:
    return {"error": {"kind": error.kind, "message": error.message}} if error else {}


def _could_not(error: CheckError | None, what: str) -> str:
    return f"could not check {what}: {error.message}" if error else f"could not check {what}"


def _http(label: str, probe: HttpProbe, slow_ms: int) -> tuple[list[Status], list[str]]:
    """Reachability, status, speed and transport of one probe."""
    retried = f" (after {_plural(probe.attempts - 1, 'retry')})" if probe.attempts > 1 else ""
    if probe.error is not None:
        return [Status.FAIL], [f"{label} unreachable: {probe.error}"]
    took = duration_ms(probe.elapsed_ms)
    if not probe.ok:
        return [Status.FAIL], [f"{label} answered {probe.status} in {took}"]
    statuses, parts = [Status.PASS], [f"{label} {probe.status} in {took}"]
    if probe.elapsed_ms is not None and probe.elapsed_ms > slow_ms:
        statuses.append(Status.WARN)
        parts[0] += " (slow)"
    parts[0] += retried
    if not probe.https and not probe.loopback:
        statuses.append(Status.WARN)
        parts.append("not over https")
    return statuses, parts


def _version(
    version: VersionProbe | None, run: RunFacts | None, error: CheckError | None
) -> tuple[Status, str]:
    if version is None:
        return Status.WARN, _could_not(error, "the version")
    if version.probe is not None and version.probe.error is not None:
        return Status.FAIL, f"version unreachable: {version.probe.error}"
    if version.probe is not None and not version.probe.ok:
        return Status.FAIL, f"version answered {version.probe.status}"
    if version.found is None:
        return Status.WARN, f"version unknown: {version.problem or 'not found'}"
    expected = run.head_sha if run is not None else None
    if expected is None:
        return Status.WARN, f"serves {short(version.found)} (run commit unknown)"
    if sha_matches(version.found, expected):
        return Status.PASS, f"serves {short(version.found)}"
    if run is not None and run.status != "completed":
        return Status.WARN, f"still serves {short(version.found)} (deploy in progress)"
    return Status.FAIL, f"serves {short(version.found)}, not {short(expected)}"


def _version_evidence(version: VersionProbe | None, expected: str | None) -> dict[str, Any]:
    if version is None:
        return {}
    out: dict[str, Any] = {
        "source": version.source,
        "found": version.found,
        "expected": expected,
        "problem": version.problem,
    }
    if version.probe is not None:
        out["probe"] = _probe_evidence(version.probe)
    return out


# --- the five checks ----------------------------------------------------------------------------


def _run_check(facts: Facts) -> Check:
    run, error = facts.run, facts.errors.get(RUN)
    if run is None:
        if error is not None and error.kind in ("not_found", "invalid"):
            return Check(RUN, Status.FAIL, _clip(error.message), _error_evidence(error))
        return Check(RUN, Status.WARN, _clip(_could_not(error, "the run")), _error_evidence(error))
    evidence: dict[str, Any] = {
        "id": run.id,
        "repo": run.repo,
        "name": run.name,
        "status": run.status,
        "conclusion": run.conclusion,
        "head_sha": run.head_sha,
        "head_branch": run.head_branch,
        "url": run.html_url,
        "attempt": run.attempt,
        "event": run.event,
        "actor": run.actor,
        "duration_s": run.duration_s,
        "failed_jobs": [
            {"name": j.name, "conclusion": j.conclusion, "url": j.url, "steps": list(j.steps)}
            for j in run.failed_jobs
        ],
        "jobs_error": run.jobs_error,
    }
    name = first_line(run.name, 60) or f"run {run.id}"
    attempt = f" (attempt {run.attempt})" if run.attempt > 1 else ""
    failed = run.failed_jobs
    jobs = ", ".join(
        f"{j.name} ({', '.join(j.steps[:2])})" if j.steps else j.name for j in failed[:3]
    )
    more = f" +{len(failed) - 3} more" if len(failed) > 3 else ""
    if run.status != "completed":
        waiting = run.status in ("queued", "waiting", "pending", "requested")
        state = "queued" if waiting else "in progress"
        summary = f"{name} {state}"
        if run.started_at is not None and facts.collected_at >= run.started_at:
            summary += f" for {duration(facts.collected_at - run.started_at)}"
        if failed:
            return Check(
                RUN,
                Status.WARN,
                _clip_keeping(f"{summary}; already failed: {jobs}", more + attempt),
                evidence,
            )
        return Check(RUN, Status.WARN, _clip(summary + attempt), evidence)
    word = _CONCLUSION_WORDS.get(run.conclusion or "", f"finished ({run.conclusion})")
    if run.conclusion == "success":
        summary = f"{name} succeeded in {duration(run.duration_s)}{attempt}"
        return Check(RUN, Status.PASS, _clip(summary), evidence)
    if run.conclusion in _FAILED:
        summary = f"{name} {word} after {duration(run.duration_s)}{attempt}"
        evidence["headline"] = summary  # the summary without the jobs, for a list below it
        if failed:
            return Check(RUN, Status.FAIL, _clip_keeping(f"{summary}: {jobs}", more), evidence)
        if run.jobs_error:
            summary += "; failed jobs unknown"
        return Check(RUN, Status.FAIL, _clip(summary), evidence)
    return Check(RUN, Status.WARN, _clip(f"{name} {word}{attempt}"), evidence)


def _freshness_check(facts: Facts) -> Check:
    app, run, error = facts.app, facts.run, facts.errors.get(FRESHNESS)
    if run is None or not run.head_sha:
        return Check(FRESHNESS, Status.SKIP, "needs the run's commit", {"branch": app.branch})
    sha = short(run.head_sha)
    fresh = facts.freshness
    if fresh is None:
        summary = _clip(_could_not(error, f"{sha} against {app.branch}"))
        return Check(
            FRESHNESS, Status.WARN, summary, {"sha": run.head_sha, **_error_evidence(error)}
        )
    evidence = {
        "branch": fresh.branch,
        "sha": fresh.sha,
        "branch_head": fresh.branch_head,
        "commits_behind": fresh.commits_behind,
        "commits_not_on_branch": fresh.commits_not_on_branch,
        "compare_status": fresh.compare_status,
        **_error_evidence(error),
    }
    head = short(fresh.branch_head)
    if fresh.sha.lower() == fresh.branch_head.lower():
        return Check(FRESHNESS, Status.PASS, f"{sha} is the head of {fresh.branch}", evidence)
    if fresh.commits_not_on_branch:
        unmerged = _plural(fresh.commits_not_on_branch, "unmerged commit")
        summary = f"{sha} is not on {fresh.branch} ({unmerged})"
        return Check(FRESHNESS, Status.FAIL, summary, evidence)
    if fresh.commits_behind:
        summary = (
            f"{sha} is {_plural(fresh.commits_behind, 'commit')} behind {fresh.branch} ({head})"
        )
        return Check(FRESHNESS, Status.WARN, summary, evidence)
    if fresh.commits_behind == 0 and fresh.commits_not_on_branch == 0:
        return Check(FRESHNESS, Status.PASS, f"{sha} matches {fresh.branch} ({head})", evidence)
    summary = _clip(
        f"{sha} is not the head of {fresh.branch} ({head}); "
        + (f"distance unknown: {error.message}" if error else "distance unknown")
    )
    return Check(FRESHNESS, Status.WARN, summary, evidence)


def _frontend_check(facts: Facts, slow_ms: int) -> Check:
    app = facts.app
    if not app.frontend_url:
        return Check(FRONTEND, Status.SKIP, "no frontend_url configured")
    probe, error = facts.frontend, facts.errors.get(FRONTEND)
    if probe is None:
        status = Status.FAIL if error and error.kind in ("timeout", "unavailable") else Status.WARN
        summary = _clip(_could_not(error, "the frontend"))
        return Check(FRONTEND, status, summary, {"url": app.frontend_url, **_error_evidence(error)})
    statuses, parts = _http("frontend", probe, slow_ms)
    evidence: dict[str, Any] = {
        **_probe_evidence(probe),
        "max_html_cache_seconds": app.max_html_cache_seconds,
    }
    if probe.ok:
        cache_status, cache_text = cache_verdict(
            probe.headers.get("cache-control"), app.max_html_cache_seconds
        )
        statuses.append(cache_status)
        parts.append(cache_text)
        if app.frontend_version_pattern:
            expected = facts.run.head_sha if facts.run else None
            version_status, version_text = _version(facts.frontend_version, facts.run, None)
            statuses.append(version_status)
            parts.append(version_text)
            evidence["version"] = _version_evidence(facts.frontend_version, expected)
    return Check(FRONTEND, verdict_of(statuses), _clip(", ".join(parts)), evidence)


def _api_check(facts: Facts, slow_ms: int) -> Check:
    app = facts.app
    if not app.api_health_url and not app.version_url:
        return Check(API, Status.SKIP, "no api_health_url configured")
    statuses: list[Status] = []
    parts: list[str] = []
    evidence: dict[str, Any] = {}
    if app.api_health_url:
        probe, error = facts.api, facts.errors.get(API)
        if probe is None:
            down = error is not None and error.kind in ("timeout", "unavailable")
            statuses.append(Status.FAIL if down else Status.WARN)
            parts.append(_could_not(error, "the API"))
            evidence["health"] = {"url": app.api_health_url, **_error_evidence(error)}
        else:
            http_statuses, http_parts = _http("API", probe, slow_ms)
            statuses += http_statuses
            parts += http_parts
            evidence["health"] = _probe_evidence(probe)
    if app.version_url:
        error = facts.errors.get(VERSION)
        version = facts.api_version
        if version is None and error is not None and error.kind in ("timeout", "unavailable"):
            statuses.append(Status.FAIL)
            parts.append(_could_not(error, "the version"))
        else:
            version_status, version_text = _version(version, facts.run, error)
            statuses.append(version_status)
            parts.append(version_text)
        expected = facts.run.head_sha if facts.run else None
        evidence["version"] = {
            "url": app.version_url,
            "field": app.version_field,
            **_version_evidence(version, expected),
            **_error_evidence(error),
        }
    return Check(API, verdict_of(statuses), _clip(", ".join(parts)), evidence)


def _self_check(facts: Facts) -> Check:
    own, error = facts.self_facts, facts.errors.get(SELF)
    if own is None or own.repo is None:
        if error is not None:
            return Check(
                SELF,
                Status.WARN,
                _clip(_could_not(error, "the orchestrator")),
                _error_evidence(error),
            )
        return Check(SELF, Status.SKIP, "ORCHESTRATOR_REPO not set")
    evidence: dict[str, Any] = {
        "repo": own.repo,
        "branch": own.branch,
        "running_sha": own.running_sha,
        "source": own.source,
        "branch_head": own.branch_head,
        "commits_behind": own.commits_behind,
        "commits_not_on_branch": own.commits_not_on_branch,
        **_error_evidence(error),
    }
    running = short(own.running_sha)
    if own.source == "unknown" or own.running_sha == "unknown":
        return Check(SELF, Status.WARN, "orchestrator does not know its own commit", evidence)
    if own.branch_head is None:
        summary = _clip(_could_not(error, f"orchestrator {running} against {own.branch}"))
        return Check(SELF, Status.WARN, summary, evidence)
    head = short(own.branch_head)
    if sha_matches(own.running_sha, own.branch_head):
        return Check(
            SELF, Status.PASS, f"orchestrator runs {running}, the head of {own.branch}", evidence
        )
    if own.commits_not_on_branch:
        summary = f"orchestrator runs {running}, which is not on {own.branch} ({head})"
    elif own.commits_behind:
        summary = (
            f"orchestrator runs {running}, {_plural(own.commits_behind, 'commit')} "
            f"behind {own.branch}"
        )
    else:
        summary = f"orchestrator runs {running}, {own.branch} is at {head}"
    return Check(SELF, Status.WARN, _clip(summary), evidence)


def decide(facts: Facts, *, slow_ms: int = DEFAULT_SLOW_MS) -> Report:
    checks = (
        _run_check(facts),
        _freshness_check(facts),
        _frontend_check(facts, slow_ms),
        _api_check(facts, slow_ms),
        _self_check(facts),
    )
    run = facts.run
    return Report(
        app=facts.app.name,
        run_id=run.id if run is not None else facts.request.run_id,
        run_url=(run.html_url if run is not None else None) or facts.request.url,
        head_sha=run.head_sha if run is not None else None,
        checks=checks,
        verdict=verdict_of([c.status for c in checks]),
        duration_ms=facts.duration_ms,
        collected_at=facts.collected_at,
        repo=run.repo if run is not None else (facts.request.repo or facts.app.repo),
        branch=facts.app.branch,
    )
