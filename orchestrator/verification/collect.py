"""The verifier's only I/O: ask GitHub and the app's own URLs, concurrently, within a budget.

Everything here ends as a fact. A page that does not answer, GitHub answering
502, a run id that does not exist, the budget running out: each becomes a
`CheckError` or an `HttpProbe.error` that `decide` turns into a readable line,
because an exception escaping the verifier would leave the person asking
"is the deploy OK?" with no answer at all.

Time is bounded three ways: every request by `check_timeout`, every check by
what is left of the total `budget` (one retry only if time remains), and each
part once more by the budget as a last guard against a hang nobody foresaw.
GitHub calls go through the product's `GitHubClient` told to retry at most
once with short waits, so a GitHub outage costs seconds, not minutes.

httpx is imported inside the functions that use it: importing this module
(say, to reach `parse_run_url` from a command handler) costs no HTTP stack.
"""

from __future__ import annotations

import asyncio
import json
import logging
import re
import time
from collections.abc import Awaitable, Callable, Mapping
from dataclasses import replace
from typing import TYPE_CHECKING, Any, TypeVar
from urllib.parse import urlsplit

from orchestrator.github.events import WorkflowJob, WorkflowRun, number, text
from orchestrator.github.paths import check_repo
from orchestrator.tls import client_context
from orchestrator.verification.facts import (
    API,
    FRESHNESS,
    FRONTEND,
    KEPT_HEADERS,
    RUN,
    SELF,
    VERSION,
    CheckError,
    ErrorKind,
    Facts,
    FailedJob,
    Freshness,
    HttpProbe,
    RunFacts,
    RunRequest,
    SelfFacts,
    VersionProbe,
    find_field,
    find_marker,
)

if TYPE_CHECKING:
    import httpx

    from orchestrator.apps import App
    from orchestrator.clients import Clients
    from orchestrator.github.client import GitHubClient

log = logging.getLogger(__name__)

T = TypeVar("T")
HttpClientFactory = Callable[[float], "httpx.AsyncClient"]

MAX_PAGE_BYTES = 512 * 1024
RETRY_PAUSE = 0.1
USER_AGENT = "orchestrator-verify"
_FAILED_JOB = frozenset({"failure", "timed_out", "startup_failure"})
_RUN_PATH = re.compile(
    r"^/(?:repos/)?([^/]+)/([^/]+)/actions/runs/(\d+)(?:/attempts/(\d+))?(?:/jobs?/(\d+))?/?$"
)


# --- pure helpers -------------------------------------------------------------------------------


def parse_run_url(url: str) -> tuple[str, int, int | None]:
    """`https://github.com/acme/web/actions/runs/123[/attempts/2|/job/456]` ->
    `("acme/web", 123, 2 | None)`; ValueError for anything else (also API URLs and
    GitHub Enterprise hosts work: only the path is read)."""
    raw = url.strip()
    if raw.startswith("github.com/"):
        raw = "https://" + raw
    parts = urlsplit(raw)
    match = _RUN_PATH.match(parts.path) if parts.scheme in ("http", "https") else None
    if not parts.netloc or match is None:
        raise ValueError(f"not a GitHub Actions run URL: {raw[:120]!r}")
    repo = check_repo(f"{match[1]}/{match[2]}")
    run_id = int(match[3])
    attempt = int(match[4]) if match[4] else None
    if run_id < 1 or (attempt is not None and attempt < 1):
        raise ValueError(f"not a GitHub Actions run URL: {raw[:120]!r}")
    return repo, run_id, attempt


def run_request(
    app: App, run_id: int | None, run_url: str | None
) -> tuple[RunRequest, CheckError | None]:
    """What to look up, or why the request cannot be right (a run of another repository)."""
    if run_url is None:
        return RunRequest(repo=app.repo, run_id=run_id), None
    try:
        repo, url_id, attempt = parse_run_url(run_url)
    except ValueError as exc:
        return RunRequest(repo=app.repo, run_id=run_id, url=run_url), CheckError(
            "invalid", str(exc)
        )
    request = RunRequest(repo=repo, run_id=url_id, attempt=attempt, url=run_url)
    if repo.lower() != app.repo.lower():
        return request, CheckError(
            "invalid", f"that run is in {repo}, but {app.name} deploys from {app.repo}"
        )
    if run_id is not None and run_id != url_id:
        return request, CheckError("invalid", f"run id {run_id} and the URL's run {url_id} differ")
    return request, None


def failed_jobs_of(jobs: list[Any]) -> tuple[FailedJob, ...]:
    out = []
    for raw in jobs:
        job = WorkflowJob(raw)
        if job.conclusion in _FAILED_JOB:
            out.append(
                FailedJob(
                    name=job.name or f"job {job.id}",
                    conclusion=job.conclusion,
                    url=job.html_url,
                    steps=tuple(job.failed_steps),
                )
            )
    return tuple(out)


def run_facts_of(raw: Mapping[str, Any], repo: str, fallback_id: int | None) -> RunFacts:
    run = WorkflowRun(dict(raw))
    return RunFacts(
        id=run.id or fallback_id or 0,
        repo=run.repo or repo,
        name=run.name,
        status=run.status,
        conclusion=run.conclusion,
        head_sha=run.head_sha,
        head_branch=run.head_branch,
        html_url=run.html_url,
        attempt=run.attempt,
        event=run.event,
        actor=run.actor,
        started_at=run.started_at or run.created_at,
        duration_s=run.duration,
    )


def _seconds_text(seconds: float) -> str:
    return f"{seconds:.1f}".rstrip("0").rstrip(".") or "0"


def _plural_attempts(attempts: int) -> str:
    return f"{attempts} attempt{'s' if attempts != 1 else ''}"


# --- time ---------------------------------------------------------------------------------------


class _TimedOut(Exception):
    def __init__(self, seconds: float) -> None:
        self.seconds = seconds
        super().__init__(f"timed out after {_seconds_text(seconds)} s")


class _Deadline:
    def __init__(self, budget: float) -> None:
        self.end = time.monotonic() + budget

    def remaining(self) -> float:
        return self.end - time.monotonic()

    def bound(self, check_timeout: float) -> float:
        return min(check_timeout, self.remaining())

    async def run(self, work: Awaitable[T], check_timeout: float) -> T:
        """`work` within the check timeout and what is left of the budget, or `_TimedOut`."""
        seconds = self.bound(check_timeout)
        if seconds <= 0:
            if asyncio.iscoroutine(work):
                work.close()
            raise _TimedOut(0)
        try:
            return await asyncio.wait_for(work, timeout=seconds)
        except TimeoutError:
            raise _TimedOut(seconds) from None


def _error_of(exc: BaseException) -> CheckError:
    """A failed GitHub call as a fact. GitHub's messages carry no credential (the client
    scrubs them), so they can be shown as they are."""
    from orchestrator.apps import InvalidApp
    from orchestrator.github.errors import (
        GitHubError,
        GitHubHTTPError,
        GitHubRateLimited,
        GitHubUnavailable,
    )

    kind: ErrorKind
    if isinstance(exc, _TimedOut):
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


# --- GitHub -------------------------------------------------------------------------------------


class _Collector:
    def __init__(
        self,
        app: App,
        services: Clients,
        request: RunRequest,
        deadline: _Deadline,
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
            self.gh_error = _error_of(exc)
            return
        # One retry, with a short pause: the budget is seconds, not GitHub's usual minute.
        gh.max_retries = 1
        gh.max_wait = min(1.0, max(0.05, self.check_timeout / 4))
        self.gh = gh

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
                raise _NotFound(f"{which} not found in {repo}") from None
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
                raise _NotFound(f"no workflow {app.workflow!r} in {repo}") from None
            runs = await self._gh(
                lambda gh: gh.list_workflow_runs(repo, workflow_id, branch=app.branch, per_page=1)
            )
        if not runs or not isinstance(runs[0], dict):
            raise _NotFound(f"no runs of {app.workflow} on {app.branch} in {repo} yet")
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
        except _NotFound as exc:
            self.errors[RUN] = CheckError("not_found", str(exc))
            return None, None
        except Exception as exc:
            self.errors[RUN] = _error_of(exc)
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
            return (), _error_of(exc).message
        return failed_jobs_of(jobs), None

    async def _freshness(self, sha: str) -> Freshness | None:
        repo, branch = self.app.repo, self.app.branch
        try:
            head = await self._gh(lambda gh: gh.get_branch_head(repo, branch))
        except Exception as exc:
            self.errors[FRESHNESS] = _error_of(exc)
            return None
        fresh = Freshness(branch=branch, sha=sha, branch_head=head)
        if head.lower() == sha.lower():
            return fresh
        try:
            diff = await self._gh(lambda gh: gh.compare(repo, sha, branch))
        except Exception as exc:
            self.errors[FRESHNESS] = _error_of(exc)
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
            self.errors[SELF] = _error_of(exc)
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
            self.errors[SELF] = _error_of(exc)
            return own
        own = replace(own, branch_head=head)
        if head.lower() == info.sha.lower():
            return own
        try:
            diff = await self._gh(lambda gh: gh.compare(repo, info.sha, branch))
        except Exception as exc:
            self.errors[SELF] = _error_of(exc)
            return own
        return replace(
            own,
            commits_behind=number(diff, "ahead_by"),
            commits_not_on_branch=number(diff, "behind_by"),
        )


class _NotFound(Exception):
    pass


async def _nothing() -> None:
    return None


# --- HTTP probes --------------------------------------------------------------------------------


def _default_http_client(timeout: float) -> httpx.AsyncClient:
    import httpx

    return httpx.AsyncClient(
        follow_redirects=True,
        max_redirects=5,
        timeout=timeout,
        verify=client_context(),
        headers={"User-Agent": USER_AGENT},
    )


def _guard_redirects(client: httpx.AsyncClient) -> None:
    """In production every hop must be a public https URL on a public address: a redirect
    (or a DNS answer) must not walk a check into the VPC, whatever the configured URL was."""
    from orchestrator.apps import public_only

    hooks = client.event_hooks
    hooks.setdefault("request", []).append(public_only)
    client.event_hooks = hooks


def _transport_text(exc: Exception) -> str:
    import httpx

    if isinstance(exc, httpx.TimeoutException):
        return "timed out"
    if isinstance(exc, httpx.ConnectError):
        return "connection failed"
    if isinstance(exc, httpx.TooManyRedirects):
        return "too many redirects"
    return type(exc).__name__


async def _fetch(
    client: httpx.AsyncClient, url: str, max_bytes: int
) -> tuple[int, dict[str, str], bytes, bool, str, str | None]:
    async with client.stream("GET", url) as response:
        buffer = bytearray()
        truncated = False
        async for chunk in response.aiter_bytes():
            buffer += chunk
            if len(buffer) > max_bytes:
                del buffer[max_bytes:]
                truncated = True
                break
        headers = {
            name: response.headers[name] for name in KEPT_HEADERS if name in response.headers
        }
        return (
            response.status_code,
            headers,
            bytes(buffer),
            truncated,
            str(response.url),
            response.charset_encoding,
        )


async def probe(
    client: httpx.AsyncClient,
    url: str,
    deadline: _Deadline,
    check_timeout: float,
    *,
    max_bytes: int = MAX_PAGE_BYTES,
) -> tuple[HttpProbe, bytes, str | None]:
    """GET `url` once, again after a connection error, timeout or 5xx if time is left.

    Returns the probe, the (capped) body and its declared charset.
    """
    import httpx

    from orchestrator.apps import InvalidApp

    https = urlsplit(url).scheme == "https"
    attempts = 0
    last_error = ""
    while True:
        attempts += 1
        seconds = deadline.bound(check_timeout)
        if seconds <= 0:
            error = "not tried: the time budget ran out"
            if attempts > 1:
                error = f"{last_error} ({_plural_attempts(attempts - 1)})"
            return (
                HttpProbe(url, error=error, attempts=max(1, attempts - 1), https=https),
                b"",
                None,
            )
        started = time.perf_counter()
        try:
            status, headers, body, truncated, final_url, charset = await asyncio.wait_for(
                _fetch(client, url, max_bytes), timeout=seconds
            )
        except (TimeoutError, httpx.TimeoutException):  # ours or httpx's: same bound
            last_error = f"timed out after {_seconds_text(seconds)} s"
        except InvalidApp as exc:
            return (
                HttpProbe(url, error=f"refused: {exc}", attempts=attempts, https=https),
                b"",
                None,
            )
        except httpx.TransportError as exc:
            last_error = _transport_text(exc)
        except httpx.HTTPError as exc:  # e.g. too many redirects: retrying will not help
            error = _transport_text(exc)
            return HttpProbe(url, error=error, attempts=attempts, https=https), b"", None
        else:
            elapsed_ms = round((time.perf_counter() - started) * 1000)
            if status >= 500 and attempts < 2 and deadline.remaining() > RETRY_PAUSE:
                await asyncio.sleep(RETRY_PAUSE)
                continue
            result = HttpProbe(
                url=url,
                status=status,
                elapsed_ms=elapsed_ms,
                headers=headers,
                attempts=attempts,
                https=urlsplit(final_url).scheme == "https",
                final_url=final_url,
                body_bytes=len(body),
                truncated=truncated,
            )
            return result, body, charset
        if attempts >= 2 or deadline.remaining() <= RETRY_PAUSE:
            error = f"{last_error} ({_plural_attempts(attempts)})"
            return HttpProbe(url, error=error, attempts=attempts, https=https), b"", None
        await asyncio.sleep(RETRY_PAUSE)


def _decode(body: bytes, charset: str | None) -> str:
    try:
        return body.decode(charset or "utf-8", errors="replace")
    except LookupError:
        return body.decode("utf-8", errors="replace")


async def _frontend(
    client: httpx.AsyncClient, app: App, deadline: _Deadline, check_timeout: float
) -> tuple[HttpProbe | None, VersionProbe | None]:
    if not app.frontend_url:
        return None, None
    page, body, charset = await probe(client, app.frontend_url, deadline, check_timeout)
    if not app.frontend_version_pattern or not page.ok:
        return page, None
    found = find_marker(_decode(body, charset), app.frontend_version_pattern)
    problem = None
    if found is None:
        problem = "no version marker in the page"
        if page.truncated:
            problem += f" (first {MAX_PAGE_BYTES // 1024} KB)"
    return page, VersionProbe(source="frontend page", found=found, problem=problem)


def version_from_json(body: bytes, field_path: str, source: str, page: HttpProbe) -> VersionProbe:
    if not page.ok:
        return VersionProbe(source, problem=f"answered {page.status}", probe=page)
    try:
        data = json.loads(body)
    except ValueError:
        return VersionProbe(source, problem="not JSON", probe=page)
    found, problem = find_field(data, field_path)
    return VersionProbe(source, found=found, problem=problem, probe=page)


async def _api(
    client: httpx.AsyncClient, app: App, deadline: _Deadline, check_timeout: float
) -> tuple[HttpProbe | None, VersionProbe | None]:
    health: HttpProbe | None = None
    health_body = b""
    if app.api_health_url:
        health, health_body, _ = await probe(client, app.api_health_url, deadline, check_timeout)
    if not app.version_url:
        return health, None
    if health is not None and app.version_url == app.api_health_url:
        page, body = health, health_body  # one endpoint answering both questions
    else:
        page, body, _ = await probe(client, app.version_url, deadline, check_timeout)
    return health, version_from_json(body, app.version_field, app.version_url, page)


# --- the whole collection -----------------------------------------------------------------------


async def _guarded(
    name: str, work: Awaitable[T], default: T, deadline: _Deadline, errors: dict[str, CheckError]
) -> T:
    """Last line of defence: whatever a part does, it ends with the budget, as a fact."""
    try:
        return await asyncio.wait_for(work, timeout=max(0.01, deadline.remaining() + 0.5))
    except TimeoutError:
        errors.setdefault(name, CheckError("timeout", "timed out: the time budget ran out"))
    except Exception as exc:
        errors.setdefault(name, _error_of(exc))
    return default


async def collect(
    app: App,
    services: Clients,
    *,
    run_id: int | None = None,
    run_url: str | None = None,
    budget: float = 10.0,
    check_timeout: float = 4.0,
    http_client_factory: HttpClientFactory | None = None,
) -> Facts:
    collected_at = time.time()
    started = time.perf_counter()
    deadline = _Deadline(budget)
    request, request_error = run_request(app, run_id, run_url)
    collector = _Collector(app, services, request, deadline, check_timeout)
    errors = collector.errors
    if request_error is not None:
        errors[RUN] = request_error
    collector.open_github()  # builds a client only: no request until a check needs one
    client = (http_client_factory or _default_http_client)(check_timeout)
    if services.settings.is_prod:
        _guard_redirects(client)
    try:
        (run, freshness), (page, page_version), (health, api_version), own = await asyncio.gather(
            _guarded(RUN, collector.run_and_freshness(), (None, None), deadline, errors),
            _guarded(
                FRONTEND,
                _frontend(client, app, deadline, check_timeout),
                (None, None),
                deadline,
                errors,
            ),
            _guarded(
                API, _api(client, app, deadline, check_timeout), (None, None), deadline, errors
            ),
            _guarded(SELF, collector.own_commit(), None, deadline, errors),
        )
    finally:
        await client.aclose()
        if collector.gh is not None:
            await collector.gh.aclose()
    if app.version_url and api_version is None and API in errors:
        errors.setdefault(VERSION, errors[API])
    return Facts(
        app=app,
        request=request,
        run=run,
        freshness=freshness,
        frontend=page,
        frontend_version=page_version,
        api=health,
        api_version=api_version,
        self_facts=own,
        errors=dict(errors),
        collected_at=collected_at,
        duration_ms=round((time.perf_counter() - started) * 1000),
    )


async def deployed_version(
    app: App, services: Clients, *, budget: float = 5.0, check_timeout: float = 4.0
) -> str | None:
    """Only the version the app's API reports (for `/release`): one bounded request."""
    if not app.version_url:
        return None
    deadline = _Deadline(budget)
    client = _default_http_client(check_timeout)
    if services.settings.is_prod:
        _guard_redirects(client)
    try:
        page, body, _ = await probe(client, app.version_url, deadline, check_timeout)
    except Exception:  # an unreachable endpoint means "unknown", which the caller handles
        return None
    finally:
        await client.aclose()
    return version_from_json(body, app.version_field, app.version_url, page).found
