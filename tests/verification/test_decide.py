"""Every verdict path of `decide`, as tables of hand-written facts (no HTTP)."""

from __future__ import annotations

import math
from dataclasses import replace
from typing import Any

import pytest

from orchestrator.verification.decide import (
    SUMMARY_LIMIT,
    Status,
    cache_verdict,
    decide,
    html_cache_seconds,
    parse_cache_control,
    verdict_of,
)
from orchestrator.verification.facts import (
    CheckError,
    FailedJob,
    Freshness,
    RunRequest,
    SelfFacts,
    VersionProbe,
    find_field,
    find_marker,
    sha_matches,
)
from tests.support.facts import (
    APP,
    HEAD,
    NOW,
    OLD,
    RUN_URL,
    SHA,
    api_version,
    facts,
    failed_jobs,
    health,
    page,
    run,
)

P, S, W, F = Status.PASS, Status.SKIP, Status.WARN, Status.FAIL

FAILED = (
    FailedJob(
        "build", "failure", "https://github.com/acme/web/actions/runs/123/job/1", ("npm ci",)
    ),
    FailedJob("e2e", "timed_out", None, ()),
)
FAILED_MORE = (
    FailedJob("lint", "failure", None, ("eslint", "tsc", "prettier")),  # two steps shown
    FailedJob("docs", "failure", None, ()),
    FailedJob("deploy", "startup_failure", None, ()),
)


def test_the_healthy_deploy_passes_every_check() -> None:
    report = decide(facts())
    assert report.verdict is P
    assert [c.status for c in report.checks] == [P, P, P, P, P]
    assert [c.name for c in report.checks] == ["run", "freshness", "frontend", "api", "self"]
    assert (
        report.check("frontend").summary == "frontend 200 in 180 ms, HTML no-cache, serves abc1234"
    )
    assert report.head_sha == SHA and report.run_id == 123 and report.run_url == RUN_URL
    assert (report.app, report.repo, report.branch) == ("web", "acme/web", "main")
    assert report.duration_ms == 420 and report.collected_at == NOW


RUN_CASES: list[tuple[str, dict[str, Any], Status, str]] = [
    ("success", {}, P, "Deploy succeeded in 3 min 12 s"),
    ("success attempt 2", {"run": run(attempt=2)}, P, "(attempt 2)"),
    (
        "failure with jobs",
        {"run": run(conclusion="failure", failed_jobs=FAILED)},
        F,
        "Deploy failed after 3 min 12 s: build (npm ci), e2e",
    ),
    (
        "failure, jobs unknown",
        {"run": run(conclusion="failure", jobs_error="GitHub answered 502")},
        F,
        "failed jobs unknown",
    ),
    ("timed out", {"run": run(conclusion="timed_out")}, F, "timed out"),
    ("startup failure", {"run": run(conclusion="startup_failure")}, F, "failed to start"),
    (
        "in progress",
        {"run": run(status="in_progress", conclusion=None, duration_s=None)},
        W,
        "Deploy in progress for 3 min 20 s",
    ),
    ("queued", {"run": run(status="queued", conclusion=None, started_at=None)}, W, "Deploy queued"),
    (
        "in progress with a failed job",
        {"run": run(status="in_progress", conclusion=None, failed_jobs=FAILED[:1])},
        W,
        "already failed: build",
    ),
    ("cancelled", {"run": run(conclusion="cancelled")}, W, "Deploy was cancelled"),
    ("waiting for approval", {"run": run(conclusion="action_required")}, W, "approval"),
    ("odd conclusion", {"run": run(conclusion="brand_new")}, W, "finished (brand_new)"),
    ("unnamed run", {"run": run(name=None)}, P, "run 123 succeeded"),
    (
        "run id not found",
        {"run": None, "errors": {"run": CheckError("not_found", "run 9 not found in acme/web")}},
        F,
        "run 9 not found in acme/web",
    ),
    (
        "URL of another repo",
        {"run": None, "errors": {"run": CheckError("invalid", "that run is in x/y")}},
        F,
        "that run is in x/y",
    ),
    (
        "GitHub down",
        {"run": None, "errors": {"run": CheckError("unavailable", "GitHub answered 502")}},
        W,
        "could not check the run: GitHub answered 502",
    ),
    (
        "GitHub too slow",
        {"run": None, "errors": {"run": CheckError("timeout", "timed out after 4 s")}},
        W,
        "could not check the run: timed out after 4 s",
    ),
    (
        "GitHub not configured",
        {"run": None, "errors": {"run": CheckError("unconfigured", "set GITHUB_TOKEN")}},
        W,
        "could not check the run: set GITHUB_TOKEN",
    ),
    (
        "more than 3 failed jobs",
        {"run": run(conclusion="failure", failed_jobs=(*FAILED, *FAILED_MORE))},
        F,
        "Deploy failed after 3 min 12 s: build (npm ci), e2e, lint (eslint, tsc) +2 more",
    ),
    (
        "more than 3 failed jobs while running",
        {"run": run(status="in_progress", conclusion=None, failed_jobs=(*FAILED, *FAILED_MORE))},
        W,
        "already failed: build (npm ci), e2e, lint (eslint, tsc) +2 more",
    ),
]

FRESHNESS_CASES: list[tuple[str, dict[str, Any], Status, str]] = [
    ("head of the branch", {}, P, "abc1234 is the head of main"),
    (
        "behind",
        {"freshness": Freshness("main", SHA, HEAD, 3, 0, "behind")},
        W,
        "abc1234 is 3 commits behind main (fedcba9)",
    ),
    ("one behind", {"freshness": Freshness("main", SHA, HEAD, 1, 0)}, W, "1 commit behind"),
    (
        "not on the branch",
        {"freshness": Freshness("main", SHA, HEAD, 2, 1, "diverged")},
        F,
        "abc1234 is not on main (1 unmerged commit)",
    ),
    (
        "distance unknown",
        {
            "freshness": Freshness("main", SHA, HEAD),
            "errors": {"freshness": CheckError("unavailable", "GitHub answered 503")},
        },
        W,
        "distance unknown: GitHub answered 503",
    ),
    (
        "identical after all",
        {"freshness": Freshness("main", SHA, HEAD, 0, 0, "identical")},
        P,
        "matches main",
    ),
    (
        "branch head unknown",
        {"freshness": None, "errors": {"freshness": CheckError("timeout", "timed out after 4 s")}},
        W,
        "could not check abc1234 against main: timed out",
    ),
    ("no run", {"run": None, "freshness": None}, S, "needs the run's commit"),
    ("run without a SHA", {"run": run(head_sha=None), "freshness": None}, S, "needs"),
]

FRONTEND_CASES: list[tuple[str, dict[str, Any], Status, str]] = [
    ("200 no-cache serves the run", {}, P, "frontend 200 in 180 ms"),
    ("500", {"frontend": page(status=500)}, F, "frontend answered 500 in 180 ms"),
    ("404", {"frontend": page(status=404)}, F, "frontend answered 404"),
    (
        "timeout",
        {"frontend": page(status=None, error="timed out after 4 s (2 attempts)")},
        F,
        "frontend unreachable: timed out after 4 s (2 attempts)",
    ),
    (
        "out of budget",
        {"frontend": None, "errors": {"frontend": CheckError("timeout", "budget ran out")}},
        F,
        "could not check the frontend: budget ran out",
    ),
    (
        "collector bug",
        {"frontend": None, "errors": {"frontend": CheckError("error", "unexpected KeyError")}},
        W,
        "unexpected KeyError",
    ),
    ("slow", {"frontend": page(elapsed_ms=2300)}, W, "frontend 200 in 2.3 s (slow)"),
    ("retried once", {"frontend": page(attempts=2)}, P, "200 in 180 ms (after 1 retry)"),
    (
        "long cached",
        {"frontend": page(headers={"cache-control": "public, max-age=86400"})},
        F,
        "HTML cached 1 d (max 5 min)",
    ),
    (
        "CDN caches long",
        {"frontend": page(headers={"cache-control": "max-age=0, s-maxage=3600"})},
        F,
        "HTML cached 1 h (max 5 min)",
    ),
    (
        "private ignores s-maxage",
        {"frontend": page(headers={"cache-control": "private, max-age=60, s-maxage=9999"})},
        P,
        "HTML cached ≤1 min",
    ),
    (
        "immutable",
        {"frontend": page(headers={"cache-control": "max-age=60, immutable"})},
        F,
        "HTML marked immutable",
    ),
    ("no cache header", {"frontend": page(headers={})}, W, "no Cache-Control on the HTML"),
    (
        "header without lifetime",
        {"frontend": page(headers={"cache-control": "public"})},
        W,
        "sets no max-age",
    ),
    ("no-store", {"frontend": page(headers={"cache-control": "no-store"})}, P, "HTML no-store"),
    (
        "plain http to a public host",
        {"frontend": page(https=False, final_url="http://web.example.com/")},
        W,
        "not over https",
    ),
    (
        "plain http to loopback is fine",
        {"frontend": page(https=False, url="http://127.0.0.1:9/", final_url="http://127.0.0.1:9/")},
        P,
        "frontend 200",
    ),
    (
        "version mismatch",
        {"frontend_version": VersionProbe("frontend page", found=OLD[:7])},
        F,
        "serves 0000000, not abc1234",
    ),
    (
        "old version while the deploy runs",
        {
            "run": run(status="in_progress", conclusion=None),
            "frontend_version": VersionProbe("frontend page", found=OLD),
        },
        W,
        "still serves 0000000 (deploy in progress)",
    ),
    (
        "marker missing",
        {
            "frontend_version": VersionProbe(
                "frontend page", problem="no version marker in the page"
            )
        },
        W,
        "version unknown: no version marker in the page",
    ),
    (
        "full SHA in the page",
        {"frontend_version": VersionProbe("frontend page", found=SHA)},
        P,
        "serves abc1234",
    ),
    (
        "run unknown",
        {"run": None, "errors": {"run": CheckError("unavailable", "down")}},
        W,
        "serves abc1234 (run commit unknown)",
    ),
    ("not configured", {"app": replace(APP, frontend_url=None)}, S, "no frontend_url configured"),
    (
        "no version pattern",
        {"app": replace(APP, frontend_version_pattern=None), "frontend_version": None},
        P,
        "frontend 200 in 180 ms, HTML no-cache",
    ),
    (
        "larger allowance",
        {
            "app": replace(APP, max_html_cache_seconds=86400),
            "frontend": page(headers={"cache-control": "max-age=3600"}),
        },
        P,
        "HTML cached ≤1 h",
    ),
]

API_CASES: list[tuple[str, dict[str, Any], Status, str]] = [
    ("ok and same version", {}, P, "API 200 in 85 ms, serves abc1234"),
    ("5xx", {"api": health(status=503)}, F, "API answered 503"),
    (
        "unreachable",
        {"api": health(status=None, error="connection failed (2 attempts)")},
        F,
        "API unreachable",
    ),
    ("slow", {"api": health(elapsed_ms=1600)}, W, "(slow)"),
    ("version mismatch", {"api_version": api_version(OLD)}, F, "serves 0000000, not abc1234"),
    ("short version", {"api_version": api_version(SHA[:7])}, P, "serves abc1234"),
    (
        "field missing",
        {"api_version": api_version(None, problem="no field build.sha")},
        W,
        "version unknown: no field build.sha",
    ),
    ("non-JSON", {"api_version": api_version(None, problem="not JSON")}, W, "not JSON"),
    (
        "version URL 500",
        {"api_version": api_version(None, probe=health(status=500), problem="answered 500")},
        F,
        "version answered 500",
    ),
    (
        "version URL unreachable",
        {"api_version": api_version(None, probe=health(status=None, error="timed out"))},
        F,
        "version unreachable: timed out",
    ),
    (
        "version out of budget",
        {"api_version": None, "errors": {"version": CheckError("timeout", "budget ran out")}},
        F,
        "could not check the version",
    ),
    (
        "API timed out",
        {
            "api": None,
            "api_version": None,
            "errors": {"api": CheckError("timeout", "budget ran out")},
        },
        F,
        "could not check the API: budget ran out",
    ),
    (
        "API timed out, version error copied from it",
        {
            "api": None,
            "api_version": None,
            "errors": {
                "api": CheckError("timeout", "budget ran out"),
                "version": CheckError("timeout", "budget ran out"),
            },
        },
        F,
        "could not check the API: budget ran out, could not check the version: budget ran out",
    ),
    (
        "API unavailable",
        {"api": None, "api_version": None, "errors": {"api": CheckError("unavailable", "down")}},
        F,
        "could not check the API: down",
    ),
    (
        "API part crashed",
        {"api": None, "api_version": None, "errors": {"api": CheckError("error", "unexpected X")}},
        W,
        "could not check the API",
    ),
    (
        "health only",
        {"app": replace(APP, version_url=None), "api_version": None},
        P,
        "API 200 in 85 ms",
    ),
    (
        "version only",
        {"app": replace(APP, api_health_url=None), "api": None},
        P,
        "serves abc1234",
    ),
    (
        "not configured",
        {"app": replace(APP, api_health_url=None, version_url=None)},
        S,
        "no api_health_url configured",
    ),
]

SELF_CASES: list[tuple[str, dict[str, Any], Status, str]] = [
    ("runs the branch head", {}, P, "orchestrator runs fedcba9, the head of main"),
    (
        "behind",
        {"self_facts": SelfFacts("acme/orchestrator", "main", OLD, "build", HEAD, 4, 0)},
        W,
        "orchestrator runs 0000000, 4 commits behind main",
    ),
    (
        "not on the branch",
        {"self_facts": SelfFacts("acme/orchestrator", "main", OLD, "git", HEAD, 1, 2)},
        W,
        "not on main",
    ),
    (
        "distance unknown",
        {"self_facts": SelfFacts("acme/orchestrator", "main", OLD, "git", HEAD)},
        W,
        "main is at fedcba9",
    ),
    (
        "own commit unknown",
        {"self_facts": SelfFacts("acme/orchestrator", "main", "unknown", "unknown")},
        W,
        "does not know its own commit",
    ),
    (
        "GitHub down",
        {
            "self_facts": SelfFacts("acme/orchestrator", "main", OLD, "git"),
            "errors": {"self": CheckError("unavailable", "GitHub answered 502")},
        },
        W,
        "could not check orchestrator 0000000 against main: GitHub answered 502",
    ),
    (
        "not configured",
        {"self_facts": SelfFacts(None, "main", "unknown")},
        S,
        "ORCHESTRATOR_REPO not set",
    ),
    ("no facts at all", {"self_facts": None}, S, "ORCHESTRATOR_REPO not set"),
    (
        "no facts, but an error",
        {"self_facts": None, "errors": {"self": CheckError("timeout", "budget ran out")}},
        W,
        "could not check the orchestrator: budget ran out",
    ),
    (
        "no facts, crashed",
        {"self_facts": None, "errors": {"self": CheckError("error", "unexpected KeyError")}},
        W,
        "could not check the orchestrator: unexpected KeyError",
    ),
]


def _cases(check: str, table: list[tuple[str, dict[str, Any], Status, str]]) -> list[Any]:
    return [
        pytest.param(check, changes, status, text, id=f"{check}: {name}")
        for name, changes, status, text in table
    ]


@pytest.mark.parametrize(
    ("check", "changes", "status", "text"),
    _cases("run", RUN_CASES)
    + _cases("freshness", FRESHNESS_CASES)
    + _cases("frontend", FRONTEND_CASES)
    + _cases("api", API_CASES)
    + _cases("self", SELF_CASES),
)
def test_verdicts(check: str, changes: dict[str, Any], status: Status, text: str) -> None:
    report = decide(facts(**changes))
    result = report.check(check)
    assert result.status is status, result
    assert text in result.summary, result.summary
    assert len(result.summary) <= 200
    assert report.verdict is max(c.status for c in report.checks)


def test_slow_threshold_is_a_parameter() -> None:
    assert decide(facts(), slow_ms=100).check("frontend").status is W
    assert decide(facts(), slow_ms=100).check("api").status is P  # 85 ms
    assert decide(facts(), slow_ms=50).check("api").status is W
    assert decide(facts(), slow_ms=5000).verdict is P


def test_skip_never_worsens_a_verdict_and_all_skips_are_a_skip() -> None:
    assert verdict_of([P, S, S]) is P
    assert verdict_of([S, W]) is W
    assert verdict_of([S, F, P]) is F
    assert verdict_of([S, S]) is S
    assert verdict_of([]) is S
    bare = replace(APP, frontend_url=None, api_health_url=None, version_url=None)
    report = decide(facts(app=bare, self_facts=None))
    assert [c.status for c in report.checks] == [P, P, S, S, S]
    assert report.verdict is P


def test_the_worst_check_decides_and_others_still_report() -> None:
    report = decide(
        facts(
            run=run(conclusion="failure", failed_jobs=FAILED),
            frontend=page(headers={}),
            api=health(status=502),
        )
    )
    assert report.verdict is F
    assert report.check("frontend").status is W
    assert report.check("run").evidence["failed_jobs"][0] == {
        "name": "build",
        "conclusion": "failure",
        "url": "https://github.com/acme/web/actions/runs/123/job/1",
        "steps": ["npm ci"],
    }


def test_a_report_without_a_run_keeps_what_was_asked_for() -> None:
    url = "https://github.com/acme/web/actions/runs/77"
    report = decide(
        facts(
            run=None,
            freshness=None,
            request=RunRequest(repo="acme/web", run_id=77, url=url),
            errors={"run": CheckError("not_found", "run 77 not found in acme/web")},
        )
    )
    assert (report.run_id, report.run_url, report.head_sha) == (77, url, None)
    assert report.verdict is F


def test_evidence_holds_the_facts_behind_a_summary() -> None:
    report = decide(facts(frontend=page(headers={"cache-control": "max-age=600"})))
    evidence = report.check("frontend").evidence
    assert evidence["status"] == 200 and evidence["headers"]["cache-control"] == "max-age=600"
    assert evidence["max_html_cache_seconds"] == 300
    assert evidence["version"] == {
        "source": "frontend page",
        "found": SHA[:7],
        "expected": SHA,
        "problem": None,
    }
    assert report.check("api").evidence["version"]["field"] == "build.sha"


# --- the small pure readers ---------------------------------------------------------------------


@pytest.mark.parametrize(
    ("header", "lifetime"),
    [
        (None, None),
        ("no-cache", 0.0),
        ("no-store, max-age=86400", 0.0),
        ("max-age=0, must-revalidate", 0.0),
        ("public, max-age=600", 600.0),
        ("max-age=60, s-maxage=3600", 3600.0),
        ("s-maxage=3600", 3600.0),
        ("private, s-maxage=3600", None),
        ("private, max-age=30", 30.0),
        ("max-age=60, immutable", math.inf),
        ('no-cache="set-cookie", max-age=900', 900.0),
        ("MAX-AGE=120", 120.0),
        ('max-age="45"', 45.0),
        ("max-age=10, max-age=999", 999.0),
        ("max-age=soon", None),
        ("public", None),
    ],
)
def test_cache_lifetimes(header: str | None, lifetime: float | None) -> None:
    assert html_cache_seconds(parse_cache_control(header)) == lifetime


@pytest.mark.parametrize(
    ("header", "status"),
    [
        (None, W),
        ("no-cache", P),
        ("max-age=300", P),
        ("max-age=301", F),
        ("public", W),
        ("immutable", F),
        ("no-store, immutable", P),
    ],
)
def test_cache_verdicts_at_the_limit(header: str | None, status: Status) -> None:
    assert cache_verdict(header, 300)[0] is status


@pytest.mark.parametrize(
    ("found", "expected", "match"),
    [
        (SHA, SHA, True),
        (SHA[:7], SHA, True),
        (SHA, SHA[:7], True),
        (SHA.upper(), SHA, True),
        (SHA[:6], SHA, False),
        (OLD, SHA, False),
        ("v1.2.3", SHA, False),
        (None, SHA, False),
        (SHA, None, False),
        ("", "", False),
    ],
)
def test_sha_matches(found: str | None, expected: str | None, match: bool) -> None:
    assert sha_matches(found, expected) is match


def test_find_marker() -> None:
    html = '<meta name="app-version" content="abc1234"><meta name="x" content="y">'
    assert find_marker(html, r'app-version" content="([0-9a-f]+)"') == "abc1234"
    assert find_marker(html, r"abc[0-9]+") == "abc1234"  # no group: the whole match
    assert find_marker(html, r'build" content="(\w+)"') is None
    assert find_marker(html, r"(unclosed") is None
    assert find_marker(html, r'content="( *)"') is None  # an empty group is no version


@pytest.mark.parametrize(
    ("data", "path", "result"),
    [
        ({"sha": SHA}, "sha", (SHA, None)),
        ({"build": {"sha": " abc1234 "}}, "build.sha", ("abc1234", None)),
        ({"items": [{"sha": "abc1234"}]}, "items.0.sha", ("abc1234", None)),
        ({"build": {}}, "build.sha", (None, "no field build.sha")),
        ({"items": []}, "items.0.sha", (None, "no field items.0.sha")),
        ({"sha": 1234567}, "sha", (None, "field sha is not text")),
        ({"sha": {"full": SHA}}, "sha", (None, "field sha is not text")),
        (["sha"], "sha", (None, "no field sha")),
        (None, "sha", (None, "no field sha")),
    ],
)
def test_find_field(data: Any, path: str, result: tuple[str | None, str | None]) -> None:
    assert find_field(data, path) == result


@pytest.mark.parametrize(
    ("status", "conclusion", "attempt", "ending"),
    [
        ("completed", "failure", 1, " +2 more"),
        ("in_progress", None, 1, " +2 more"),
        ("in_progress", None, 3, " +2 more (attempt 3)"),
    ],
)
def test_the_failed_job_count_survives_long_job_names(
    status: str, conclusion: str | None, attempt: int, ending: str
) -> None:
    """Long names fill the one-line summary; the "+N more" (and the attempt) still show."""
    found = decide(
        facts(
            run=run(
                status=status,
                conclusion=conclusion,
                attempt=attempt,
                failed_jobs=failed_jobs(5),
            )
        )
    ).check("run")
    assert len(found.summary) <= SUMMARY_LIMIT
    assert found.summary.endswith(ending), found.summary


def test_a_self_check_that_could_not_run_keeps_its_error() -> None:
    found = decide(
        facts(self_facts=None, errors={"self": CheckError("timeout", "timed out after 2 s")})
    ).check("self")
    assert found.status is Status.WARN
    assert found.evidence["error"] == {"kind": "timeout", "message": "timed out after 2 s"}
