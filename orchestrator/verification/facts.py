"""What the verifier saw, kept apart from what it concludes.

The collector only records; `decide` only judges. Keeping the observations as
plain frozen dataclasses means every verdict can be table-tested by writing
facts down, and a report can always show the evidence a verdict rests on.

A check that could not be made is a fact too (`CheckError`): "GitHub did not
answer" is exactly what the person asking at 2 a.m. needs to hear, so it is
recorded instead of raised. The small readers at the bottom (version markers,
dotted JSON fields) are pure so they can be tested without serving a page.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, Literal
from urllib.parse import urlsplit

if TYPE_CHECKING:
    from orchestrator.apps import App

ErrorKind = Literal["unavailable", "timeout", "not_found", "invalid", "unconfigured", "error"]

# Names under which `Facts.errors` records a check that could not be made.
RUN, FRESHNESS, FRONTEND, API, VERSION, SELF = (
    "run",
    "freshness",
    "frontend",
    "api",
    "version",
    "self",
)

# Response headers worth showing as evidence (never request headers: those carry credentials).
KEPT_HEADERS = (
    "cache-control",
    "content-type",
    "age",
    "expires",
    "etag",
    "last-modified",
    "x-cache",
    "cf-cache-status",
    "x-vercel-cache",
    "server",
)


@dataclass(frozen=True)
class CheckError:
    """Why a check has no facts: the verifier reports this instead of raising."""

    kind: ErrorKind
    message: str


@dataclass(frozen=True)
class RunRequest:
    """Which run was asked for; all None means "the latest run of the app's workflow"."""

    repo: str | None = None
    run_id: int | None = None
    attempt: int | None = None
    url: str | None = None


@dataclass(frozen=True)
class FailedJob:
    name: str
    conclusion: str | None
    url: str | None
    steps: tuple[str, ...] = ()


@dataclass(frozen=True)
class RunFacts:
    id: int
    repo: str
    name: str | None
    status: str | None
    conclusion: str | None
    head_sha: str | None
    head_branch: str | None
    html_url: str | None
    attempt: int = 1
    event: str | None = None
    actor: str | None = None
    started_at: float | None = None
    duration_s: float | None = None
    failed_jobs: tuple[FailedJob, ...] = ()
    jobs_error: str | None = None


@dataclass(frozen=True)
class Freshness:
    """The run's SHA against a branch head.

    `commits_behind` is GitHub's `ahead_by` of `compare(sha...branch)`: commits on
    the branch the SHA does not have. `commits_not_on_branch` (`behind_by`) is
    the reverse: non-zero means the SHA never was on the branch.
    """

    branch: str
    sha: str
    branch_head: str
    commits_behind: int | None = None
    commits_not_on_branch: int | None = None
    compare_status: str | None = None


@dataclass(frozen=True)
class HttpProbe:
    url: str
    status: int | None = None
    elapsed_ms: int | None = None
    headers: Mapping[str, str] = field(default_factory=dict)
    error: str | None = None
    attempts: int = 1
    https: bool = False
    final_url: str | None = None
    body_bytes: int = 0
    truncated: bool = False

    @property
    def ok(self) -> bool:
        return self.error is None and self.status is not None and 200 <= self.status < 300

    @property
    def loopback(self) -> bool:
        host = urlsplit(self.final_url or self.url).hostname or ""
        return host in ("localhost", "::1") or host.startswith("127.")


@dataclass(frozen=True)
class VersionProbe:
    """A version read from a page or a JSON endpoint; `problem` says why none was found."""

    source: str
    found: str | None = None
    problem: str | None = None
    probe: HttpProbe | None = None


@dataclass(frozen=True)
class SelfFacts:
    """This orchestrator's own commit; `repo` None means the check is not configured."""

    repo: str | None
    branch: str
    running_sha: str
    source: str = "unknown"
    branch_head: str | None = None
    commits_behind: int | None = None
    commits_not_on_branch: int | None = None


@dataclass(frozen=True)
class Facts:
    app: App
    request: RunRequest = field(default_factory=RunRequest)
    run: RunFacts | None = None
    freshness: Freshness | None = None
    frontend: HttpProbe | None = None
    frontend_version: VersionProbe | None = None
    api: HttpProbe | None = None
    api_version: VersionProbe | None = None
    self_facts: SelfFacts | None = None
    errors: Mapping[str, CheckError] = field(default_factory=dict)
    collected_at: float = 0.0
    duration_ms: int = 0


# --- pure readers -----------------------------------------------------------------------------


def find_marker(page: str, pattern: str) -> str | None:
    """The version a page announces: the pattern's first group (or whole match)."""
    try:
        match = re.search(pattern, page)
    except re.error:
        return None
    if match is None:
        return None
    value = match.group(1) if match.re.groups else match.group(0)
    return value.strip() if isinstance(value, str) and value.strip() else None


def find_field(data: Any, path: str) -> tuple[str | None, str | None]:
    """`(value, None)` for the text at a dotted path (`build.sha`, `items.0.sha`), else
    `(None, why)`: the reason is what a human fixes (a typo'd path, a number, no JSON object)."""
    current = data
    for part in path.split("."):
        if isinstance(current, dict) and part in current:
            current = current[part]
        elif (
            isinstance(current, list)
            and part.isascii()
            and part.isdigit()
            and int(part) < len(current)
        ):
            current = current[int(part)]
        else:
            return None, f"no field {path}"
    if isinstance(current, str) and current.strip():
        return current.strip(), None
    return None, f"field {path} is not text"


def sha_matches(found: str | None, expected: str | None) -> bool:
    """Prefix match either way, at least 7 hex digits: pages often carry short SHAs."""
    if not found or not expected:
        return False
    a, b = found.strip().lower(), expected.strip().lower()
    short, long = (a, b) if len(a) <= len(b) else (b, a)
    return (
        len(short) >= 7 and all(c in "0123456789abcdef" for c in short) and long.startswith(short)
    )
