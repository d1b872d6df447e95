"""A thin GitHub REST client: the two dozen calls the product makes, over httpx.

Why not githubkit: its import and first client cost far more cold-start time
than this whole module (numbers in `docs/github-client.md`), for typed models
we would not use: payloads stay plain dicts because GitHub keeps adding fields
and the rest of the code reads them defensively anyway.

What it does add over bare httpx, because the product needs it:

* retries that respect GitHub's rate limits (decided by the pure
  `ratelimit.decide`, slept through an injected `sleep` so tests never wait);
* no retry of a POST that may already have happened (a deploy dispatched twice
  is worse than one reported as "unknown");
* `Link` pagination with an explicit page bound, following only links on the
  API's own origin so a token never travels elsewhere;
* an in-memory ETag cache for GETs: polling a run every few seconds costs no
  rate limit while nothing changes (GitHub does not count 304s);
* the last `x-ratelimit-*` snapshot, for `/diagnose`.

This module holds the endpoints and pagination. Sending one request (retries, the
ETag cache, the 401 refresh) is `sending.Sender`, the cache is `cache`, the
errors are `errors`, and the credentials are `auth`, which never imports this.
httpx is imported in the constructor, not here, so anything on the HTTP
request path can import the error types without paying for an HTTP stack.
"""

from __future__ import annotations

import asyncio
import logging
import re
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any
from urllib.parse import quote, urlsplit

from orchestrator.github.auth import AppCredentials, Auth, Refreshable
from orchestrator.github.cache import ETAG_CACHE_ENTRIES, Reply
from orchestrator.github.errors import GitHubError, GitHubHTTPError, GitHubUnavailable
from orchestrator.github.paths import check_repo
from orchestrator.github.ratelimit import RateLimit
from orchestrator.github.sending import DEFAULT_BASE_URL, Authorize, Sender, Sleep
from orchestrator.http import USER_AGENT

if TYPE_CHECKING:
    import httpx

log = logging.getLogger(__name__)

SHA_MEDIA_TYPE = "application/vnd.github.sha"
DEFAULT_LOG_BYTES = 64 * 1024

DEPLOYMENT_STATES = frozenset(
    {"error", "failure", "inactive", "in_progress", "queued", "pending", "success"}
)
# GitHub refuses (422) a deployment status description longer than this.
DESCRIPTION_LIMIT = 140

_SHA = re.compile(r"^[0-9a-f]{40}(?:[0-9a-f]{24})?$")
_LINK = re.compile(r"<([^>]*)>\s*((?:;\s*[^;,]*)*)")
_REL = re.compile(r'rel\s*=\s*"?([^";]+)"?')
_REDIRECTS = frozenset({301, 302, 303, 307, 308})


# --- pure helpers ---------------------------------------------------------------------------


def fit_description(text: str) -> str:
    """A deployment (status) description GitHub accepts: at most 140 characters, cut with
    an ellipsis so a reader sees it was cut. The one owner of that limit."""
    text = " ".join(text.split())
    if len(text) <= DESCRIPTION_LIMIT:
        return text
    return text[: DESCRIPTION_LIMIT - 1].rstrip() + "…"


def parse_link_header(value: str | None) -> dict[str, str]:
    """`Link: <url>; rel="next", <url>; rel="last"` -> `{"next": url, "last": url}`."""
    links: dict[str, str] = {}
    if not value:
        return links
    for match in _LINK.finditer(value):
        url, params = match.group(1), match.group(2)
        rel = _REL.search(params)
        if rel:
            for name in rel.group(1).split():
                links.setdefault(name, url)
    return links


def tail_text(data: bytes, max_bytes: int, total: int | None = None) -> str:
    """The last `max_bytes` of a log as text: the end of a failed job's log is where the error is.

    The cut starts at a line boundary when one is near, so the first line shown is whole.
    """
    total = len(data) if total is None else total
    if total <= max_bytes and len(data) == total:
        return data.decode("utf-8", errors="replace")
    cut = data[-max_bytes:]
    newline = cut.find(b"\n")
    if 0 <= newline < min(len(cut) - 1, 4096):
        cut = cut[newline + 1 :]
    skipped = total - len(cut)
    return f"[... {skipped:,} earlier bytes not shown ...]\n" + cut.decode(
        "utf-8", errors="replace"
    )


def _seg(value: str | int) -> str:
    """One path segment, escaped: a branch named `a/b` or `x?y` stays one segment."""
    return quote(str(value), safe="")


def _per_page(value: int) -> int:
    if not 1 <= value <= 100:
        raise ValueError(f"per_page must be 1..100, got {value}")
    return value


@dataclass(frozen=True)
class DispatchResult:
    """What a dispatch told us. `run_id` None: an older server (204), find the run yourself."""

    run_id: int | None = None
    run_url: str | None = None
    html_url: str | None = None


# --- the client -----------------------------------------------------------------------------


class GitHubClient:
    """One credential, one connection pool. Use as `async with GitHubClient(...) as gh:`."""

    def __init__(
        self,
        *,
        base_url: str = DEFAULT_BASE_URL,
        auth: Auth,
        transport: httpx.AsyncBaseTransport | None = None,
        max_retries: int = 3,
        max_wait: float = 60.0,
        timeout: float = 10.0,
        sleep: Sleep = asyncio.sleep,
        user_agent: str = USER_AGENT,
        clock: Callable[[], float] = time.time,
        etag_cache_size: int = ETAG_CACHE_ENTRIES,
    ) -> None:
        self._sender = Sender(
            base_url=base_url,
            transport=transport,
            max_retries=max_retries,
            max_wait=max_wait,
            timeout=timeout,
            sleep=sleep,
            user_agent=user_agent,
            clock=clock,
            etag_cache_size=etag_cache_size,
        )
        self._auth = auth
        self._base = urlsplit(base_url.rstrip("/"))
        self._http = self._sender.http  # the job-log download streams through the same pool

    # The retry policy lives on the sender; these keep it adjustable on a live client.
    @property
    def max_retries(self) -> int:
        return self._sender.max_retries

    @max_retries.setter
    def max_retries(self, value: int) -> None:
        self._sender.max_retries = value

    @property
    def max_wait(self) -> float:
        return self._sender.max_wait

    @max_wait.setter
    def max_wait(self, value: float) -> None:
        self._sender.max_wait = value

    @property
    def last_rate_limit(self) -> RateLimit | None:
        """The `x-ratelimit-*` headers of the latest answer that carried them."""
        return self._sender.last_rate_limit

    async def __aenter__(self) -> GitHubClient:
        return self

    async def __aexit__(self, *exc_info: object) -> None:
        await self.aclose()

    async def aclose(self) -> None:
        await self._sender.aclose()

    # --- core ---------------------------------------------------------------------------

    def _credential(self, as_app: bool) -> tuple[Authorize, Callable[[], None] | None]:
        """How to authorize a request, and how to drop a refused token (None: nothing cached).

        The App speaks as itself with a JWT signed per request, so only an installation
        token, which GitHub may revoke before it expires, is ever refreshed.
        """
        if not as_app:
            refresh = self._auth.invalidate if isinstance(self._auth, Refreshable) else None
            return self._auth.authorization, refresh
        if not isinstance(self._auth, AppCredentials):
            raise GitHubError(
                "this endpoint needs GitHub App credentials (AppAuth); for a repository or "
                "organization webhook pass repo= or org= with hook_id="
            )
        return self._auth.app_authorization, None

    async def _request(
        self,
        method: str,
        url: str,
        *,
        params: Mapping[str, Any] | None = None,
        json: Any = None,
        accept: str | None = None,
        as_app: bool = False,
        idempotent: bool | None = None,
        follow_redirects: bool = True,
    ) -> Reply:
        """Send with retries; return any answer below 400 (304s served from the ETag cache)."""
        authorize, reauthenticate = self._credential(as_app)
        return await self._sender.send(
            method,
            url,
            authorize=authorize,
            reauthenticate=reauthenticate,
            params=params,
            json=json,
            accept=accept,
            idempotent=idempotent,
            follow_redirects=follow_redirects,
        )

    async def request(
        self,
        method: str,
        path: str,
        *,
        params: Mapping[str, Any] | None = None,
        json: Any = None,
        as_app: bool = False,
        idempotent: bool | None = None,
    ) -> Any:
        """Any endpoint this class has no method for; the decoded JSON (None when empty)."""
        reply = await self._request(
            method.upper(), path, params=params, json=json, as_app=as_app, idempotent=idempotent
        )
        return reply.json()

    def _same_origin(self, url: str) -> bool:
        other = urlsplit(url)
        return (other.scheme, other.netloc) == (self._base.scheme, self._base.netloc)

    async def _paginate(
        self,
        path: str,
        params: Mapping[str, Any] | None,
        *,
        key: str | None = None,
        max_pages: int = 1,
        as_app: bool = False,
    ) -> list[Any]:
        """Items of up to `max_pages` pages, following `rel="next"`."""
        if max_pages < 1:
            raise ValueError("max_pages must be >= 1")
        items: list[Any] = []
        url: str = path
        page_params = params
        for _ in range(max_pages):
            reply = await self._request("GET", url, params=page_params, as_app=as_app)
            data = reply.json()
            page = data.get(key) if key is not None and isinstance(data, dict) else data
            if not isinstance(page, list):
                raise GitHubError(f"GitHub answered {path} with an unexpected shape")
            items.extend(page)
            next_url = parse_link_header(reply.headers.get("link")).get("next")
            if not next_url:
                break
            if not self._same_origin(next_url):
                log.warning("github pagination link leaves the API origin; stopped")
                break
            url, page_params = next_url, None
        return items

    async def _get_object(self, path: str, params: Mapping[str, Any] | None = None) -> Any:
        reply = await self._request("GET", path, params=params)
        data = reply.json()
        if not isinstance(data, dict):
            raise GitHubError(f"GitHub answered {path} with an unexpected shape")
        return data

    # --- workflow runs --------------------------------------------------------------------

    async def list_workflow_runs(
        self,
        repo: str,
        workflow: str | int | None = None,
        *,
        branch: str | None = None,
        event: str | None = None,
        status: str | None = None,
        head_sha: str | None = None,
        per_page: int = 10,
        max_pages: int = 1,
    ) -> list[dict[str, Any]]:
        """Newest first. `workflow` is a file name (`deploy.yml`) or id; None means every run."""
        base = f"/repos/{check_repo(repo)}/actions"
        path = f"{base}/workflows/{_seg(workflow)}/runs" if workflow is not None else f"{base}/runs"
        params = {
            "branch": branch,
            "event": event,
            "status": status,
            "head_sha": head_sha,
            "per_page": _per_page(per_page),
        }
        return await self._paginate(path, params, key="workflow_runs", max_pages=max_pages)

    async def get_run(self, repo: str, run_id: int) -> dict[str, Any]:
        result: dict[str, Any] = await self._get_object(
            f"/repos/{check_repo(repo)}/actions/runs/{_seg(run_id)}"
        )
        return result

    async def get_run_attempt(self, repo: str, run_id: int, attempt: int) -> dict[str, Any]:
        result: dict[str, Any] = await self._get_object(
            f"/repos/{check_repo(repo)}/actions/runs/{_seg(run_id)}/attempts/{_seg(attempt)}"
        )
        return result

    async def list_run_jobs(
        self,
        repo: str,
        run_id: int,
        *,
        attempt: int | None = None,
        per_page: int = 100,
        max_pages: int = 3,
    ) -> list[dict[str, Any]]:
        """Jobs of a run: of one attempt when given, else of the latest attempt."""
        base = f"/repos/{check_repo(repo)}/actions/runs/{_seg(run_id)}"
        params: dict[str, Any] = {"per_page": _per_page(per_page)}
        if attempt is None:
            path = f"{base}/jobs"
            params["filter"] = "latest"
        else:
            path = f"{base}/attempts/{_seg(attempt)}/jobs"
        return await self._paginate(path, params, key="jobs", max_pages=max_pages)

    async def list_workflows(self, repo: str, *, max_pages: int = 3) -> list[dict[str, Any]]:
        return await self._paginate(
            f"/repos/{check_repo(repo)}/actions/workflows",
            {"per_page": 100},
            key="workflows",
            max_pages=max_pages,
        )

    async def find_workflow(self, repo: str, name_or_file: str) -> dict[str, Any] | None:
        """The workflow a human means: by path or id, file name, display name (any case), stem.

        Display names are not unique; if several match, ValueError names their files so
        the human can pick one.
        """
        workflows = await self.list_workflows(repo)
        wanted = name_or_file.strip()
        for wf in workflows:
            if wf.get("path") == wanted or str(wf.get("id")) == wanted:
                return wf
        for wf in workflows:
            if str(wf.get("path", "")).rsplit("/", 1)[-1] == wanted:
                return wf
        named = [wf for wf in workflows if str(wf.get("name", "")).casefold() == wanted.casefold()]
        if len(named) > 1:
            files = ", ".join(str(wf.get("path")) for wf in named)
            raise ValueError(f"several workflows are named {wanted!r}: {files}")
        if named:
            return named[0]
        for wf in workflows:  # `deploy` for deploy.yml, as people type it
            if str(wf.get("path", "")).rsplit("/", 1)[-1].rsplit(".", 1)[0] == wanted:
                return wf
        return None

    # --- dispatch and run control -----------------------------------------------------------

    async def dispatch_workflow(
        self,
        repo: str,
        workflow: str | int,
        ref: str,
        inputs: Mapping[str, Any] | None = None,
        *,
        return_run_details: bool = True,
    ) -> DispatchResult:
        """Start a `workflow_dispatch` run. Never retried after a 5xx: it may have started.

        GitHub (since February 2026) answers 200 with the run's id when asked via
        `return_run_details`; older servers (GHES) answer 204 and the caller falls back
        to finding the run by a correlation input.
        """
        body: dict[str, Any] = {"ref": ref, "inputs": dict(inputs or {})}
        if return_run_details:
            body["return_run_details"] = True
        reply = await self._request(
            "POST",
            f"/repos/{check_repo(repo)}/actions/workflows/{_seg(workflow)}/dispatches",
            json=body,
            idempotent=False,
        )
        try:
            data = reply.json() if reply.status == 200 else None
        except GitHubError:
            # The run has started either way: an unreadable answer only loses its id, and the
            # caller finds the run by its correlation input, as with a 204. Reporting a failure
            # here would invite a second press, and a second deploy.
            log.warning("dispatch answer not JSON; the run will be found by its inputs")
            data = None
        if not isinstance(data, dict):
            return DispatchResult()
        run_id = data.get("workflow_run_id")
        run_url, html_url = data.get("run_url"), data.get("html_url")
        return DispatchResult(
            run_id=run_id if isinstance(run_id, int) else None,
            run_url=run_url if isinstance(run_url, str) else None,
            html_url=html_url if isinstance(html_url, str) else None,
        )

    async def rerun_run(
        self, repo: str, run_id: int, *, enable_debug_logging: bool = False
    ) -> None:
        await self._request(
            "POST",
            f"/repos/{check_repo(repo)}/actions/runs/{_seg(run_id)}/rerun",
            json={"enable_debug_logging": enable_debug_logging},
        )

    async def rerun_failed_jobs(
        self, repo: str, run_id: int, *, enable_debug_logging: bool = False
    ) -> None:
        await self._request(
            "POST",
            f"/repos/{check_repo(repo)}/actions/runs/{_seg(run_id)}/rerun-failed-jobs",
            json={"enable_debug_logging": enable_debug_logging},
        )

    async def cancel_run(self, repo: str, run_id: int) -> None:
        # Cancelling twice is harmless, so this one may be retried after a 5xx.
        await self._request(
            "POST", f"/repos/{check_repo(repo)}/actions/runs/{_seg(run_id)}/cancel", idempotent=True
        )

    # --- deployments ------------------------------------------------------------------------

    async def create_deployment(
        self,
        repo: str,
        *,
        ref: str,
        environment: str,
        task: str = "deploy",
        auto_merge: bool = False,
        required_contexts: Sequence[str] = (),
        payload: Mapping[str, Any] | None = None,
        description: str | None = None,
        transient_environment: bool = False,
        production_environment: bool = False,
    ) -> int:
        """Create a Deployment of `ref` (a SHA, preferably) and return its id.

        Never retried after a 5xx: a second POST would make a second Deployment. GitHub's
        defaults would merge the default branch in (`auto_merge`) and wait for every status
        check (`required_contexts` missing): both are explicit here, so a deploy is of exactly
        the commit asked for. A 202 (GitHub merged instead of deploying) has no id: an error.
        """
        body: dict[str, Any] = {
            "ref": ref,
            "task": task,
            "auto_merge": auto_merge,
            "required_contexts": list(required_contexts),
            "payload": dict(payload or {}),
            "environment": environment,
            "transient_environment": transient_environment,
            "production_environment": production_environment,
        }
        if description is not None:
            body["description"] = fit_description(description)
        reply = await self._request(
            "POST", f"/repos/{check_repo(repo)}/deployments", json=body, idempotent=False
        )
        data = reply.json()
        found = data.get("id") if isinstance(data, dict) else None
        if reply.status != 201 or not isinstance(found, int):
            message = data.get("message") if isinstance(data, dict) else None
            raise GitHubError(f"no deployment created ({reply.status}): {message or 'no id'}")
        return found

    async def list_deployments(
        self,
        repo: str,
        *,
        environment: str | None = None,
        sha: str | None = None,
        ref: str | None = None,
        task: str | None = None,
        per_page: int = 30,
        max_pages: int = 1,
    ) -> list[dict[str, Any]]:
        params = {
            "environment": environment,
            "sha": sha,
            "ref": ref,
            "task": task,
            "per_page": _per_page(per_page),
        }
        return await self._paginate(
            f"/repos/{check_repo(repo)}/deployments", params, max_pages=max_pages
        )

    async def create_deployment_status(
        self,
        repo: str,
        deployment_id: int,
        state: str,
        *,
        description: str | None = None,
        environment_url: str | None = None,
        log_url: str | None = None,
        environment: str | None = None,
        auto_inactive: bool | None = None,
    ) -> dict[str, Any]:
        if state not in DEPLOYMENT_STATES:
            raise ValueError(f"state must be one of {sorted(DEPLOYMENT_STATES)}, got {state!r}")
        body: dict[str, Any] = {"state": state}
        if description is not None:
            body["description"] = fit_description(description)
        for name, value in (
            ("environment_url", environment_url),
            ("log_url", log_url),
            ("environment", environment),
            ("auto_inactive", auto_inactive),
        ):
            if value is not None:
                body[name] = value
        reply = await self._request(
            "POST",
            f"/repos/{check_repo(repo)}/deployments/{_seg(deployment_id)}/statuses",
            json=body,
        )
        result: dict[str, Any] = reply.json()
        return result

    async def list_deployment_statuses(
        self, repo: str, deployment_id: int, *, per_page: int = 30, max_pages: int = 1
    ) -> list[dict[str, Any]]:
        return await self._paginate(
            f"/repos/{check_repo(repo)}/deployments/{_seg(deployment_id)}/statuses",
            {"per_page": _per_page(per_page)},
            max_pages=max_pages,
        )

    # --- commits ----------------------------------------------------------------------------

    async def get_branch_head(self, repo: str, branch: str) -> str:
        """The branch's head SHA, as bare text: the cheapest answer GitHub gives (and ETag'd)."""
        reply = await self._request(
            "GET",
            f"/repos/{check_repo(repo)}/commits/{_seg(branch)}",
            accept=SHA_MEDIA_TYPE,
        )
        sha = reply.content.decode("ascii", errors="replace").strip()
        if not _SHA.match(sha):
            raise GitHubError(f"GitHub answered the head of {branch!r} with something not a SHA")
        return sha

    async def get_commit(self, repo: str, ref: str) -> dict[str, Any]:
        result: dict[str, Any] = await self._get_object(
            f"/repos/{check_repo(repo)}/commits/{_seg(ref)}"
        )
        return result

    async def compare(self, repo: str, base: str, head: str) -> dict[str, Any]:
        """`ahead_by`, `behind_by`, `status`, `commits` (and more) of `base...head`."""
        result: dict[str, Any] = await self._get_object(
            f"/repos/{check_repo(repo)}/compare/{_seg(base)}...{_seg(head)}"
        )
        return result

    # --- webhook deliveries -----------------------------------------------------------------

    @staticmethod
    def _hook_base(repo: str | None, org: str | None, hook_id: int | None) -> tuple[str, bool]:
        """Where a hook's deliveries live, and whether the App's JWT is the credential."""
        if repo is not None and org is not None:
            raise ValueError("give repo= or org=, not both")
        if repo is not None or org is not None:
            if hook_id is None:
                raise ValueError("hook_id= is required with repo= or org=")
            owner = f"/repos/{check_repo(repo)}" if repo is not None else f"/orgs/{_seg(org or '')}"
            return f"{owner}/hooks/{_seg(hook_id)}", False
        if hook_id is not None:
            raise ValueError("hook_id= needs repo= or org= (the App's own hook has no id)")
        return "/app/hook", True

    async def list_hook_deliveries(
        self,
        *,
        repo: str | None = None,
        org: str | None = None,
        hook_id: int | None = None,
        per_page: int = 100,
        max_pages: int = 3,
    ) -> list[dict[str, Any]]:
        """Recent deliveries, newest first: a repo hook, an org hook, or (neither) the App's."""
        base, as_app = self._hook_base(repo, org, hook_id)
        return await self._paginate(
            f"{base}/deliveries",
            {"per_page": _per_page(per_page)},
            max_pages=max_pages,
            as_app=as_app,
        )

    async def get_hook_delivery(
        self,
        *,
        repo: str | None = None,
        org: str | None = None,
        hook_id: int | None = None,
        delivery_id: int,
    ) -> dict[str, Any]:
        base, as_app = self._hook_base(repo, org, hook_id)
        reply = await self._request("GET", f"{base}/deliveries/{_seg(delivery_id)}", as_app=as_app)
        result: dict[str, Any] = reply.json()
        return result

    async def redeliver(
        self,
        *,
        repo: str | None = None,
        org: str | None = None,
        hook_id: int | None = None,
        delivery_id: int,
    ) -> None:
        base, as_app = self._hook_base(repo, org, hook_id)
        await self._request(
            "POST", f"{base}/deliveries/{_seg(delivery_id)}/attempts", as_app=as_app
        )

    # --- logs, checks, pulls, limits ----------------------------------------------------------

    async def get_job_logs(
        self, repo: str, job_id: int, *, max_bytes: int = DEFAULT_LOG_BYTES
    ) -> str:
        """The last `max_bytes` of a job's log.

        GitHub answers with a redirect to a signed URL that expires within a minute, so
        it is fetched at once, without our credential (the signature is the credential,
        and it is never logged). Streamed, so a 50 MB log costs `max_bytes` of memory.
        """
        import httpx

        if max_bytes < 1:
            raise ValueError("max_bytes must be positive")
        reply = await self._request(
            "GET",
            f"/repos/{check_repo(repo)}/actions/jobs/{_seg(job_id)}/logs",
            follow_redirects=False,
        )
        if reply.status not in _REDIRECTS:
            return tail_text(reply.content, max_bytes)
        location = reply.headers.get("location")
        if not location:
            raise GitHubError("GitHub redirected the log download without a location")
        buffer = bytearray()
        total = 0
        try:
            async with self._http.stream(
                "GET", location, headers={"Accept": "*/*"}, follow_redirects=True
            ) as response:
                if response.status_code >= 400:
                    raise GitHubHTTPError(
                        response.status_code,
                        "the log download failed (the link may have expired; try again)",
                        method="GET",
                        path=f"job {job_id} logs",
                    )
                async for chunk in response.aiter_bytes():
                    total += len(chunk)
                    buffer += chunk
                    if len(buffer) > 2 * max_bytes:
                        del buffer[:-max_bytes]
        except httpx.TransportError:
            raise GitHubUnavailable(
                f"the log download for job {job_id} got no answer; try again"
            ) from None
        return tail_text(bytes(buffer), max_bytes, total)

    async def list_check_runs_for_ref(
        self,
        repo: str,
        ref: str,
        *,
        check_name: str | None = None,
        per_page: int = 100,
        max_pages: int = 1,
    ) -> list[dict[str, Any]]:
        return await self._paginate(
            f"/repos/{check_repo(repo)}/commits/{_seg(ref)}/check-runs",
            {"check_name": check_name, "per_page": _per_page(per_page)},
            key="check_runs",
            max_pages=max_pages,
        )

    async def get_pull(self, repo: str, number: int) -> dict[str, Any]:
        result: dict[str, Any] = await self._get_object(
            f"/repos/{check_repo(repo)}/pulls/{_seg(number)}"
        )
        return result

    async def rate_limit(self) -> dict[str, Any]:
        """`GET /rate_limit`: free (it does not count against the limit it reports)."""
        result: dict[str, Any] = await self._get_object("/rate_limit")
        return result
