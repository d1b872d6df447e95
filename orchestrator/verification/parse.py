"""The verifier's pure readers: what a URL, a GitHub answer or a fetched page says.

No I/O here, so each reading is table-tested without a server: a run URL becomes
the run to look up (or the reason it cannot be right), GitHub's run and jobs JSON
become `RunFacts` and `FailedJob`s, a version endpoint's body becomes a
`VersionProbe`, and a response keeps only the headers worth showing as evidence.
"""

from __future__ import annotations

import json
import re
from collections.abc import Mapping
from typing import TYPE_CHECKING, Any
from urllib.parse import urlsplit

from orchestrator.github.events import WorkflowJob, WorkflowRun
from orchestrator.github.paths import check_repo
from orchestrator.verification.facts import (
    KEPT_HEADERS,
    CheckError,
    FailedJob,
    HttpProbe,
    RunFacts,
    RunRequest,
    VersionProbe,
    find_field,
)

if TYPE_CHECKING:
    from orchestrator.apps import App

_FAILED_JOB = frozenset({"failure", "timed_out", "startup_failure"})
_RUN_PATH = re.compile(
    r"^/(?:repos/)?([^/]+)/([^/]+)/actions/runs/(\d+)(?:/attempts/(\d+))?(?:/jobs?/(\d+))?/?$"
)


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


def version_from_json(body: bytes, field_path: str, source: str, page: HttpProbe) -> VersionProbe:
    if not page.ok:
        return VersionProbe(source, problem=f"answered {page.status}", probe=page)
    try:
        data = json.loads(body)
    except ValueError:
        return VersionProbe(source, problem="not JSON", probe=page)
    found, problem = find_field(data, field_path)
    return VersionProbe(source, found=found, problem=problem, probe=page)


def decode_body(body: bytes, charset: str | None) -> str:
    """A page's text in its declared charset; utf-8 when it declares none or an unknown one."""
    try:
        return body.decode(charset or "utf-8", errors="replace")
    except LookupError:
        return body.decode("utf-8", errors="replace")


def kept_headers(headers: Mapping[str, str]) -> dict[str, str]:
    """The response headers worth showing as evidence (`KEPT_HEADERS`), by their names there.

    Pass httpx's `Headers`: it looks names up case-insensitively."""
    return {name: headers[name] for name in KEPT_HEADERS if name in headers}
