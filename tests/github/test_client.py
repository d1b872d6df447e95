"""The GitHub REST client against respx: paths, queries, bodies, retries, pages, ETags, secrets."""

from __future__ import annotations

import json
import logging
import subprocess
import sys
from collections.abc import AsyncIterator, Iterator
from typing import Any

import httpx
import pytest
import respx
import rsa

from orchestrator.github.auth import AppAuth, TokenAuth
from orchestrator.github.client import (
    DispatchResult,
    GitHubClient,
    fit_description,
    parse_link_header,
    tail_text,
)
from orchestrator.github.errors import (
    GitHubError,
    GitHubHTTPError,
    GitHubRateLimited,
    GitHubUnavailable,
)
from orchestrator.github.paths import check_repo

BASE = "https://api.github.com"
TOKEN = "ghp_s3cr3tT0kenValue0123456789"
NOW = 1_800_000_000.0
SHA = "a" * 40
REPO = "acme/api"


@pytest.fixture
def anyio_backend() -> str:
    return "asyncio"


@pytest.fixture
def router() -> Iterator[respx.MockRouter]:
    with respx.mock(base_url=BASE, assert_all_called=False, assert_all_mocked=True) as mock:
        yield mock


class Sleeps:
    """Stands in for asyncio.sleep: records every wait, never waits."""

    def __init__(self) -> None:
        self.waits: list[float] = []

    async def __call__(self, seconds: float) -> None:
        self.waits.append(seconds)


@pytest.fixture
def sleeps() -> Sleeps:
    return Sleeps()


@pytest.fixture
async def gh(sleeps: Sleeps) -> AsyncIterator[GitHubClient]:
    async with GitHubClient(auth=TokenAuth(TOKEN), sleep=sleeps, clock=lambda: NOW) as client:
        yield client


def body(route: respx.Route, index: int = -1) -> Any:
    return json.loads(route.calls[index].request.content)


def query(route: respx.Route, index: int = -1) -> dict[str, str]:
    return dict(route.calls[index].request.url.params)


pytestmark = pytest.mark.anyio


# --- request basics --------------------------------------------------------------------------


async def test_every_request_carries_the_api_headers(
    router: respx.MockRouter, gh: GitHubClient
) -> None:
    route = router.get("/repos/acme/api/actions/runs/5").respond(200, json={"id": 5})
    assert await gh.get_run(REPO, 5) == {"id": 5}
    headers = route.calls[0].request.headers
    assert headers["authorization"] == f"Bearer {TOKEN}"
    assert headers["accept"] == "application/vnd.github+json"
    assert headers["x-github-api-version"] == "2022-11-28"
    assert headers["user-agent"] == "orchestrator"


async def test_an_explicit_transport_is_used() -> None:
    seen: list[str] = []

    def handler(request: httpx.Request) -> httpx.Response:
        seen.append(str(request.url))
        return httpx.Response(200, json={"resources": {}})

    async with GitHubClient(
        base_url="https://ghe.example.test/api/v3",
        auth=TokenAuth(TOKEN),
        transport=httpx.MockTransport(handler),
    ) as client:
        assert await client.rate_limit() == {"resources": {}}
    assert seen == ["https://ghe.example.test/api/v3/rate_limit"]


@pytest.mark.parametrize("bad", ["acme", "acme/api/x", "/api", "acme/", "../api", "acme/..", ""])
async def test_repo_must_be_owner_slash_name(gh: GitHubClient, bad: str) -> None:
    with pytest.raises(ValueError, match="owner/name"):
        await gh.get_run(bad, 1)
    with pytest.raises(ValueError, match="owner/name"):
        check_repo(bad)


def test_importing_the_client_loads_no_http_stack_or_rsa() -> None:
    """The request path may import the error types; httpx and rsa wait for the job path."""
    code = (
        "import sys, orchestrator.github.client, orchestrator.github.auth, "
        "orchestrator.github.errors, orchestrator.github.sending; "
        "print(sorted(m for m in ('httpx', 'httpcore', 'rsa') if m in sys.modules))"
    )
    out = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, timeout=60, check=True
    )
    assert out.stdout.strip() == "[]"


# --- workflow runs ---------------------------------------------------------------------------


async def test_list_workflow_runs_of_a_workflow_file_with_filters(
    router: respx.MockRouter, gh: GitHubClient
) -> None:
    route = router.get("/repos/acme/api/actions/workflows/deploy.yml/runs").respond(
        200, json={"total_count": 2, "workflow_runs": [{"id": 2}, {"id": 1}]}
    )
    runs = await gh.list_workflow_runs(
        REPO, "deploy.yml", branch="main", event="workflow_dispatch", status="completed"
    )
    assert runs == [{"id": 2}, {"id": 1}]
    assert query(route) == {
        "branch": "main",
        "event": "workflow_dispatch",
        "status": "completed",
        "per_page": "10",
    }


async def test_list_workflow_runs_by_id_and_for_the_whole_repo(
    router: respx.MockRouter, gh: GitHubClient
) -> None:
    by_id = router.get("/repos/acme/api/actions/workflows/161335/runs").respond(
        200, json={"workflow_runs": []}
    )
    everything = router.get("/repos/acme/api/actions/runs").respond(
        200, json={"workflow_runs": [{"id": 9}]}
    )
    assert await gh.list_workflow_runs(REPO, 161335, per_page=5) == []
    assert await gh.list_workflow_runs(REPO) == [{"id": 9}]
    assert query(by_id) == {"per_page": "5"}
    assert everything.call_count == 1
    with pytest.raises(ValueError, match="per_page"):
        await gh.list_workflow_runs(REPO, per_page=101)


async def test_get_run_attempt_and_jobs(router: respx.MockRouter, gh: GitHubClient) -> None:
    attempt = router.get("/repos/acme/api/actions/runs/7/attempts/2").respond(
        200, json={"run_attempt": 2}
    )
    latest = router.get("/repos/acme/api/actions/runs/7/jobs").respond(
        200, json={"jobs": [{"id": 70}]}
    )
    of_attempt = router.get("/repos/acme/api/actions/runs/7/attempts/1/jobs").respond(
        200, json={"jobs": [{"id": 71}]}
    )
    assert await gh.get_run_attempt(REPO, 7, 2) == {"run_attempt": 2}
    assert await gh.list_run_jobs(REPO, 7) == [{"id": 70}]
    assert query(latest) == {"filter": "latest", "per_page": "100"}
    assert await gh.list_run_jobs(REPO, 7, attempt=1) == [{"id": 71}]
    assert query(of_attempt) == {"per_page": "100"}
    assert attempt.call_count == 1


async def test_find_workflow_by_path_file_or_display_name(
    router: respx.MockRouter, gh: GitHubClient
) -> None:
    workflows = [
        {"id": 1, "name": "CI", "path": ".github/workflows/ci.yml"},
        {"id": 2, "name": "Deploy", "path": ".github/workflows/deploy.yml"},
        {"id": 3, "name": "Nightly", "path": ".github/workflows/nightly-a.yml"},
        {"id": 4, "name": "nightly", "path": ".github/workflows/nightly-b.yml"},
    ]
    route = router.get("/repos/acme/api/actions/workflows").respond(
        200, json={"total_count": 4, "workflows": workflows}
    )
    assert (await gh.find_workflow(REPO, "deploy.yml") or {}).get("id") == 2
    assert (await gh.find_workflow(REPO, ".github/workflows/ci.yml") or {}).get("id") == 1
    assert (await gh.find_workflow(REPO, "deploy") or {}).get("id") == 2
    assert (await gh.find_workflow(REPO, "nightly-b") or {}).get("id") == 4  # the file's stem
    assert (await gh.find_workflow(REPO, "4") or {}).get("path", "").endswith("nightly-b.yml")
    assert (await gh.find_workflow(REPO, "DEPLOY") or {}).get("id") == 2
    assert await gh.find_workflow(REPO, "release.yml") is None
    with pytest.raises(ValueError, match=r"nightly-a\.yml.*nightly-b\.yml"):
        await gh.find_workflow(REPO, "Nightly")
    assert query(route)["per_page"] == "100"


# --- dispatch and control --------------------------------------------------------------------


async def test_dispatch_returns_run_details_when_github_gives_them(
    router: respx.MockRouter, gh: GitHubClient
) -> None:
    route = router.post("/repos/acme/api/actions/workflows/deploy.yml/dispatches").respond(
        200,
        json={
            "workflow_run_id": 123,
            "run_url": f"{BASE}/repos/acme/api/actions/runs/123",
            "html_url": "https://github.com/acme/api/actions/runs/123",
        },
    )
    result = await gh.dispatch_workflow(
        REPO, "deploy.yml", "main", {"environment": "prod", "correlation_id": "c-1"}
    )
    assert result == DispatchResult(
        run_id=123,
        run_url=f"{BASE}/repos/acme/api/actions/runs/123",
        html_url="https://github.com/acme/api/actions/runs/123",
    )
    assert body(route) == {
        "ref": "main",
        "inputs": {"environment": "prod", "correlation_id": "c-1"},
        "return_run_details": True,
    }


async def test_dispatch_on_an_older_server_answers_204_without_a_run(
    router: respx.MockRouter, gh: GitHubClient
) -> None:
    route = router.post("/repos/acme/api/actions/workflows/55/dispatches").respond(204)
    result = await gh.dispatch_workflow(REPO, 55, "v1.2.3", None, return_run_details=False)
    assert result == DispatchResult(run_id=None)
    assert body(route) == {"ref": "v1.2.3", "inputs": {}}


async def test_dispatch_answered_200_with_garbage_still_counts_as_started(
    router: respx.MockRouter, gh: GitHubClient
) -> None:
    """The workflow has started: a mangled answer loses the run id, not the dispatch."""
    route = router.post("/repos/acme/api/actions/workflows/55/dispatches").respond(
        200, content=b"<html>ok</html>"
    )
    result = await gh.dispatch_workflow(REPO, 55, "main", {"correlation_id": "c-2"})
    assert result == DispatchResult(run_id=None)
    assert route.call_count == 1, "never dispatched twice"


async def test_dispatch_422_carries_githubs_message(
    router: respx.MockRouter, gh: GitHubClient
) -> None:
    router.post("/repos/acme/api/actions/workflows/deploy.yml/dispatches").respond(
        422,
        json={
            "message": 'Unexpected inputs provided: ["colour"]',
            "documentation_url": "https://docs.github.com/rest/actions/workflows",
        },
    )
    with pytest.raises(GitHubHTTPError) as info:
        await gh.dispatch_workflow(REPO, "deploy.yml", "main", {"colour": "red"})
    error = info.value
    assert error.status == 422
    assert error.message == 'Unexpected inputs provided: ["colour"]'
    assert error.documentation_url == "https://docs.github.com/rest/actions/workflows"
    assert "Unexpected inputs" in str(error) and "dispatches" in str(error)


async def test_dispatch_is_not_retried_after_a_server_error(
    router: respx.MockRouter, gh: GitHubClient, sleeps: Sleeps
) -> None:
    route = router.post("/repos/acme/api/actions/workflows/deploy.yml/dispatches").respond(502)
    with pytest.raises(GitHubUnavailable, match="may have taken effect"):
        await gh.dispatch_workflow(REPO, "deploy.yml", "main", {})
    assert route.call_count == 1 and sleeps.waits == []


async def test_dispatch_is_not_retried_after_a_lost_answer(
    router: respx.MockRouter, gh: GitHubClient
) -> None:
    route = router.post("/repos/acme/api/actions/workflows/deploy.yml/dispatches").mock(
        side_effect=httpx.ReadTimeout("timed out")
    )
    with pytest.raises(GitHubUnavailable, match="ReadTimeout"):
        await gh.dispatch_workflow(REPO, "deploy.yml", "main", {})
    assert route.call_count == 1


async def test_posts_are_not_retried_after_5xx_unless_marked_safe(
    router: respx.MockRouter, gh: GitHubClient, sleeps: Sleeps
) -> None:
    rerun = router.post("/repos/acme/api/actions/runs/8/rerun").respond(502)
    cancel = router.post("/repos/acme/api/actions/runs/8/cancel").mock(
        side_effect=[httpx.Response(502), httpx.Response(202, json={})]
    )
    with pytest.raises(GitHubUnavailable):
        await gh.rerun_run(REPO, 8)
    assert rerun.call_count == 1 and sleeps.waits == []
    await gh.cancel_run(REPO, 8)  # cancelling twice is harmless, so it is retried
    assert cancel.call_count == 2 and sleeps.waits == [1.0]


async def test_rerun_rerun_failed_and_cancel(router: respx.MockRouter, gh: GitHubClient) -> None:
    rerun = router.post("/repos/acme/api/actions/runs/8/rerun").respond(201, json={})
    failed = router.post("/repos/acme/api/actions/runs/8/rerun-failed-jobs").respond(201, json={})
    cancel = router.post("/repos/acme/api/actions/runs/8/cancel").respond(202, json={})
    await gh.rerun_run(REPO, 8)
    await gh.rerun_failed_jobs(REPO, 8, enable_debug_logging=True)
    await gh.cancel_run(REPO, 8)
    assert body(rerun) == {"enable_debug_logging": False}
    assert body(failed) == {"enable_debug_logging": True}
    assert cancel.call_count == 1


# --- deployments -----------------------------------------------------------------------------


async def test_deployments_and_their_statuses(router: respx.MockRouter, gh: GitHubClient) -> None:
    listing = router.get("/repos/acme/api/deployments").respond(200, json=[{"id": 11}])
    create = router.post("/repos/acme/api/deployments/11/statuses").respond(
        201, json={"id": 500, "state": "success"}
    )
    statuses = router.get("/repos/acme/api/deployments/11/statuses").respond(
        200, json=[{"state": "in_progress"}]
    )
    assert await gh.list_deployments(REPO, environment="prod", sha=SHA) == [{"id": 11}]
    assert query(listing) == {"environment": "prod", "sha": SHA, "per_page": "30"}
    created = await gh.create_deployment_status(
        REPO,
        11,
        "success",
        description="x" * 200,
        environment_url="https://app.example.test",
        log_url="https://github.com/acme/api/actions/runs/1",
    )
    assert created == {"id": 500, "state": "success"}
    assert body(create) == {
        "state": "success",
        "description": "x" * 139 + "…",  # GitHub's 140, cut visibly
        "environment_url": "https://app.example.test",
        "log_url": "https://github.com/acme/api/actions/runs/1",
    }
    assert await gh.list_deployment_statuses(REPO, 11) == [{"state": "in_progress"}]
    assert statuses.call_count == 1
    with pytest.raises(ValueError, match="state must be one of"):
        await gh.create_deployment_status(REPO, 11, "done")


async def test_a_deployment_is_created_of_exactly_the_commit_asked_for(
    router: respx.MockRouter, gh: GitHubClient
) -> None:
    create = router.post("/repos/acme/api/deployments").respond(201, json={"id": 77})
    found = await gh.create_deployment(
        REPO,
        ref=SHA,
        environment="staging",
        payload={"via": "orchestrator", "correlation_id": "orc-0123abcd"},
        description="d" * 300,
        transient_environment=True,
    )
    assert found == 77
    assert body(create) == {
        "ref": SHA,
        "task": "deploy",
        "auto_merge": False,  # GitHub's default would merge the default branch in
        "required_contexts": [],  # GitHub's default waits for every check
        "payload": {"via": "orchestrator", "correlation_id": "orc-0123abcd"},
        "environment": "staging",
        "transient_environment": True,
        "production_environment": False,
        "description": "d" * 139 + "…",
    }
    assert create.call_count == 1


async def test_a_deployment_github_merged_instead_of_creating_is_an_error(
    router: respx.MockRouter, gh: GitHubClient
) -> None:
    router.post("/repos/acme/api/deployments").respond(
        202, json={"message": "Auto-merged main into topic-branch on deployment."}
    )
    with pytest.raises(GitHubError, match="Auto-merged"):
        await gh.create_deployment(REPO, ref="topic-branch", environment="production")


async def test_a_failed_deployment_post_is_not_retried(
    router: respx.MockRouter, gh: GitHubClient
) -> None:
    create = router.post("/repos/acme/api/deployments").respond(502, json={"message": "bad"})
    with pytest.raises(GitHubError):
        await gh.create_deployment(REPO, ref=SHA, environment="production")
    assert create.call_count == 1, "a second POST would make a second Deployment"


@pytest.mark.parametrize(
    ("given", "expected"),
    [
        ("short", "short"),
        ("a  b\n c", "a b c"),
        ("y" * 140, "y" * 140),
        ("y" * 141, "y" * 139 + "…"),
    ],
)
def test_descriptions_fit_githubs_140_characters(given: str, expected: str) -> None:
    assert fit_description(given) == expected
    assert len(fit_description(given)) <= 140


# --- commits ---------------------------------------------------------------------------------


async def test_branch_head_asks_for_the_bare_sha(
    router: respx.MockRouter, gh: GitHubClient
) -> None:
    route = router.get("/repos/acme/api/commits/feature%2Fx").respond(200, text=SHA + "\n")
    assert await gh.get_branch_head(REPO, "feature/x") == SHA
    assert route.calls[0].request.headers["accept"] == "application/vnd.github.sha"


async def test_branch_head_refuses_a_non_sha(router: respx.MockRouter, gh: GitHubClient) -> None:
    router.get("/repos/acme/api/commits/main").respond(200, text="<html>")
    with pytest.raises(GitHubError, match="not a SHA"):
        await gh.get_branch_head(REPO, "main")


async def test_compare_and_get_commit(router: respx.MockRouter, gh: GitHubClient) -> None:
    comparison = {"ahead_by": 3, "behind_by": 0, "status": "ahead", "commits": [{"sha": SHA}]}
    compare = router.get(f"/repos/acme/api/compare/v1.0...{SHA}").respond(200, json=comparison)
    commit = router.get("/repos/acme/api/commits/v1.0").respond(200, json={"sha": SHA})
    result = await gh.compare(REPO, "v1.0", SHA)
    assert (result["ahead_by"], result["behind_by"], result["status"]) == (3, 0, "ahead")
    assert await gh.get_commit(REPO, "v1.0") == {"sha": SHA}
    assert compare.call_count == commit.call_count == 1


# --- hook deliveries -------------------------------------------------------------------------


async def test_repo_and_org_hook_deliveries(router: respx.MockRouter, gh: GitHubClient) -> None:
    repo_list = router.get("/repos/acme/api/hooks/9/deliveries").respond(200, json=[{"id": 1}])
    org_list = router.get("/orgs/acme/hooks/4/deliveries").respond(200, json=[{"id": 2}])
    one = router.get("/repos/acme/api/hooks/9/deliveries/1").respond(200, json={"id": 1})
    again = router.post("/orgs/acme/hooks/4/deliveries/2/attempts").respond(202, json={})
    assert await gh.list_hook_deliveries(repo=REPO, hook_id=9) == [{"id": 1}]
    assert query(repo_list) == {"per_page": "100"}
    assert await gh.list_hook_deliveries(org="acme", hook_id=4, per_page=50) == [{"id": 2}]
    assert query(org_list) == {"per_page": "50"}
    assert await gh.get_hook_delivery(repo=REPO, hook_id=9, delivery_id=1) == {"id": 1}
    await gh.redeliver(org="acme", hook_id=4, delivery_id=2)
    assert one.call_count == again.call_count == 1
    assert again.calls[0].request.headers["authorization"] == f"Bearer {TOKEN}"


async def test_hook_arguments_are_checked(gh: GitHubClient) -> None:
    with pytest.raises(ValueError, match="not both"):
        await gh.list_hook_deliveries(repo=REPO, org="acme", hook_id=1)
    with pytest.raises(ValueError, match="hook_id= is required"):
        await gh.list_hook_deliveries(repo=REPO)
    with pytest.raises(ValueError, match="needs repo= or org="):
        await gh.redeliver(hook_id=3, delivery_id=1)


async def test_app_hook_deliveries_need_app_credentials(gh: GitHubClient) -> None:
    with pytest.raises(GitHubError, match="GitHub App credentials"):
        await gh.list_hook_deliveries()


async def test_app_hook_deliveries_speak_as_the_app(router: respx.MockRouter) -> None:
    public, private = rsa.newkeys(1024)
    exchange = router.post("/app/installations/42/access_tokens").respond(
        201, json={"token": "ghs_inst", "expires_at": "2099-01-01T00:00:00Z"}
    )
    listing = router.get("/app/hook/deliveries").respond(200, json=[{"id": 5, "guid": "g"}])
    get_one = router.get("/app/hook/deliveries/5").respond(200, json={"id": 5})
    redeliver = router.post("/app/hook/deliveries/5/attempts").respond(202, json={})
    runs = router.get("/repos/acme/api/actions/runs/1").respond(200, json={"id": 1})
    auth = AppAuth(321, private.save_pkcs1("PEM"), 42, clock=lambda: NOW)
    async with GitHubClient(auth=auth) as gh:
        assert await gh.list_hook_deliveries() == [{"id": 5, "guid": "g"}]
        assert await gh.get_hook_delivery(delivery_id=5) == {"id": 5}
        await gh.redeliver(delivery_id=5)
        await gh.get_run(REPO, 1)
    for route in (listing, get_one, redeliver):
        jwt = route.calls[0].request.headers["authorization"].removeprefix("Bearer ")
        header, claims, signature = jwt.split(".")
        rsa.verify(f"{header}.{claims}".encode(), _unb64(signature), public)
    assert runs.calls[0].request.headers["authorization"] == "Bearer ghs_inst"
    assert exchange.call_count == 1  # the App's own endpoints need no installation token


def _unb64(text: str) -> bytes:
    import base64

    return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))


async def test_a_refused_installation_token_is_replaced_once(router: respx.MockRouter) -> None:
    _, private = rsa.newkeys(1024)
    tokens = iter(["ghs_old", "ghs_new"])
    router.post("/app/installations/42/access_tokens").mock(
        side_effect=lambda request: httpx.Response(
            201, json={"token": next(tokens), "expires_at": "2099-01-01T00:00:00Z"}
        )
    )
    route = router.get("/repos/acme/api/pulls/3").mock(
        side_effect=lambda request: (
            httpx.Response(200, json={"number": 3})
            if request.headers["authorization"] == "Bearer ghs_new"
            else httpx.Response(401, json={"message": "Bad credentials"})
        )
    )
    async with GitHubClient(auth=AppAuth(1, private.save_pkcs1("PEM"), 42)) as gh:
        assert await gh.get_pull(REPO, 3) == {"number": 3}
    assert route.call_count == 2


# --- logs, checks, pulls, rate limit ---------------------------------------------------------


async def test_job_logs_follow_the_redirect_without_our_token(
    router: respx.MockRouter, gh: GitHubClient
) -> None:
    signed = "https://results-receiver.blob.example.test/logs/77?sig=SIGNATURE"
    first = router.get("/repos/acme/api/actions/jobs/77/logs").respond(
        302, headers={"Location": signed}
    )
    blob = router.get(signed).respond(200, content=b"step 1\nstep 2\nError: boom\n")
    assert await gh.get_job_logs(REPO, 77) == "step 1\nstep 2\nError: boom\n"
    assert first.call_count == 1
    assert "authorization" not in blob.calls[0].request.headers


async def test_job_logs_are_cut_to_their_tail(router: respx.MockRouter, gh: GitHubClient) -> None:
    signed = "https://blob.example.test/logs/78?sig=abc"
    router.get("/repos/acme/api/actions/jobs/78/logs").respond(302, headers={"Location": signed})
    lines = b"".join(b"line %05d\n" % n for n in range(10_000))  # 110,000 bytes
    router.get(signed).respond(200, content=lines)
    text = await gh.get_job_logs(REPO, 78, max_bytes=1000)
    first, _, rest = text.partition("\n")
    assert first.startswith("[... ") and "earlier bytes not shown" in first
    assert rest.endswith("line 09999\n")
    assert rest.startswith("line ")  # starts on a whole line
    assert len(rest.encode()) <= 1000


async def test_expired_log_link_is_an_http_error_without_the_signature(
    router: respx.MockRouter, gh: GitHubClient
) -> None:
    signed = "https://blob.example.test/logs/79?sig=SIGNATURE_VALUE"
    router.get("/repos/acme/api/actions/jobs/79/logs").respond(302, headers={"Location": signed})
    router.get(signed).respond(403, text="AuthenticationFailed")
    with pytest.raises(GitHubHTTPError, match="log download failed") as info:
        await gh.get_job_logs(REPO, 79)
    assert "SIGNATURE_VALUE" not in str(info.value)


async def test_gone_logs_are_an_http_error(router: respx.MockRouter, gh: GitHubClient) -> None:
    router.get("/repos/acme/api/actions/jobs/80/logs").respond(410, json={"message": "Gone"})
    with pytest.raises(GitHubHTTPError) as info:
        await gh.get_job_logs(REPO, 80)
    assert info.value.status == 410


async def test_check_runs_pull_and_rate_limit(router: respx.MockRouter, gh: GitHubClient) -> None:
    checks = router.get(f"/repos/acme/api/commits/{SHA}/check-runs").respond(
        200, json={"total_count": 1, "check_runs": [{"name": "test"}]}
    )
    pull = router.get("/repos/acme/api/pulls/12").respond(200, json={"number": 12})
    limits = router.get("/rate_limit").respond(
        200,
        json={"resources": {"core": {"remaining": 4812}}},
        headers={
            "x-ratelimit-limit": "5000",
            "x-ratelimit-remaining": "4812",
            "x-ratelimit-used": "188",
            "x-ratelimit-reset": str(int(NOW) + 600),
            "x-ratelimit-resource": "core",
        },
    )
    assert await gh.list_check_runs_for_ref(REPO, SHA, check_name="test") == [{"name": "test"}]
    assert query(checks) == {"check_name": "test", "per_page": "100"}
    assert await gh.get_pull(REPO, 12) == {"number": 12}
    assert gh.last_rate_limit is None
    assert (await gh.rate_limit())["resources"]["core"]["remaining"] == 4812
    assert gh.last_rate_limit is not None
    assert gh.last_rate_limit.remaining == 4812 and gh.last_rate_limit.limit == 5000
    assert gh.last_rate_limit.describe().startswith("4,812 of 5,000 requests left (core)")
    assert pull.call_count == limits.call_count == 1


async def test_generic_request_for_endpoints_without_a_method(
    router: respx.MockRouter, gh: GitHubClient
) -> None:
    route = router.put("/repos/acme/api/environments/prod").respond(200, json={"name": "prod"})
    assert await gh.request("put", "/repos/acme/api/environments/prod", json={"x": 1}) == {
        "name": "prod"
    }
    assert body(route) == {"x": 1}


# --- retries and rate limits -----------------------------------------------------------------


async def test_primary_rate_limit_waits_until_reset(
    router: respx.MockRouter, sleeps: Sleeps
) -> None:
    limited = httpx.Response(
        403,
        json={"message": "API rate limit exceeded"},
        headers={"x-ratelimit-remaining": "0", "x-ratelimit-reset": str(int(NOW) + 25)},
    )
    route = router.get("/repos/acme/api/actions/runs/1").mock(
        side_effect=[limited, httpx.Response(200, json={"id": 1})]
    )
    async with GitHubClient(auth=TokenAuth(TOKEN), sleep=sleeps, clock=lambda: NOW) as gh:
        assert await gh.get_run(REPO, 1) == {"id": 1}
    assert sleeps.waits == [25.0]
    assert route.call_count == 2


async def test_primary_rate_limit_past_max_wait_raises_with_retry_time(
    router: respx.MockRouter, gh: GitHubClient, sleeps: Sleeps
) -> None:
    reset = int(NOW) + 3000
    route = router.get("/repos/acme/api/actions/runs/1").respond(
        403,
        json={"message": "API rate limit exceeded"},
        headers={"x-ratelimit-remaining": "0", "x-ratelimit-reset": str(reset)},
    )
    with pytest.raises(GitHubRateLimited, match="retry after") as info:
        await gh.get_run(REPO, 1)
    assert info.value.retry_at == reset
    assert "primary" in str(info.value) and "in about 3,000 s" in str(info.value)
    assert sleeps.waits == [] and route.call_count == 1


async def test_secondary_limit_with_retry_after(
    router: respx.MockRouter, gh: GitHubClient, sleeps: Sleeps
) -> None:
    route = router.post("/repos/acme/api/actions/workflows/d.yml/dispatches").mock(
        side_effect=[
            httpx.Response(429, headers={"retry-after": "9"}, json={"message": "slow down"}),
            httpx.Response(204),
        ]
    )
    assert await gh.dispatch_workflow(REPO, "d.yml", "main", {}) == DispatchResult()
    assert sleeps.waits == [9.0]
    assert route.call_count == 2  # a refused dispatch did nothing: safe to send again


async def test_secondary_limit_from_the_message_alone_waits_a_minute(
    router: respx.MockRouter, gh: GitHubClient, sleeps: Sleeps
) -> None:
    router.get("/repos/acme/api/pulls/1").mock(
        side_effect=[
            httpx.Response(
                403, json={"message": "You have exceeded a secondary rate limit. Please wait."}
            ),
            httpx.Response(200, json={"number": 1}),
        ]
    )
    assert await gh.get_pull(REPO, 1) == {"number": 1}
    assert sleeps.waits == [60.0]


async def test_a_plain_403_is_an_http_error_not_a_wait(
    router: respx.MockRouter, gh: GitHubClient, sleeps: Sleeps
) -> None:
    router.post("/repos/acme/api/actions/runs/1/cancel").respond(
        403, json={"message": "Resource not accessible by integration"}
    )
    with pytest.raises(GitHubHTTPError, match="Resource not accessible"):
        await gh.cancel_run(REPO, 1)
    assert sleeps.waits == []


async def test_server_errors_then_success(
    router: respx.MockRouter, gh: GitHubClient, sleeps: Sleeps
) -> None:
    route = router.get("/repos/acme/api/actions/runs/1").mock(
        side_effect=[httpx.Response(502), httpx.Response(503), httpx.Response(200, json={})]
    )
    assert await gh.get_run(REPO, 1) == {}
    assert sleeps.waits == [1.0, 2.0]
    assert route.call_count == 3


async def test_server_errors_forever_give_up_after_bounded_attempts(
    router: respx.MockRouter, gh: GitHubClient, sleeps: Sleeps
) -> None:
    route = router.get("/repos/acme/api/actions/runs/1").respond(500, text="oops")
    with pytest.raises(GitHubUnavailable, match="500") as info:
        await gh.get_run(REPO, 1)
    assert route.call_count == gh.max_retries + 1 == 4
    assert sleeps.waits == [1.0, 2.0, 4.0]
    assert "4 attempt" in str(info.value)


async def test_connection_failures_are_retried_even_for_posts(
    router: respx.MockRouter, gh: GitHubClient, sleeps: Sleeps
) -> None:
    route = router.post("/repos/acme/api/actions/workflows/d.yml/dispatches").mock(
        side_effect=[httpx.ConnectError("refused"), httpx.Response(204)]
    )
    await gh.dispatch_workflow(REPO, "d.yml", "main", {})
    assert route.call_count == 2 and sleeps.waits == [1.0]


async def test_timeouts_forever_are_unavailable(router: respx.MockRouter, sleeps: Sleeps) -> None:
    route = router.get("/rate_limit").mock(side_effect=httpx.ReadTimeout("slow"))
    async with GitHubClient(
        auth=TokenAuth(TOKEN), sleep=sleeps, max_retries=1, clock=lambda: NOW
    ) as gh:
        with pytest.raises(GitHubUnavailable, match="no answer"):
            await gh.rate_limit()
    assert route.call_count == 2 and sleeps.waits == [1.0]


# --- pagination ------------------------------------------------------------------------------


def _paged_routes(router: respx.MockRouter) -> respx.Route:
    path = "/repos/acme/api/hooks/9/deliveries"

    def page(request: httpx.Request) -> httpx.Response:
        cursor = request.url.params.get("cursor")
        number = {None: 1, "p2": 2, "p3": 3}[cursor]
        headers = {}
        if number < 3:
            headers["Link"] = (
                f'<{BASE}{path}?per_page=2&cursor=p{number + 1}>; rel="next", '
                f'<{BASE}{path}?per_page=2>; rel="first"'
            )
        items = [{"id": number * 10 + i} for i in range(2)]
        return httpx.Response(200, json=items, headers=headers)

    return router.get(path).mock(side_effect=page)


async def test_pagination_follows_next_links_across_three_pages(
    router: respx.MockRouter, gh: GitHubClient
) -> None:
    route = _paged_routes(router)
    items = await gh.list_hook_deliveries(repo=REPO, hook_id=9, per_page=2, max_pages=10)
    assert [item["id"] for item in items] == [10, 11, 20, 21, 30, 31]
    assert route.call_count == 3
    assert query(route, 1) == {"per_page": "2", "cursor": "p2"}


async def test_pagination_stops_at_max_pages(router: respx.MockRouter, gh: GitHubClient) -> None:
    route = _paged_routes(router)
    items = await gh.list_hook_deliveries(repo=REPO, hook_id=9, per_page=2, max_pages=2)
    assert [item["id"] for item in items] == [10, 11, 20, 21]
    assert route.call_count == 2
    with pytest.raises(ValueError, match="max_pages"):
        await gh.list_hook_deliveries(repo=REPO, hook_id=9, max_pages=0)


async def test_pagination_never_follows_a_link_to_another_origin(
    router: respx.MockRouter, gh: GitHubClient
) -> None:
    elsewhere = router.get("https://evil.example.test/next").respond(200, json=[{"id": 99}])
    router.get("/repos/acme/api/deployments").respond(
        200, json=[{"id": 1}], headers={"Link": '<https://evil.example.test/next>; rel="next"'}
    )
    assert await gh.list_deployments(REPO, max_pages=5) == [{"id": 1}]
    assert elsewhere.call_count == 0


def test_link_header_parsing() -> None:
    value = (
        '<https://api.github.com/x?page=2>; rel="next", '
        '<https://api.github.com/x?page=5>; rel="last",<https://api.github.com/x?page=1>;rel=first'
    )
    assert parse_link_header(value) == {
        "next": "https://api.github.com/x?page=2",
        "last": "https://api.github.com/x?page=5",
        "first": "https://api.github.com/x?page=1",
    }
    assert parse_link_header(None) == {}
    assert parse_link_header("garbage") == {}


# --- ETags -----------------------------------------------------------------------------------


async def test_etag_304_serves_the_cached_body(router: respx.MockRouter, gh: GitHubClient) -> None:
    def answer(request: httpx.Request) -> httpx.Response:
        if request.headers.get("if-none-match") == '"v1"':
            return httpx.Response(304, headers={"ETag": '"v1"', "x-ratelimit-remaining": "4999"})
        return httpx.Response(
            200,
            json={"id": 1, "status": "in_progress"},
            headers={"ETag": '"v1"', "x-ratelimit-remaining": "4998"},
        )

    route = router.get("/repos/acme/api/actions/runs/1").mock(side_effect=answer)
    first = await gh.get_run(REPO, 1)
    second = await gh.get_run(REPO, 1)
    assert first == second == {"id": 1, "status": "in_progress"}
    assert "if-none-match" not in route.calls[0].request.headers
    assert route.calls[1].request.headers["if-none-match"] == '"v1"'
    assert gh.last_rate_limit is not None and gh.last_rate_limit.remaining == 4999


async def test_etag_cache_is_per_url_and_updated_on_change(
    router: respx.MockRouter, gh: GitHubClient
) -> None:
    versions = iter(
        [
            httpx.Response(200, json={"v": 1}, headers={"ETag": 'W/"1"'}),
            httpx.Response(200, json={"v": 2}, headers={"ETag": 'W/"2"'}),
            httpx.Response(304),
        ]
    )
    route = router.get("/repos/acme/api/pulls/4").mock(side_effect=lambda request: next(versions))
    other = router.get("/repos/acme/api/pulls/5").respond(200, json={"n": 5})
    assert await gh.get_pull(REPO, 4) == {"v": 1}
    assert await gh.get_pull(REPO, 5) == {"n": 5}
    assert await gh.get_pull(REPO, 4) == {"v": 2}
    assert await gh.get_pull(REPO, 4) == {"v": 2}
    assert [call.request.headers.get("if-none-match") for call in route.calls] == [
        None,
        'W/"1"',
        'W/"2"',
    ]
    assert "if-none-match" not in other.calls[0].request.headers


async def test_etag_cache_is_bounded(router: respx.MockRouter, sleeps: Sleeps) -> None:
    route = router.get(url__regex=r"/repos/acme/api/pulls/\d+$").mock(
        side_effect=lambda request: httpx.Response(
            200, json={"url": str(request.url)}, headers={"ETag": '"e"'}
        )
    )
    async with GitHubClient(auth=TokenAuth(TOKEN), sleep=sleeps, etag_cache_size=2) as gh:
        for number in (1, 2, 3, 1):
            await gh.get_pull(REPO, number)
    sent = [call.request.headers.get("if-none-match") for call in route.calls]
    assert sent == [None, None, None, None]  # pull 1 was evicted by 3 before it came back


# --- secrets ---------------------------------------------------------------------------------


async def test_tokens_never_reach_logs_or_exceptions(
    router: respx.MockRouter, gh: GitHubClient, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG)
    router.get("/repos/acme/api/actions/runs/1").mock(
        side_effect=[httpx.Response(502), httpx.Response(200, json={})]
    )
    router.get("/repos/acme/api/pulls/2").respond(
        401,
        json={"message": f"Bad credentials for {TOKEN}"},  # even if echoed back
    )
    router.get("/rate_limit").respond(500)
    await gh.get_run(REPO, 1)
    errors: list[Exception] = []
    for call in (gh.get_pull(REPO, 2), gh.rate_limit()):
        try:
            await call
        except GitHubError as exc:
            errors.append(exc)
    assert len(errors) == 2
    assert "[redacted]" in str(errors[0])
    assert caplog.records, "the client logs its requests and retries"
    for record in caplog.records:
        assert TOKEN not in record.getMessage()
        assert TOKEN not in json.dumps(record.__dict__, default=str)
    for error in errors:
        assert TOKEN not in str(error) and TOKEN not in repr(error)


# --- pure helpers ----------------------------------------------------------------------------


def test_tail_text_keeps_small_logs_whole_and_marks_cuts() -> None:
    assert tail_text(b"short\n", 100) == "short\n"
    cut = tail_text(b"aaaa\nbbbb\ncccc\n", 8)
    assert cut.endswith("cccc\n") and cut.startswith("[... 10 earlier bytes not shown ...]")
    streamed = tail_text(b"tail\n", 10, total=1_000)
    assert streamed.startswith("[... 995 earlier bytes")
