"""Every GitHub endpoint the client calls, checked against GitHub's OpenAPI description.

The description is `@octokit/openapi` (pinned in package-lock.json); the check is
`tests/support/github_spec.py`. Each public endpoint method of `GitHubClient` (and the
App's token exchange, and the product's one call through `request`) runs against a backend
on 127.0.0.1 through a recording transport; every request it sends and every answer it gets
must be what the description allows. A new endpoint method without a case here fails
`test_every_endpoint_method_has_a_case`.

Backends are parametrised: `BACKENDS` maps a name to a context manager that serves a `World`
(ids of one repository's run, job, deployment, hook...). FakeGitHub is one; a stand-in
serving GitHub's shapes joins by adding its own entry.

The FakeGitHub answers of the whole suite are checked too, after each test, by
`tests/conftest.py` (the journal in `tests/support/fake_github.py`); the last tests here
show that check catches what it should.
"""

from __future__ import annotations

import inspect
import json
from collections.abc import Awaitable, Callable, Iterator
from contextlib import AbstractContextManager, contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import pytest
import rsa

from orchestrator.devtools import github_shapes as standin_shapes
from orchestrator.devtools.github_standin import HOOK_ID, GitHubStandIn
from orchestrator.devtools.github_world import OWNER as STANDIN_OWNER
from orchestrator.devtools.github_world import REPO as STANDIN_REPO
from orchestrator.github.auth import AppAuth
from orchestrator.github.client import DEPLOYMENT_STATES, GitHubClient
from tests.support import github_objects as gh
from tests.support.fake_github import JOURNAL, FakeGitHub, Recorded, contract_violations
from tests.support.github_spec import (
    DESCRIPTION,
    RecordingTransport,
    Seen,
    api_exchanges,
    assert_valid_exchange,
    assert_valid_seen,
    spec,
    validate_exchange,
)

pytestmark = pytest.mark.anyio

REPO_ROOT = Path(__file__).resolve().parents[2]
SHA = "6dcb09b5b57875f334f61aebed695e2e4193db5e"
BASE_SHA = "7638417db6d59f3c431d3e1f261cc637155684cd"
APP_ID = 12345
# The App's token exchange, seen once per client (AppAuth looks the installation up by repo).
AUTH_OPERATIONS = frozenset({"apps/get-repo-installation", "apps/create-installation-access-token"})
NOT_ENDPOINTS = frozenset({"aclose"})


@pytest.fixture
def anyio_backend() -> str:
    return "asyncio"


@pytest.fixture(scope="module")
def app_key() -> bytes:
    _, private = rsa.newkeys(1024)
    pem: bytes = private.save_pkcs1()
    return pem


# --- the world a backend serves -----------------------------------------------------------------


@dataclass(frozen=True)
class World:
    """What one backend serves: enough ids to call every endpoint once for real."""

    url: str
    repo: str
    workflow: str  # a workflow file name
    workflow_id: int
    workflow_name: str
    branch: str
    sha: str
    base: str  # a commit behind `sha`, for compare
    run_id: int  # a finished run that failed: it can be re-run, all of it or its failures
    attempt: int
    live_run_id: int  # a run not finished yet: it can be cancelled
    job_id: int
    deployment_id: int
    hook_id: int
    org: str
    org_hook_id: int
    delivery_id: int
    pull_number: int
    installation_id: int


def script_fake(fake: FakeGitHub) -> World:
    """FakeGitHub as a repository with one of everything, in GitHub's own shapes."""
    repo = "acme/web"
    base = f"/repos/{repo}"
    world = World(
        url=fake.url,
        repo=repo,
        workflow="deploy.yml",
        workflow_id=161335,
        workflow_name="Deploy",
        branch="main",
        sha=SHA,
        base=BASE_SHA,
        run_id=30433642,
        attempt=1,
        live_run_id=30433642,
        job_id=399444496,
        deployment_id=42,
        hook_id=7,
        org="acme",
        org_hook_id=4,
        delivery_id=12345678,
        pull_number=1347,
        installation_id=1,
    )
    run = gh.workflow_run(
        repo=repo,
        id=world.run_id,
        head_sha=SHA,
        status="completed",
        conclusion="success",
        path=f".github/workflows/{world.workflow}",
        workflow_id=world.workflow_id,
    )
    job = gh.job(repo=repo, id=world.job_id, run_id=world.run_id, head_sha=SHA)

    def runs(recorded: Recorded) -> tuple[int, Any, dict[str, str]]:
        """Two pages: the first links to the second, as GitHub paginates."""
        if "page=2" in recorded.query:
            return 200, gh.runs_page(run, total_count=2), {}
        link = f'<{fake.url}{recorded.path}?{recorded.query}&page=2>; rel="next"'
        return 200, gh.runs_page(run, total_count=2), {"link": link}

    def etagged(body: Any, etag: str) -> Callable[[Recorded], tuple[int, Any, dict[str, str]]]:
        """200 with an ETag, then 304 to a request that quotes it (the client's cache)."""

        def answer(recorded: Recorded) -> tuple[int, Any, dict[str, str]]:
            if recorded.headers.get("if-none-match") == etag:
                return 304, None, {"etag": etag}
            return 200, body, {"etag": etag}

        return answer

    def dispatch(recorded: Recorded) -> tuple[int, Any, dict[str, str]]:
        """200 with the run when asked for `return_run_details`, else 204 (older servers)."""
        if isinstance(recorded.body, dict) and recorded.body.get("return_run_details"):
            return 200, gh.dispatch_response(workflow_run_id=world.run_id), {}
        return 204, None, {}

    workflows = f"{base}/actions/workflows"
    for workflow in (world.workflow, str(world.workflow_id)):
        fake.respond("GET", f"{workflows}/{workflow}/runs", runs)
        fake.respond("POST", f"{workflows}/{workflow}/dispatches", dispatch)
    fake.respond("GET", f"{base}/actions/runs", runs)
    fake.on(
        "GET",
        workflows,
        gh.workflows_page(
            gh.workflow(
                repo=repo,
                id=world.workflow_id,
                name=world.workflow_name,
                path=f".github/workflows/{world.workflow}",
            ),
            gh.workflow(repo=repo, id=2, name="CI", path=".github/workflows/ci.yml"),
        ),
    )
    runs_base = f"{base}/actions/runs/{world.run_id}"
    fake.respond("GET", runs_base, etagged(run, '"run-etag"'))
    fake.on("GET", f"{runs_base}/attempts/{world.attempt}", run)
    fake.on("GET", f"{runs_base}/jobs", gh.jobs_page(job))
    fake.on("GET", f"{runs_base}/attempts/{world.attempt}/jobs", gh.jobs_page(job))
    fake.on("POST", f"{runs_base}/rerun", {}, status=201)
    fake.on("POST", f"{runs_base}/rerun-failed-jobs", {}, status=201)
    fake.on("POST", f"{runs_base}/cancel", {}, status=202)
    fake.on("GET", f"{base}/actions/jobs/{world.job_id}", job)
    fake.job_logs(repo, world.job_id, "step 1\nstep 2\nError: boom\n")

    deployment = gh.deployment(repo=repo, id=world.deployment_id, sha=SHA, ref=world.branch)
    fake.on("GET", f"{base}/deployments", [deployment])
    fake.on("POST", f"{base}/deployments", deployment, status=201)
    statuses = f"{base}/deployments/{world.deployment_id}/statuses"
    fake.on("GET", statuses, [gh.deployment_status(repo=repo, state="success")])
    fake.respond(
        "POST",
        statuses,
        lambda recorded: (
            201,
            gh.deployment_status(repo=repo, state=recorded.body["state"]),
            {"location": f"{fake.url}{statuses}/1"},
        ),
    )

    fake.on("GET", f"{base}/commits/{world.branch}", SHA)  # the SHA media type: bare text
    fake.on("GET", f"{base}/commits/{SHA}", gh.commit(repo=repo, sha=SHA))
    fake.on(
        "GET",
        f"{base}/compare/{BASE_SHA}...{world.branch}",
        gh.comparison(repo=repo, status="ahead", ahead_by=1, behind_by=0),
    )
    fake.on(
        "GET",
        f"{base}/commits/{SHA}/check-runs",
        gh.check_runs_page(gh.check_run(repo=repo, name="test", head_sha=SHA)),
    )
    fake.on(
        "GET", f"{base}/pulls/{world.pull_number}", gh.pull(repo=repo, number=world.pull_number)
    )
    fake.on(
        "GET",
        "/rate_limit",
        gh.rate_limit_overview(),
        headers={"x-ratelimit-limit": "5000", "x-ratelimit-remaining": "4999"},
    )

    item = gh.hook_delivery_item(id=world.delivery_id)
    delivery = gh.hook_delivery(id=world.delivery_id)
    for hook in (
        f"{base}/hooks/{world.hook_id}",
        f"/orgs/{world.org}/hooks/{world.org_hook_id}",
        "/app/hook",
    ):
        fake.on("GET", f"{hook}/deliveries", [item])
        fake.on("GET", f"{hook}/deliveries/{world.delivery_id}", delivery)
        fake.on("POST", f"{hook}/deliveries/{world.delivery_id}/attempts", {}, status=202)

    fake.on("GET", f"{base}/installation", gh.installation(id=world.installation_id))
    fake.on(
        "POST",
        f"/app/installations/{world.installation_id}/access_tokens",
        gh.installation_token(expires_at="2099-01-01T00:00:00Z"),
        status=201,
    )
    return world


@contextmanager
def fake_github() -> Iterator[World]:
    with FakeGitHub() as fake:
        yield script_fake(fake)


@contextmanager
def github_standin() -> Iterator[World]:
    """The local stand-in (`orchestrator/devtools/github_standin.py`) and its demo repository.

    `step=0`: a dispatched or re-run run finishes within the request, so a re-run may follow
    a re-run. One run is dispatched straight into the world and never driven, so it stays
    queued for the cancel; one webhook is delivered (to the stand-in itself, which answers
    404, as a receiver that moved would) so there is a delivery to list, get and redeliver.
    """
    with GitHubStandIn(step=0) as standin:
        world = standin.world
        head = world.branches["main"]
        failed = next(
            run for run in world.runs.values() if run.conclusion == "failure" and run.pull_number
        )
        queued = world.dispatch("deploy.yml", "main", {})
        standin.webhook_url = f"{standin.url}/_webhooks"
        delivery = standin.deliver(
            "workflow_run",
            standin_shapes.workflow_run_event(standin.urls, world, failed, "completed"),
        )
        standin.webhook_url = None  # redeliveries send nothing: no thread outlives the test
        assert delivery is not None
        deploy = world.workflows["deploy.yml"]
        yield World(
            url=standin.url,
            repo=STANDIN_REPO,
            workflow=deploy.file,
            workflow_id=deploy.id,
            workflow_name=deploy.name,
            branch="main",
            sha=head,
            base=world.ancestors(head)[-1],
            run_id=failed.id,
            attempt=failed.attempt,
            live_run_id=queued.id,
            job_id=failed.jobs[0].id,
            deployment_id=min(world.deployments),
            hook_id=HOOK_ID,
            org=STANDIN_OWNER,
            org_hook_id=HOOK_ID,
            delivery_id=delivery.id,
            pull_number=failed.pull_number or 0,
            installation_id=standin_shapes.INSTALLATION_ID,
        )


# One entry per backend that claims GitHub's shapes.
BACKENDS: dict[str, Callable[[], AbstractContextManager[World]]] = {
    "fake_github": fake_github,
    "github_standin": github_standin,
}


# --- one case per endpoint method ------------------------------------------------------------

Call = Callable[[GitHubClient, World], Awaitable[object]]


@dataclass(frozen=True)
class Case:
    """Calls of one `GitHubClient` method, and the operations they must reach."""

    method: str
    call: Call
    operations: frozenset[str]
    name: str = ""

    @property
    def id(self) -> str:
        return self.name or self.method


async def _list_workflow_runs(g: GitHubClient, w: World) -> None:
    # Every filter the product passes, two pages through `Link`, by file name and by id.
    await g.list_workflow_runs(
        w.repo,
        w.workflow,
        branch=w.branch,
        event="workflow_dispatch",
        status="completed",
        head_sha=w.sha,
        per_page=20,
        max_pages=2,
    )
    await g.list_workflow_runs(w.repo, w.workflow_id, per_page=1)
    await g.list_workflow_runs(w.repo)


async def _get_run(g: GitHubClient, w: World) -> None:
    await g.get_run(w.repo, w.run_id)
    await g.get_run(w.repo, w.run_id)  # answered 304 from the ETag cache where supported


async def _list_run_jobs(g: GitHubClient, w: World) -> None:
    await g.list_run_jobs(w.repo, w.run_id)
    await g.list_run_jobs(w.repo, w.run_id, attempt=w.attempt)


async def _find_workflow(g: GitHubClient, w: World) -> None:
    assert await g.find_workflow(w.repo, w.workflow_name) is not None


async def _dispatch(g: GitHubClient, w: World) -> None:
    details = await g.dispatch_workflow(w.repo, w.workflow, w.branch, {"correlation_id": "orc-1"})
    assert details.run_id is not None and details.html_url  # a new run (ids differ by backend)
    await g.dispatch_workflow(w.repo, w.workflow, w.branch, {}, return_run_details=False)


async def _rerun(g: GitHubClient, w: World) -> None:
    await g.rerun_run(w.repo, w.run_id)
    await g.rerun_run(w.repo, w.run_id, enable_debug_logging=True)


async def _rerun_failed(g: GitHubClient, w: World) -> None:
    await g.rerun_failed_jobs(w.repo, w.run_id, enable_debug_logging=True)


async def _list_deployments(g: GitHubClient, w: World) -> None:
    await g.list_deployments(
        w.repo, environment="production", sha=w.sha, ref=w.branch, task="deploy", per_page=5
    )


async def _create_deployment(g: GitHubClient, w: World) -> None:
    # Every field the product sends (`deploys.deployments.create`), then the defaults.
    found = await g.create_deployment(
        w.repo,
        ref=w.sha,
        environment="production",
        auto_merge=False,
        required_contexts=["test"],  # the demo CI's check, passed on the stand-in's head
        payload={"via": "orchestrator", "correlation_id": "orc-0123abcd", "app": "web"},
        description="deploy web/production by orchestrator " + "x" * 200,  # cut to 140
        transient_environment=False,
        production_environment=True,
    )
    assert isinstance(found, int)
    await g.create_deployment(w.repo, ref=w.sha, environment="staging")


async def _create_deployment_status(g: GitHubClient, w: World) -> None:
    # Every state the client accepts, with every optional field the product may send.
    for state in sorted(DEPLOYMENT_STATES):
        await g.create_deployment_status(
            w.repo,
            w.deployment_id,
            state,
            description="x" * 200,  # cut to GitHub's 140
            environment_url="https://web.example.com",
            log_url=f"https://github.com/{w.repo}/actions/runs/{w.run_id}",
            environment="production",
            auto_inactive=False,
        )
    await g.create_deployment_status(w.repo, w.deployment_id, "in_progress")


async def _hook_deliveries(g: GitHubClient, w: World) -> None:
    await g.list_hook_deliveries(repo=w.repo, hook_id=w.hook_id, per_page=50)
    await g.list_hook_deliveries(org=w.org, hook_id=w.org_hook_id)
    await g.list_hook_deliveries()  # the App's own hook, as the App


async def _hook_delivery(g: GitHubClient, w: World) -> None:
    await g.get_hook_delivery(repo=w.repo, hook_id=w.hook_id, delivery_id=w.delivery_id)
    await g.get_hook_delivery(org=w.org, hook_id=w.org_hook_id, delivery_id=w.delivery_id)
    await g.get_hook_delivery(delivery_id=w.delivery_id)


async def _redeliver(g: GitHubClient, w: World) -> None:
    await g.redeliver(repo=w.repo, hook_id=w.hook_id, delivery_id=w.delivery_id)
    await g.redeliver(org=w.org, hook_id=w.org_hook_id, delivery_id=w.delivery_id)
    await g.redeliver(delivery_id=w.delivery_id)


async def _job_logs(g: GitHubClient, w: World) -> None:
    assert "Error" in await g.get_job_logs(w.repo, w.job_id)


async def _request(g: GitHubClient, w: World) -> None:
    # The product's one call through the escape hatch (orchestrator/triage/collect.py).
    await g.request("GET", f"/repos/{w.repo}/actions/jobs/{w.job_id}")


def _ops(*ids: str) -> frozenset[str]:
    return frozenset(ids)


CASES = [
    Case(
        "list_workflow_runs",
        _list_workflow_runs,
        _ops("actions/list-workflow-runs", "actions/list-workflow-runs-for-repo"),
    ),
    Case("get_run", _get_run, _ops("actions/get-workflow-run")),
    Case(
        "get_run_attempt",
        lambda g, w: g.get_run_attempt(w.repo, w.run_id, w.attempt),
        _ops("actions/get-workflow-run-attempt"),
    ),
    Case(
        "list_run_jobs",
        _list_run_jobs,
        _ops("actions/list-jobs-for-workflow-run", "actions/list-jobs-for-workflow-run-attempt"),
    ),
    Case(
        "list_workflows", lambda g, w: g.list_workflows(w.repo), _ops("actions/list-repo-workflows")
    ),
    Case("find_workflow", _find_workflow, _ops("actions/list-repo-workflows")),
    Case("dispatch_workflow", _dispatch, _ops("actions/create-workflow-dispatch")),
    Case("rerun_run", _rerun, _ops("actions/re-run-workflow")),
    Case("rerun_failed_jobs", _rerun_failed, _ops("actions/re-run-workflow-failed-jobs")),
    Case(
        "cancel_run",
        lambda g, w: g.cancel_run(w.repo, w.live_run_id),
        _ops("actions/cancel-workflow-run"),
    ),
    Case("list_deployments", _list_deployments, _ops("repos/list-deployments")),
    Case("create_deployment", _create_deployment, _ops("repos/create-deployment")),
    Case(
        "create_deployment_status",
        _create_deployment_status,
        _ops("repos/create-deployment-status"),
    ),
    Case(
        "list_deployment_statuses",
        lambda g, w: g.list_deployment_statuses(w.repo, w.deployment_id),
        _ops("repos/list-deployment-statuses"),
    ),
    Case(
        "get_branch_head",
        lambda g, w: g.get_branch_head(w.repo, w.branch),
        _ops("repos/get-commit"),
    ),
    Case("get_commit", lambda g, w: g.get_commit(w.repo, w.sha), _ops("repos/get-commit")),
    Case(
        "compare",
        lambda g, w: g.compare(w.repo, w.base, w.branch),
        _ops("repos/compare-commits-with-basehead"),
    ),
    Case(
        "list_hook_deliveries",
        _hook_deliveries,
        _ops(
            "repos/list-webhook-deliveries",
            "orgs/list-webhook-deliveries",
            "apps/list-webhook-deliveries",
        ),
    ),
    Case(
        "get_hook_delivery",
        _hook_delivery,
        _ops(
            "repos/get-webhook-delivery", "orgs/get-webhook-delivery", "apps/get-webhook-delivery"
        ),
    ),
    Case(
        "redeliver",
        _redeliver,
        _ops(
            "repos/redeliver-webhook-delivery",
            "orgs/redeliver-webhook-delivery",
            "apps/redeliver-webhook-delivery",
        ),
    ),
    Case("get_job_logs", _job_logs, _ops("actions/download-job-logs-for-workflow-run")),
    Case(
        "list_check_runs_for_ref",
        lambda g, w: g.list_check_runs_for_ref(w.repo, w.sha, check_name="test"),
        _ops("checks/list-for-ref"),
    ),
    Case("get_pull", lambda g, w: g.get_pull(w.repo, w.pull_number), _ops("pulls/get")),
    Case("rate_limit", lambda g, w: g.rate_limit(), _ops("rate-limit/get")),
    Case("request", _request, _ops("actions/get-job-for-workflow-run"), "request: get a job"),
]


def endpoint_methods() -> set[str]:
    """The public coroutine methods of GitHubClient: each one talks to GitHub."""
    return {
        name
        for name, member in inspect.getmembers(GitHubClient, inspect.iscoroutinefunction)
        if not name.startswith("_") and name not in NOT_ENDPOINTS
    }


def test_every_endpoint_method_has_a_case() -> None:
    covered = {case.method for case in CASES}
    assert endpoint_methods() - covered == set(), "add a Case for each new endpoint method"
    assert covered - endpoint_methods() == set(), "a Case names a method the client lost"


async def _exchanges(world: World, call: Call, app_key: bytes) -> list[Seen]:
    seen: list[Seen] = []
    auth = AppAuth(
        APP_ID,
        app_key,
        repo=world.repo,
        base_url=world.url,
        transport=RecordingTransport(seen),
    )

    async def no_sleep(_: float) -> None:
        return None

    async with GitHubClient(
        base_url=world.url, auth=auth, transport=RecordingTransport(seen), sleep=no_sleep
    ) as client:
        await call(client, world)
    return seen


@pytest.mark.parametrize("backend", sorted(BACKENDS))
@pytest.mark.parametrize("case", CASES, ids=[case.id for case in CASES])
async def test_each_endpoint_sends_and_gets_what_the_description_allows(
    backend: str, case: Case, app_key: bytes
) -> None:
    with BACKENDS[backend]() as world:
        seen = await _exchanges(world, case.call, app_key)
    exchanges = api_exchanges(seen)
    reached: set[str] = set()
    for one in exchanges:
        assert_valid_seen(one)
        matched = spec().match(one.method, one.path)
        assert matched is not None
        reached.add(matched[0].operation_id)
    assert reached - AUTH_OPERATIONS == case.operations
    assert reached >= AUTH_OPERATIONS  # the App's token exchange was checked too


async def test_a_conditional_get_is_answered_304_and_that_is_checked(app_key: bytes) -> None:
    with fake_github() as world:
        seen = await _exchanges(world, _get_run, app_key)
    statuses = [one.status for one in seen if one.path.endswith(f"/runs/{world.run_id}")]
    assert statuses == [200, 304]
    [conditional] = [one for one in seen if one.status == 304]
    assert conditional.request_headers["if-none-match"] == '"run-etag"'


async def test_the_log_download_leaves_the_api_for_its_signed_url(app_key: bytes) -> None:
    with fake_github() as world:
        seen = await _exchanges(world, _job_logs, app_key)
    [redirect] = [one for one in seen if one.status == 302]
    blob = [one for one in seen if one.url == redirect.response_headers["location"]]
    assert len(blob) == 1 and "authorization" not in blob[0].request_headers
    assert blob[0] not in api_exchanges(seen)


def test_the_deployment_states_are_githubs() -> None:
    operation = spec().operation("repos/create-deployment-status")
    body = spec().schemas.resolve(operation.raw["requestBody"])
    schema = body["content"]["application/json"]["schema"]
    assert set(schema["properties"]["state"]["enum"]) == DEPLOYMENT_STATES


# --- the builders of whole objects ------------------------------------------------------------

BUILT = {
    "workflow-run": lambda: gh.workflow_run(repo="acme/web", id=5, conclusion="failure"),
    "job": lambda: gh.job(repo="acme/web", steps=[gh.step("a"), gh.step("b", "failure")]),
    "workflow": gh.workflow,
    "workflow-dispatch-response": gh.dispatch_response,
    "commit": lambda: gh.commit(repo="acme/web", commit={"message": "fix"}),
    "commit-comparison": gh.comparison,
    "pull-request": lambda: gh.pull(repo="acme/web", number=7, head={"sha": SHA}),
    "check-run": gh.check_run,
    "deployment": gh.deployment,
    "deployment-status": gh.deployment_status,
    "hook-delivery-item": gh.hook_delivery_item,
    "hook-delivery": gh.hook_delivery,
    "installation": gh.installation,
    "installation-token": gh.installation_token,
    "rate-limit-overview": gh.rate_limit_overview,
    "basic-error": gh.error,
}


@pytest.mark.parametrize("component", sorted(BUILT))
def test_each_builder_makes_a_whole_object(component: str) -> None:
    value = BUILT[component]()
    errors = [error.message for error in spec().component(component).iter_errors(value)]
    assert errors == []


def test_builders_apply_changes_and_move_the_object_to_its_repository() -> None:
    run = gh.workflow_run(repo="acme/web", id=5, repository={"private": True})
    assert run["id"] == 5
    assert run["html_url"] == "https://github.com/acme/web/actions/runs/5"
    assert run["repository"]["full_name"] == "acme/web"
    assert run["repository"]["owner"]["login"] == "acme"
    assert run["repository"]["private"] is True
    assert "id" in run["repository"]  # merged, not replaced
    job = gh.job(steps=[gh.step("a"), gh.step("b", "failure")])
    assert [(s["number"], s["conclusion"]) for s in job["steps"]] == [
        (1, "success"),
        (2, "failure"),
    ]
    assert gh.workflow_run() is not gh.workflow_run()
    assert gh.workflow_run()["repository"] == gh.workflow_run()["repository"]


# --- the check itself ---------------------------------------------------------------------------


def test_the_description_is_the_pinned_package() -> None:
    pinned = json.loads((REPO_ROOT / "package.json").read_text())["devDependencies"]
    locked = json.loads((REPO_ROOT / "package-lock.json").read_text())["packages"]
    version = pinned["@octokit/openapi"]
    assert version[0].isdigit(), "pin an exact version"
    assert locked["node_modules/@octokit/openapi"]["version"] == version
    assert locked["node_modules/@octokit/openapi"]["integrity"].startswith("sha512-")
    installed = json.loads((DESCRIPTION.parents[1] / "package.json").read_text())["version"]
    assert installed == version == spec().version


RUN_PATH = "/repos/acme/web/actions/runs/5"
JOB_PATH = "/repos/acme/web/actions/jobs/1"
JSON = {"content-type": "application/json; charset=utf-8"}


def test_a_whole_answer_passes() -> None:
    assert_valid_exchange("GET", RUN_PATH, "", None, 200, JSON, gh.workflow_run())


@pytest.mark.parametrize(
    ("exchange", "expected"),
    [
        (("GET", "/repos/acme/web/actions/nothing", "", None, 200, JSON, {}), "no such operation"),
        (("GET", "/repos/acme/web/actions/runs/abc", "", None, 200, JSON, {}), "run_id"),
        (("GET", RUN_PATH, "colour=blue", None, 200, JSON, gh.workflow_run()), "'colour'"),
        (
            (
                "GET",
                "/repos/acme/web/actions/runs",
                "per_page=ten",
                None,
                200,
                JSON,
                gh.runs_page(),
            ),
            "per_page",
        ),
        (
            (
                "GET",
                "/repos/acme/web/actions/runs",
                "status=bogus",
                None,
                200,
                JSON,
                gh.runs_page(),
            ),
            "status",
        ),
        (
            (
                "GET",
                "/repos/acme/web/actions/runs",
                "page=1&page=2",
                None,
                200,
                JSON,
                gh.runs_page(),
            ),
            "given 2 times",
        ),
        (("GET", RUN_PATH, "", {"x": 1}, 200, JSON, gh.workflow_run()), "takes no request body"),
        (
            (
                "POST",
                "/repos/acme/web/deployments/1/statuses",
                "",
                {"state": "bogus"},
                201,
                JSON,
                gh.deployment_status(),
            ),
            "'bogus' is not one of",
        ),
        (
            (
                "POST",
                "/repos/acme/web/deployments/1/statuses",
                "",
                {"state": "success", "colour": "blue"},
                201,
                JSON,
                gh.deployment_status(),
            ),
            "'colour' was unexpected",
        ),
        (
            ("POST", "/repos/acme/web/actions/workflows/x.yml/dispatches", "", None, 204, {}, None),
            "requires a request body",
        ),
        (("GET", RUN_PATH, "", None, 200, JSON, {"id": 5}), "required but missing"),
        (
            ("GET", RUN_PATH, "", None, 200, JSON, gh.workflow_run(invented=True)),
            "'invented' was unexpected",
        ),
        (
            ("GET", RUN_PATH, "", None, 200, JSON, gh.workflow_run(actor={"url": "not a url"})),
            "is not a 'uri'",
        ),
        (
            ("GET", RUN_PATH, "", None, 200, JSON, gh.workflow_run(created_at="yesterday")),
            "is not a 'date-time'",
        ),
        (("GET", JOB_PATH, "", None, 200, JSON, gh.job(status=None)), "None is not one of"),
        (("GET", JOB_PATH, "", None, 200, JSON, gh.job(conclusion="meh")), "'meh' is not one of"),
        (("GET", RUN_PATH, "", None, 418, JSON, gh.error()), "status 418 is not documented"),
        (("GET", RUN_PATH, "", None, 502, JSON, {"oops": 1}), "basic-error"),
        (("GET", RUN_PATH, "", None, 304, {}, None), "status 304 is not documented"),
        (("GET", RUN_PATH, "", None, 200, {}, gh.workflow_run()), "content-type (none)"),
        (("GET", RUN_PATH, "", None, 200, JSON, "{not json"), "not JSON"),
        (("GET", RUN_PATH, "", None, 200, JSON, None), "none came"),
        (
            ("POST", "/repos/acme/web/actions/runs/5/cancel", "", None, 202, JSON, {"a": 1}),
            "'a' was unexpected",
        ),
        (
            (
                "POST",
                "/repos/acme/web/actions/workflows/x.yml/dispatches",
                "",
                {"ref": "main"},
                204,
                {},
                "x",
            ),
            "documented without a body",
        ),
        (("GET", "/repos/acme/web/actions/jobs/1/logs", "", None, 302, {}, None), "Location"),
    ],
)
def test_each_kind_of_departure_is_caught(exchange: tuple[Any, ...], expected: str) -> None:
    errors = validate_exchange(*exchange)
    assert errors, f"accepted: {exchange[:5]}"
    assert any(expected in error for error in errors), errors


def test_media_types_follow_the_accept_header() -> None:
    sha_accept = {"accept": "application/vnd.github.sha"}
    path = "/repos/acme/web/commits/main"
    sha_type = {"content-type": "application/vnd.github.sha; charset=utf-8"}
    assert (
        validate_exchange("GET", path, "", None, 200, sha_type, SHA, request_headers=sha_accept)
        == []
    )
    mislabelled = validate_exchange(
        "GET", path, "", None, 200, JSON, SHA, request_headers=sha_accept
    )
    assert any("asked for application/vnd.github.sha" in error for error in mislabelled)
    conditional = {"if-none-match": '"abc"'}
    assert (
        validate_exchange("GET", RUN_PATH, "", None, 304, {}, None, request_headers=conditional)
        == []
    )


def test_nullable_fields_take_null_and_their_type_only() -> None:
    """GitHub's `nullable` enums (a job's conclusion) take null though their enum omits it."""
    for conclusion in (None, "failure"):
        answer = gh.job(conclusion=conclusion)
        assert validate_exchange("GET", JOB_PATH, "", None, 200, JSON, answer) == []
    wrong = validate_exchange("GET", JOB_PATH, "", None, 200, JSON, gh.job(conclusion=5))
    assert any("conclusion" in error for error in wrong)


# --- the suite-wide check of FakeGitHub's answers -----------------------------------------------


def test_the_journal_catches_a_fake_answer_github_would_never_give() -> None:
    JOURNAL.drain()
    with FakeGitHub() as fake:
        fake.on("GET", RUN_PATH, {"id": 5})  # half a run
        fake.on("GET", "/repos/acme/web/actions/runs/6", gh.workflow_run(id=6))
        fake.on("GET", "/repos/acme/web/actions/runs/7", "<html>", off_contract="on purpose")
        for run_id in (5, 6, 7):
            httpx.get(f"{fake.url}/repos/acme/web/actions/runs/{run_id}", timeout=5)
        httpx.get(f"{fake.url}/repos/acme/web/nothing/here", timeout=5)
    problems = contract_violations(JOURNAL.drain())
    assert len(problems) == 2, problems
    assert all("test_the_journal_catches_a_fake_answer" in problem for problem in problems)
    assert "runs/5" in problems[0] and "required but missing" in problems[0]
    assert "no such operation" in problems[1]


def test_the_journal_sees_every_exchange_of_every_fake() -> None:
    JOURNAL.drain()
    with FakeGitHub() as one, FakeGitHub() as two:
        one.on("GET", RUN_PATH, gh.workflow_run(id=5))
        httpx.get(one.url + RUN_PATH, timeout=5)
        httpx.get(two.url + RUN_PATH, timeout=5)  # unscripted: GitHub's 404
    taken = JOURNAL.drain()
    assert [(e.request.path, e.status) for e in taken] == [(RUN_PATH, 200), (RUN_PATH, 404)]
    assert contract_violations(taken) == []
