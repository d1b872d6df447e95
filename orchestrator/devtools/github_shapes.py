"""GitHub's REST and webhook shapes for the demo world: plain dicts, as GitHub writes them.

Pure: `github_world` objects in, JSON-ready dicts out. Every object carries the fields
GitHub's OpenAPI description marks required (so a client or a contract test reading
them meets GitHub's shape, not a convenient subset), with URLs pointing at the stand-in:
`api` for API URLs and `web` for the pages a person would open.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from orchestrator.devtools.github_world import (
    NAME,
    OWNER,
    REPO,
    REPO_ID,
    Commit,
    Delivery,
    DemoWorld,
    Deployment,
    DeploymentStatus,
    Job,
    Pull,
    Run,
    Workflow,
    iso,
)

JSON = dict[str, Any]
_USER_IDS = {OWNER: 100_001, "ada": 100_002, "grace": 100_003, "linus": 100_004, "dev": 100_005}
GITHUB_ACTIONS_APP_ID = 15368


@dataclass(frozen=True)
class Urls:
    api: str  # the API base, like https://api.github.com
    web: str  # the site base, like https://github.com

    @property
    def repo_api(self) -> str:
        return f"{self.api}/repos/{REPO}"

    @property
    def repo_web(self) -> str:
        return f"{self.web}/{REPO}"


def node_id(kind: str, number: int | str) -> str:
    import base64

    return base64.b64encode(f"0:{kind}{number}".encode()).decode().rstrip("=")


def user(urls: Urls, login: str) -> JSON:
    bot = login.endswith("[bot]")
    number = 41_898_282 if bot else _USER_IDS.get(login, 100_000 + len(login))
    api = f"{urls.api}/users/{login}"
    return {
        "login": login,
        "id": number,
        "node_id": node_id("User", number),
        "avatar_url": f"{urls.web}/avatars/{login}",
        "gravatar_id": "",
        "url": api,
        "html_url": f"{urls.web}/{login}",
        "followers_url": f"{api}/followers",
        "following_url": f"{api}/following{{/other_user}}",
        "gists_url": f"{api}/gists{{/gist_id}}",
        "starred_url": f"{api}/starred{{/owner}}{{/repo}}",
        "subscriptions_url": f"{api}/subscriptions",
        "organizations_url": f"{api}/orgs",
        "repos_url": f"{api}/repos",
        "events_url": f"{api}/events{{/privacy}}",
        "received_events_url": f"{api}/received_events",
        "type": "Bot" if bot else ("Organization" if login == OWNER else "User"),
        "user_view_type": "public",
        "site_admin": False,
    }


def repository(urls: Urls) -> JSON:
    """The full repository object, as events carry it at the top (runs: `repository_lite`)."""
    api, web = urls.repo_api, urls.repo_web
    created = "2026-01-05T09:00:00Z"
    return {
        "id": REPO_ID,
        "node_id": node_id("Repository", REPO_ID),
        "name": NAME,
        "full_name": REPO,
        "private": False,
        "owner": user(urls, OWNER),
        "html_url": web,
        "description": "The demo app the local stand-in deploys",
        "fork": False,
        "url": api,
        "archive_url": f"{api}/{{archive_format}}{{/ref}}",
        "assignees_url": f"{api}/assignees{{/user}}",
        "blobs_url": f"{api}/git/blobs{{/sha}}",
        "branches_url": f"{api}/branches{{/branch}}",
        "collaborators_url": f"{api}/collaborators{{/collaborator}}",
        "comments_url": f"{api}/comments{{/number}}",
        "commits_url": f"{api}/commits{{/sha}}",
        "compare_url": f"{api}/compare/{{base}}...{{head}}",
        "contents_url": f"{api}/contents/{{+path}}",
        "contributors_url": f"{api}/contributors",
        "deployments_url": f"{api}/deployments",
        "downloads_url": f"{api}/downloads",
        "events_url": f"{api}/events",
        "forks_url": f"{api}/forks",
        "git_commits_url": f"{api}/git/commits{{/sha}}",
        "git_refs_url": f"{api}/git/refs{{/sha}}",
        "git_tags_url": f"{api}/git/tags{{/sha}}",
        "git_url": f"git://{urls.web.split('://', 1)[-1]}/{REPO}.git",
        "issue_comment_url": f"{api}/issues/comments{{/number}}",
        "issue_events_url": f"{api}/issues/events{{/number}}",
        "issues_url": f"{api}/issues{{/number}}",
        "keys_url": f"{api}/keys{{/key_id}}",
        "labels_url": f"{api}/labels{{/name}}",
        "languages_url": f"{api}/languages",
        "merges_url": f"{api}/merges",
        "milestones_url": f"{api}/milestones{{/number}}",
        "notifications_url": f"{api}/notifications{{?since,all,participating}}",
        "pulls_url": f"{api}/pulls{{/number}}",
        "releases_url": f"{api}/releases{{/id}}",
        "ssh_url": f"git@{urls.web.split('://', 1)[-1]}:{REPO}.git",
        "stargazers_url": f"{api}/stargazers",
        "statuses_url": f"{api}/statuses/{{sha}}",
        "subscribers_url": f"{api}/subscribers",
        "subscription_url": f"{api}/subscription",
        "tags_url": f"{api}/tags",
        "teams_url": f"{api}/teams",
        "trees_url": f"{api}/git/trees{{/sha}}",
        "clone_url": f"{web}.git",
        "mirror_url": None,
        "hooks_url": f"{api}/hooks",
        "svn_url": web,
        "homepage": None,
        "language": "JavaScript",
        "forks_count": 0,
        "forks": 0,
        "stargazers_count": 0,
        "watchers_count": 0,
        "watchers": 0,
        "size": 42,
        "default_branch": "main",
        "open_issues_count": 2,
        "open_issues": 2,
        "is_template": False,
        "topics": [],
        "has_issues": True,
        "has_projects": False,
        "has_wiki": False,
        "has_pages": False,
        "has_downloads": True,
        "archived": False,
        "disabled": False,
        "visibility": "public",
        "license": None,
        "pushed_at": created,
        "created_at": created,
        "updated_at": created,
    }


# What a workflow run carries of its repositories (`repository`, `head_repository`), in REST
# answers and webhooks alike: names, owner and the API's URL templates; none of the clone
# URLs, counts, flags or dates of the full object (GitHub's published workflow_run examples,
# and the webhook schema, which allows nothing more).
_LITE_EXCLUDED = frozenset(
    {
        "git_url",
        "ssh_url",
        "clone_url",
        "mirror_url",
        "svn_url",
        "homepage",
        "language",
        "forks_count",
        "forks",
        "stargazers_count",
        "watchers_count",
        "watchers",
        "size",
        "default_branch",
        "open_issues_count",
        "open_issues",
        "is_template",
        "topics",
        "has_issues",
        "has_projects",
        "has_wiki",
        "has_pages",
        "has_downloads",
        "archived",
        "disabled",
        "visibility",
        "license",
        "pushed_at",
        "created_at",
        "updated_at",
    }
)


def repository_lite(urls: Urls) -> JSON:
    """The repository as a workflow run carries it (see `_LITE_EXCLUDED`)."""
    return {key: value for key, value in repository(urls).items() if key not in _LITE_EXCLUDED}


def _git_person(commit: Commit) -> JSON:
    return {"name": commit.author, "email": f"{commit.login}@example.com", "date": iso(commit.at)}


def commit(urls: Urls, found: Commit) -> JSON:
    api = f"{urls.repo_api}/commits/{found.sha}"
    tree = found.sha[::-1]  # a stable, distinct stand-in for the tree's SHA
    return {
        "sha": found.sha,
        "node_id": node_id("Commit", found.sha),
        "url": api,
        "html_url": f"{urls.repo_web}/commit/{found.sha}",
        "comments_url": f"{api}/comments",
        "commit": {
            "author": _git_person(found),
            "committer": _git_person(found),
            "message": found.message,
            "tree": {"sha": tree, "url": f"{urls.repo_api}/git/trees/{tree}"},
            "url": f"{urls.repo_api}/git/commits/{found.sha}",
            "comment_count": 0,
            "verification": {
                "verified": False,
                "reason": "unsigned",
                "signature": None,
                "payload": None,
                "verified_at": None,
            },
        },
        "author": user(urls, found.login),
        "committer": user(urls, found.login),
        "parents": [
            {
                "sha": parent,
                "url": f"{urls.repo_api}/commits/{parent}",
                "html_url": f"{urls.repo_web}/commit/{parent}",
            }
            for parent in found.parents
        ],
        "stats": {"total": 12, "additions": 9, "deletions": 3},
        "files": [],
    }


def comparison(urls: Urls, world: DemoWorld, base: str, head: str) -> JSON:
    status, ahead, behind, commits = world.compare(base, head)
    base_commit = world.commits[world.resolve(base)]
    merge_base = world.commits[world.merge_base(base, head)]
    spec = f"{base}...{head}"
    return {
        "url": f"{urls.repo_api}/compare/{spec}",
        "html_url": f"{urls.repo_web}/compare/{spec}",
        "permalink_url": f"{urls.repo_web}/compare/{base_commit.sha[:7]}...{head}",
        "diff_url": f"{urls.repo_web}/compare/{spec}.diff",
        "patch_url": f"{urls.repo_web}/compare/{spec}.patch",
        "base_commit": commit(urls, base_commit),
        "merge_base_commit": commit(urls, merge_base),
        "status": status,
        "ahead_by": ahead,
        "behind_by": behind,
        "total_commits": len(commits),
        "commits": [commit(urls, item) for item in commits],
        "files": [],
    }


def workflow(urls: Urls, wf: Workflow) -> JSON:
    return {
        "id": wf.id,
        "node_id": node_id("Workflow", wf.id),
        "name": wf.name,
        "path": wf.path,
        "state": "active",
        "created_at": "2026-01-05T09:00:00Z",
        "updated_at": "2026-01-05T09:00:00Z",
        "url": f"{urls.repo_api}/actions/workflows/{wf.id}",
        "html_url": f"{urls.repo_web}/blob/main/{wf.path}",
        "badge_url": f"{urls.repo_web}/workflows/{wf.name}/badge.svg",
    }


def _pull_minimal(urls: Urls, world: DemoWorld, pull: Pull) -> JSON:
    def side(ref: str) -> JSON:
        return {
            "ref": ref,
            "sha": world.branches[ref],
            "repo": {"id": REPO_ID, "url": urls.repo_api, "name": NAME},
        }

    return {
        "id": 1_900_000_000 + pull.number,
        "number": pull.number,
        "url": f"{urls.repo_api}/pulls/{pull.number}",
        "head": side(pull.head_ref),
        "base": side(pull.base_ref),
    }


def workflow_run(urls: Urls, world: DemoWorld, run: Run) -> JSON:
    api = f"{urls.repo_api}/actions/runs/{run.id}"
    found = world.commits[run.head_sha]
    repo = repository_lite(urls)
    pulls = world.pulls.get(run.pull_number or 0)
    return {
        "id": run.id,
        "name": run.workflow.name,
        "node_id": node_id("WorkflowRun", run.id),
        "check_suite_id": run.id + 1_000_000_000,
        "check_suite_node_id": node_id("CheckSuite", run.id + 1_000_000_000),
        "head_branch": run.head_branch,
        "head_sha": run.head_sha,
        "path": run.workflow.path,
        "display_title": run.display_title,
        "run_number": run.number,
        "run_attempt": run.attempt,
        "event": run.event,
        "status": run.status,
        "conclusion": run.conclusion,
        "workflow_id": run.workflow.id,
        "url": api,
        "html_url": f"{urls.repo_web}/actions/runs/{run.id}",
        "pull_requests": [_pull_minimal(urls, world, pulls)] if pulls else [],
        "created_at": iso(run.created_at),
        "updated_at": iso(run.updated_at),
        "run_started_at": iso(run.run_started_at),
        "actor": user(urls, run.actor),
        "triggering_actor": user(urls, run.actor),
        "referenced_workflows": [],
        "jobs_url": f"{api}/jobs",
        "logs_url": f"{api}/logs",
        "check_suite_url": f"{urls.repo_api}/check-suites/{run.id + 1_000_000_000}",
        "artifacts_url": f"{api}/artifacts",
        "cancel_url": f"{api}/cancel",
        "rerun_url": f"{api}/rerun",
        "previous_attempt_url": f"{api}/attempts/{run.attempt - 1}" if run.attempt > 1 else None,
        "workflow_url": f"{urls.repo_api}/actions/workflows/{run.workflow.id}",
        "head_commit": {
            "id": found.sha,
            "tree_id": found.sha[::-1],
            "message": found.message,
            "timestamp": iso(found.at),
            "author": {"name": found.author, "email": f"{found.login}@example.com"},
            "committer": {"name": found.author, "email": f"{found.login}@example.com"},
        },
        "repository": repo,
        "head_repository": repo,
    }


def job(urls: Urls, found: Job, run: Run) -> JSON:
    api = f"{urls.repo_api}/actions/jobs/{found.id}"
    started = found.started_at or found.created_at
    return {
        "id": found.id,
        "run_id": found.run_id,
        "workflow_name": run.workflow.name,
        "head_branch": run.head_branch,
        "run_url": f"{urls.repo_api}/actions/runs/{found.run_id}",
        "run_attempt": found.attempt,
        "node_id": node_id("CheckRun", found.id),
        "head_sha": run.head_sha,
        "url": api,
        "html_url": f"{urls.repo_web}/actions/runs/{found.run_id}/job/{found.id}",
        "status": found.status,
        "conclusion": found.conclusion,
        "created_at": iso(found.created_at),
        "started_at": iso(started),
        "completed_at": iso(found.completed_at) if found.completed_at else None,
        "name": found.name,
        "steps": [
            {
                "name": step.name,
                "status": step.status,
                "conclusion": step.conclusion,
                "number": step.number,
                "started_at": iso(step.started_at) if step.started_at else None,
                "completed_at": iso(step.completed_at) if step.completed_at else None,
            }
            for step in found.steps
        ],
        "check_run_url": f"{urls.repo_api}/check-runs/{found.id}",
        "labels": ["ubuntu-latest"],
        "runner_id": 1 if found.started_at else None,
        "runner_name": "GitHub Actions 1" if found.started_at else None,
        "runner_group_id": 1 if found.started_at else None,
        "runner_group_name": "GitHub Actions" if found.started_at else None,
    }


def _github_actions_app(urls: Urls) -> JSON:
    return {
        "id": GITHUB_ACTIONS_APP_ID,
        "slug": "github-actions",
        "node_id": node_id("Integration", GITHUB_ACTIONS_APP_ID),
        "owner": user(urls, "github"),
        "name": "GitHub Actions",
        "description": "Automate your workflow from idea to production",
        "external_url": "https://help.github.com/en/actions",
        "html_url": f"{urls.web}/apps/github-actions",
        "created_at": "2018-07-30T09:30:17Z",
        "updated_at": "2024-04-10T20:33:16Z",
        "permissions": {"actions": "write", "checks": "write", "contents": "write"},
        "events": ["check_run", "check_suite", "workflow_run"],
    }


def check_run(urls: Urls, world: DemoWorld, found: Job, run: Run) -> JSON:
    """An Actions job as its check run: the same id, the same name."""
    failed = [step.name for step in found.steps if step.conclusion == "failure"]
    pulls = world.pulls.get(run.pull_number or 0)
    return {
        "id": found.id,
        "name": found.name,
        "node_id": node_id("CheckRun", found.id),
        "head_sha": run.head_sha,
        "external_id": f"{run.id}-{found.name}",
        "url": f"{urls.repo_api}/check-runs/{found.id}",
        "html_url": f"{urls.repo_web}/actions/runs/{run.id}/job/{found.id}",
        "details_url": f"{urls.repo_web}/actions/runs/{run.id}/job/{found.id}",
        "status": found.status,
        "conclusion": found.conclusion,
        "started_at": iso(found.started_at) if found.started_at else None,
        "completed_at": iso(found.completed_at) if found.completed_at else None,
        "output": {
            "title": f"{found.name} failed at {failed[0]}" if failed else None,
            "summary": None,
            "text": None,
            "annotations_count": len(failed),
            "annotations_url": f"{urls.repo_api}/check-runs/{found.id}/annotations",
        },
        "check_suite": {"id": run.id + 1_000_000_000},
        "app": _github_actions_app(urls),
        "pull_requests": [_pull_minimal(urls, world, pulls)] if pulls else [],
    }


def _link(href: str) -> JSON:
    return {"href": href}


def pull(urls: Urls, world: DemoWorld, found: Pull) -> JSON:
    api = f"{urls.repo_api}/pulls/{found.number}"
    issue = f"{urls.repo_api}/issues/{found.number}"
    web = f"{urls.repo_web}/pull/{found.number}"
    head_sha = world.branches[found.head_ref]
    repo = repository(urls)
    _, ahead, _, _ = world.compare(found.base_ref, found.head_ref)

    def side(ref: str) -> JSON:
        return {
            "label": f"{OWNER}:{ref}",
            "ref": ref,
            "sha": world.branches[ref],
            "user": user(urls, OWNER),
            "repo": repo,
        }

    return {
        "url": api,
        "id": 1_900_000_000 + found.number,
        "node_id": node_id("PullRequest", found.number),
        "html_url": web,
        "diff_url": f"{web}.diff",
        "patch_url": f"{web}.patch",
        "issue_url": issue,
        "commits_url": f"{api}/commits",
        "review_comments_url": f"{api}/comments",
        "review_comment_url": f"{urls.repo_api}/pulls/comments{{/number}}",
        "comments_url": f"{issue}/comments",
        "statuses_url": f"{urls.repo_api}/statuses/{head_sha}",
        "number": found.number,
        "state": "open",
        "locked": False,
        "title": found.title,
        "user": user(urls, found.author),
        "body": found.body or None,
        "labels": [],
        "milestone": None,
        "active_lock_reason": None,
        "created_at": iso(found.created_at),
        "updated_at": iso(found.created_at),
        "closed_at": None,
        "merged_at": None,
        "merge_commit_sha": None,
        "assignee": None,
        "assignees": [],
        "requested_reviewers": [],
        "requested_teams": [],
        "head": side(found.head_ref),
        "base": side(found.base_ref),
        "_links": {
            "self": _link(api),
            "html": _link(web),
            "issue": _link(issue),
            "comments": _link(f"{issue}/comments"),
            "review_comments": _link(f"{api}/comments"),
            "review_comment": _link(f"{urls.repo_api}/pulls/comments{{/number}}"),
            "commits": _link(f"{api}/commits"),
            "statuses": _link(f"{urls.repo_api}/statuses/{head_sha}"),
        },
        "author_association": "MEMBER",
        "auto_merge": None,
        "draft": False,
        "merged": False,
        "mergeable": True,
        "rebaseable": True,
        "mergeable_state": "clean",
        "merged_by": None,
        "comments": 0,
        "review_comments": 0,
        "maintainer_can_modify": False,
        "commits": ahead,
        "additions": 9,
        "deletions": 3,
        "changed_files": 2,
    }


def deployment(urls: Urls, found: Deployment) -> JSON:
    api = f"{urls.repo_api}/deployments/{found.id}"
    return {
        "url": api,
        "id": found.id,
        "node_id": node_id("Deployment", found.id),
        "sha": found.sha,
        "ref": found.ref,
        "task": found.task,
        "payload": found.payload,
        "original_environment": found.environment,
        "environment": found.environment,
        "description": found.description,
        "creator": user(urls, found.creator),
        "created_at": iso(found.created_at),
        "updated_at": iso(found.statuses[0].created_at if found.statuses else found.created_at),
        "statuses_url": f"{api}/statuses",
        "repository_url": urls.repo_api,
        "transient_environment": found.transient_environment,
        "production_environment": found.production_environment,
    }


def deployment_status(urls: Urls, parent: Deployment, found: DeploymentStatus) -> JSON:
    """The description types the URLs as `uri`, so a URL nobody gave is left out, except
    `target_url`, which it requires: that one falls back to the repository's deployments
    page."""
    api = f"{urls.repo_api}/deployments/{parent.id}"
    shape: JSON = {
        "url": f"{api}/statuses/{found.id}",
        "id": found.id,
        "node_id": node_id("DeploymentStatus", found.id),
        "state": found.state,
        "creator": user(urls, parent.creator),
        "description": found.description,
        "environment": parent.environment,
        "target_url": found.log_url or f"{urls.repo_web}/deployments",
        "created_at": iso(found.created_at),
        "updated_at": iso(found.created_at),
        "deployment_url": api,
        "repository_url": urls.repo_api,
    }
    if found.log_url:
        shape["log_url"] = found.log_url
    if found.environment_url:
        shape["environment_url"] = found.environment_url
    return shape


def delivery_item(found: Delivery) -> JSON:
    return {
        "id": found.id,
        "guid": found.guid,
        "delivered_at": iso(found.delivered_at),
        "redelivery": found.redelivery,
        "duration": round(found.duration, 3),
        "status": found.status,
        "status_code": found.status_code,
        "event": found.event,
        "action": found.action,
        "installation_id": None,
        "repository_id": REPO_ID,
        "throttled_at": None,
    }


def delivery(found: Delivery, url: str) -> JSON:
    return {
        **delivery_item(found),
        "url": url,
        "request": {"headers": found.request_headers, "payload": found.payload},
        "response": {"headers": found.response_headers, "payload": found.response_body},
    }


def rate_limit(remaining: int, reset: int) -> JSON:
    core = {"limit": 5000, "used": 5000 - remaining, "remaining": remaining, "reset": reset}
    idle = {"limit": 30, "used": 0, "remaining": 30, "reset": reset}
    return {"resources": {"core": core, "search": idle}, "rate": core}


INSTALLATION_ID = 60_000_001
STANDIN_APP_ID = 12_345  # any App id: the stand-in does not check the App's JWT
_APP_PERMISSIONS = {
    "actions": "write",
    "checks": "read",
    "contents": "read",
    "deployments": "write",
    "metadata": "read",
    "pull_requests": "read",
    "repository_hooks": "read",
}


def installation(urls: Urls) -> JSON:
    """The App installed on the demo's owner (`GET /repos/{repo}/installation`)."""
    created = "2026-01-05T09:00:00Z"
    return {
        "id": INSTALLATION_ID,
        "account": user(urls, OWNER),
        "repository_selection": "selected",
        "access_tokens_url": f"{urls.api}/app/installations/{INSTALLATION_ID}/access_tokens",
        "repositories_url": f"{urls.api}/installation/repositories",
        "html_url": f"{urls.web}/organizations/{OWNER}/settings/installations/{INSTALLATION_ID}",
        "app_id": STANDIN_APP_ID,
        "client_id": "Iv1.0standin000000",
        "target_id": _USER_IDS[OWNER],
        "target_type": "Organization",
        "permissions": dict(_APP_PERMISSIONS),
        "events": ["workflow_job", "workflow_run"],
        "created_at": created,
        "updated_at": created,
        "single_file_name": None,
        "has_multiple_single_files": False,
        "single_file_paths": [],
        "app_slug": "orchestrator",
        "suspended_by": None,
        "suspended_at": None,
        "contact_email": None,
    }


def installation_token(token: str, expires_at: float) -> JSON:
    """`POST /app/installations/{id}/access_tokens`: an hour's token for the demo repo."""
    return {
        "token": token,
        "expires_at": iso(expires_at),
        "permissions": dict(_APP_PERMISSIONS),
        "repository_selection": "selected",
    }


# -- webhooks ---------------------------------------------------------------------------------


def workflow_run_event(urls: Urls, world: DemoWorld, run: Run, action: str) -> JSON:
    return {
        "action": action,
        "workflow_run": workflow_run(urls, world, run),
        "workflow": workflow(urls, run.workflow),
        "repository": repository(urls),
        "sender": user(urls, run.actor),
    }


def deployment_status_event(urls: Urls, parent: Deployment, found: DeploymentStatus) -> JSON:
    """`deployment_status` `created`: what GitHub sends when a status is added to a
    Deployment (by us: the orchestrator's own statuses come back this way)."""
    return {
        "action": "created",
        "deployment_status": deployment_status(urls, parent, found),
        "deployment": deployment(urls, parent),
        "repository": repository(urls),
        "sender": user(urls, parent.creator),
    }


def workflow_job_event(urls: Urls, found: Job, run: Run, action: str) -> JSON:
    return {
        "action": action,
        "workflow_job": job(urls, found, run),
        "repository": repository(urls),
        "sender": user(urls, run.actor),
    }
