"""What GitHub says about a deploy: the run, its failed jobs, and how fresh its commit is.

Also this orchestrator's own commit against its branch (the "self" check). Every
call goes through the product's `GitHubClient`, told to retry at most once with
short waits, and through the verifier's `Deadline`, so a GitHub outage costs
seconds, not minutes. Every failure ends as a `CheckError` in `errors`: GitHub
answering 502 or a run id that does not exist is a fact for `decide`, never an
exception for the person asking.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable
from dataclasses import replace
from typing import TYPE_CHECKING, Any, TypeVar

from orchestrator.github.events import number, text
from orchestrator.verification.budget import Deadline, TimedOut
from orchestrator.verification.facts import (
    FRESHNESS,
    RUN,
    SELF,
    CheckError,
    ErrorKind,
    FailedJob,
    Freshness,
    RunFacts,
    RunRequest,
    SelfFacts,
)
from orchestrator.verification.parse import failed_jobs_of, run_facts_of

if TYPE_CHECKING:
    from orchestrator.apps import App
    from orchestrator.clients import Clients
    from orchestrator.github.client import GitHubClient

log = logging.getLogger(__name__)

T = TypeVar("T")


def error_of(exc: BaseException) -> CheckError:
    """A failed check as a fact. GitHub's messages carry no credential (the client
    scrubs them), so they can be shown as they are."""
    from orchestrator.apps import InvalidApp
    from orchestrator.github.errors import (
        GitHubError,
        GitHubHTTPError,
        GitHubRateLimited,
        GitHubUnavailable,
    )

    kind: ErrorKind
    if isinstance(exc, TimedOut):
        kind, message = "timeout", str(exc)
    elif isinstance(exc, GitHubHTTPError) and exc.status == 404:
        kind, message = "not_found", "GitHub answered 404 (missing, or the token cannot see it)"
    elif isinstance(exc, GitHubUnavailable | GitHubRateLimited):
        kind, message = "unavailable", str(exc)
    elif isinstance(exc, GitHubError):
        kind, message = "error", str(exc)
    elif isinstance(exc, InvalidApp | ValueError):
        kind, message = "invalid", str(exc)
    else:
        log.warning("verification check failed", extra={"error": type(exc).__name__})
        kind, message = "error", f"unexpected {type(exc).__name__}"
    return CheckError(kind, message[:300])


class NotFound(Exception):
    """The run (or workflow) asked for does not exist: said in words, not as GitHub's 404."""


class GitHubFacts:
    """The run and self checks for one verification; what fails lands in `errors`."""

    def __init__(
        self,
        app: App,
        services: Clients,
        request: RunRequest,
        deadline: Deadline,
        check_timeout: float,
    ) -> None:
        self.app = app
        self.services = services
        self.request = request
        self.deadline = deadline
        self.check_timeout = check_timeout
        self.errors: dict[str, CheckError] = {}
        self.gh: GitHubClient | None = None
        self.gh_error: CheckError | None = None

    def open_github(self) -> None:
        from orchestrator.github.errors import GitHubError

        try:
            gh = self.services.github()
        except GitHubError as exc:
            self.gh_error = CheckError("unconfigured", str(exc)[:300])
            return
        except Exception as exc:
            self.gh_error = error_of(exc)
            return
        # One retry, with a short pause: the budget is seconds, not GitHub's usual minute.
        gh.max_retries = 1
        gh.max_wait = min(1.0, max(0.05, self.check_timeout / 4))
        self.gh = gh

    async def aclose(self) -> None:
        if self.gh is not None:
            await self.gh.aclose()

    async def _gh(self, work: Callable[[GitHubClient], Awaitable[T]]) -> T:
        assert self.gh is not None
        return await self.deadline.run(work(self.gh), self.check_timeout)

    async def _find_run(self) -> dict[str, Any]:
        from orchestrator.github.errors import GitHubHTTPError

        request, app = self.request, self.app
        repo = request.repo or app.repo
        if request.run_id is not None:
            run_id, attempt = request.run_id, request.attempt
            try:
                if attempt is not None:
                    return await self._gh(lambda gh: gh.get_run_attempt(repo, run_id, attempt))
                return await self._gh(lambda gh: gh.get_run(repo, run_id))
            except GitHubHTTPError as exc:
                if exc.status != 404:
                    raise
                which = f"run {run_id}" + (f" attempt {attempt}" if attempt else "")
                raise NotFound(f"{which} not found in {repo}") from None
        try:
            runs = await self._gh(
                lambda gh: gh.list_workflow_runs(repo, app.workflow, branch=app.branch, per_page=1)
            )
        except GitHubHTTPError as exc:
            if exc.status != 404:
                raise
            workflow = await self._gh(lambda gh: gh.find_workflow(repo, app.workflow))
            workflow_id = number(workflow, "id")
            if workflow_id is None:
                raise NotFound(f"no workflow {app.workflow!r} in {repo}") from None
            runs = await self._gh(
                lambda gh: gh.list_workflow_runs(repo, workflow_id, branch=app.branch, per_page=1)
            )
        if not runs or not isinstance(runs[0], dict):
            raise NotFound(f"no runs of {app.workflow} on {app.branch} in {repo} yet")
        run: dict[str, Any] = runs[0]
        return run

    async def run_and_freshness(self) -> tuple[RunFacts | None, Freshness | None]:
        if RUN in self.errors:  # the request itself was wrong
            return None, None
        if self.gh is None:
            self.errors[RUN] = self.gh_error or CheckError("unconfigured", "no GitHub client")
            return None, None
        try:
            raw = await self._find_run()
        except NotFound as exc:
            self.errors[RUN] = CheckError("not_found", str(exc))
            return None, None
        except Exception as exc:
            self.errors[RUN] = error_of(exc)
            return None, None
        run = run_facts_of(raw, self.request.repo or self.app.repo, self.request.run_id)
        needs_jobs = not (run.status == "completed" and run.conclusion == "success")
        jobs_work = self._failed_jobs(run) if needs_jobs else _nothing()
        fresh_work = self._freshness(run.head_sha) if run.head_sha else _nothing()
        jobs, freshness = await asyncio.gather(jobs_work, fresh_work)
        if jobs is not None:
            run = replace(run, failed_jobs=jobs[0], jobs_error=jobs[1])
        return run, freshness

    async def _failed_jobs(self, run: RunFacts) -> tuple[tuple[FailedJob, ...], str | None]:
        attempt = self.request.attempt
        try:
            jobs = await self._gh(
                lambda gh: gh.list_run_jobs(run.repo, run.id, attempt=attempt, max_pages=1)
            )
        except Exception as exc:
            return (), error_of(exc).message
        return failed_jobs_of(jobs), None

    async def _freshness(self, sha: str) -> Freshness | None:
        repo, branch = self.app.repo, self.app.branch
        try:
            head = await self._gh(lambda gh: gh.get_branch_head(repo, branch))
        except Exception as exc:
            self.errors[FRESHNESS] = error_of(exc)
            return None
        fresh = Freshness(branch=branch, sha=sha, branch_head=head)
        if head.lower() == sha.lower():
            return fresh
        try:
            diff = await self._gh(lambda gh: gh.compare(repo, sha, branch))
        except Exception as exc:
            self.errors[FRESHNESS] = error_of(exc)
            return fresh
        return replace(
            fresh,
            commits_behind=number(diff, "ahead_by"),
            commits_not_on_branch=number(diff, "behind_by"),
            compare_status=text(diff, "status"),
        )

    async def own_commit(self) -> SelfFacts | None:
        from orchestrator.buildinfo import build_info

        settings = self.services.settings
        repo = getattr(settings, "orchestrator_repo", None)
        branch = getattr(settings, "orchestrator_branch", None) or "main"
        if not repo:
            return SelfFacts(repo=None, branch=branch, running_sha="unknown")
        try:
            info = await self.deadline.run(asyncio.to_thread(build_info), self.check_timeout)
        except Exception as exc:
            self.errors[SELF] = error_of(exc)
            return SelfFacts(repo=repo, branch=branch, running_sha="unknown")
        own = SelfFacts(repo=repo, branch=branch, running_sha=info.sha, source=info.source)
        if info.source == "unknown" or info.sha == "unknown":
            return own
        if self.gh is None:
            self.errors[SELF] = self.gh_error or CheckError("unconfigured", "no GitHub client")
            return own
        try:
            head = await self._gh(lambda gh: gh.get_branch_head(repo, branch))
        except Exception as exc:
            self.errors[SELF] = error_of(exc)
            return own
        own = replace(own, branch_head=head)
        if head.lower() == info.sha.lower():
            return own
        try:
            diff = await self._gh(lambda gh: gh.compare(repo, info.sha, branch))
        except Exception as exc:
            self.errors[SELF] = error_of(exc)
            return own
        return replace(
            own,
            commits_behind=number(diff, "ahead_by"),
            commits_not_on_branch=number(diff, "behind_by"),
        )


async def _nothing() -> None:
    return None
