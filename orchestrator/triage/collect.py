"""Collect what failed for a PR (its check runs) or a run (its jobs), with log tails.

Log download URLs expire after about a minute, so each is fetched as soon as
it is handed out (`GitHubClient.get_job_logs` follows the redirect at once).
At most a few jobs get logs: the summary has to fit one Discord embed.
"""

from __future__ import annotations

import asyncio
from typing import TYPE_CHECKING, Any

from orchestrator.github.events import WorkflowJob, dig, number, text
from orchestrator.triage.summary import FailedJob, tail

if TYPE_CHECKING:
    from orchestrator.github.client import GitHubClient

FAILING = ("failure", "timed_out", "startup_failure", "action_required")
MAX_LOGS = 4


async def _log_tail(github: GitHubClient, repo: str, job_id: int) -> str | None:
    from orchestrator.github.errors import GitHubError

    try:
        return tail(await github.get_job_logs(repo, job_id))
    except GitHubError:
        return None


async def _with_logs(
    github: GitHubClient, repo: str, jobs: list[tuple[int | None, FailedJob]]
) -> list[FailedJob]:
    async def one(index: int, job_id: int | None, job: FailedJob) -> FailedJob:
        if job_id is None or index >= MAX_LOGS:
            return job
        return FailedJob(job.name, job.url, job.steps, await _log_tail(github, repo, job_id))

    return list(await asyncio.gather(*[one(i, jid, job) for i, (jid, job) in enumerate(jobs)]))


async def failing_run_jobs(github: GitHubClient, repo: str, run_id: int) -> list[FailedJob]:
    raw_jobs = await github.list_run_jobs(repo, run_id)
    failed: list[tuple[int | None, FailedJob]] = []
    for raw in raw_jobs:
        job = WorkflowJob(raw)
        if job.conclusion in FAILING:
            failed.append(
                (job.id, FailedJob(job.name or "?", job.html_url, tuple(job.failed_steps)))
            )
    return await _with_logs(github, repo, failed)


async def failing_pr_checks(
    github: GitHubClient, repo: str, number_: int
) -> tuple[dict[str, Any], list[FailedJob]]:
    """The PR, and its failing check runs. Actions check runs are jobs: same id, so their
    steps and logs are fetched as jobs'."""
    pull = await github.get_pull(repo, number_)
    sha = text(pull, "head", "sha") or ""
    checks = await github.list_check_runs_for_ref(repo, sha)
    failed: list[tuple[int | None, FailedJob]] = []
    for check in checks:
        if text(check, "conclusion") not in FAILING:
            continue
        is_actions = text(check, "app", "slug") == "github-actions"
        check_id = number(check, "id")
        steps: tuple[str, ...] = ()
        if is_actions and check_id is not None:
            job = await github.request("GET", f"/repos/{repo}/actions/jobs/{check_id}")
            steps = tuple(WorkflowJob(job).failed_steps)
        name = text(check, "name") or "?"
        summary = text(dig(check, "output"), "title")
        if summary and not steps:
            steps = (summary,)
        failed.append(
            (
                check_id if is_actions else None,
                FailedJob(name, text(check, "html_url"), steps, None if is_actions else ""),
            )
        )
    return pull, await _with_logs(github, repo, failed)
