"""Whole GitHub REST objects for fakes, built from the examples in GitHub's own description.

A fake that answers `{"id": 5}` for a workflow run tests a client against a GitHub that
does not exist; the contract check (`tests/support/github_spec.py`) refuses it. These
builders start from the example GitHub publishes for each object (`@octokit/openapi`,
`#/components/examples/...`), mended where the example itself misses a field its schema
requires, then apply the test's changes:

    from tests.support import github_objects as gh

    run = gh.workflow_run(repo="acme/web", id=123, status="completed", conclusion="success")
    fake.on("GET", "/repos/acme/web/actions/runs/123", run)
    fake.on("GET", RUNS, gh.runs_page(run))
    fake.on("GET", JOBS, gh.jobs_page(gh.job(name="build", steps=[gh.step("Upload", "failure")])))

`repo=` puts the object in that repository (names, owners and every URL); `id=` on a run or
a job also moves its URLs. Changes to a nested object merge into it (`repository={"private":
True}` keeps the rest of the repository); any other value replaces. Every builder returns a
fresh object that validates against its schema (tests/contract/test_github_openapi.py).
"""

from __future__ import annotations

import copy
from collections.abc import Mapping
from functools import cache
from typing import Any

from tests.support.github_spec import spec

# The repositories GitHub's examples are written about, replaced by `repo=`.
_EXAMPLE_REPOS = ("octo-org/octo-repo", "octocat/Hello-World", "octocat/hello-world")
DOCS = "https://docs.github.com/rest"


@cache
def _raw_example(name: str) -> Any:
    examples = spec().document["components"]["examples"]
    return spec().schemas.resolve(examples[name])["value"]


def example(name: str) -> Any:
    """A fresh copy of `#/components/examples/<name>`'s value, as GitHub published it."""
    return copy.deepcopy(_raw_example(name))


def merge(base: dict[str, Any], changes: Mapping[str, Any]) -> dict[str, Any]:
    """`base` with `changes`: nested objects merge, everything else is replaced."""
    for key, value in changes.items():
        if isinstance(value, Mapping) and isinstance(base.get(key), dict):
            merge(base[key], value)
        else:
            base[key] = copy.deepcopy(value)
    return base


def _retarget(node: Any, repo: str) -> Any:
    """The example moved to `repo`: every URL and name that pointed at GitHub's examples."""
    owner, _, name = repo.partition("/")
    if isinstance(node, str):
        for old in _EXAMPLE_REPOS:
            node = node.replace(old, repo)
        return node
    if isinstance(node, list):
        return [_retarget(item, repo) for item in node]
    if isinstance(node, dict):
        moved = {key: _retarget(value, repo) for key, value in node.items()}
        if isinstance(node.get("full_name"), str) and node["full_name"] in _EXAMPLE_REPOS:
            moved["full_name"] = repo
            moved["name"] = name
            if isinstance(moved.get("owner"), dict):
                moved["owner"] = _retarget_owner(moved["owner"], owner)
        return moved
    return node


def _retarget_owner(user: dict[str, Any], login: str) -> dict[str, Any]:
    old = user.get("login")
    if not isinstance(old, str):
        return user
    moved: dict[str, Any] = {}
    for key, value in user.items():
        moved[key] = value.replace(f"/{old}", f"/{login}") if isinstance(value, str) else value
    moved["login"] = login
    return moved


def _build(name: str, repo: str | None) -> dict[str, Any]:
    base: dict[str, Any] = example(name)
    if repo is not None:
        base = _retarget(base, repo)
    return base


# --- Actions ----------------------------------------------------------------------------------


def _renumber(obj: dict[str, Any], kind: str, old: Any, new: Any) -> None:
    """Move `…/<kind>/<old>` URLs to the new id (a run's jobs_url, a job's html_url...)."""
    for key, value in obj.items():
        if isinstance(value, str) and key.endswith("url"):
            obj[key] = value.replace(f"/{kind}/{old}", f"/{kind}/{new}")


def workflow_run(*, repo: str | None = None, **changes: Any) -> dict[str, Any]:
    """`#/components/schemas/workflow-run`, queued unless changed."""
    run = _build("workflow-run", repo)
    if "id" in changes:
        _renumber(run, "runs", run["id"], changes["id"])
    return merge(run, changes)


def step(
    name: str = "Set up job",
    conclusion: str | None = "success",
    *,
    number: int | None = None,
    **changes: Any,
) -> dict[str, Any]:
    """One step of a job (`job.steps[]`): completed with `conclusion` unless changed; `job()`
    numbers the steps given without a number in their order."""
    done = conclusion is not None
    value: dict[str, Any] = {
        "name": name,
        "status": "completed" if done else "in_progress",
        "conclusion": conclusion,
        "number": number,
        "started_at": "2020-01-20T09:42:40.000-08:00",
        "completed_at": "2020-01-20T09:42:41.000-08:00" if done else None,
    }
    return merge(value, changes)


def job(*, repo: str | None = None, **changes: Any) -> dict[str, Any]:
    """`#/components/schemas/job` (GitHub's example lacks `created_at`; added), with
    `steps=[step("Build"), step("Upload", "failure")]` numbered in order."""
    value = _build("job", repo)
    value.setdefault("created_at", value["started_at"])
    if "id" in changes:
        _renumber(value, "jobs", value["id"], changes["id"])
        _renumber(value, "check-runs", value["id"], changes["id"])
    if "run_id" in changes:
        _renumber(value, "runs", value["run_id"], changes["run_id"])
    merged = merge(value, changes)
    for index, each in enumerate(merged.get("steps") or [], start=1):
        if each.get("number") is None:
            each["number"] = index
    return merged


def workflow(*, repo: str | None = None, **changes: Any) -> dict[str, Any]:
    """`#/components/schemas/workflow`: an active workflow file."""
    return merge(_build("workflow", repo), changes)


def dispatch_response(**changes: Any) -> dict[str, Any]:
    """`#/components/schemas/workflow-dispatch-response`: what `return_run_details` gives."""
    return merge(example("workflow-dispatch-response"), changes)


def runs_page(*runs: dict[str, Any], total_count: int | None = None) -> dict[str, Any]:
    """The answer of the workflow-run listings."""
    count = len(runs) if total_count is None else total_count
    return {"total_count": count, "workflow_runs": list(runs)}


def jobs_page(*jobs: dict[str, Any], total_count: int | None = None) -> dict[str, Any]:
    """The answer of the job listings."""
    count = len(jobs) if total_count is None else total_count
    return {"total_count": count, "jobs": list(jobs)}


def workflows_page(*workflows: dict[str, Any]) -> dict[str, Any]:
    """The answer of `GET /repos/{owner}/{repo}/actions/workflows`."""
    return {"total_count": len(workflows), "workflows": list(workflows)}


# --- commits, pulls, checks -------------------------------------------------------------------


def commit(*, repo: str | None = None, **changes: Any) -> dict[str, Any]:
    """`#/components/schemas/commit` (GitHub's example files lack `sha`, `contents_url`)."""
    value = _build("commit", repo)
    for entry in value.get("files", []):
        entry.setdefault("sha", "bbcd538c8e72b8c175046e27cc8f907076331401")
        entry.setdefault(
            "contents_url",
            entry["raw_url"].replace("/raw/", "/contents/").split("?")[0],
        )
    return merge(value, changes)


def comparison(*, repo: str | None = None, **changes: Any) -> dict[str, Any]:
    """`#/components/schemas/commit-comparison`: `ahead_by`, `behind_by`, `status`, ..."""
    return merge(_build("commit-comparison", repo), changes)


def pull(*, repo: str | None = None, **changes: Any) -> dict[str, Any]:
    """`#/components/schemas/pull-request` (GitHub's example teams lack `type`)."""
    value = _build("pull-request", repo)
    for team in value.get("requested_teams") or []:
        team.setdefault("type", "organization")
    return merge(value, changes)


def check_run(*, repo: str | None = None, **changes: Any) -> dict[str, Any]:
    """`#/components/schemas/check-run`, completed unless changed."""
    return merge(_build("check-run", repo), changes)


def check_runs_page(*checks: dict[str, Any]) -> dict[str, Any]:
    """The answer of `GET /repos/{owner}/{repo}/commits/{ref}/check-runs`."""
    return {"total_count": len(checks), "check_runs": list(checks)}


# --- deployments ------------------------------------------------------------------------------


def deployment(*, repo: str | None = None, **changes: Any) -> dict[str, Any]:
    """`#/components/schemas/deployment`."""
    return merge(_build("deployment", repo), changes)


def deployment_status(*, repo: str | None = None, **changes: Any) -> dict[str, Any]:
    """`#/components/schemas/deployment-status`."""
    return merge(_build("deployment-status", repo), changes)


# --- webhooks, the App, limits ----------------------------------------------------------------


def hook_delivery_item(**changes: Any) -> dict[str, Any]:
    """One entry of a hook's delivery log (`#/components/schemas/hook-delivery-item`)."""
    first: dict[str, Any] = example("hook-delivery-items")[0]
    return merge(first, changes)


def hook_delivery(**changes: Any) -> dict[str, Any]:
    """One delivery with its request and response (`#/components/schemas/hook-delivery`)."""
    return merge(example("hook-delivery"), changes)


def installation(*, repo: str | None = None, **changes: Any) -> dict[str, Any]:
    """`#/components/schemas/installation`: the App installed on an account."""
    return merge(_build("installation", repo), changes)


def installation_token(**changes: Any) -> dict[str, Any]:
    """`#/components/schemas/installation-token`, without the example's repository list
    (its repositories carry fields their own schema does not name)."""
    value: dict[str, Any] = example("installation-token")
    value.pop("repositories", None)
    return merge(value, changes)


def rate_limit_overview(**changes: Any) -> dict[str, Any]:
    """`#/components/schemas/rate-limit-overview`: the answer of `GET /rate_limit`."""
    return merge(example("rate-limit-overview"), changes)


def error(message: str = "Not Found", **changes: Any) -> dict[str, Any]:
    """GitHub's error object (`#/components/schemas/basic-error`)."""
    return merge({"message": message, "documentation_url": DOCS}, changes)
