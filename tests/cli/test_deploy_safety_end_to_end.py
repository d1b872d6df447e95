"""Deploy safety end to end: `orchestrator serve` in dev, `orchestrator simulate` as two
people, and the GitHub stand-in read over HTTP for what actually happened on "GitHub".

Production (one approval): a lock refuses a teammate's deploy with its reason and nothing is
dispatched; a dry run dispatches nothing and creates no Deployment; the request's Approve is
refused to its requester and dispatches for the teammate; the production Deployment's latest
status is `success`, with the live site as `environment_url`, posted after the verifier's
last request to the live site (the stand-in records every request with its time and
User-Agent). A deploy with `inputs:stale=true` succeeds but leaves the site as it was, so its
verification fails: the Deployment says `failure`, production offers Roll back, staging
(`auto_rollback = true`) rolls back by itself, once, as a new Deployment of the last SHA
verified there. Every request body the bot sent to the Deployments endpoints is checked
against GitHub's OpenAPI description.
"""

from __future__ import annotations

import json
import os
import re
import subprocess
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any, TypeVar

import httpx
import pytest

from orchestrator.config import DEV_TEAMMATE_ID
from orchestrator.devtools.dev_server import read_record
from orchestrator.devtools.discord_standin import RECORD_PATH as DISCORD_RECORD_PATH
from orchestrator.devtools.github_standin import RECORD_PATH, SITE_PATH
from orchestrator.devtools.github_world import REPO
from orchestrator.http import VERIFY_AGENT
from tests.support.github_spec import request_errors
from tests.support.servers import VENV_BIN, Served, serve

DEV_ENV = {
    "ORCHESTRATOR_ENV": "dev",
    "ORCHESTRATOR_ENV_FILE": "",  # no .env: the dev admin asks, the dev teammate approves
    "ORCHESTRATOR_GITHUB_STANDIN_STEP": "0.25",
}
NOT_GIVEN = ("ORCHESTRATOR_DATA_DIR", "ORCHESTRATOR_CONFIG", "DISCORD_DEPLOY_USER_IDS")
BROKEN = ("blew up", "Traceback", "💥", "Connection refused")
DEPLOYMENTS = f"/repos/{REPO}/deployments"
T = TypeVar("T")


def eventually(find: Callable[[], T | None], what: str, timeout: float = 15.0) -> T:
    """`find()` once it says something (not None), within `timeout` seconds."""
    deadline = time.monotonic() + timeout
    while True:
        found = find()
        if found is not None:
            return found
        if time.monotonic() > deadline:
            raise AssertionError(f"not within {timeout}s: {what}")
        time.sleep(0.1)


@dataclass
class Site:
    """The GitHub stand-in the dev server runs, over its HTTP API, as any client sees it."""

    url: str

    def get(self, path: str, **params: str) -> Any:
        answer = httpx.get(
            self.url + path, params=params, headers={"authorization": "token dev"}, timeout=5
        )
        assert answer.status_code == 200, (path, answer.status_code, answer.text)
        return answer.json()

    def dispatched(self) -> list[dict[str, Any]]:
        """Every run started by a dispatch (the bot's), oldest first."""
        runs = self.get(f"/repos/{REPO}/actions/runs", event="workflow_dispatch", per_page="100")
        return sorted(runs["workflow_runs"], key=lambda run: run["id"])

    def deployments(self, environment: str) -> list[dict[str, Any]]:
        """The environment's Deployments, newest first (as GitHub lists them)."""
        found: list[dict[str, Any]] = self.get(DEPLOYMENTS, environment=environment)
        return found

    def statuses(self, deployment: dict[str, Any]) -> list[dict[str, Any]]:
        """Its statuses, newest first."""
        found: list[dict[str, Any]] = self.get(f"{DEPLOYMENTS}/{deployment['id']}/statuses")
        return found

    def settled(self, deployment: dict[str, Any]) -> list[dict[str, Any]] | None:
        """Its statuses once the latest is final (success, failure, error), else None."""
        found = self.statuses(deployment)
        return found if found and found[0]["state"] in ("success", "failure", "error") else None

    def state(self) -> dict[str, Any]:
        found: dict[str, Any] = self.get("/_standin/state")
        return found

    def requests(self, since: int = 0) -> list[dict[str, Any]]:
        found: list[dict[str, Any]] = self.get(RECORD_PATH, since=str(since))["requests"]
        return found

    def count(self) -> int:
        return int(self.get(RECORD_PATH, since="999999999")["count"])


class Demo:
    """`orchestrator simulate` in the served checkout, as the dev admin or someone else."""

    def __init__(self, checkout: Path, served: Served) -> None:
        self.checkout = checkout
        self.served = served

    def run(self, *args: str, user: str | None = None, exit_code: int = 0) -> str:
        env = {k: v for k, v in os.environ.items() if k not in NOT_GIVEN}
        done = subprocess.run(
            [str(VENV_BIN / "orchestrator"), "simulate", *args, "--wait", "20"]
            + ["--deploy-wait", "40"]
            + (["--user", user] if user else []),
            cwd=self.checkout,
            env={**env, **DEV_ENV},
            capture_output=True,
            text=True,
            timeout=90,
            check=False,
        )
        context = f"{args}\n{done.stdout}\n{done.stderr}\n{self.served.output()[-3000:]}"
        assert done.returncode == exit_code, context
        for phrase in BROKEN:
            assert phrase not in done.stdout + done.stderr, context
        return done.stdout + done.stderr


@dataclass
class World:
    demo: Demo
    github: Site
    discord: str  # the Discord stand-in, whose record lists what the bot sent

    def sent(self) -> list[str]:
        """Every request body the bot sent to Discord so far, as JSON text."""
        found = httpx.get(f"{self.discord}{DISCORD_RECORD_PATH}", timeout=5).json()
        return [json.dumps(r["body"], ensure_ascii=False) for r in found["requests"]]


@pytest.fixture(scope="module")
def world(tmp_path_factory: pytest.TempPathFactory) -> Iterator[World]:
    root = tmp_path_factory.mktemp("deploy-safety") / "orchestrator"
    root.mkdir()
    (root / "pyproject.toml").write_text('[project]\nname = "orchestrator"\nversion = "0"\n')
    with serve(DEV_ENV, cwd=root, unset=NOT_GIVEN) as served:
        record = read_record(root / ".orchestrator")
        assert record is not None and record.github is not None, served.output()
        assert record.discord is not None, served.output()
        yield World(Demo(root, served), Site(record.github), record.discord)


def button(output: str, name: str) -> str:
    found = re.search(rf"{re.escape(name)}:[0-9A-Za-z:._-]+", output)
    assert found is not None, f"no {name} button in:\n{output}"
    return found.group(0)


def assert_bodies_are_githubs(github: Site, since: int) -> int:
    """Every request to the Deployments endpoints since `since` is one GitHub documents,
    with a body its description allows; how many there were."""
    sent = [r for r in github.requests(since) if r["path"].startswith(DEPLOYMENTS)]
    for one in sent:
        errors = request_errors(one["method"], one["path"], one["query"], one["body"])
        assert errors == [], (one, errors)
    return len([r for r in sent if r["method"] == "POST"])


@dataclass(frozen=True)
class Approved:
    """What the stand-in saw of the approved production deploy."""

    run: dict[str, Any]
    deployment: dict[str, Any]
    statuses: list[dict[str, Any]]
    requests: list[dict[str, Any]]  # everything the stand-in answered during the deploy


@pytest.fixture(scope="module")
def production(world: World) -> Approved:
    """Lock, refused deploy, unlock, dry run, request, refused self-approval, approval."""
    demo, github = world.demo, world.github
    runs, deployed = len(github.dispatched()), len(github.deployments("production"))

    locked = demo.run("/lock app:demo env:production reason:'launch party'")
    assert "**demo/production** locked" in locked
    refused = demo.run("/deploy app:demo env:production", user=DEV_TEAMMATE_ID, exit_code=1)
    assert "launch party" in refused and "locked by" in refused, refused
    assert "✘ no deploy was started" in refused
    assert len(github.dispatched()) == runs, "a locked environment dispatches nothing"
    assert len(github.deployments("production")) == deployed
    assert "**demo/production** unlocked" in demo.run("/unlock app:demo env:production")

    planned = demo.run("/deploy app:demo env:production dry_run:true")
    assert "🧪 Dry run: deploy demo/production" in planned and "Nothing was dispatched" in planned
    assert len(github.dispatched()) == runs and len(github.deployments("production")) == deployed

    asked = demo.run("/deploy app:demo env:production")
    approve = button(asked, "deploy.approve")
    assert "🛂 Approval needed: deploy demo/production" in asked
    own = demo.run("--component", approve, exit_code=1)
    assert "someone else has to approve it" in own
    assert len(github.dispatched()) == runs, "the requester's own approval dispatches nothing"

    mark = github.count()
    approved = demo.run("--component", approve, user=DEV_TEAMMATE_ID)
    assert "✔ deployed and verified" in approved, approved
    [run] = github.dispatched()[runs:]
    now = github.deployments("production")
    [deployment] = now[: len(now) - deployed]  # newest first
    statuses = eventually(lambda: github.settled(deployment), "a final production status")
    return Approved(run, deployment, statuses, github.requests(mark))


def test_production_deploys_only_when_unlocked_and_approved_and_is_green_once_verified(
    world: World, production: Approved
) -> None:
    github = world.github
    run, deployment = production.run, production.deployment
    assert run["path"] == ".github/workflows/deploy.yml" and run["conclusion"] == "success"
    assert deployment["sha"] == run["head_sha"] and deployment["payload"]["via"] == "orchestrator"
    states = [s["state"] for s in reversed(production.statuses)]
    assert states == ["queued", "in_progress", "success"], states
    latest = production.statuses[0]
    assert latest["environment_url"] == f"{github.url}{SITE_PATH}/"

    # Green only after verification: the run ended, then the verifier read the live site,
    # then (and only then) `success` was posted. Posting it on the run's completion would
    # put the verifier's requests after it.
    [completed] = [r["completed_at"] for r in github.state()["runs"] if r["id"] == run["id"]]
    verifier = [
        r
        for r in production.requests
        if r["path"].startswith(SITE_PATH) and r["agent"].startswith(VERIFY_AGENT)
    ]
    checked = [r for r in verifier if r["at"] > completed]
    assert {r["path"] for r in checked} >= {f"{SITE_PATH}/version", f"{SITE_PATH}/"}, verifier
    [success] = [
        r
        for r in production.requests
        if r["method"] == "POST"
        and r["path"] == f"{DEPLOYMENTS}/{deployment['id']}/statuses"
        and r["body"]["state"] == "success"
    ]
    assert max(r["at"] for r in checked) < success["at"], "success before the site was checked"
    assert success["body"]["environment_url"] == latest["environment_url"]
    assert assert_bodies_are_githubs(github, 0) >= 4  # the Deployment and its three statuses


def _newest(found: list[dict[str, Any]], known: int) -> list[dict[str, Any]]:
    """The Deployments created since there were `known` (GitHub lists newest first)."""
    return found[: len(found) - known]


def test_a_failed_verification_on_staging_rolls_back_by_itself_once(world: World) -> None:
    """Staging has `auto_rollback = true`: a green run whose site kept the old version says
    `failure`, and a rollback Deployment of the last verified SHA follows, once."""
    demo, github = world.demo, world.github
    demo.run("/deploy app:demo env:staging")  # the last verified SHA of staging: main's head
    head = github.state()["branches"]["main"]
    docs = github.state()["branches"]["docs"]
    runs, known, mark = len(github.dispatched()), len(github.deployments("staging")), github.count()

    out = demo.run("/deploy app:demo env:staging ref:docs inputs:stale=true", exit_code=1)
    assert "✅ succeeded" in out and "❌ verification:" in out, out
    [failed] = _newest(github.deployments("staging"), known)[-1:]
    assert failed["sha"] == docs
    assert github.settled(failed) is not None and github.statuses(failed)[0]["state"] == "failure"

    def rolled_back() -> dict[str, Any] | None:
        found = _newest(github.deployments("staging"), known)
        return found[0] if len(found) == 2 and github.settled(found[0]) else None

    rollback = eventually(rolled_back, "the rollback's Deployment, verified")
    assert rollback["sha"] == head and rollback["payload"]["kind"] == "rollback"
    assert github.statuses(rollback)[0]["state"] == "success"
    time.sleep(1.5)  # the failed run's end, delivered again or not: nothing more follows
    started = [run["id"] for run in github.dispatched()[runs:]]
    state = github.state()
    [deploy, back] = [run for run in state["runs"] if run["id"] in started]
    assert (deploy["workflow"], deploy["inputs"]["stale"]) == ("deploy.yml", "true")
    assert (back["workflow"], back["inputs"]["sha"]) == ("rollback.yml", head)
    assert len(_newest(github.deployments("staging"), known)) == 2, "one rollback, once"
    assert state["live_sha"] == head

    def card_says_so() -> bool | None:
        said = any(
            docs[:7] in body and "Deployment to staging" in body and "failed" in body
            for body in world.sent()
        )
        return True if said else None

    # The failure status comes back as a `deployment_status` webhook: the commit's card,
    # green for the run alone, now says the deploy did not hold.
    eventually(card_says_so, "the docs commit's card showing its failed staging Deployment")
    assert assert_bodies_are_githubs(github, mark) >= 6


def test_a_failed_verification_on_production_offers_roll_back(
    world: World, production: Approved
) -> None:
    """Production has no `auto_rollback`: the failure status, and a Roll back button to the
    SHA verified there last."""
    demo, github = world.demo, world.github
    verified = production.run["head_sha"]
    runs, known = len(github.dispatched()), len(github.deployments("production"))
    asked = demo.run("/deploy app:demo env:production ref:docs inputs:stale=true")
    assert "stale=true" in asked, "the request shows the exact inputs"
    out = demo.run(
        "--component", button(asked, "deploy.approve"), user=DEV_TEAMMATE_ID, exit_code=1
    )
    assert "❌ verification:" in out and f"Roll back to {verified[:7]}" in out, out
    assert button(out, "deploy.rollback").startswith("deploy.rollback:demo:")
    [failed] = _newest(github.deployments("production"), known)
    statuses = eventually(lambda: github.settled(failed), "the failed Deployment's status")
    assert statuses[0]["state"] == "failure" and "verification failed" in statuses[0]["description"]
    assert len(github.dispatched()) == runs + 1, "nothing rolls production back unasked"


def test_crafted_approve_buttons_get_a_clear_answer(world: World) -> None:
    demo, github = world.demo, world.github
    runs = len(github.dispatched())
    unknown = demo.run("--component", "deploy.approve:zzzz", user=DEV_TEAMMATE_ID, exit_code=1)
    assert "I know no such deploy request" in unknown
    empty = demo.run("--component", "deploy.approve:", user=DEV_TEAMMATE_ID, exit_code=1)
    assert "I know no such deploy request" in empty
    long = demo.run("--component", "deploy.approve:" + "a" * 200, exit_code=2)
    assert "1-100 characters on Discord" in long, "refused before it is sent"
    assert len(github.dispatched()) == runs
