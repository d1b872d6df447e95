"""CI webhook payloads for one commit (`workflow_run`, `check_suite`, `deployment_status`).

Each starts from GitHub's own webhook example (`@octokit/webhooks-examples`) and moves it to
the test's repository, commit, workflow and outcome, so card tests speak of "six workflows
of commit abc, one failing" without hand-written payloads.
"""

from __future__ import annotations

import copy
from typing import Any

from tests.support.github_examples import load_examples

SHA = "a" * 40
OTHER_SHA = "b" * 40


def _example(event: str, action: str | None) -> dict[str, Any]:
    for name, payload in load_examples():
        if name == event and (action is None or payload.get("action") == action):
            return copy.deepcopy(payload)
    raise LookupError(f"no {event}.{action} example")


def _place(payload: dict[str, Any], repo: str, sender: str, sender_type: str) -> None:
    payload["repository"]["full_name"] = repo
    payload["repository"]["name"] = repo.split("/")[1]
    payload["repository"]["html_url"] = f"https://github.com/{repo}"
    payload["sender"]["login"] = sender
    payload["sender"]["type"] = sender_type


def workflow_run(
    *,
    run_id: int,
    name: str,
    repo: str = "acme/web",
    sha: str = SHA,
    conclusion: str | None = "success",
    action: str = "completed",
    attempt: int = 1,
    started_at: str = "2026-11-29T04:05:00Z",
    updated_at: str = "2026-11-29T04:08:05Z",
    sender: str = "ada",
    sender_type: str = "User",
    pull_request: int | None = None,
    message: str = "Cards for every commit\n\nOne message, edited in place.",
) -> dict[str, Any]:
    payload = _example("workflow_run", "completed")
    _place(payload, repo, sender, sender_type)
    payload["action"] = action
    run = payload["workflow_run"]
    run.update(
        id=run_id,
        name=name,
        head_sha=sha,
        head_branch="main",
        status="completed" if action == "completed" else action,
        conclusion=conclusion if action == "completed" else None,
        run_attempt=attempt,
        run_started_at=started_at,
        created_at=started_at,
        updated_at=updated_at,
        html_url=f"https://github.com/{repo}/actions/runs/{run_id}",
        pull_requests=[{"number": pull_request}] if pull_request is not None else [],
    )
    run["repository"]["full_name"] = repo
    run["head_commit"].update(id=sha, message=message)
    run["head_commit"]["author"]["name"] = "Ada Lovelace"
    payload["workflow"]["name"] = name
    return payload


def check_suite(
    *, suite_id: int, app: str, slug: str, conclusion: str, repo: str = "acme/web", sha: str = SHA
) -> dict[str, Any]:
    payload = _example("check_suite", "completed")
    _place(payload, repo, "ada", "User")
    suite = payload["check_suite"]
    suite.update(id=suite_id, head_sha=sha, conclusion=conclusion, pull_requests=[])
    suite["app"].update(name=app, slug=slug)
    return payload


def deployment_status(
    *, status_id: int, state: str, environment: str = "production", repo: str = "acme/web"
) -> dict[str, Any]:
    payload = _example("deployment_status", None)
    _place(payload, repo, "ada", "User")
    payload["deployment_status"].update(id=status_id, state=state, environment=environment)
    payload["deployment"].update(sha=SHA, environment=environment, ref="main")
    return payload
