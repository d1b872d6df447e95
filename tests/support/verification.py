"""The verifier's collector against local stand-ins: GitHub's answers, the app, the services.

Shared by the collector's tests (tests/verification/test_collect.py) and its time bounds
(test_budget.py): `QuickFakeGitHub` scripted by `script` with a run (`raw_run`) and its
jobs (`job`), an app whose URLs are routes of a `Site` (`site_app`), and services that ask
that GitHub (`make_services`).
"""

from __future__ import annotations

import threading
from dataclasses import replace
from pathlib import Path
from typing import Any

from orchestrator.apps import App
from orchestrator.config import load_settings
from orchestrator.services import Services
from tests.support import github_objects as gh
from tests.support.fake_github import FakeGitHub
from tests.support.sites import Site

SHA = "abc1234def5678abc1234def5678abc1234def56"
OWN = "1234567890abcdef1234567890abcdef12345678"
RUN_URL = "https://github.com/acme/web/actions/runs/123"
PATTERN = r'name="app-version" content="([0-9a-f]+)"'
RUNS = "/repos/acme/web/actions/workflows/deploy.yml/runs"


class QuickFakeGitHub(FakeGitHub):
    """FakeGitHub that stops in milliseconds (the default poll makes each close take 0.5 s)."""

    def __enter__(self) -> QuickFakeGitHub:
        server = self._server
        threading.Thread(
            target=server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True
        ).start()
        return self


def make_services(tmp_path: Path, api_base: str | None, **extra: Any) -> Services:
    overrides: dict[str, Any] = {"ORCHESTRATOR_DATA_DIR": tmp_path, **extra}
    if api_base is not None:
        overrides.update(GITHUB_TOKEN="t", GITHUB_API_BASE=api_base)
    return Services(load_settings(**overrides))


def site_app(site: Site, **changes: Any) -> App:
    app = App(
        name="web",
        repo="acme/web",
        workflow="deploy.yml",
        frontend_url=site.url + "/",
        api_health_url=site.url + "/healthz",
        version_url=site.url + "/version",
        version_field="build.sha",
        frontend_version_pattern=PATTERN,
    )
    return replace(app, **changes)


def raw_run(**changes: Any) -> dict[str, Any]:
    """A whole GitHub workflow run of acme/web (`github_objects.workflow_run`): run 123 of
    deploy.yml, a push to main at SHA that succeeded in 3 min 12 s."""
    run: dict[str, Any] = {
        "id": 123,
        "name": "Deploy",
        "display_title": "Merge pull request #9",
        "path": ".github/workflows/deploy.yml",
        "status": "completed",
        "conclusion": "success",
        "head_sha": SHA,
        "head_branch": "main",
        "html_url": RUN_URL,
        "run_attempt": 1,
        "event": "push",
        "created_at": "2027-01-15T07:55:00Z",
        "run_started_at": "2027-01-15T07:55:00Z",
        "updated_at": "2027-01-15T07:58:12Z",
        "actor": {"login": "octocat"},
    }
    return gh.workflow_run(repo="acme/web", **{**run, **changes})


def job(name: str, conclusion: str, *failed_steps: str) -> dict[str, Any]:
    """A completed job of run 123 whose `failed_steps` failed after a good first step."""
    steps = [gh.step("Set up job", "success")]
    steps += [gh.step(step, "failure") for step in failed_steps]
    job_id = abs(hash(name)) % 10_000
    return gh.job(
        repo="acme/web",
        id=job_id,
        run_id=123,
        name=name,
        status="completed",
        conclusion=conclusion,
        html_url=f"{RUN_URL}/job/{job_id}",
        steps=steps,
    )


def script(
    fake: FakeGitHub,
    run: dict[str, Any] | None = None,
    *,
    head: str = SHA,
    jobs: list[dict[str, Any]] | None = None,
    own_head: str = OWN,
) -> dict[str, Any]:
    run = run or raw_run()
    fake.on("GET", RUNS, gh.runs_page(run))
    fake.on("GET", "/repos/acme/web/actions/runs/123", run)
    fake.on("GET", "/repos/acme/web/actions/runs/123/jobs", gh.jobs_page(*(jobs or [])))
    fake.on("GET", "/repos/acme/web/commits/main", head)
    fake.on("GET", "/repos/acme/orchestrator/commits/main", own_head)
    return run
