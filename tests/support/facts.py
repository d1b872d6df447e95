"""Facts written down by hand, for table tests of `decide` and the renderings."""

from __future__ import annotations

from dataclasses import replace
from typing import Any

from orchestrator.apps import App
from orchestrator.verification.facts import (
    Facts,
    FailedJob,
    Freshness,
    HttpProbe,
    RunFacts,
    SelfFacts,
    VersionProbe,
)

SHA = "abc1234def5678abc1234def5678abc1234def56"
HEAD = "fedcba9876543210fedcba9876543210fedcba98"
OLD = "0000000111111122222223333333444444455555"
NOW = 1_800_000_000.0
RUN_URL = "https://github.com/acme/web/actions/runs/123"

APP = App(
    name="web",
    repo="acme/web",
    workflow="deploy.yml",
    frontend_url="https://web.example.com/",
    api_health_url="https://api.example.com/healthz",
    version_url="https://api.example.com/version",
    version_field="build.sha",
    frontend_version_pattern=r'name="app-version" content="([0-9a-f]+)"',
)


def run(**changes: Any) -> RunFacts:
    base = RunFacts(
        id=123,
        repo="acme/web",
        name="Deploy",
        status="completed",
        conclusion="success",
        head_sha=SHA,
        head_branch="main",
        html_url=RUN_URL,
        attempt=1,
        started_at=NOW - 200,
        duration_s=192.0,
    )
    return replace(base, **changes)


def page(**changes: Any) -> HttpProbe:
    base = HttpProbe(
        url="https://web.example.com/",
        status=200,
        elapsed_ms=180,
        headers={"cache-control": "no-cache", "content-type": "text/html"},
        https=True,
        final_url="https://web.example.com/",
        body_bytes=2000,
    )
    return replace(base, **changes)


def health(**changes: Any) -> HttpProbe:
    base = HttpProbe(
        url="https://api.example.com/healthz",
        status=200,
        elapsed_ms=85,
        headers={"content-type": "application/json"},
        https=True,
        final_url="https://api.example.com/healthz",
    )
    return replace(base, **changes)


def api_version(found: str | None = SHA, **changes: Any) -> VersionProbe:
    probe = health(url="https://api.example.com/version")
    base = VersionProbe(source="https://api.example.com/version", found=found, probe=probe)
    return replace(base, **changes)


def facts(**changes: Any) -> Facts:
    """A healthy deploy: every check passes unless `changes` say otherwise."""
    base = Facts(
        app=APP,
        run=run(),
        freshness=Freshness(branch="main", sha=SHA, branch_head=SHA),
        frontend=page(),
        frontend_version=VersionProbe(source="frontend page", found=SHA[:7]),
        api=health(),
        api_version=api_version(),
        self_facts=SelfFacts(
            repo="acme/orchestrator",
            branch="main",
            running_sha=HEAD,
            source="git",
            branch_head=HEAD,
        ),
        collected_at=NOW,
        duration_ms=420,
    )
    return replace(base, **changes)


def failed_jobs(count: int) -> tuple[FailedJob, ...]:
    return tuple(
        FailedJob(
            name=f"test shard {i} " + "x" * 40,
            conclusion="failure",
            url=f"https://github.com/acme/web/actions/runs/123/job/{1000 + i}",
            steps=("Run pytest", "Upload coverage [main]", "Post " + "y" * 80),
        )
        for i in range(count)
    )
