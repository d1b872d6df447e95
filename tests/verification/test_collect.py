"""The collector for real: FakeGitHub and a threaded site on 127.0.0.1, small budgets.

Nothing here leaves 127.0.0.1 (one test answers https URLs from an in-process
httpx transport). Every wait is bounded by the verifier's own budget.
"""

from __future__ import annotations

import json
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from orchestrator import buildinfo
from orchestrator.apps import App
from orchestrator.config import Settings, load_settings
from orchestrator.services import Services
from orchestrator.verification import Status, collect, verify
from tests.support import github_objects as gh
from tests.support.fake_github import FakeGitHub, Recorded
from tests.support.servers import free_port
from tests.support.sites import OLD_SHA, Site, page
from tests.support.verification import (
    OWN,
    PATTERN,
    RUN_URL,
    RUNS,
    SHA,
    QuickFakeGitHub,
    job,
    make_services,
    raw_run,
    script,
    site_app,
)

pytestmark = pytest.mark.anyio

HEAD = "fedcba9876543210fedcba9876543210fedcba98"

# Small budgets keep the module fast; they are bounds, not speed assertions.
BUDGET = 4.0
TIMEOUT = 1.0


@pytest.fixture
def anyio_backend() -> str:
    return "asyncio"


@pytest.fixture(autouse=True)
def own_build(monkeypatch: pytest.MonkeyPatch) -> None:
    info = buildinfo.BuildInfo("0.0.0", OWN, None, "3.11", "build")
    monkeypatch.setattr(buildinfo, "build_info", lambda: info)


@pytest.fixture
def fake() -> Iterator[FakeGitHub]:
    with QuickFakeGitHub() as github:
        yield github


@pytest.fixture
def site() -> Iterator[Site]:
    with Site(SHA, slow_seconds=5.0) as served:
        yield served


@pytest.fixture
def services(tmp_path: Path, fake: FakeGitHub) -> Services:
    return make_services(tmp_path, fake.url, ORCHESTRATOR_REPO="acme/orchestrator")


def test_importing_the_verifier_loads_no_http_stack() -> None:
    code = "import sys, orchestrator.verification; print('httpx' in sys.modules)"
    result = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, timeout=60, check=True
    )
    assert result.stdout.strip() == "False"


# --- end to end against 127.0.0.1 ----------------------------------------------------------------


async def test_a_healthy_deploy_passes(fake: FakeGitHub, site: Site, services: Services) -> None:
    script(fake)
    report = await verify(site_app(site), services, budget=BUDGET, check_timeout=TIMEOUT)
    assert report.verdict is Status.PASS, report.checks
    assert report.check("run").summary == "Deploy succeeded in 3 min 12 s"
    assert report.check("freshness").summary == "abc1234 is the head of main"
    frontend = report.check("frontend")
    assert frontend.summary.startswith("frontend 200 in ")
    assert frontend.summary.endswith(" ms, HTML no-cache, serves abc1234")
    assert frontend.evidence["https"] is False  # plain http to 127.0.0.1: reported, not a warning
    assert report.check("api").summary.endswith(", serves abc1234")
    assert report.check("self").summary == "orchestrator runs 1234567, the head of main"
    assert (report.run_id, report.run_url, report.head_sha) == (123, RUN_URL, SHA)
    (listing,) = fake.calls("GET", RUNS)
    assert "branch=main" in listing.query and "per_page=1" in listing.query
    assert fake.calls("GET", "/repos/acme/web/actions/runs/123/jobs") == []  # success: no need
    assert site.hits["/"] == 1 and site.hits["/healthz"] == 1 and site.hits["/version"] == 1


async def test_a_failed_run_names_its_failed_jobs_and_steps(
    fake: FakeGitHub, site: Site, services: Services
) -> None:
    script(
        fake,
        raw_run(conclusion="failure"),
        jobs=[job("lint", "success"), job("build", "failure", "Run tests")],
    )
    report = await verify(site_app(site), services, budget=BUDGET, check_timeout=TIMEOUT)
    run = report.check("run")
    assert run.status is Status.FAIL
    assert run.summary == "Deploy failed after 3 min 12 s: build (Run tests)"
    assert run.evidence["failed_jobs"][0]["steps"] == ["Run tests"]
    (jobs_call,) = fake.calls("GET", "/repos/acme/web/actions/runs/123/jobs")
    assert "filter=latest" in jobs_call.query
    assert report.verdict is Status.FAIL


async def test_a_run_by_url_and_attempt_still_running_and_behind(
    fake: FakeGitHub, site: Site, services: Services
) -> None:
    run = raw_run(status="in_progress", conclusion=None, run_attempt=2)
    script(fake, head=HEAD)
    fake.on("GET", "/repos/acme/web/actions/runs/123/attempts/2", run)
    fake.on("GET", "/repos/acme/web/actions/runs/123/attempts/2/jobs", gh.jobs_page())
    fake.on(
        "GET",
        f"/repos/acme/web/compare/{SHA}...main",
        gh.comparison(repo="acme/web", status="behind", ahead_by=3, behind_by=0),
    )
    site.routes["/"] = site.routes["/stale"]  # the old version until the deploy ends
    report = await verify(
        site_app(site), services, run_url=RUN_URL + "/attempts/2", budget=BUDGET, check_timeout=1
    )
    assert report.check("run").status is Status.WARN
    assert "in progress" in report.check("run").summary
    assert "(attempt 2)" in report.check("run").summary
    assert report.check("freshness").summary == "abc1234 is 3 commits behind main (fedcba9)"
    assert report.check("freshness").status is Status.WARN
    assert "still serves 0000000 (deploy in progress)" in report.check("frontend").summary
    assert report.verdict is Status.WARN
    assert fake.calls("GET", "/repos/acme/web/actions/runs/123/attempts/2/jobs")
    assert fake.calls("GET", RUNS) == []


async def test_a_run_id_that_does_not_exist(
    fake: FakeGitHub, site: Site, services: Services
) -> None:
    script(fake)
    report = await verify(site_app(site), services, run_id=999, budget=BUDGET, check_timeout=1)
    assert report.check("run").status is Status.FAIL
    assert report.check("run").summary == "run 999 not found in acme/web"
    assert report.check("freshness").status is Status.SKIP
    assert report.run_id == 999
    assert report.verdict is Status.FAIL


async def test_a_workflow_named_by_its_display_name(
    fake: FakeGitHub, site: Site, services: Services
) -> None:
    script(fake)
    fake.on(
        "GET",
        "/repos/acme/web/actions/workflows",
        gh.workflows_page(
            gh.workflow(repo="acme/web", id=77, name="Deploy", path=".github/workflows/deploy.yml")
        ),
    )
    fake.on("GET", "/repos/acme/web/actions/workflows/77/runs", gh.runs_page(raw_run()))
    report = await verify(
        site_app(site, workflow="Deploy"), services, budget=BUDGET, check_timeout=TIMEOUT
    )
    assert report.check("run").status is Status.PASS
    assert fake.calls("GET", "/repos/acme/web/actions/workflows/Deploy/runs")


async def test_no_runs_yet_and_no_such_workflow(
    fake: FakeGitHub, site: Site, services: Services
) -> None:
    script(fake)
    fake.on("GET", RUNS, gh.runs_page())
    report = await verify(site_app(site), services, budget=BUDGET, check_timeout=TIMEOUT)
    assert report.check("run").summary == "no runs of deploy.yml on main in acme/web yet"
    fake.on("GET", "/repos/acme/web/actions/workflows", gh.workflows_page())
    report = await verify(
        site_app(site, workflow="ghost.yml"), services, budget=BUDGET, check_timeout=TIMEOUT
    )
    assert report.check("run").summary == "no workflow 'ghost.yml' in acme/web"
    assert report.check("run").status is Status.FAIL


async def test_a_run_url_of_another_repository_is_refused_without_asking_github(
    fake: FakeGitHub, site: Site, services: Services
) -> None:
    script(fake)
    report = await verify(
        site_app(site),
        services,
        run_url="https://github.com/other/web/actions/runs/5",
        budget=BUDGET,
        check_timeout=TIMEOUT,
    )
    assert report.check("run").status is Status.FAIL
    assert "that run is in other/web, but web deploys from acme/web" in report.check("run").summary
    assert not [r for r in fake.requests if "/actions/" in r.path]


@pytest.mark.parametrize(
    ("path", "status", "text", "hits"),
    [
        ("/error", Status.FAIL, "frontend answered 500", 2),
        ("/missing", Status.FAIL, "frontend answered 404", 1),
        ("/stale", Status.FAIL, "serves 0000000, not abc1234", 1),
        ("/cached", Status.FAIL, "HTML cached 1 d (max 5 min)", 1),
        ("/bare", Status.WARN, "no Cache-Control on the HTML", 1),
        ("/flaky", Status.PASS, "(after 1 retry), HTML no-store, serves abc1234", 2),
        ("/redirect", Status.PASS, "HTML no-cache, serves abc1234", 1),
        ("/big", Status.WARN, "version unknown: no version marker in the page (first 512 KB)", 1),
    ],
)
async def test_frontend_answers(
    fake: FakeGitHub,
    site: Site,
    services: Services,
    path: str,
    status: Status,
    text: str,
    hits: int,
) -> None:
    script(fake)
    app = site_app(site, frontend_url=site.url + path)
    report = await verify(app, services, budget=BUDGET, check_timeout=TIMEOUT)
    frontend = report.check("frontend")
    assert frontend.status is status, frontend.summary
    assert text in frontend.summary
    assert site.hits[path] == hits
    assert report.check("run").status is Status.PASS  # one bad page does not blur the rest


async def test_a_page_slower_than_the_check_timeout(
    fake: FakeGitHub, site: Site, services: Services
) -> None:
    script(fake)
    app = site_app(site, frontend_url=site.url + "/slow")
    started = time.monotonic()
    report = await verify(app, services, budget=BUDGET, check_timeout=0.5)
    elapsed = time.monotonic() - started
    frontend = report.check("frontend")
    assert frontend.status is Status.FAIL
    assert frontend.summary == "frontend unreachable: timed out after 500 ms (2 attempts)"
    assert site.hits["/slow"] == 2
    assert elapsed < BUDGET + 2  # bounded, not a speed claim
    assert report.check("api").status is Status.PASS


@pytest.mark.parametrize(
    ("changes", "status", "text"),
    [
        ({"version_url": "/text"}, Status.WARN, "version unknown: not JSON"),
        ({"version_url": "/error"}, Status.FAIL, "version answered 500"),
        ({"version_field": "build.nope"}, Status.WARN, "no field build.nope"),
        ({"version_url": "/old"}, Status.FAIL, "serves 0000000, not abc1234"),
        ({"api_health_url": "/error"}, Status.FAIL, "API answered 500"),
        ({"api_health_url": "/slow"}, Status.FAIL, "API unreachable: timed out after 500 ms"),
    ],
)
async def test_api_answers(
    fake: FakeGitHub,
    site: Site,
    services: Services,
    changes: dict[str, str],
    status: Status,
    text: str,
) -> None:
    script(fake)
    site.route("/old", body={"build": {"sha": OLD_SHA}}, headers={"content-type": "text/json"})
    urls = {k: site.url + v if v.startswith("/") else v for k, v in changes.items()}
    report = await verify(site_app(site, **urls), services, budget=BUDGET, check_timeout=0.5)
    api = report.check("api")
    assert api.status is status, api.summary
    assert text in api.summary


async def test_one_endpoint_for_health_and_version_is_asked_once(
    fake: FakeGitHub, site: Site, services: Services
) -> None:
    script(fake)
    site.route("/both", body={"ok": True, "sha": SHA[:7]})
    both = site.url + "/both"
    app = site_app(site, api_health_url=both, version_url=both, version_field="sha")
    report = await verify(app, services, budget=BUDGET, check_timeout=TIMEOUT)
    assert report.check("api").status is Status.PASS
    assert report.check("api").summary.endswith(", serves abc1234")
    assert site.hits["/both"] == 1


async def test_github_answering_502_is_a_fact_not_an_exception(
    fake: FakeGitHub, site: Site, services: Services
) -> None:
    script(fake)
    fake.on("GET", RUNS, {"message": "Server Error"}, status=502)
    fake.on("GET", "/repos/acme/orchestrator/commits/main", {"message": "boom"}, status=502)
    report = await verify(site_app(site), services, budget=BUDGET, check_timeout=TIMEOUT)
    run = report.check("run")
    assert run.status is Status.WARN
    assert run.summary.startswith("could not check the run: ")
    assert "502" in run.summary
    assert run.evidence["error"]["kind"] == "unavailable"
    assert len(fake.calls("GET", RUNS)) == 2  # one retry, no more
    assert report.check("self").status is Status.WARN
    assert report.check("freshness").status is Status.SKIP
    # The app itself was still checked; only the version comparison lacks its reference.
    assert "serves abc1234 (run commit unknown)" in report.check("frontend").summary
    assert report.verdict is Status.WARN


async def test_github_on_a_closed_port(tmp_path: Path, site: Site) -> None:
    services = make_services(
        tmp_path, f"http://127.0.0.1:{free_port()}", ORCHESTRATOR_REPO="acme/orchestrator"
    )
    report = await verify(site_app(site), services, budget=BUDGET, check_timeout=TIMEOUT)
    assert report.check("run").status is Status.WARN
    assert "could not check the run: no answer from GitHub" in report.check("run").summary
    assert "could not check orchestrator 1234567" in report.check("self").summary
    assert report.check("frontend").summary.startswith("frontend 200")


async def test_github_not_configured(tmp_path: Path, site: Site) -> None:
    services = make_services(tmp_path, None)
    report = await verify(site_app(site), services, budget=BUDGET, check_timeout=TIMEOUT)
    assert report.check("run").status is Status.WARN
    assert "GitHub is not configured" in report.check("run").summary
    assert report.check("self").status is Status.SKIP  # ORCHESTRATOR_REPO unset


async def test_a_hanging_github_ends_with_the_budget(
    fake: FakeGitHub, site: Site, services: Services
) -> None:
    script(fake)
    release = threading.Event()

    def hang(_: Recorded) -> tuple[int, Any, dict[str, str]]:
        release.wait(10)
        return 200, gh.runs_page(), {}

    fake.respond("GET", RUNS, hang)
    try:
        started = time.monotonic()
        report = await verify(site_app(site), services, budget=1.5, check_timeout=1.0)
        elapsed = time.monotonic() - started
    finally:
        release.set()
    assert report.check("run").status is Status.WARN
    assert report.check("run").summary == "could not check the run: timed out after 1 s"
    assert report.check("frontend").summary.startswith("frontend 200 in ")
    assert elapsed < 1.5 + 2  # bounded, not a speed claim


async def test_own_commit_behind_its_branch(
    fake: FakeGitHub, site: Site, services: Services
) -> None:
    script(fake, own_head=HEAD)
    fake.on(
        "GET",
        f"/repos/acme/orchestrator/compare/{OWN}...main",
        gh.comparison(repo="acme/orchestrator", status="behind", ahead_by=2, behind_by=0),
    )
    report = await verify(site_app(site), services, budget=BUDGET, check_timeout=TIMEOUT)
    own = report.check("self")
    assert own.status is Status.WARN
    assert own.summary == "orchestrator runs 1234567, 2 commits behind main"
    assert own.evidence["source"] == "build"


async def test_self_check_skipped_without_orchestrator_repo(
    tmp_path: Path, fake: FakeGitHub, site: Site
) -> None:
    script(fake)
    services = make_services(tmp_path, fake.url)
    report = await verify(site_app(site), services, budget=BUDGET, check_timeout=TIMEOUT)
    assert report.check("self").status is Status.SKIP
    assert report.verdict is Status.PASS
    assert not [r for r in fake.requests if r.path.startswith("/repos/acme/orchestrator")]


async def test_an_injected_http_client_and_tls_reporting(
    fake: FakeGitHub, services: Services
) -> None:
    script(fake)
    seen: list[str] = []

    def answer(request: httpx.Request) -> httpx.Response:
        seen.append(str(request.url))
        if request.url.path == "/version":
            return httpx.Response(200, json={"build": {"sha": SHA}})
        headers = {"cache-control": "max-age=60", "content-type": "text/html"}
        return httpx.Response(200, content=page(SHA), headers=headers)

    def factory(timeout: float) -> httpx.AsyncClient:
        return httpx.AsyncClient(transport=httpx.MockTransport(answer), timeout=timeout)

    app = App(
        name="web",
        repo="acme/web",
        workflow="deploy.yml",
        frontend_url="https://web.example.com/",
        version_url="https://api.example.com/version",
        version_field="build.sha",
        frontend_version_pattern=PATTERN,
    )
    facts = await collect(
        app, services, budget=BUDGET, check_timeout=TIMEOUT, http_client_factory=factory
    )
    assert seen == ["https://web.example.com/", "https://api.example.com/version"]
    assert facts.frontend is not None and facts.frontend.https is True
    assert facts.frontend.headers == {"cache-control": "max-age=60", "content-type": "text/html"}
    assert facts.api is None and facts.api_version is not None
    assert facts.api_version.found == SHA


async def test_production_refuses_probes_into_private_addresses(
    tmp_path: Path, fake: FakeGitHub, site: Site
) -> None:
    script(fake)
    settings = Settings(
        ORCHESTRATOR_ENV="prod",
        ORCHESTRATOR_DATA_DIR=tmp_path,
        GITHUB_TOKEN="t",
        GITHUB_API_BASE=fake.url,
    )
    report = await verify(site_app(site), Services(settings), budget=BUDGET, check_timeout=TIMEOUT)
    frontend = report.check("frontend")
    assert frontend.status is Status.FAIL
    assert frontend.summary == "frontend unreachable: refused: probe: only https URLs are allowed"
    assert site.hits["/"] == 0
    assert report.check("run").status is Status.PASS  # GitHub itself is still asked


async def test_reports_round_trip_through_json_and_hold_no_token(
    tmp_path: Path, fake: FakeGitHub, site: Site
) -> None:
    from orchestrator.verification import to_json

    token = "ghp_verifierSecretToken0123456789"
    services = Services(
        load_settings(ORCHESTRATOR_DATA_DIR=tmp_path, GITHUB_TOKEN=token, GITHUB_API_BASE=fake.url)
    )
    script(fake, raw_run(conclusion="failure"), jobs=[job("build", "failure", "x")])
    fake.on("GET", "/repos/acme/web/commits/main", {"message": "boom"}, status=500)
    report = await verify(site_app(site), services, budget=BUDGET, check_timeout=TIMEOUT)
    data = to_json(report)
    text = json.dumps(data, allow_nan=False)
    assert json.loads(text) == data
    assert data["verdict"] == "fail"
    assert data["checks"][1]["status"] == "warn"  # the branch head could not be read
    assert token not in text and token not in repr(report)
    assert fake.requests[0].headers["authorization"] == f"Bearer {token}"  # it was used, though
